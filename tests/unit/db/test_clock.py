"""One timestamp format: stored stamps sort as the instants they name, and every bound
compared with them in SQL is made the same way."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fazt.db import Database
from fazt.db.clock import parse, stamp, utcnow
from fazt.storage import common, kv
from fazt.upgrade import records
from tests.conftest import wait_for

BASE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_text_order_is_time_order():
    moments = [BASE + timedelta(microseconds=us) for us in (0, 1, 999_999, 1_000_000)]
    moments.append(BASE.astimezone(timezone(timedelta(hours=5))) + timedelta(days=1))
    stamps = [stamp(m) for m in moments]
    assert sorted(stamps) == stamps
    assert len({len(s) for s in stamps}) == 1  # one width: string order holds
    assert stamp(BASE) == "2026-01-02T03:04:05.000000Z"


def test_parse_undoes_stamp():
    for moment in (BASE, BASE + timedelta(microseconds=7)):
        assert parse(stamp(moment)) == moment
    assert abs(parse(utcnow()) - datetime.now(UTC)) < timedelta(seconds=5)


def test_fast_writers_use_the_same_format():
    """kv formats its stamps itself (once a second, for speed); it must not drift."""
    for made in (kv.now(), common.now(), common.after_ms(1500)):
        assert stamp(parse(made)) == made
    assert parse(common.after_ms(60_000)) - parse(kv.now()) > timedelta(seconds=59)


def test_an_upgrade_started_after_the_stale_cutoff_is_not_expired(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "STALE_AFTER", timedelta(0))  # the cutoff is now
    with Database.open(tmp_path / "t.db") as db:
        wait_for(lambda: datetime.now(UTC).microsecond < 500_000, what="room in this second")
        # Later than the cutoff, in the same second: a cutoff without the fraction
        # ("…:05Z" > "…:05.999999Z") called it older.
        later = stamp(datetime.now(UTC).replace(microsecond=999_999))
        db.write_sync(
            lambda c: c.execute(
                "INSERT INTO upgrades (id, status, from_version, to_version, started_at)"
                " VALUES ('up_running', 'pending', '1', '2', ?)",
                (later,),
            )
        )
        with pytest.raises(records.UpgradeInProgress):
            db.write_sync(records.create, "1", "2")
