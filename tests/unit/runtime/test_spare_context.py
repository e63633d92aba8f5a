"""The spare context of a JS worker (issue 22, cold start): a context with the prelude
evaluated ahead, given to the next deployment that needs a new one, never to two; and
the pool sends no request to a worker while it builds one."""

import json
import time
from pathlib import Path

import pytest

from fazt.db import Database
from fazt.runtime import worker as worker_module
from fazt.runtime.executor import WorkerPool, _JsProcess
from fazt.runtime.sandbox import Job
from fazt.runtime.worker import JsWorker

REQUEST = json.dumps({"id": "r", "method": "GET", "path": "/api/x", "query": {}, "headers": {}})


@pytest.fixture(scope="module")
def db_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spare") / "t.db"
    Database.open(path).close()
    return path


def job(app: str, dep: int, sources: dict[str, str], entry: str = "api/x.js") -> Job:
    context = json.dumps({"app": app, "env": {}, "version": "t", "storage": True})
    return Job(
        app=app,
        key=(app, dep, 64, 1 << 20),
        entry=entry,
        request_json=REQUEST,
        context_json=context,
        memory_mb=64,
        stack_bytes=1 << 20,
        deadline=time.monotonic() + 5,
        sources=sources,
    )


def test_the_spare_goes_to_one_deployment_then_is_built_again(db_path):
    said: list[str] = []
    worker = JsWorker(str(db_path), said.append)
    worker.prepare_spare()
    assert said == ["B", "S"] and worker.spare is not None
    spare = worker.spare
    leaky = {"api/x.js": "module.exports = () => { globalThis.x = 1; return { a: 1 }; };"}
    out = worker.run(job("a", 1, leaky)).decode()
    assert out.status == 200 and json.loads(out.body) == {"a": 1}
    assert said[-1] == "C0" and worker.spare is None  # taken: it is app a's context now
    assert worker.contexts[("a", 1, 64, 1 << 20)].ctx is spare
    # the next new context, with no spare built meanwhile, is cold
    probe = {"api/x.js": "module.exports = () => ({ x: typeof x, app: fazt.app.name });"}
    out = worker.run(job("b", 2, probe)).decode()
    assert json.loads(out.body) == {"x": "undefined", "app": "b"} and said[-1] == "C1"
    worker.prepare_spare()
    assert said[-2:] == ["B", "S"] and worker.spare is not None and worker.spare is not spare
    worker.prepare_spare()  # one at a time
    assert said[-2:] == ["B", "S"] and len(said) == 6


def test_a_root_main_js_does_not_take_the_spare(db_path):
    """Its context needs the legacy prelude before the prelude: built cold, the spare stays."""
    said: list[str] = []
    worker = JsWorker(str(db_path), said.append)
    worker.prepare_spare()
    spare = worker.spare
    out = worker.run(job("old", 3, {"main.js": "res.send('v09');"}, entry="main.js")).decode()
    assert out.body == "v09" and said[-1] == "C1" and worker.spare is spare


def test_the_pool_sends_nothing_to_a_worker_building_its_spare(db_path):
    pool = WorkerPool(db_path, 2, 4)
    first, second = _JsProcess(pool), _JsProcess(pool)
    pool._starting = 2
    for w in (first, second):
        pool._on_frame(w, "R")
    assert pool._idle == {first, second} and pool.usage()["busy"] == 0
    pool._on_frame(first, "B")
    assert pool._idle == {second} and pool.usage()["busy"] == 1
    pool._on_frame(first, "S")
    assert pool._idle == {first, second} and pool.usage()["contexts_prepared"] == 1
    pool._on_frame(second, "B")
    assert pool._idle == {first}
    pool._on_frame(second, "S")
    pool._on_frame(first, "C0")
    pool._on_frame(second, "C1")
    usage = pool.usage()
    assert (usage["contexts_spare"], usage["contexts_cold"]) == (1, 1)


def test_a_failed_spare_is_not_retried_until_the_next_new_context(db_path, monkeypatch):
    """Otherwise an idle worker would retry (and log) every SPARE_AFTER_IDLE_SECONDS."""
    said: list[str] = []
    worker = JsWorker(str(db_path), said.append)

    def broken(host, stack_bytes):
        raise MemoryError("no room")

    monkeypatch.setattr(worker_module, "blank_context", broken)
    assert worker.needs_spare
    worker.prepare_spare()
    assert worker.spare is None and not worker.needs_spare and said == ["B", "S"]
    out = worker.run(job("c", 4, {"api/x.js": "module.exports = () => 1;"})).decode()
    assert out.body == "1" and said[-1] == "C1" and worker.needs_spare
