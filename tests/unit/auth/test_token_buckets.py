"""TokenBuckets: rate, burst, Retry-After, and a table that cannot grow without bound."""

import pytest

from fazt.auth.ratelimit import TokenBuckets, retry_after_header
from fazt.server.edge import EdgeLimits, parse_value


def test_a_burst_then_the_rate():
    buckets = TokenBuckets(rate=2, burst=3)
    assert [buckets.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", now=0.0) == pytest.approx(0.5)  # one token takes 1/2 s
    assert buckets.take("b", now=0.0) == 0.0  # other keys have their own bucket
    assert buckets.take("a", now=0.5) == 0.0
    assert buckets.take("a", now=0.5) > 0
    assert buckets.take("a", now=100.0) == 0.0  # refilled, but never above the burst
    assert [buckets.take("a", now=100.0) for _ in range(3)][-1] > 0


def test_the_table_is_capped_and_busy_keys_survive_a_sweep():
    buckets = TokenBuckets(rate=1, burst=2, max_keys=100)
    buckets.take("busy", now=0.0)
    buckets.take("busy", now=0.0)  # empty: must not be forgotten by a sweep
    for i in range(1000):
        buckets.take(f"idle{i}", now=float(i) * 10)
        assert len(buckets) <= 100
    # "busy" refilled long ago, so it may have been swept: that is the same as full.
    assert buckets.take("busy", now=1e6) == 0.0


def test_when_every_key_is_busy_the_oldest_are_forgotten():
    buckets = TokenBuckets(rate=0.001, burst=1, max_keys=10)
    for i in range(50):
        buckets.take(str(i), now=0.0)
        assert len(buckets) <= 10
    assert buckets.take("49", now=0.0) > 0  # the newest is still counted


def test_retry_after_is_whole_seconds_at_least_one():
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.2) == "2"


def test_edge_settings_are_validated():
    limits = EdgeLimits.from_settings(
        {
            "edge_requests_per_second": "50",
            "edge_connections_per_address": "abc",  # bad: the default
            "http_header_timeout_seconds": "600",  # over Granian's 60 s: the default
            "edge_exempt_loopback": "0",
        }
    )
    assert limits.edge_requests_per_second == 50
    assert limits.edge_connections_per_address == 256
    assert limits.http_header_timeout_seconds == 10
    assert limits.edge_exempt_loopback is False
    for key, bad in [
        ("track_burst", "0"),
        ("edge_requests_per_second", "nan"),
        ("edge_exempt_loopback", "yes"),
    ]:
        with pytest.raises(ValueError):
            parse_value(key, bad)
