"""Answers whose head (status and headers, no logs) repeats are parsed and checked once:
what was refused stays refused, what passed is sent as it was, and one answer's head
never stands for another's."""

from pathlib import Path

import pytest

from fazt.db import Database
from fazt.runtime.limits import Limits
from fazt.runtime.outcome import decode_outcome
from fazt.runtime.service import Runtime
from fazt.web.http import HTTPError


@pytest.fixture
def runtime(tmp_path: Path):
    db = Database.open(tmp_path / "t.db")
    runtime = Runtime(db)
    yield runtime
    runtime.close()
    db.close()


def answer(runtime: Runtime, frame: str):
    """The response (or the HTTPError) for a worker's answer frame (without its "D")."""
    try:
        return runtime._answer("blog", "rid1", "api/main.js", Limits(), decode_outcome(frame))
    except HTTPError as exc:
        return exc


GOOD = '{"s": 201, "h": [["Content-Type", "text/plain"], ["Connection", "close"]], "l": []}'
BAD = '{"s": 200, "h": [["x-a", "a\\r\\nset-cookie: b"]], "l": []}'


def test_a_refused_head_is_refused_every_time(runtime):
    for _ in range(3):
        refused = answer(runtime, BAD + "\nbody")
        assert isinstance(refused, HTTPError) and refused.status == 500
        assert "invalid value for response header 'x-a'" in str(refused.message)


def test_a_passed_head_is_sent_the_same_each_time_and_not_changed_by_its_answers(runtime):
    first = answer(runtime, GOOD + "\none")
    first.headers.append(("x-added", "by the first answer's user"))  # its own list
    second = answer(runtime, GOOD + "\ntwo")
    assert (second.status, second.body) == (201, b"two")
    assert second.headers == [("content-type", "text/plain"), ("x-request-id", "rid1")]


def test_heads_are_told_apart_by_their_whole_text(runtime):
    assert answer(runtime, GOOD + "\nok").status == 201
    other = GOOD.replace("text/plain", "text/plain\\u0000")  # a NUL in the value
    assert isinstance(answer(runtime, other + "\nx"), HTTPError)
    assert answer(runtime, GOOD + "\nok").status == 201


def test_answers_with_logs_are_not_kept(runtime):
    logged = '{"s": 200, "h": [], "l": [["info", "hi", 1]]}'
    assert decode_outcome(logged + "\nx").head is None
    assert decode_outcome(GOOD + "\nx").head == GOOD


def test_long_heads_are_not_kept(runtime):
    long = '{"s": 200, "h": [["x-big", "' + "v" * 2000 + '"]], "l": []}'
    assert decode_outcome(long + "\nx").head is None
    assert answer(runtime, long + "\nx").status == 200
    assert long not in runtime._checked
