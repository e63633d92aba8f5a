"""Dashboard sessions: the first valid cookie value wins, and an absolute lifetime."""

from datetime import UTC, datetime, timedelta

from fazt.auth import sessions
from fazt.db.clock import parse

DAY = 24 * 3600


def user(db) -> int:
    return db.read_sync(sessions.find_user, "ann")[0]


def created(db, token: str, ago: timedelta) -> None:
    moment = (datetime.now(UTC) - ago).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    db.write_sync(
        lambda c: c.execute(
            "UPDATE sessions SET created_at = ? WHERE token_hash = ?",
            (moment, sessions.hash_token(token)),
        )
    )


def test_the_first_live_session_among_many_values_wins(db):
    first = db.write_sync(sessions.create, user(db), 3600)
    second = db.write_sync(sessions.create, user(db), 3600)
    junk = [f"junk{i}" for i in range(30)]
    session, token = db.read_sync(sessions.lookup_first, [*junk, second, first])
    assert token == second and session.username == "ann"
    assert db.read_sync(sessions.lookup_first, [*junk, "", first])[1] == first
    assert db.read_sync(sessions.lookup_first, junk) is None
    assert db.read_sync(sessions.lookup_first, []) is None


def test_a_session_dies_max_age_after_creation_however_recently_used(db):
    token = db.write_sync(sessions.create, user(db), 7 * DAY, "", "", 7 * DAY)
    created(db, token, timedelta(days=6, hours=23))
    assert db.read_sync(sessions.lookup, token, 7 * DAY) is not None
    created(db, token, timedelta(days=7, minutes=1))
    assert db.read_sync(sessions.lookup, token, 7 * DAY) is None
    assert db.read_sync(sessions.lookup, token, 8 * DAY) is not None  # only the limit changed


def test_sliding_never_goes_past_the_absolute_limit(db):
    token = db.write_sync(sessions.create, user(db), 3 * DAY, "", "", 2 * DAY)
    fresh = db.read_sync(sessions.lookup, token)
    assert parse(fresh.expires_at) <= parse(fresh.created_at) + timedelta(days=2)
    created(db, token, timedelta(days=1, hours=23))
    db.write_sync(sessions.touch, fresh.id, 3 * DAY, 2 * DAY)
    touched = db.read_sync(sessions.lookup, token)
    left = parse(touched.expires_at) - datetime.now(UTC)
    assert timedelta(minutes=55) < left <= timedelta(hours=1)
    assert 55 * 60 < sessions.seconds_left(touched, 3 * DAY, 2 * DAY) <= 3600
    assert sessions.seconds_left(touched, 600, 2 * DAY) == 600
