"""Everything a running server shares: the database, routing snapshot, static cache."""

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from fazt import __version__
from fazt.analytics.service import Analytics
from fazt.auth.passwords import PasswordChecker
from fazt.auth.ratelimit import FailureLimiter
from fazt.db import Database, settings
from fazt.hosting.blob_cache import BlobCache
from fazt.hosting.deploy_limits import DeployLimits
from fazt.hosting.routing import RoutingTable
from fazt.hosting.static import StaticServer
from fazt.web.latency import LatencyHistogram

ROUTING_POLL_SECONDS = 1.0


@dataclass
class ServerState:
    db: Database
    domain: str
    port: int
    routing: RoutingTable
    static: StaticServer
    limits: DeployLimits
    analytics: Analytics  # buffered hits and request counters (fazt.analytics)
    version: str = __version__
    started: float = field(default_factory=time.time)
    # Tells workers sharing the port apart (see fazt.web.readiness).
    instance: str = field(default_factory=lambda: secrets.token_hex(8))
    token_failures: FailureLimiter = field(default_factory=lambda: FailureLimiter(20, 300))
    key_touched: dict[int, float] = field(default_factory=dict)
    # Dashboard logins: 5 failures per client IP per 15 minutes (fazt.api.request_auth).
    login_failures: FailureLimiter = field(default_factory=lambda: FailureLimiter(5, 900))
    password_checks: PasswordChecker = field(default_factory=PasswordChecker)  # 2 at once
    auth_settings: dict[str, str] | None = None  # loaded on first use by api.request_auth
    # HTTPS (fazt.https): the public https port when enabled, and the certificate manager.
    https_port: int | None = None
    tls: Any = None
    edge: Any = None  # fazt.server.edge.EdgeGuard, set by FaztApp: per-address limits
    js_pool: Any = None  # fazt.runtime.executor.WorkerPool, set by FaztApp (health view)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)  # served requests
    jobs: Any = None  # fazt.runtime.jobs.Scheduler, set by the lifespan: apps' cron jobs
    _data_version: int = -1
    _routing_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def load(cls, db: Database, port: int) -> "ServerState":
        values = db.read_sync(settings.all_settings)
        domain = values["domain"]
        return cls(
            db=db,
            domain=domain,
            port=port,
            routing=db.read_sync(RoutingTable.load, domain),
            static=_static_server(db, values),
            limits=DeployLimits(
                max_upload_bytes=int(values["deploy_max_upload_bytes"]),
                max_files=int(values["deploy_max_files"]),
                max_file_bytes=int(values["deploy_max_file_bytes"]),
                max_total_bytes=int(values["deploy_max_total_bytes"]),
                max_ratio=int(values["deploy_max_ratio"]),
            ),
            analytics=Analytics(db),
            https_port=int(values["https_https_port"]) if values["https_enabled"] == "1" else None,
        )

    async def refresh_routing(self) -> None:
        # Serialised: otherwise a slow, older read could replace a newer table.
        async with self._routing_lock:
            old = self.routing
            self.routing = await self.db.read(RoutingTable.load, self.domain)
            live = self.routing.live
            # The deployments that stopped being live (a deploy, a rollback, a delete).
            gone = {(site, dep) for site, dep in old.live.items() if live.get(site) != dep}
            if gone:
                self.static.forget(gone)

    async def pick_up_changes(self) -> None:
        """Reload the routing table when another connection (our writer, or another
        process such as the CLI) has committed; run every ROUTING_POLL_SECONDS."""
        version = await self.db.data_version()
        if version != self._data_version:
            self._data_version = version
            await self.refresh_routing()

    def base_url(self, host: str) -> str:
        if self.https_port is not None and host != "localhost":
            port = "" if self.https_port == 443 else f":{self.https_port}"
            return f"https://{host}{port}"
        port = "" if self.port == 80 else f":{self.port}"
        return f"http://{host}{port}"

    def dashboard_url(self) -> str:
        return self.base_url("localhost" if self.domain == "localhost" else f"admin.{self.domain}")

    def site_url(self, site: str, preview_id: str | None = None) -> str:
        """The site's URL, or with `preview_id` the URL of that one deployment."""
        label = site if preview_id is None else f"{site}--{preview_id}"
        if site == "root" and preview_id is None and self.domain != "localhost":
            return self.base_url(self.domain)
        return self.base_url(f"{label}.{self.domain}")


def _static_server(db: Database, values: dict[str, str]) -> StaticServer:
    """The static server, with its disk blob cache beside the database unless it is off."""
    blobs = None
    max_mb = int(values["blob_cache_max_mb"])
    if max_mb > 0:
        blobs = BlobCache(db.path.parent / "blob-cache", max_mb * 1024 * 1024)
        blobs.from_uploads = values["blob_cache_from_uploads"] == "1"
        blobs.scan()
    return StaticServer(
        db, int(values["cache_max_bytes"]), blobs, int(values["blob_cache_min_bytes"])
    )
