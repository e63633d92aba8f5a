"""Certificates, the ACME account, challenges and issuance state in the database.

Every function takes a sqlite3 connection (run through `db.read` / `db.write`).
"""

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fazt.backoff import Backoff
from fazt.db.clock import parse, stamp, utcnow

KEEP_CERTIFICATES = 3
LEASE_SECONDS = 300


def parse_time(value: str | None) -> datetime | None:
    """A nullable timestamp column as a datetime."""
    return parse(value) if value else None


# -- account --------------------------------------------------------------------------------


def account(conn: sqlite3.Connection, directory: str) -> tuple[str, str | None] | None:
    """(key PEM, account URL) for this CA, if we have an account there."""
    row = conn.execute(
        "SELECT key_pem, uri FROM acme_accounts WHERE directory = ?", (directory,)
    ).fetchone()
    return (row[0], row[1]) if row else None


def save_account(conn: sqlite3.Connection, directory: str, key_pem: str, uri: str | None) -> None:
    conn.execute(
        "INSERT INTO acme_accounts (directory, key_pem, uri, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(directory) DO UPDATE SET uri = excluded.uri",
        (directory, key_pem, uri, utcnow()),
    )


# -- certificates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCertificate:
    id: int
    names: list[str]
    cert_pem: str
    key_pem: str
    not_before: datetime
    not_after: datetime
    issued_at: str


def current_certificate(conn: sqlite3.Connection) -> StoredCertificate | None:
    row = conn.execute(
        "SELECT id, names, cert_pem, key_pem, not_before, not_after, issued_at "
        "FROM certificates ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return StoredCertificate(
        row[0],
        json.loads(row[1]),
        row[2],
        row[3],
        parse_time(row[4]),
        parse_time(row[5]),
        row[6],
    )


def save_certificate(
    conn: sqlite3.Connection,
    names: list[str],
    cert_pem: str,
    key_pem: str,
    not_before: datetime,
    not_after: datetime,
    directory: str,
) -> int:
    """Store a new certificate (it becomes the current one); clear the failures it fixed."""
    cur = conn.execute(
        "INSERT INTO certificates (names, cert_pem, key_pem, not_before, not_after, directory, "
        "issued_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            json.dumps(names),
            cert_pem,
            key_pem,
            stamp(not_before),
            stamp(not_after),
            directory,
            utcnow(),
        ),
    )
    conn.execute(
        "DELETE FROM certificates WHERE id NOT IN "
        "(SELECT id FROM certificates ORDER BY id DESC LIMIT ?)",
        (KEEP_CERTIFICATES,),
    )
    conn.executemany("DELETE FROM certificate_name_failures WHERE name = ?", [(n,) for n in names])
    _ensure_status(conn)
    conn.execute(
        "UPDATE certificate_status SET failures = 0, last_error = NULL, last_error_at = NULL, "
        "next_attempt_at = NULL, last_success_at = ? WHERE id = 1",
        (utcnow(),),
    )
    return cur.lastrowid


# -- challenges -----------------------------------------------------------------------------


def put_challenge(conn: sqlite3.Connection, token: str, key_authorization: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO acme_challenges (token, key_authorization, created_at) "
        "VALUES (?, ?, ?)",
        (token, key_authorization, utcnow()),
    )


def challenge(conn: sqlite3.Connection, token: str) -> str | None:
    row = conn.execute(
        "SELECT key_authorization FROM acme_challenges WHERE token = ?", (token,)
    ).fetchone()
    return row[0] if row else None


def delete_challenges(conn: sqlite3.Connection, tokens: list[str]) -> None:
    conn.executemany("DELETE FROM acme_challenges WHERE token = ?", [(t,) for t in tokens])


# -- status, failures and the issuance lease ------------------------------------------------


def _ensure_status(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT OR IGNORE INTO certificate_status (id) VALUES (1)")


def status(conn: sqlite3.Connection) -> dict:
    row = conn.execute(
        "SELECT failures, last_error, last_error_at, next_attempt_at, last_success_at "
        "FROM certificate_status WHERE id = 1"
    ).fetchone()
    if row is None:
        return {
            "failures": 0,
            "last_error": None,
            "last_error_at": None,
            "next_attempt_at": None,
            "last_success_at": None,
        }
    return dict(zip(row.keys(), tuple(row), strict=True))


def record_failure(conn: sqlite3.Connection, error: str, base: float, retry_at=None) -> dict:
    """A failed attempt as a whole (CA down, rate limit...): back off exponentially."""
    _ensure_status(conn)
    failures = conn.execute("SELECT failures FROM certificate_status WHERE id = 1").fetchone()[0]
    failures += 1
    delay = backoff(base, failures)
    when = datetime.now(UTC) + timedelta(seconds=delay)
    if retry_at is not None and retry_at > when:  # the CA's Retry-After wins
        when = retry_at
    conn.execute(
        "UPDATE certificate_status SET failures = ?, last_error = ?, last_error_at = ?, "
        "next_attempt_at = ? WHERE id = 1",
        (failures, error, utcnow(), stamp(when)),
    )
    return status(conn)


def record_name_failures(conn: sqlite3.Connection, errors: dict[str, str], base: float) -> None:
    """Names whose validation failed: each backs off on its own."""
    for name, error in errors.items():
        row = conn.execute(
            "SELECT failures FROM certificate_name_failures WHERE name = ?", (name,)
        ).fetchone()
        failures = (row[0] if row else 0) + 1
        when = datetime.now(UTC) + timedelta(seconds=backoff(base, failures))
        conn.execute(
            "INSERT OR REPLACE INTO certificate_name_failures "
            "(name, error, failures, next_attempt_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (name, error, failures, stamp(when), utcnow()),
        )


def name_failures(conn: sqlite3.Connection) -> dict[str, dict]:
    return {
        r[0]: {"error": r[1], "failures": r[2], "next_attempt_at": r[3]}
        for r in conn.execute(
            "SELECT name, error, failures, next_attempt_at FROM certificate_name_failures"
        )
    }


MAX_BACKOFF_SECONDS = 6 * 3600


def backoff(base: float, failures: int) -> float:
    """base, 2*base, 4*base ... capped at six hours."""
    return Backoff(base, MAX_BACKOFF_SECONDS).delay(max(failures, 1))


def acquire_lease(conn: sqlite3.Connection, owner: str, seconds: int = LEASE_SECONDS) -> bool:
    """Only one worker orders certificates at a time (two overlap during a handover)."""
    _ensure_status(conn)
    row = conn.execute(
        "SELECT lease_owner, lease_until FROM certificate_status WHERE id = 1"
    ).fetchone()
    now = datetime.now(UTC)
    until = parse_time(row[1])
    if row[0] not in (None, owner) and until is not None and until > now:
        return False
    conn.execute(
        "UPDATE certificate_status SET lease_owner = ?, lease_until = ? WHERE id = 1",
        (owner, stamp(now + timedelta(seconds=seconds))),
    )
    return True


def release_lease(conn: sqlite3.Connection, owner: str) -> None:
    conn.execute(
        "UPDATE certificate_status SET lease_owner = NULL, lease_until = NULL "
        "WHERE id = 1 AND lease_owner = ?",
        (owner,),
    )
