"""kv in a JS worker process sweeps expired keys at most once a second per app
(kv.SWEEP_INTERVAL_SECONDS); expired keys must stay invisible all the same."""

import json

import pytest

from fazt.db import Database
from fazt.hosting.deployments import ensure_site
from fazt.storage import kv
from fazt.storage.bindings import AppStorage


@pytest.fixture
def st(tmp_path, monkeypatch):
    monkeypatch.setattr(kv, "SWEEP_INTERVAL_SECONDS", 3600.0)
    monkeypatch.setattr(kv, "_last_sweep", {})
    with Database.open(tmp_path / "data.db") as db:
        db.write_sync(ensure_site, "app1")
        yield AppStorage(db, "app1")


def expire(st, key):
    st.db.write_sync(
        lambda c: c.execute(
            "UPDATE app_kv SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE key = ?", (key,)
        )
    )


def rows(st):
    return st.db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM app_kv").fetchone()[0])


def test_expired_keys_stay_invisible_between_sweeps(st):
    st.kv_set("a", "1", 60_000)  # the app's first write in this process sweeps
    st.kv_set("b", "2", 60_000)
    expire(st, "a")
    st.kv_set("c", "3")  # within the interval: no sweep
    assert rows(st) == 3
    assert st.kv_get("a") is None
    assert [e["key"] for e in kv_list(st)] == ["b", "c"]
    assert st.db.read_sync(kv.count_keys, "app1") == 2
    # deleting an expired, unswept key is not deleting a live one
    assert st.kv_delete("a") is False
    assert st.kv_delete("b") is True
    assert st.kv_delete("b") is False
    assert rows(st) == 1


def test_the_next_write_after_the_interval_sweeps(st, monkeypatch):
    st.kv_set("a", "1", 60_000)
    expire(st, "a")
    st.kv_set("b", "2")
    assert rows(st) == 2
    monkeypatch.setattr(kv, "SWEEP_INTERVAL_SECONDS", 0.0)  # the interval has passed
    st.kv_set("c", "3")
    assert rows(st) == 2 and st.kv_get("a") is None


def test_setting_an_expired_key_again_makes_it_live(st):
    st.kv_set("a", "1", 60_000)
    expire(st, "a")
    st.kv_set("a", "2")
    assert st.kv_get("a") == "2"


def test_now_matches_utcnow_format():
    from fazt.db.clock import utcnow

    before, stamp, after = utcnow(), kv.now(), utcnow()
    assert before <= stamp <= after
    assert len(stamp) == len(before) and stamp.endswith("Z")


def kv_list(st):
    return json.loads(st.kv_list(""))
