"""The one backoff rule, and the four retry loops that use it keep their waits."""

import pytest

from fazt.backoff import Backoff
from fazt.backup import replicate
from fazt.https import store
from fazt.runtime import executor
from fazt.server import supervisor


def test_doubles_from_base_up_to_the_cap():
    policy = Backoff(base=0.5, cap=5.0)
    assert [policy.delay(n) for n in range(7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_long_run_of_failures_stays_at_the_cap():
    # A name failing validation every six hours for a year or more: 2.0 ** 1100 overflowed
    # a float (the base comes from a float setting), and the certificate manager with it.
    assert Backoff(base=30.0, cap=6 * 3600).delay(100_000) == 6 * 3600
    assert store.backoff(30.0, 1100) == store.MAX_BACKOFF_SECONDS


def test_jitter_only_shortens_and_stays_within_its_fraction():
    policy = Backoff(base=10, cap=60, jitter=0.25)
    assert policy.delay(2, rand=lambda: 0.0) == 20.0
    assert policy.delay(2, rand=lambda: 1.0) == 15.0
    assert policy.delay(9, rand=lambda: 0.5) == 60 * 0.875
    waits = {policy.delay(3) for _ in range(200)}
    assert all(30 <= w <= 40 for w in waits) and len(waits) > 1


def test_no_jitter_is_deterministic():
    assert Backoff(base=1, cap=30).delay(3, rand=lambda: 0.9) == 4.0


# The waits each loop had before it used Backoff (written out from the old formulas).


def test_worker_restarts_pause_longer_up_to_the_cap_and_never_give_up():
    restarts = supervisor.Restarts()
    pauses = [restarts.died(-9, served=0.5, cap=30.0) for _ in range(12)]
    assert pauses[:8] == [0.25, 0.5, 1, 2, 4, 8, 16, 30]
    assert set(pauses[8:]) == {30.0}  # a restart every 30 s for as long as it takes
    assert restarts.looping and len(restarts.history) == 12


def test_a_worker_that_served_a_while_resets_the_pause():
    restarts = supervisor.Restarts()
    for _ in range(5):
        restarts.died(1, served=1.0, cap=30.0)
    assert restarts.died(1, served=supervisor.STABLE_AFTER, cap=30.0) == 0.25
    assert not restarts.looping
    assert len(restarts.history) == 6  # the hour's history is kept all the same


@pytest.mark.parametrize("quick_exits", range(12))
def test_javascript_worker_respawns_wait_as_before(quick_exits):
    old = min(5.0, 0.1 * 2**quick_exits) if quick_exits else 0.0
    assert executor.RESPAWN_BACKOFF.delay(quick_exits) == old


def test_litestream_restarts_wait_as_before():
    assert [replicate.RESTART_BACKOFF.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


@pytest.mark.parametrize("failures", range(0, 40))
def test_certificate_retries_wait_as_before(failures):
    old = min(30 * 2 ** max(failures - 1, 0), store.MAX_BACKOFF_SECONDS)
    assert store.backoff(30, failures) == old
