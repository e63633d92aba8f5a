"""Edge limits per client address, checked before routing.

Granian does the connection-level part (fazt.server.run): it closes a connection whose
request headers do not arrive within `http_header_timeout_seconds` (slowloris) and caps
the requests in progress per worker. It knows nothing of client addresses, so this module
adds, per address:

- a request rate: a token bucket (`edge_requests_per_second`, `edge_requests_burst`);
  over it, 429 with Retry-After;
- a cap on what one address holds at once (`edge_connections_per_address`): requests in
  progress plus open WebSockets; over it, 429. Idle keep-alive connections are not seen
  by the application; Granian's header timeout closes them.
- the beacon rate of /track and /_fazt/track (`track_per_second`, `track_burst`).

The address is the socket peer, or X-Forwarded-For from a trusted proxy (the
`trusted_proxies` setting, fazt.auth.clientip). Loopback addresses are exempt by default
(`edge_exempt_loopback`): a reverse proxy on the same machine that is not configured as
trusted makes every visitor look like 127.0.0.1, and one bucket for all of them would
throttle the whole site; local tools and benchmarks are the owner's own traffic.
"""

import asyncio
import logging
from dataclasses import dataclass, fields
from typing import Any

from fazt.auth import clientip
from fazt.auth.ratelimit import TokenBuckets, retry_after_header
from fazt.db import Database, settings
from fazt.web.http import HTTPError, error_response, peer_ip

log = logging.getLogger("fazt.edge")
PEER_CACHE = 4096  # "ip:port" -> address: the requests of one keep-alive connection


@dataclass(frozen=True)
class EdgeLimits:
    """The edge settings; a rate or cap of 0 turns that limit off."""

    edge_requests_per_second: float = 1000.0
    edge_requests_burst: float = 2000.0
    edge_connections_per_address: int = 256
    edge_exempt_loopback: bool = True
    http_header_timeout_seconds: float = 10.0
    http_body_timeout_seconds: float = 30.0
    http_body_min_bytes_per_second: float = 1024.0
    http_body_rate_grace_seconds: float = 10.0
    track_per_second: float = 10.0
    track_burst: float = 50.0

    @classmethod
    def from_settings(cls, values: dict[str, str]) -> "EdgeLimits":
        """Parse and validate the settings; a bad value is logged and the default used."""
        chosen: dict[str, Any] = {}
        for f in fields(cls):
            raw = values.get(f.name)
            if raw is None:
                continue
            try:
                chosen[f.name] = parse_value(f.name, raw)
            except ValueError as exc:
                log.warning("setting %s: %s; using the default %s", f.name, exc, f.default)
        return cls(**chosen)


# Allowed ranges: Granian accepts header timeouts of 1 ms to 60 s.
RANGES: dict[str, tuple[float, float]] = {
    "edge_requests_per_second": (0, 1e6),
    "edge_requests_burst": (1, 1e7),
    "edge_connections_per_address": (0, 1e6),
    "http_header_timeout_seconds": (1, 60),
    "http_body_timeout_seconds": (1, 3600),
    "http_body_min_bytes_per_second": (0, 1e9),
    "http_body_rate_grace_seconds": (0, 3600),
    "track_per_second": (0, 1e6),
    "track_burst": (1, 1e7),
}


def parse_value(key: str, raw: str) -> Any:
    """One edge setting's text -> its value; ValueError with a message when invalid."""
    if key == "edge_exempt_loopback":
        if raw not in ("0", "1"):
            raise ValueError(f"expected 0 or 1, got {raw!r}")
        return raw == "1"
    low, high = RANGES[key]
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"expected a number, got {raw!r}") from None
    if not low <= value <= high:  # also refuses nan
        raise ValueError(f"expected {low:g} to {high:g}, got {raw!r}")
    return int(value) if key == "edge_connections_per_address" else value


class EdgeGuard:
    def __init__(self, limits: EdgeLimits, trusted: tuple[clientip.Network, ...] = ()) -> None:
        self.limits = limits
        self.trusted = trusted
        self.requests = _buckets(limits.edge_requests_per_second, limits.edge_requests_burst)
        self.track = _buckets(limits.track_per_second, limits.track_burst)
        self.cap = limits.edge_connections_per_address
        self.in_progress: dict[str, int] = {}
        self._peers: dict[str, str | None] = {}  # only without trusted proxies
        # False: the hot path skips the guard entirely.
        self.enabled = self.requests is not None or self.cap > 0

    @classmethod
    def from_db(cls, db: Database) -> "EdgeGuard":
        """A guard with the server's settings (read once, at start)."""
        values = db.read_sync(settings.all_settings)
        try:
            trusted = clientip.parse_trusted(values.get("trusted_proxies", ""))
        except ValueError:  # a bad setting must not let clients choose their address
            trusted = ()
        return cls(EdgeLimits.from_settings(values), trusted)

    def address(self, scope: Any) -> str | None:
        """The client address the limits count against; None when it is exempt."""
        client = scope.client or ""
        if self.trusted:  # X-Forwarded-For may differ from one request to the next
            address = clientip.client_ip(
                peer_ip(client), scope.headers.get("x-forwarded-for"), self.trusted
            )
            return None if self._exempt(address) else address
        try:  # the hot path: the same peer as this connection's previous request
            return self._peers[client]
        except KeyError:
            pass
        address = peer_ip(client)
        if len(self._peers) >= PEER_CACHE:
            self._peers.clear()
        found = self._peers[client] = None if self._exempt(address) else address
        return found

    def _exempt(self, address: str) -> bool:
        return self.limits.edge_exempt_loopback and _is_loopback(address)

    def admit(self, scope: Any, proto: Any) -> bool:
        """The per-request check: False (after answering 429) when over the rate."""
        if self.requests is None:
            return True
        address = self.address(scope)
        if address is None:
            return True
        wait = self.requests.take(address)
        if not wait:
            return True
        refuse(scope, proto, wait, "too many requests from your address")
        return False

    def hold(self, scope: Any, proto: Any) -> bool:
        """Count this request (or WebSocket) against its address until the current task
        ends; False (after answering 429) when the address already holds too many."""
        if self.cap <= 0:
            return True
        address = self.address(scope)
        if address is None:
            return True
        held = self.in_progress.get(address, 0)
        if held >= self.cap:
            refuse(scope, proto, 1.0, "too many connections from your address")
            return False
        self.in_progress[address] = held + 1
        task = asyncio.current_task()
        if task is None:  # not run in a task: nothing would release it
            self.in_progress[address] = held
            return True
        task.add_done_callback(lambda _task: self._release(address))
        return True

    def _release(self, address: str) -> None:
        held = self.in_progress.get(address, 0) - 1
        if held > 0:
            self.in_progress[address] = held
        else:  # the table holds only addresses with something in progress
            self.in_progress.pop(address, None)

    def track_wait(self, address: str) -> float:
        """Seconds until this address may send another beacon; 0.0 when it may now."""
        if self.track is None:
            return 0.0
        return 0.0 if self._exempt(address) else self.track.take(address)


def refuse(scope: Any, proto: Any, wait: float, message: str) -> None:
    """429 with Retry-After (a WebSocket handshake gets a bare 429)."""
    if scope.proto != "http":
        proto.close(429)
        return
    error = HTTPError(429, "RATE_LIMITED", message, [("retry-after", retry_after_header(wait))])
    response = error_response(error)
    proto.response_bytes(response.status, response.headers, response.body)


def _is_loopback(address: str) -> bool:
    return address.startswith(("127.", "::ffff:127.")) or address == "::1"


def _buckets(rate: float, burst: float) -> TokenBuckets | None:
    return TokenBuckets(rate, burst) if rate > 0 else None
