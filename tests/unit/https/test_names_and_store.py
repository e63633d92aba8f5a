"""fazt.https: which names get a certificate, the retry schedule, the saved options."""

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from fazt.db import migrations
from fazt.db.connection import open_connection
from fazt.https import certs, config, store
from fazt.https.names import MAX_NAMES, wanted_names


@pytest.fixture
def conn(tmp_path) -> sqlite3.Connection:
    c = open_connection(tmp_path / "t.db")
    migrations.migrate(c)
    c.isolation_level = None
    yield c
    c.close()


def add_site(conn, name: str, updated: str, live: bool = True, kind: str = "user") -> None:
    conn.execute(
        "INSERT INTO sites (name, kind, live_deployment_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (name, kind, 1 if live else None, updated, updated),
    )


def test_names_are_apex_admin_custom_domains_then_live_sites_newest_first(conn):
    add_site(conn, "old", "2026-01-01")
    add_site(conn, "new", "2026-02-01")
    add_site(conn, "draft", "2026-03-01", live=False)  # nothing served yet
    add_site(conn, "404", "2026-03-01", kind="system")
    conn.execute(
        "INSERT INTO domains (domain, site, created_at) VALUES ('shop.example.org', 'new', 'x')"
    )
    wanted = wanted_names(conn, "example.com")
    assert wanted.covered == [
        "example.com",
        "admin.example.com",
        "shop.example.org",
        "new.example.com",
        "old.example.com",
    ]
    assert wanted.uncovered == []


def test_more_than_100_names_cover_the_first_100_and_report_the_rest(conn):
    for i in range(120):
        add_site(
            conn, f"s{i:03d}", f"2026-01-01T00:00:{i:02d}" if i < 60 else f"2026-02-{i - 59:02d}"
        )
    wanted = wanted_names(conn, "example.com")
    assert len(wanted.covered) == MAX_NAMES
    assert len(wanted.uncovered) == 122 - MAX_NAMES
    assert wanted.covered[:3] == ["example.com", "admin.example.com", "s119.example.com"]
    assert "s000.example.com" in wanted.uncovered  # the least recently deployed lose out


def test_backoff_doubles_and_is_capped():
    assert [store.backoff(30, n) for n in (1, 2, 3)] == [30, 60, 120]
    assert store.backoff(30, 50) == store.MAX_BACKOFF_SECONDS


def test_failure_schedule_and_success_clears_it(conn):
    conn.execute("BEGIN")
    info = store.record_failure(conn, "cannot reach the CA", 10)
    info = store.record_failure(conn, "cannot reach the CA", 10)
    assert info["failures"] == 2
    retry = store.parse_time(info["next_attempt_at"])
    assert timedelta(seconds=15) < retry - datetime.now(UTC) <= timedelta(seconds=20)
    store.record_name_failures(conn, {"bad.example.org": "connection refused"}, 10)
    assert store.name_failures(conn)["bad.example.org"]["failures"] == 1
    cert_pem, key_pem = certs.self_signed(["bad.example.org"])
    now = datetime.now(UTC)
    store.save_certificate(
        conn, ["bad.example.org"], cert_pem, key_pem, now, now + timedelta(days=90), "d"
    )
    conn.execute("COMMIT")
    assert store.status(conn)["failures"] == 0 and store.status(conn)["last_error"] is None
    assert store.name_failures(conn) == {}
    assert store.current_certificate(conn).names == ["bad.example.org"]


def test_only_one_worker_holds_the_issuance_lease(conn):
    assert store.acquire_lease(conn, "a")
    assert not store.acquire_lease(conn, "b")
    assert store.acquire_lease(conn, "a")  # renewing its own lease
    store.release_lease(conn, "a")
    assert store.acquire_lease(conn, "b")


def test_renewal_is_due_at_two_thirds_of_the_lifetime():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    info = certs.CertInfo([], start, start + timedelta(days=90), 1)
    assert info.renewal_due() == start + timedelta(days=60)


def test_runtime_files_are_private_and_removed(tmp_path):
    files = certs.RuntimeFiles(tmp_path / "run" / "tls")
    cert_path, key_path = files.write("CERT", "KEY")
    assert (tmp_path / "run" / "tls").stat().st_mode & 0o777 == 0o700
    assert key_path.stat().st_mode & 0o777 == 0o600 and key_path.read_text() == "KEY"
    files.close()
    assert not cert_path.exists() and not (tmp_path / "run" / "tls").exists()


@pytest.mark.parametrize(
    ("domain", "options", "message"),
    [
        ("localhost", {"enabled": True, "email": "a@b.c"}, "public domain"),
        ("example.com", {"enabled": True}, "--email"),
        (
            "example.com",
            {"enabled": True, "email": "a@b.c", "http_port": 8443, "https_port": 8443},
            "differ",
        ),
    ],
)
def test_unusable_options_are_refused(conn, domain, options, message):
    conn.execute("INSERT INTO settings (key, value) VALUES ('domain', ?)", (domain,))
    with pytest.raises(config.HttpsConfigError, match=message):
        config.save(conn, **options)


def test_staging_selects_the_staging_directory(conn):
    conn.execute("INSERT INTO settings (key, value) VALUES ('domain', 'example.com')")
    config.save(conn, enabled=True, email="a@b.c", staging=True, hsts=True)
    cfg = config.HttpsConfig.load(conn)
    assert cfg.directory == config.LETS_ENCRYPT_STAGING and cfg.hsts and cfg.enabled
