"""Serverless JavaScript over real HTTP: both layouts, response normalisation, request
fields, errors, isolation, limits (timeout, memory, overload, body size), env and logs."""

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import FaztServer, running_server, wait_for, write_site

SETTINGS = {
    "runtime_timeout_ms": "1500",
    "runtime_workers": "3",
    "runtime_queue": "4",
    "runtime_max_body_bytes": "2048",
}

MAIN = r"""
const util = require('./lib/util');
var hits = (typeof hits === 'undefined' ? 0 : hits) + 1;
let leaked = globalThis.leaked;
globalThis.leaked = 'set by an earlier request';
function handler(req) {
  const p = req.path;
  if (p === '/api/echo') return respond({method: req.method, path: p, query: req.query,
    headers: req.headers, body: req.body, rawBody: req.rawBody, params: req.params});
  if (p === '/api/state') return respond({hits, leaked: leaked === undefined ? null : leaked,
    proto: [].polluted === undefined ? null : 'polluted'});
  if (p === '/api/pollute') { Array.prototype.polluted = 1; sneaky = 1; return {ok: true}; }
  if (p === '/api/string') return 'hello';
  if (p === '/api/rope') { let s = ''; for (let i = 0; i < 500; i++) s += 'ab' + i; return s; }
  if (p === '/api/number') return 42;
  if (p === '/api/array') return [1, 2];
  if (p === '/api/object') return {items: [1, 2]};
  if (p === '/api/post') return {title: 'x', body: 'not a response'};
  if (p === '/api/null') return null;
  if (p === '/api/status-only') return respond(204);
  if (p === '/api/created') return respond(201, {id: 7}, {'x-custom': 'yes'});
  if (p === '/api/html')
    return {status: 200, headers: {'content-type': 'text/html'}, body: '<b>hi</b>'};
  if (p === '/api/bad-status') return respond(1200, 'x');
  if (p === '/api/bad-header')
    return {status: 200, headers: {'x-a': 'a\r\nset-cookie: b'}, body: ''};
  if (p === '/api/async')
    return (async () => { await null; return respond(202, {async: true}); })();
  if (p === '/api/reject') return Promise.reject(new Error('nope'));
  if (p === '/api/throw') {
    console.log('about to throw'); throw new TypeError('secret-ish detail'); }
  if (p === '/api/loop') { while (true) {} }
  if (p === '/api/bomb') { const a = []; while (true) a.push(new Array(100000).fill(p)); }
  if (p === '/api/recurse') { const f = (n) => f(n + 1) + 1; return f(0); }
  if (p === '/api/sum') return {sum: util.add(2, 3), same: require('./lib/util') === util};
  if (p === '/api/missing-module') return require('./nope');
  if (p === '/api/escape') return require('../../etc/passwd');
  if (p === '/api/env') return {a: fazt.env.get('API_KEY'), d: fazt.env.get('NOPE', 'dflt'),
    has: fazt.env.has('API_KEY'), prop: fazt.env.API_KEY === undefined ? null : fazt.env.API_KEY,
    app: fazt.app};
  if (p === '/api/log') { console.log('hello', {a: 1}); fazt.log.warn('careful'); return 'logged'; }
  return respond(404, {error: 'no route ' + p});
}
handler(request);
console.log('trailing log does not replace the response');
"""

STORE = r"""
async function handler(req) {
  const {kv, ds, s3} = fazt.storage;
  if (req.method === 'POST') {
    await kv.set('greeting', {text: req.body.text});
    const id = await ds.insert('notes', {text: req.body.text, n: 1});
    return respond(201, {id});
  }
  if (req.path === '/api/bad') { try { await kv.set(); } catch (e) { return {caught: e.message}; } }
  const [greeting, notes, count, missing] = await Promise.all([
    kv.get('greeting'), ds.find('notes', {n: 1}), ds.count('notes', {}), kv.get('missing')]);
  return {greeting, texts: notes.map((d) => d.text), count, missing: missing === undefined};
}
handler(request);
"""

FILE_ROUTES = {
    "api/hello.js": "module.exports = function (req) { return {hello: req.method}; };\n",
    "api/esm.js": "export default function (req) { return {esm: true}; }\n",
    "api/named.js": "function handler(req) { return 'named'; }\n",
    "api/async.js": "module.exports = async (req) => { await null; return {async: 1}; };\n",
    "api/users/index.js": "module.exports = () => ({users: []});\n",
    "api/users/[id].js": "module.exports = (req) => ({id: req.params.id});\n",
    "api/_lib/helper.js": "exports.twice = (x) => x * 2;\n",
    "api/calc.js": "const h = require('./_lib/helper');\nmodule.exports = () => h.twice(21);\n",
    "api/broken.js": "module.exports = function () {\n  return undefinedThing.x;\n};\n",
    "api/data.json": '{"static": true}',
    "index.html": "<h1>files</h1>",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    root = tmp_path_factory.mktemp("runtime")
    with running_server(root / "home", SETTINGS) as server:
        write_site(
            root / "main",
            {
                "api/main.js": MAIN,
                "api/lib/util.js": "exports.add = (a, b) => a + b;\n",
                "index.html": "<h1>static</h1>",
                "about.html": "about",
            },
        )
        server.deploy(root / "main", "js")
        write_site(root / "files", FILE_ROUTES)
        server.deploy(root / "files", "routes")
        write_site(root / "other", {"api/main.js": "({app: fazt.app.name, leaked: typeof sneaky})"})
        server.deploy(root / "other", "other")
        write_site(root / "store", {"api/main.js": STORE})
        server.deploy(root / "store", "store")
        write_site(root / "plain", {"index.html": "plain", "api/readme.txt": "docs"})
        server.deploy(root / "plain", "plain")
        yield server


def call(srv: FaztServer, site: str, path: str, method: str = "GET", **kw) -> httpx.Response:
    return srv.request(method, path, host=f"{site}.localhost", **kw)


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]["code"]


# -- layouts and routing ------------------------------------------------------------------


def test_main_js_answers_every_method(srv):
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        r = call(srv, "js", "/api/echo", method)
        assert r.status_code == 200, r.text
        assert r.json()["method"] == method
        assert r.headers["x-request-id"]


def test_static_files_are_not_shadowed(srv):
    assert call(srv, "js", "/").text == "<h1>static</h1>"
    assert call(srv, "js", "/about").text == "about"
    assert call(srv, "js", "/api/main.js").json()["error"] == "no route /api/main.js"


def test_file_routes(srv):
    assert call(srv, "routes", "/api/hello", "POST").json() == {"hello": "POST"}
    assert call(srv, "routes", "/api/esm").json() == {"esm": True}
    assert call(srv, "routes", "/api/named").text == "named"
    assert call(srv, "routes", "/api/async").json() == {"async": 1}
    assert call(srv, "routes", "/api/users").json() == {"users": []}
    assert call(srv, "routes", "/api/users/42").json() == {"id": "42"}
    assert call(srv, "routes", "/api/calc").json() == 42
    assert call(srv, "routes", "/").text == "<h1>files</h1>"


def test_file_routes_never_expose_sources_or_helpers(srv):
    assert call(srv, "routes", "/api/hello.js").status_code == 404
    assert call(srv, "routes", "/api/_lib/helper").status_code == 404
    assert call(srv, "routes", "/api/nothing").status_code == 404
    assert call(srv, "routes", "/api/data.json").json() == {"static": True}  # a static file


def test_site_without_js_keeps_static_behaviour(srv):
    assert call(srv, "plain", "/api/readme.txt").text == "docs"
    assert call(srv, "plain", "/api/nothing").status_code == 404
    assert call(srv, "plain", "/api/readme.txt", "POST").status_code == 405


def test_file_route_error_has_line_in_logs_only(srv):
    r = call(srv, "routes", "/api/broken")
    assert error_code(r, 500) == "FUNCTION_ERROR"
    assert "undefinedThing" in r.json()["error"]["message"]
    assert "line" not in r.text and "at " not in r.json()["error"]["message"]


# -- request and response -----------------------------------------------------------------


def test_request_fields(srv):
    r = call(
        srv,
        "js",
        "/api/echo?a=1&a=2&b=",
        "POST",
        json={"x": [1, 2]},
        headers={"X-Custom": "Yes"},
    )
    data = r.json()
    assert data["path"] == "/api/echo"
    assert data["query"] == {"a": "1", "b": ""}
    assert data["headers"]["x-custom"] == "Yes"
    assert data["body"] == {"x": [1, 2]}
    assert json.loads(data["rawBody"]) == {"x": [1, 2]}
    assert data["params"] == {}
    text = call(srv, "js", "/api/echo", "PUT", content="plain text").json()
    assert text["body"] == "plain text"


@pytest.mark.parametrize(
    ("path", "status", "ctype", "body"),
    [
        ("/api/string", 200, "text/plain; charset=utf-8", b"hello"),
        ("/api/number", 200, "application/json", b"42"),
        ("/api/array", 200, "application/json", b"[1,2]"),
        ("/api/object", 200, "application/json", b'{"items":[1,2]}'),
        ("/api/post", 200, "application/json", b'{"title":"x","body":"not a response"}'),
        ("/api/created", 201, "application/json", b'{"id":7}'),
        ("/api/html", 200, "text/html", b"<b>hi</b>"),
        ("/api/async", 202, "application/json", b'{"async":true}'),
    ],
)
def test_response_normalisation(srv, path, status, ctype, body):
    r = call(srv, "js", path)
    assert (r.status_code, r.headers.get("content-type"), r.content) == (status, ctype, body)


def test_long_concatenated_string_body(srv):
    expected = "".join(f"ab{i}" for i in range(500))
    assert call(srv, "js", "/api/rope").text == expected


def test_empty_responses(srv):
    r = call(srv, "js", "/api/status-only")
    assert r.status_code == 204 and r.content == b""
    r = call(srv, "js", "/api/null")
    assert r.status_code == 200 and r.content == b""
    assert call(srv, "js", "/api/created").headers["x-custom"] == "yes"


def test_invalid_responses_are_500(srv):
    assert error_code(call(srv, "js", "/api/bad-status"), 500) == "FUNCTION_ERROR"
    r = call(srv, "js", "/api/bad-header")
    assert error_code(r, 500) == "FUNCTION_ERROR"
    assert "set-cookie" not in r.headers


# -- errors -------------------------------------------------------------------------------


def test_uncaught_exception_is_500_without_stack_or_logs(srv):
    r = call(srv, "js", "/api/throw")
    assert error_code(r, 500) == "FUNCTION_ERROR"
    message = r.json()["error"]["message"]
    assert message == "TypeError: secret-ish detail"
    assert "about to throw" not in r.text and "<input>" not in r.text


def test_rejected_promise_is_500(srv):
    r = call(srv, "js", "/api/reject")
    assert error_code(r, 500) == "FUNCTION_ERROR"
    assert r.json()["error"]["message"] == "Error: nope"


def test_deep_recursion_is_an_error_and_server_survives(srv):
    assert error_code(call(srv, "js", "/api/recurse"), 500) == "FUNCTION_ERROR"
    assert call(srv, "js", "/api/string").text == "hello"


def test_require(srv):
    assert call(srv, "js", "/api/sum").json() == {"sum": 5, "same": True}
    r = call(srv, "js", "/api/missing-module")
    assert error_code(r, 500) == "FUNCTION_ERROR"
    assert "cannot require './nope'" in r.json()["error"]["message"]
    r = call(srv, "js", "/api/escape")
    assert "outside api/" in r.json()["error"]["message"]


# -- isolation ----------------------------------------------------------------------------


def test_fresh_scope_per_request(srv):
    for _ in range(6):  # several requests: some land on an already used context
        state = call(srv, "js", "/api/state").json()
        assert state == {"hits": 1, "leaked": None, "proto": None}


def test_no_leak_through_builtins_or_other_apps(srv):
    assert call(srv, "js", "/api/pollute").json() == {"ok": True}
    for _ in range(6):
        assert call(srv, "js", "/api/state").json()["proto"] is None
        assert call(srv, "other", "/api").json() == {"app": "other", "leaked": "undefined"}


# -- limits -------------------------------------------------------------------------------


def _timed(fn) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def test_infinite_loop_times_out_while_others_keep_answering(srv):
    result = {}

    def slow():
        result["r"] = call(srv, "js", "/api/loop")

    thread = threading.Thread(target=slow)
    started = time.monotonic()
    thread.start()
    try:
        for _ in range(5):
            assert _timed(lambda: call(srv, "js", "/about")) < 1.0
            assert _timed(lambda: call(srv, "other", "/api")) < 1.0
    finally:
        thread.join(10)
    assert error_code(result["r"], 504) == "FUNCTION_TIMEOUT"
    assert time.monotonic() - started < 4
    # the worker was freed by the CPU-time backstop: JS still answers
    wait_for(lambda: call(srv, "js", "/api/string").status_code == 200, 5, what="JS answering")


def test_memory_bomb_is_500_while_others_keep_answering(srv):
    result = {}
    thread = threading.Thread(target=lambda: result.update(r=call(srv, "js", "/api/bomb")))
    thread.start()
    try:
        for _ in range(3):
            assert _timed(lambda: call(srv, "js", "/")) < 1.0
            assert _timed(lambda: call(srv, "other", "/api")) < 1.0
    finally:
        thread.join(10)
    assert error_code(result["r"], 500) == "FUNCTION_MEMORY"
    assert call(srv, "js", "/api/string").text == "hello"


def test_body_limit(srv):
    r = call(srv, "js", "/api/echo", "POST", content=b"x" * 4096)
    assert error_code(r, 413) == "PAYLOAD_TOO_LARGE"
    assert call(srv, "js", "/api/echo", "POST", content=b"x" * 1000).status_code == 200


def test_overload_is_503_with_retry_after(srv):
    # 3 workers + a queue of 4: 12 simultaneous endless loops cannot all be admitted.
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def hit():
        r = call(srv, "js", "/api/loop")
        with lock:
            responses.append(r)

    threads = [threading.Thread(target=hit) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    codes = sorted(r.status_code for r in responses)
    assert 503 in codes and 504 in codes, codes
    busy = next(r for r in responses if r.status_code == 503)
    assert error_code(busy, 503) == "SERVICE_UNAVAILABLE"
    assert busy.headers["retry-after"] == "1"
    wait_for(lambda: call(srv, "js", "/api/string").status_code == 200, 10, what="recovery")


def test_manifest_limits_are_clamped(srv, tmp_path: Path):
    site = write_site(
        tmp_path / "lim",
        {
            "manifest.json": json.dumps({"limits": {"timeout_ms": 300, "memory_mb": 100000}}),
            "api/main.js": "while (true) {}",
        },
    )
    srv.deploy(site, "limited")
    assert _timed(lambda: error_code(call(srv, "limited", "/api"), 504)) < 1.4


# -- storage ------------------------------------------------------------------------------


def test_storage_from_javascript(srv):
    r = call(srv, "store", "/api", "POST", json={"text": "hi"})
    assert r.status_code == 201, r.text
    data = call(srv, "store", "/api").json()
    assert data == {"greeting": {"text": "hi"}, "texts": ["hi"], "count": 1, "missing": True}
    assert "kv.set requires" in call(srv, "store", "/api/bad").json()["caught"]
    # another app sees none of it
    assert call(srv, "other", "/api").json()["app"] == "other"


# -- env and logs -------------------------------------------------------------------------


def test_env_via_api(srv):
    r = srv.api("PUT", "/api/apps/js/env/API_KEY", json={"value": "s3cr3t-value"})
    assert r.status_code == 201, r.text
    listing = srv.api("GET", "/api/apps/js/env")
    assert [e["name"] for e in listing.json()["data"]] == ["API_KEY"]
    assert "s3cr3t-value" not in listing.text
    data = call(srv, "js", "/api/env").json()
    assert data == {
        "a": "s3cr3t-value",
        "d": "dflt",
        "has": True,
        "prop": "s3cr3t-value",
        "app": {"name": "js", "id": "js"},
    }
    assert srv.api("DELETE", "/api/apps/js/env/API_KEY").status_code == 200
    assert call(srv, "js", "/api/env").json()["has"] is False
    assert srv.api("DELETE", "/api/apps/js/env/API_KEY").status_code == 404


@pytest.mark.parametrize("name", ["lower", "1ABC", "A-B", "PATH", "FAZT_TOKEN", "A" * 129])
def test_env_names_are_validated(srv, name):
    r = srv.api("PUT", f"/api/apps/js/env/{name}", json={"value": "v"})
    assert error_code(r, 400) == "INVALID_ENV_NAME"


def test_env_and_logs_need_a_key_and_an_app(srv):
    assert srv.request("GET", "/api/apps/js/env").status_code == 401
    assert error_code(srv.api("GET", "/api/apps/nope/env"), 404) == "APP_NOT_FOUND"
    assert error_code(srv.api("GET", "/api/apps/nope/logs"), 404) == "APP_NOT_FOUND"


def test_env_via_cli_never_prints_values(srv):
    out = srv.cli("app", "env", "set", "js", "MODE=production", "OTHER=x=y").stdout
    assert "production" not in out and "MODE" in out
    listing = srv.cli("app", "env", "list", "js").stdout
    assert "MODE" in listing and "OTHER" in listing and "production" not in listing
    names = json.loads(srv.cli("app", "env", "list", "js", "--json").stdout)
    assert {n["name"] for n in names} >= {"MODE", "OTHER"}
    assert all("value" not in n for n in names)
    srv.cli("app", "env", "unset", "js", "MODE", "OTHER")
    assert "MODE" not in srv.cli("app", "env", "list", "js").stdout
    bad = srv.cli("app", "env", "set", "js", "novalue", check=False)
    assert bad.returncode != 0


def _logs(srv: FaztServer, **params) -> list[dict]:
    r = srv.api("GET", "/api/apps/js/logs", params=params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_logs_are_stored_with_level_and_request_id(srv):
    r = call(srv, "js", "/api/log")
    assert r.text == "logged"
    rid = r.headers["x-request-id"]
    entries = wait_for(
        lambda: [e for e in _logs(srv, limit=1000) if e["request_id"] == rid],
        what="the request's log lines",
    )
    assert [(e["level"], e["message"]) for e in entries] == [
        ("info", 'hello {"a":1}'),
        ("warn", "careful"),
        ("info", "trailing log does not replace the response"),
    ]
    newest = entries[-1]["id"]
    assert _logs(srv, after=newest) == [] or all(e["id"] > newest for e in _logs(srv, after=newest))


def test_errors_go_to_logs_with_line(srv):
    rid = call(srv, "js", "/api/throw").headers["x-request-id"]
    entries = wait_for(
        lambda: [e for e in _logs(srv, limit=1000) if e["request_id"] == rid],
        what="the error's log lines",
    )
    assert entries[0]["message"] == "about to throw"
    assert entries[-1]["level"] == "error"
    assert "FUNCTION_ERROR: TypeError: secret-ish detail" in entries[-1]["message"]
    line = next(i for i, text in enumerate(MAIN.split("\n"), 1) if "secret-ish" in text)
    assert f"api/main.js line {line}" in entries[-1]["message"]


def test_logs_cli(srv):
    call(srv, "js", "/api/log")
    wait_for(
        lambda: "careful" in srv.cli("app", "logs", "js").stdout, what="logs in the CLI output"
    )
    lines = json.loads(srv.cli("app", "logs", "js", "--json", "--limit", "5").stdout)
    assert len(lines) <= 5 and {"id", "level", "message", "request_id", "created_at"} <= set(
        lines[0]
    )


def test_logs_follow_prints_new_lines_until_interrupted(srv):
    import os
    import signal
    import subprocess
    import sys

    call(srv, "js", "/api/log")  # at least one line exists before following
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fazt",
            "app",
            "logs",
            "js",
            "--follow",
            "--limit",
            "1",
            "--interval",
            "0.1",
        ],
        env={**os.environ, "FAZT_HOME": str(srv.home)},
        stdout=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal: a test run started in the background of a script
        # inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    try:
        reader.start()
        wait_for(lambda: len(lines) >= 1, what="the last existing log line")
        before = len(lines)
        call(srv, "js", "/api/log")
        wait_for(
            lambda: any("careful" in line for line in lines[before:]),
            what="the new log line to be followed",
        )
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
