"""The runtime's pieces without a server: limits, manifest limits, ES-module forms, env
names, the log sink, and the sandbox in real JS worker processes."""

import asyncio
import gc
import json
import re
import time
from pathlib import Path

import pytest

from fazt.db import Database
from fazt.hosting.manifest import InvalidManifest, Manifest, parse
from fazt.runtime import store
from fazt.runtime.executor import Overloaded, WorkerPool
from fazt.runtime.limits import RuntimeConfig
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


MAIN = "api/main.js"


@pytest.fixture(scope="module")
def pool_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pool") / "t.db"
    Database.open(path).close()
    return path


class Pool:
    """A WorkerPool on its own event loop, driven synchronously by the tests."""

    def __init__(self, db_path: Path, workers=1, queue=4, published=None, pipeline=1) -> None:
        self.loop = asyncio.new_event_loop()
        self.pool = WorkerPool(db_path, workers, queue, publish=published, pipeline=pipeline)

    def submit(self, src: str, *, timeout_ms: int = 2000, sources=None, storage=False):
        job = _job(src, sources, storage)
        return self.pool.run("a", *job, time.monotonic() + timeout_ms / 1000)

    def run(self, src: str, **kw):
        return self.loop.run_until_complete(self.submit(src, **kw))

    def close(self) -> None:
        self.loop.run_until_complete(self.pool.aclose())
        self.loop.close()


def _job(src: str, sources: dict | None = None, storage: bool = False) -> tuple:
    req = {"id": "r1", "method": "GET", "path": "/api/x", "query": {}, "headers": {}}
    ctx = {"app": "a", "env": {"K": "v"}, "version": "t", "storage": storage}
    key = hash((src, json.dumps(sources, sort_keys=True)))
    header = {
        "app": "a",
        "dep": key,
        "entry": MAIN,
        "mem": 64,
        "stack": 1024 * 1024,
        "src": {**(sources or {}), MAIN: src},
    }
    return header, json.dumps(req), json.dumps(ctx)


@pytest.fixture(scope="module")
def executor(pool_db):
    pool = Pool(pool_db)  # one worker: consecutive jobs share its context
    yield pool
    pool.close()


def run(executor: Pool, src: str, **kw):
    return executor.run(src, **kw)


def test_completion_values(executor):
    assert run(executor, "'hi'").body == "hi"
    out = run(executor, "respond(201, {a: 1}, {'x-y': 2})")
    assert (out.status, out.body) == (201, '{"a":1}')
    assert ["x-y", "2"] in out.headers
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


@pytest.mark.parametrize(
    "add",
    [
        "Object.defineProperty(globalThis, 'hidden', {value: 1, enumerable: false})",
        "Reflect.defineProperty(globalThis, 'hidden', {value: 1})",
        "Object.defineProperties(globalThis, {hidden: {value: 1}})",
        "globalThis.__defineGetter__('hidden', () => 1)",
        "globalThis[Symbol.for('hidden')] = 1",
    ],
)
def test_hidden_globals_do_not_survive_a_request_either(executor, add):
    # The reset lists the global object's keys only when something may have been added:
    # non-enumerable keys (through defineProperty and friends) and symbol keys included.
    src = (
        "const before = [typeof hidden, globalThis[Symbol.for('hidden')] === undefined];\n"
        f"{add};\n"
        "before"
    )
    for _ in range(3):
        assert json.loads(run(executor, src).body) == ["undefined", True], add
    # the wrapped functions still work as before on other objects
    src = (
        "const o = {}; Object.defineProperty(o, 'k', {value: 6}); [o.k, Object.defineProperty.name]"
    )
    assert json.loads(run(executor, src).body) == [6, "defineProperty"]


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
    assert run(executor, "require('./lib/a').v + 1", sources=sources).body == "42"
    assert run(executor, "require('./lib')", sources=sources).body == "index"


def test_errors_name_the_file_and_line(executor):
    out = run(executor, "\n\nnull.x")
    assert out.error == "FUNCTION_ERROR" and out.line == 3 and "TypeError" in out.message
    assert out.file == MAIN
    sources = {
        "api/lib/a.js": "exports.f = function () {\n  return 1;\n};\n",
        "api/lib/b.js": "// b\nexports.g = function () {\n\n  return missing.x;\n};\n",
    }
    src = "const a = require('./lib/a'), b = require('./lib/b');\na.f();\nb.g()"
    out = run(executor, src, sources=sources)
    assert (out.file, out.line) == ("api/lib/b.js", 4), out
    bad = run(executor, "require('./lib/c')", sources={"api/lib/c.js": "\nlet = ;"})
    assert bad.error == "FUNCTION_ERROR" and bad.file == "api/lib/c.js", bad


def test_errors_and_limits(executor):
    assert run(executor, "while (true) {}", timeout_ms=300).error == "FUNCTION_TIMEOUT"
    bomb = "const a = []; while (true) a.push(new Array(100000).fill(1));"
    assert run(executor, bomb).error == "FUNCTION_MEMORY"
    assert run(executor, "function f() { return f() + 1 } f()").error == "FUNCTION_ERROR"
    assert run(executor, "new Promise(() => {})").message.startswith("the handler's Promise")
    assert run(executor, "'still fine'").body == "still fine"


def test_crypto_random_values_and_uuid(executor):
    src = (
        "const a = crypto.getRandomValues(new Uint8Array(32)), b = new Uint32Array(4);\n"
        "crypto.getRandomValues(b);\n"
        "let big; try { crypto.getRandomValues(new Uint8Array(70000)); }\n"
        "catch (e) { big = e.name }\n"
        "let bad; try { crypto.getRandomValues(new Float64Array(2)); } catch (e) { bad = e.name }\n"
        "[Array.from(a).some((x) => x !== 0), b.some((x) => x !== 0), crypto.randomUUID(),\n"
        " crypto.randomUUID(), big, bad]"
    )
    nonzero_a, nonzero_b, u1, u2, big, bad = json.loads(run(executor, src).body)
    assert nonzero_a and nonzero_b and u1 != u2
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u1)
    assert (big, bad) == ("RangeError", "TypeError")


def _add_site_a(db_path: Path) -> None:
    db = Database.open(db_path)
    try:
        db.write_sync(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO sites (name, created_at, updated_at) VALUES ('a', 'x', 'x')"
            )
        )
    finally:
        db.close()


def test_storage_is_synchronous(pool_db):
    _add_site_a(pool_db)  # storage rows belong to an existing app
    pool = Pool(pool_db)
    try:
        src = (
            "const kv = fazt.storage.kv;\n"
            "kv.set('n', (kv.get('n') || 0) + 1);\n"
            "const id = fazt.storage.ds.insert('c', {x: 1});\n"
            "fazt.storage.s3.put('t.txt', 'h\u00e9llo');\n"
            "fazt.storage.s3.put('b.bin', new Uint8Array([0, 255, 7]));\n"
            "const t = fazt.storage.s3.get('t.txt'), b = fazt.storage.s3.get('b.bin');\n"
            "[kv.get('n'), typeof id, t.text, t.data, Array.from(b.bytes), b.size]"
        )
        first = json.loads(pool.run(src, storage=True).body)
        assert first == [1, "string", "h\u00e9llo", "aMOpbGxv", [0, 255, 7], 3]
        assert json.loads(pool.run(src, storage=True).body)[0] == 2
        # `await` on a plain value still works (apps written for the Promise version)
        out = pool.run("(async () => await fazt.storage.kv.get('n'))()", storage=True)
        assert out.body == "2"
    finally:
        pool.close()


def test_kv_values_from_javascript_are_checked_like_any_other(pool_db):
    # kv.set stores JSON.stringify's text as it is when that is safe (no re-encoding);
    # the cases that need the full check still get it.
    _add_site_a(pool_db)  # storage rows belong to an existing app
    pool = Pool(pool_db)
    try:
        src = (
            "const kv = fazt.storage.kv, v = {s: 'h\u00e9 \"q\" \\n', n: [1e-7, 1e21, -0, 0.5],"
            " d: {e: null, t: true}};\n"
            "kv.set('v', v);\n"
            "JSON.stringify(kv.get('v')) === JSON.stringify(v)"
        )
        assert pool.run(src, storage=True).body == "true"
        for value, message in [
            ("'\\ud800'", "lone surrogate"),
            ("JSON.parse('['.repeat(65) + ']'.repeat(65))", "nested deeper"),
        ]:
            out = pool.run(f"fazt.storage.kv.set('bad', {value})", storage=True)
            assert out.error == "FUNCTION_ERROR" and message in out.message, out
        assert pool.run("[fazt.storage.kv.get('bad')]", storage=True).body == "[null]"
        deep = "JSON.parse('['.repeat(64) + ']'.repeat(64))"
        out = pool.run(f"fazt.storage.kv.set('ok', {deep}); 'stored'", storage=True)
        assert out.body == "stored", out
    finally:
        pool.close()


def test_realtime_publish_reaches_the_server(pool_db):
    published = []
    pool = Pool(pool_db, published=lambda *a: published.append(a))
    try:
        out = pool.run("fazt.realtime.publish('room', {hi: 1}); 'ok'")
        assert out.body == "ok"
        assert published == [("a", "room", '{"hi":1}')]
        bad = pool.run("fazt.realtime.publish('room')")
        assert bad.error == "FUNCTION_ERROR" and "requires" in bad.message
        flood = pool.run("for (let i = 0; i < 1000; i++) fazt.realtime.publish('r', i)")
        assert flood.error == "FUNCTION_ERROR" and "at most 100" in flood.message
        assert len(published) == 1 + 100
        empty = pool.run("fazt.realtime.publish('', 1)")
        assert empty.error == "FUNCTION_ERROR" and "channel" in empty.message
    finally:
        pool.close()


def test_queue_bound_and_requests_behind_a_killed_worker(pool_db):
    # The queue bound counts every admitted request that is not running: in the pool's
    # queue or waiting in a worker's pipe.
    pool = Pool(pool_db, workers=1, queue=2, pipeline=2)

    async def scenario():
        first = asyncio.ensure_future(pool.submit("while (true) {}", timeout_ms=500))
        await asyncio.sleep(0)
        # one sent behind the running one (in the worker's pipe), one queued in the pool
        second = asyncio.ensure_future(pool.submit("2", timeout_ms=3000))
        third = asyncio.ensure_future(pool.submit("3", timeout_ms=3000))
        await asyncio.sleep(0)
        with pytest.raises(Overloaded):  # then the queue is full
            await pool.submit("4", timeout_ms=300)
        return await first, await second, await third

    try:
        assert pool.run("'warm'").body == "warm"  # the worker is started
        first, second, third = pool.loop.run_until_complete(scenario())
        assert first.error == "FUNCTION_TIMEOUT"
        # never started by the killed worker: run by its replacement, in order
        assert (second.body, third.body) == ("2", "3")
    finally:
        pool.close()


def test_requests_are_not_queued_behind_a_slow_request(pool_db):
    # Two workers, pipelines of 4: once one worker has been running a request for longer
    # than SLOW_SECONDS, new requests go to the other worker, even behind its own.
    pool = Pool(pool_db, workers=2, queue=8, pipeline=4)

    async def scenario():
        slow = asyncio.ensure_future(pool.submit("while (true) {}", timeout_ms=2000))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        quick = await asyncio.gather(*(pool.submit("'quick'") for _ in range(6)))
        waited = time.monotonic() - started
        return await slow, quick, waited

    try:

        async def warm():  # both workers up
            return await asyncio.gather(pool.submit("'warm'"), pool.submit("'warm'"))

        pool.loop.run_until_complete(warm())
        slow, quick, waited = pool.loop.run_until_complete(scenario())
        assert [q.body for q in quick] == ["quick"] * 6 and waited < 1.0, waited
        assert slow.error == "FUNCTION_TIMEOUT"
    finally:
        pool.close()


def test_a_request_waiting_behind_a_slow_one_times_out_on_time(pool_db):
    pool = Pool(pool_db, workers=1, queue=4, pipeline=2)

    async def scenario():
        slow = asyncio.ensure_future(pool.submit("while (true) {}", timeout_ms=1500))
        await asyncio.sleep(0)
        started = time.monotonic()
        short = await pool.submit("'late'", timeout_ms=300)
        waited = time.monotonic() - started
        return await slow, short, waited

    try:
        assert pool.run("'warm'").body == "warm"
        slow, short, waited = pool.loop.run_until_complete(scenario())
        assert short.error == "FUNCTION_TIMEOUT" and waited < 1.0
        assert slow.error == "FUNCTION_TIMEOUT"
        assert pool.run("'after'").body == "after"
    finally:
        pool.close()


def test_conventional_main_is_compiled_once_with_the_same_semantics(executor):
    # main.js in the usual form (compiled once, then called as a function): fresh scope,
    # the kept value, a trailing log, and errors keep their lines.
    src = (
        "var hits = (typeof hits === 'undefined' ? 0 : hits) + 1;\n"
        "let seen = globalThis.seen; globalThis.seen = true;\n"
        "function handler(req) { if (req.query.boom) null.x; return {hits, seen: !!seen}; }\n"
        "__fazt_keep(handler(request));\n"
        "console.log('after');\n"
    )
    for _ in range(3):
        out = run(executor, src)
        assert json.loads(out.body) == {"hits": 1, "seen": False}, out
        assert out.logs[0][:2] == ["info", "after"]
    # a top-level return stays a syntax error on every request, as in a script
    bad = "return respond(1);\n__fazt_keep(handler(request));\n"
    for _ in range(2):
        out = run(executor, bad)
        assert out.error == "FUNCTION_ERROR" and "SyntaxError" in out.message, out


def test_shared_host_objects_cannot_be_tampered_with(executor):
    src = (
        "const out = (function () {\n"
        "  'use strict';\n"
        "  return [() => { fazt.realtime.publish = null; },\n"
        "          () => { crypto.randomUUID = () => 'x'; },\n"
        "          () => { crypto = null; }].map((f) => {\n"
        "    try { f(); return 'changed'; } catch (e) { return e.name; }\n"
        "  });\n"
        "})();\n"
        "[out, typeof fazt.realtime.publish, crypto.randomUUID().length]"
    )
    for _ in range(2):
        assert json.loads(run(executor, src).body) == [["TypeError"] * 3, "function", 36]


def test_the_shared_storage_object_cannot_be_tampered_with(pool_db):
    # fazt.storage is built once per context and shared by its requests: frozen.
    pool = Pool(pool_db)
    try:
        src = (
            "const out = (function () {\n"
            "  'use strict';\n"
            "  return [() => { fazt.storage.kv.set = null; },\n"
            "          () => { fazt.storage.kv.extra = 1; },\n"
            "          () => { fazt.storage.ds = null; }].map((f) => {\n"
            "    try { f(); return 'changed'; } catch (e) { return e.name; }\n"
            "  });\n"
            "})();\n"
            "[out, typeof fazt.storage.kv.set, 'extra' in fazt.storage.kv,\n"
            " fazt.storage === fazt.storage]"
        )
        for _ in range(2):
            body = json.loads(pool.run(src, storage=True).body)
            assert body == [["TypeError"] * 3, "function", False, True]
        assert pool.run("typeof fazt.storage").body == "undefined"  # storage off
    finally:
        pool.close()


def _worker_pids(db_path: Path) -> list[int]:
    """Live JS worker processes serving `db_path` (a zombie's cmdline is empty)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"fazt.runtime.worker" in cmdline and str(db_path).encode() in cmdline:
            found.append(int(entry.name))
    return found


def _open_subprocess_transports() -> list:
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, asyncio.SubprocessTransport) and not o.is_closing()
    ]


def test_closing_while_workers_start_leaves_no_process_behind(tmp_path):
    db_path = tmp_path / "starting.db"
    Database.open(db_path).close()
    loop = asyncio.new_event_loop()
    pool = WorkerPool(db_path, 2, 4)
    earlier = {id(t) for t in _open_subprocess_transports()}

    async def start_then_close(pool: WorkerPool) -> None:
        request = asyncio.ensure_future(pool.run("a", *_job("1"), time.monotonic() + 5))
        deadline = time.monotonic() + 10
        while not _worker_pids(db_path):  # spawned, still importing: not ready yet
            assert time.monotonic() < deadline, "no worker process started"
            await asyncio.sleep(0.005)
        await pool.aclose()
        with pytest.raises(Overloaded):
            await request
        # Left open, a transport would be closed by the garbage collector once the loop
        # is gone: too late to close it cleanly (and it kills its process then).
        left_open = [t for t in _open_subprocess_transports() if id(t) not in earlier]
        assert left_open == []

    try:
        loop.run_until_complete(start_then_close(pool))
    finally:
        loop.close()
    deadline = time.monotonic() + 10
    while _worker_pids(db_path):
        assert time.monotonic() < deadline, f"left running: {_worker_pids(db_path)}"
        time.sleep(0.05)
