"""Pruning dashboard sessions: exactly the ones lookup no longer accepts are deleted."""

from datetime import UTC, datetime, timedelta

from fazt.auth import sessions
from fazt.db.clock import stamp

DAY = 24 * 3600


def session(db, created_ago: timedelta, expires_in: timedelta) -> str:
    """A session created `created_ago` before now whose sliding expiry is `expires_in` away."""
    user = db.read_sync(sessions.find_user, "ann")[0]
    token = db.write_sync(sessions.create, user, DAY)
    now = datetime.now(UTC)
    db.write_sync(
        lambda c: c.execute(
            "UPDATE sessions SET created_at = ?, expires_at = ? WHERE token_hash = ?",
            (stamp(now - created_ago), stamp(now + expires_in), sessions.hash_token(token)),
        )
    )
    return token


def remaining(db) -> int:
    return db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])


def test_idle_and_too_old_sessions_are_pruned_and_live_ones_kept(db):
    live = session(db, timedelta(hours=1), timedelta(hours=1))
    near_limit = session(db, timedelta(days=6, hours=23), timedelta(hours=1))
    idle = session(db, timedelta(hours=2), -timedelta(seconds=1))
    too_old = session(db, timedelta(days=7, minutes=1), timedelta(hours=1))  # kept busy

    assert db.write_sync(sessions.prune_expired, 7 * DAY) == 2
    assert remaining(db) == 2
    for token in (live, near_limit):
        assert db.read_sync(sessions.lookup, token, 7 * DAY) is not None
    for token in (idle, too_old):
        assert db.read_sync(sessions.lookup, token) is None  # gone, whatever the limit


def test_without_an_absolute_limit_only_idle_sessions_go(db):
    session(db, timedelta(days=30), timedelta(hours=1))
    session(db, timedelta(hours=2), -timedelta(seconds=1))
    assert db.write_sync(sessions.prune_expired) == 1
    assert remaining(db) == 1
