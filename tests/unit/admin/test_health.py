"""The health view's pieces: the latency histogram and the warnings."""

from fazt.admin import health_page
from fazt.web.latency import LatencyHistogram


def test_quantiles_come_within_a_bucket_of_the_truth():
    h = LatencyHistogram()
    assert h.quantile(0.5) is None
    for _ in range(98):
        h.record(0.002)  # 2 ms
    h.record(0.5)
    h.record(3.0)
    p50, p99 = h.quantile(0.5), h.quantile(0.99)
    assert 0.002 <= p50 < 0.002 * 1.25
    assert 0.5 <= p99 < 0.5 * 1.25
    assert h.quantile(1.0) >= 3.0 and h.total == 100


def test_the_histogram_never_grows():
    h = LatencyHistogram()
    size = len(h.counts)
    for seconds in (0, 1e-9, 1e6, float("inf")):
        h.record(seconds)
    assert len(h.counts) == size and h.quantile(1.0) == float("inf")


def healthy(**changes) -> dict:
    h = {
        "disk_free": 50 * 1024**3,
        "disk_total": 100 * 1024**3,
        "wal_bytes": 0,
        "requests": 1000,
        "errors": 1,
        "p99": 0.01,
        "certificate": None,
        "backup_age_hours": 3.0,
        "pool": {"size": 4, "running": 1, "busy": 0, "queued": 0},
    }
    return {**h, **changes}


def test_a_healthy_server_has_no_warnings():
    assert health_page.warnings(healthy()) == []


def test_each_problem_is_named():
    cases = {
        "Disk space is low": healthy(disk_free=5 * 1024**3),
        "write-ahead log is large": healthy(wal_bytes=300 * 1024**2),
        "5xx errors": healthy(errors=100),
        "p99 latency": healthy(p99=2.0),
        "expires in 3 days": healthy(
            certificate={"names": ["a.example"], "expired": False, "days_left": 3}
        ),
        "has expired": healthy(
            certificate={"names": ["a.example"], "expired": True, "days_left": -1}
        ),
        "No backup yet": healthy(backup_age_hours=None),
        "hours old": healthy(backup_age_hours=72.0),
        "requests are waiting": healthy(pool={"size": 2, "running": 2, "busy": 2, "queued": 5}),
    }
    for words, h in cases.items():
        found = health_page.warnings(h)
        assert len(found) == 1 and words in found[0], (words, found)
