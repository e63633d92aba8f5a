"""The Backups page's replication section reads the replica status's unix times."""

from fazt.admin import format as fmt
from fazt.admin.backups_page import _stamp


def test_unix_seconds_become_the_text_the_when_filter_reads():
    assert fmt.when(_stamp(1_765_000_000.5)) == "2025-12-06 05:46 UTC"
    assert _stamp(None) is None and _stamp("2026-01-01T00:00:00Z") == "2026-01-01T00:00:00Z"
    assert _stamp(True) is True  # not a time
