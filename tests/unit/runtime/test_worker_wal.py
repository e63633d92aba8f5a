"""A JS worker's database connection under steady writes: the WAL stays bounded."""

import os
import time

from fazt.db import Database
from fazt.hosting.deployments import ensure_site
from fazt.runtime import worker
from fazt.storage.bindings import AppStorage


def test_wal_stops_growing_under_steady_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "WAL_RESTART_FRAMES", 200)
    monkeypatch.setattr(worker, "CHECKPOINT_DELAY_SECONDS", 0.01)
    path = tmp_path / "data.db"
    with Database.open(path) as db:
        db.write_sync(ensure_site, "app1")
    local = worker.LocalDB(str(path))
    st = AppStorage(local, "app1")  # type: ignore[arg-type]
    wal = f"{path}-wal"
    # Without the RESTART pass the WAL grows by at least a page per write, for ever:
    # 4,000 writes would leave it over 16 MB.
    deadline = time.monotonic() + 60
    for i in range(4000):
        st.kv_set("k", str(i))
        assert time.monotonic() < deadline, "writes too slow"
    assert st.kv_get("k") == "3999"
    assert os.path.getsize(wal) < 1500 * 4096, os.path.getsize(wal)
