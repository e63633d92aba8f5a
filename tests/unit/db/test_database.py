import sqlite3
import threading

import pytest

from fazt.db import Database, SchemaTooNewError, migrations


def test_open_creates_file_private_and_migrated(tmp_path):
    path = tmp_path / "sub" / "data.db"
    with Database.open(path) as db:
        version = db.read_sync(migrations.current_version)
        mode = db.read_sync(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
    assert version == migrations.latest_version()
    assert mode == "wal"
    assert path.stat().st_mode & 0o777 == 0o600


def test_reopening_applies_nothing_twice(tmp_path):
    path = tmp_path / "data.db"
    Database.open(path).close()
    with Database.open(path) as db:
        rows = db.read_sync(
            lambda c: c.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()
        )
    assert rows[0] == len(migrations.available())


def test_refuses_newer_schema_and_leaves_it_alone(tmp_path):
    path = tmp_path / "data.db"
    Database.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (999, '999_future.sql', 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNewError, match="newer fazt"):
        Database.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == 999
    conn.close()


def test_failed_write_rolls_back_everything(tmp_path):
    with Database.open(tmp_path / "data.db") as db:

        def half_then_fail(conn):
            conn.execute("INSERT INTO settings VALUES ('domain', 'half.example')")
            raise ValueError("boom")

        with pytest.raises(ValueError, match="boom"):
            db.write_sync(half_then_fail)
        assert db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM settings").fetchone()[0]) == 0
        # the writer keeps working after a failure
        db.write_sync(lambda c: c.execute("INSERT INTO settings VALUES ('domain', 'ok.example')"))
        assert db.read_sync(lambda c: c.execute("SELECT value FROM settings").fetchone()[0]) == (
            "ok.example"
        )


def test_writes_are_serialised_on_one_thread(tmp_path):
    seen = set()
    with Database.open(tmp_path / "data.db") as db:
        futures = [
            db.submit_write(lambda c: seen.add(threading.current_thread().name)) for _ in range(20)
        ]
        for f in futures:
            f.result()
    assert seen == {"fazt-writer"}


def test_readers_cannot_write(tmp_path):
    with Database.open(tmp_path / "data.db") as db, pytest.raises(sqlite3.OperationalError):
        db.read_sync(lambda c: c.execute("INSERT INTO settings VALUES ('a', 'b')"))


def test_close_finishes_queued_writes(tmp_path):
    path = tmp_path / "data.db"
    db = Database.open(path)
    for i in range(50):
        db.submit_write(
            lambda c, i=i: c.execute("INSERT INTO settings VALUES (?, 'v')", (f"k{i}",))
        )
    db.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM settings").fetchone()[0] == 50
    conn.close()
    with pytest.raises(RuntimeError, match="closed"):
        db.submit_write(lambda c: None)


def test_monthly_page_counts_are_filled_from_existing_daily_rows(tmp_path):
    conn = sqlite3.connect(tmp_path / "data.db", isolation_level=None)
    migrations.migrate(conn, before=8)
    conn.executemany(
        "INSERT INTO analytics_daily_dims (dim, day, site, value, count) VALUES (?, ?, ?, ?, ?)",
        [
            ("page", "2026-01-31", "blog", "/", 2),
            ("page", "2026-02-01", "blog", "/", 3),
            ("page", "2026-02-14", "blog", "/", 4),
            ("page", "2026-02-14", "shop", "/", 1),
            ("referrer", "2026-02-14", "blog", "news.example", 9),
        ],
    )
    assert "008_analytics_monthly_pages.sql" in migrations.migrate(conn)
    rows = conn.execute(
        "SELECT month, site, path, count FROM analytics_monthly_pages ORDER BY month, site"
    ).fetchall()
    conn.close()
    assert rows == [
        ("2026-01", "blog", "/", 2),
        ("2026-02", "blog", "/", 7),
        ("2026-02", "shop", "/", 1),
    ]


def test_a_migration_that_landed_after_a_higher_number_still_runs(tmp_path):
    """Two migrations written side by side (009 and 010) may reach a database in either
    order: one migrated to 010 without 009 gets 009 on its next start."""
    from fazt.db.connection import open_connection

    path = tmp_path / "gap.db"
    conn = open_connection(path)
    migrations.migrate(conn)
    conn.execute("ALTER TABLE api_keys DROP COLUMN sites")
    conn.execute("DELETE FROM schema_migrations WHERE version = 9")
    assert migrations.migrate(conn) == ["009_key_sites.sql"]
    columns = [row[1] for row in conn.execute("PRAGMA table_info(api_keys)")]
    assert "sites" in columns
    assert migrations.migrate(conn) == []
    conn.close()
