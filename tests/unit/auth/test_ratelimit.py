"""The failure limiter counts an attempt before its check; a success gives it back."""

import asyncio
from collections import Counter

from argon2 import PasswordHasher

from fazt.auth import passwords, ratelimit
from fazt.auth.ratelimit import FailureLimiter
from tests.conftest import wait_for


def test_reserving_blocks_after_the_limit_and_release_gives_back():
    limiter = FailureLimiter(3, 900)
    stamps = [limiter.reserve("a") for _ in range(3)]
    assert all(stamp is not None and wait == 0 for stamp, wait in stamps)
    stamp, wait = limiter.reserve("a")
    assert stamp is None and 899 <= wait <= 901
    assert limiter.reserve("b")[0] is not None  # other addresses are not affected
    limiter.release("a", stamps[0][0])
    assert limiter.reserve("a")[0] is not None
    assert limiter.reserve("a")[0] is None
    limiter.release("a", None)  # a refused attempt has nothing to give back
    assert limiter.reserve("a")[0] is None


def test_concurrent_attempts_cannot_overshoot_the_limit():
    """Before the fix the limiter was asked first and told of failures after the check,
    so every attempt that was in flight together passed."""
    limiter = FailureLimiter(5, 900)

    async def attempt() -> str:
        stamp, _ = limiter.reserve("ip")
        if stamp is None:
            return "refused"
        await asyncio.sleep(0)  # the expensive check, during which the others arrive
        return "checked"

    async def burst() -> Counter:
        return Counter(await asyncio.gather(*(attempt() for _ in range(40))))

    assert asyncio.run(burst()) == Counter(checked=5, refused=35)


def test_attempts_leave_the_window():
    limiter = FailureLimiter(1, 0.05)
    assert limiter.reserve("a")[0] is not None
    assert limiter.reserve("a")[0] is None
    wait_for(lambda: limiter.reserve("a")[0] is not None, what="the window to pass")


def test_memory_stays_bounded_however_many_addresses(monkeypatch):
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 100)
    limiter = FailureLimiter(5, 900)
    for i in range(1000):
        limiter.reserve(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._failures) <= 101


def test_at_most_two_password_checks_run_at_once_and_the_rest_are_told_busy():
    # A deliberately slow hash (~0.3 s here): verifying reads the cost from the hash.
    slow = PasswordHasher(time_cost=12, memory_cost=16384, parallelism=1).hash("secret")

    async def main() -> list:
        checker = passwords.PasswordChecker(slots=2, wait=0.05)
        results = await asyncio.gather(
            *(checker.verify(slow, "guess") for _ in range(6)), return_exceptions=True
        )
        after = await checker.verify(slow, "secret")  # the slots were given back
        return [*results, after]

    *burst, after = asyncio.run(main())
    assert sum(isinstance(r, passwords.Busy) for r in burst) == 4
    assert burst.count(False) == 2
    assert after is True
