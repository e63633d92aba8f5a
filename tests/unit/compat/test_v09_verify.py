"""The verification after a v0.9 import finds a new database that differs from the old one
(a file's bytes, a missing row), and the timestamp reader takes v0.9's formats."""

import sqlite3
from pathlib import Path

import pytest

from fazt.compat import v09_source
from fazt.compat.v09_context import Context, to_stamp
from fazt.compat.v09_import import STEPS
from fazt.compat.v09_report import Report
from fazt.compat.v09_verify import verify
from fazt.db import migrations
from fazt.db.connection import open_connection
from tests.v09_database import build_v09_db


@pytest.fixture
def imported(tmp_path: Path):
    """(old, new, report, context) after every import step, before verification."""
    src = v09_source.open_source(build_v09_db(tmp_path / "old.db"))
    dst = open_connection(tmp_path / "new.db")
    migrations.migrate(dst)
    rep, ctx = Report("old", "new"), Context("example.com")
    for _, step in STEPS:
        step(src, dst, rep, ctx)
    yield src, dst, rep, ctx
    src.close()
    dst.close()


def test_an_untouched_import_verifies(imported):
    verify(*imported)
    assert imported[2].mismatches == [] and imported[2].verified


def test_a_changed_blob_is_a_mismatch(imported):
    src, dst, rep, ctx = imported
    sha = dst.execute(
        "SELECT f.sha256 FROM deployment_files f JOIN sites s "
        "ON s.live_deployment_id = f.deployment_id WHERE s.name = 'blog' AND f.path = 'index.html'"
    ).fetchone()[0]
    dst.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (b"changed", sha))
    verify(src, dst, rep, ctx)
    assert not rep.verified
    assert any("site blog: index.html differs" in m for m in rep.mismatches)


def test_a_lost_row_is_a_mismatch(imported):
    src, dst, rep, ctx = imported
    dst.execute("DELETE FROM redirects WHERE slug = 'gh'")
    dst.execute("DELETE FROM app_env")
    verify(src, dst, rep, ctx)
    assert "redirects: 2 imported but 1 in the new database" in rep.mismatches
    assert "env_vars: 1 imported but 0 in the new database" in rep.mismatches


def test_a_row_neither_imported_nor_skipped_is_a_mismatch(imported):
    src, dst, rep, ctx = imported
    rep.tally("kv").found += 1
    verify(src, dst, rep, ctx)
    assert any(m.startswith("kv: 7 found") for m in rep.mismatches)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2026-01-10 10:00:00", "2026-01-10T10:00:00.000000Z"),
        ("2026-01-10T10:00:00Z", "2026-01-10T10:00:00.000000Z"),
        ("2026-01-10 11:00:00.123456789+01:00", "2026-01-10T10:00:00.123456Z"),
        ("2026-01-10 05:30:00-0430", "2026-01-10T10:00:00.000000Z"),
        (1768039200, "2026-01-10T10:00:00.000000Z"),
        ("yesterday", None),
        (None, None),
        ("2026-13-40 10:00:00", None),
    ],
)
def test_v09_timestamps(text, want):
    assert to_stamp(text) == want


def test_the_source_is_opened_read_only(tmp_path: Path):
    src = v09_source.open_source(build_v09_db(tmp_path / "old.db"))
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            src.execute("DELETE FROM files")
    finally:
        src.close()
