"""The runtime's pieces without a server: limits, manifest limits, ES-module forms, env
names, the log sink, and the sandbox on a real JS worker thread."""

import json
import time
from pathlib import Path

import pytest

from fazt.db import Database
from fazt.hosting.manifest import InvalidManifest, Manifest, parse
from fazt.runtime import store
from fazt.runtime.executor import Executor, Overloaded
from fazt.runtime.limits import Limits, RuntimeConfig
from fazt.runtime.sandbox import Job
from fazt.runtime.service import es_module_to_commonjs


def test_limits_from_settings_and_clamping():
    config = RuntimeConfig.from_settings(
        {"runtime_timeout_ms": "2000", "runtime_max_timeout_ms": "3000", "runtime_workers": "x"}
    )
    assert config.defaults.timeout_ms == 2000
    assert config.workers >= 2  # a bad value falls back to the default
    assert config.for_app({}).timeout_ms == 2000
    assert config.for_app({"timeout_ms": 10_000}).timeout_ms == 3000
    assert config.for_app({"timeout_ms": 100}).timeout_ms == 100
    assert config.for_app({"memory_mb": 100_000}).memory_mb == config.max_memory_mb


def test_manifest_limits():
    manifest = parse(json.dumps({"limits": {"timeout_ms": 200, "memory_mb": 32}}))
    assert dict(manifest.limits) == {"timeout_ms": 200, "memory_mb": 32}
    assert parse(manifest.to_json()) == manifest
    assert Manifest().limits == ()
    for bad in ({"timeout_ms": "5"}, {"timeout_ms": 0}, {"cpu": 1}, [1], {"memory_mb": 1.5}):
        with pytest.raises(InvalidManifest, match="limits"):
            parse(json.dumps({"limits": bad}))


def test_es_module_forms_become_commonjs_keeping_lines():
    src = "// hi\nexport default function (req) {\n  return 1;\n}\n"
    out = es_module_to_commonjs(src)
    assert "module.exports = function (req)" in out
    assert out.split("\n")[2] == "  return 1;"
    named = es_module_to_commonjs("export async function handler(req) {}\n")
    assert named.startswith("async function handler") and "exports.handler = handler" in named
    assert es_module_to_commonjs("const exported = 1;") == "const exported = 1;"


@pytest.mark.parametrize("name", ["API_KEY", "A", "_X1", "A" * 128])
def test_valid_env_names(name):
    assert store.validate_env_name(name) == name


@pytest.mark.parametrize("name", ["", "a", "1A", "A-B", "A B", "PATH", "FAZT_X", "A" * 129])
def test_invalid_env_names(name):
    with pytest.raises(store.EnvError):
        store.validate_env_name(name)


def test_log_sink_batches_and_keeps_the_newest(tmp_path: Path):
    db = Database.open(tmp_path / "t.db")
    try:
        db.write_sync(
            lambda c: c.execute(
                "INSERT INTO sites (name, created_at, updated_at) VALUES ('a', 'x', 'x')"
            )
        )
        sink = store.LogSink(db, retention=5)
        now = time.time() * 1000
        for i in range(12):
            sink.add("a", f"r{i}", [["info", f"line {i}", now], ["bogus", "x", now]])
        sink.add("gone", "r", [["info", "app does not exist", now]])
        db.write_sync(lambda c: None)  # after every queued flush
        rows = db.read_sync(store.read_logs, "a", 0, 100)
        assert len(rows) == 5
        assert rows[-1]["message"] == "x" and rows[-1]["level"] == "info"
        assert db.read_sync(store.read_logs, "gone", 0, 100) == []
        after = db.read_sync(store.read_logs, "a", rows[1]["id"], 100)
        assert [r["id"] for r in after] == [r["id"] for r in rows[2:]]
    finally:
        db.close()


def _job(src: str, key=("k",), timeout_ms: int = 2000, sources: dict | None = None, **kw) -> Job:
    req = {"id": "r1", "method": "GET", "path": "/api/x", "query": {}, "headers": {}}
    ctx = {"app": "a", "env": {"K": "v"}, "version": "t", "storage": False}
    return Job(
        app="a",
        key=key,
        entry="api/main.js",
        main=True,
        request_json=json.dumps(req),
        context_json=json.dumps(ctx),
        limits=Limits(timeout_ms=timeout_ms),
        deadline=time.monotonic() + timeout_ms / 1000,
        sources_json=json.dumps(sources or {}),
        main_source=src,
        **kw,
    )


@pytest.fixture(scope="module")
def executor():
    ex = Executor(1, 4)  # one worker: consecutive jobs share its context
    yield ex
    ex.close()


def run(executor: Executor, src: str, **kw):
    return executor.submit(_job(src, **kw)).result(10)


def test_completion_values(executor):
    assert run(executor, "'hi'").body == "hi"
    out = run(executor, "respond(201, {a: 1}, {'x-y': 2})")
    assert (out.status, out.body) == (201, '{"a":1}')
    assert ("x-y", "2") in out.headers
    assert run(executor, "respond(204)").status == 204
    kept = run(executor, "respond({ok: 1}); console.log('done')")
    assert kept.body == '{"ok":1}' and kept.logs[0][:2] == ["info", "done"]


def test_globals_do_not_survive_a_request(executor):
    src = (
        "var v = [typeof counter, typeof g]; counter = 1; globalThis.g = 2; "
        "Object.prototype.p = 3; [v, ({}).p === undefined]"
    )
    for _ in range(3):
        assert json.loads(run(executor, src).body) == [["undefined", "undefined"], True]
    # top-level let/const work on a reused context (a v0.9 bug)
    for _ in range(2):
        assert run(executor, "const x = 1; let y = 2; class C {}; x + y").body == "3"


def test_subclassed_errors_and_prototype_overrides_still_work(executor):
    src = (
        "class E extends Error { constructor(m) { super(m); this.name = 'E'; } }\n"
        "function F() {} F.prototype.toString = function () { return 'F!'; };\n"
        "[String(new E('x')), String(new F())]"
    )
    assert json.loads(run(executor, src).body) == ["E: x", "F!"]


def test_require_resolution(executor):
    sources = {
        "api/lib/a.js": "const b = require('./b'); exports.v = b.v + 1;",
        "api/lib/b.js": "exports.v = require('../data.json').n;",
        "api/data.json": '{"n": 40}',
        "api/lib/index.js": "module.exports = 'index';",
    }
    assert run(executor, "require('./lib/a').v + 1", key=("req",), sources=sources).body == "42"
    assert run(executor, "require('./lib')", key=("req",), sources=sources).body == "index"


def test_errors_and_limits(executor):
    out = run(executor, "\n\nnull.x")
    assert out.error == "FUNCTION_ERROR" and out.line == 3 and "TypeError" in out.message
    assert run(executor, "while (true) {}", timeout_ms=300).error == "FUNCTION_TIMEOUT"
    bomb = "const a = []; while (true) a.push(new Array(100000).fill(1));"
    assert run(executor, bomb).error == "FUNCTION_MEMORY"
    assert run(executor, "function f() { return f() + 1 } f()").error == "FUNCTION_ERROR"
    assert run(executor, "new Promise(() => {})").message.startswith("the handler's Promise")
    assert run(executor, "'still fine'").body == "still fine"


def test_queue_bound():
    ex = Executor(1, 1)
    try:
        futures = [ex.submit(_job("while (true) {}", timeout_ms=300))]
        with pytest.raises(Overloaded):  # one running and one queued at most
            for _ in range(3):
                futures.append(ex.submit(_job("1", timeout_ms=300)))
        assert len(futures) <= 2
        for f in futures:
            f.result(10)
    finally:
        ex.close()
