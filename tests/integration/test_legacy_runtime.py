"""A root main.js (fazt v0.9's legacy runtime) over real HTTP: written from the reference's
description of v0.9 (runtime-storage.md §1.15, server.md §2.3), run unchanged on this
fazt's sandbox, with its limits; its source is never served."""

import json
import socket
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import FaztServer, running_server, wait_for, write_site
from tests.integration.test_trust_boundaries import raw_get

SETTINGS = {"runtime_timeout_ms": "1500", "runtime_workers": "2"}
SOURCE_MARK = "legacy-source-7f3a"

# examples/counter-app of v0.9, as the reference describes it
COUNTER = r"""
let count = db.get("count") || 0;
count = count + 1;
db.set("count", count);
res.send(`<!DOCTYPE html><html><body><h1>Count: ${count}</h1></body></html>`);
"""

APP = r"""
// SOURCE_MARK
var calls = (typeof calls === 'undefined' ? 0 : calls) + 1;
var leaked = globalThis.leakedByLegacy;
globalThis.leakedByLegacy = 'set by an earlier request';
console.log('legacy', req.method, req.path);
if (req.path === '/echo') {
  res.json({method: req.method, path: req.path, query: req.query, body: req.body,
            bodyType: typeof req.body, test: req.headers['X-Test'] || null,
            type: req.headers['Content-Type'] || null});
} else if (req.path === '/created') {
  res.status(201);
  res.header('X-Custom', 'yes');
  res.json({created: true});
} else if (req.path === '/chain') {
  res.status(202).header('X-A', '1').send('chained');
} else if (req.path === '/late') {
  res.send('a');
  res.status(500);
  res.header('X-Late', 'ignored');
  res.send('b');
  res.json({c: 1});
} else if (req.path === '/typed') {
  res.header('Content-Type', 'text/plain');
  res.send('plain');
} else if (req.path === '/nothing') {
} else if (req.path === '/env') {
  res.json({mode: process.env.MODE || null, missing: process.env.NOPE === undefined});
} else if (req.path === '/db') {
  db.set('n', '123');
  db.set('word', 'hello');
  db.set('obj', {a: [1, 2]});
  const out = {n: db.get('n'), nType: typeof db.get('n'), word: db.get('word'),
               obj: db.get('obj'), missing: db.get('missing')};
  db.delete('word');
  out.deleted = db.get('word');
  res.json(out);
} else if (req.path === '/fetch') {
  res.json(fetch('http://127.0.0.1:1/'));
} else if (req.path === '/broadcast') {
  socket.broadcast('hello sockets');
  socket.broadcast({n: 1});
  res.json({clients: socket.clients()});
} else if (req.path === '/state') {
  const self = arguments.callee;  // main.js's compiled function, shared by requests
  self.n = (self.n || 0) + 1;
  res.json({calls, leaked: leaked === undefined ? null : leaked,
            sandbox: typeof fazt.storage.kv.get, callee: self.n === undefined ? 0 : self.n});
} else if (req.path === '/throw') {
  throw new TypeError('legacy broke');
} else if (req.path === '/half') {
  res.send('half a page');
  null.x;
} else if (req.path === '/loop') {
  while (true) {}
} else {
  res.send('<p>legacy ' + req.method + ' ' + req.path + '</p>');
}
""".replace("SOURCE_MARK", SOURCE_MARK)

# The same through the /api runtime: api/main.js (compiled once it has run) and a module.
SEALED_MAIN = r"""
var f = arguments.callee;
f.n = (f.n || 0) + 1;
function handler(req) {
  return {main: f.n === undefined ? 0 : f.n, module: require('./mod').n};
}
handler(request);
"""
SEALED_MODULE = "var g = arguments.callee; g.n = (g.n || 0) + 1; exports.n = g.n || 0;\n"

BOTH_MAIN = "res.send('main.js answered ' + req.path);\n"


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    root = tmp_path_factory.mktemp("legacy")
    with running_server(root / "home", SETTINGS) as server:
        server.deploy(write_site(root / "counter", {"main.js": COUNTER}), "counter")
        files = {
            "main.js": APP,
            "index.html": "<h1>static index</h1>",
            "style.css": "body {}",
            "private/notes.txt": "private notes",
        }
        server.deploy(write_site(root / "app", files), "legacy")
        both = {
            "main.js": BOTH_MAIN,
            "api/hello.js": "module.exports = (req) => ({api: req.path});\n",
            "api/data.json": '{"static": true}',
        }
        server.deploy(write_site(root / "both", both), "both")
        server.deploy(
            write_site(root / "v09api", {"main.js": BOTH_MAIN, "api/main.js": "({v: 9})"}), "v09api"
        )
        sealed = {"api/main.js": SEALED_MAIN, "api/mod.js": SEALED_MODULE}
        server.deploy(write_site(root / "sealed", sealed), "sealed")
        yield server


def call(srv: FaztServer, site: str, path: str, method: str = "GET", **kw) -> httpx.Response:
    return srv.request(method, path, host=f"{site}.localhost", **kw)


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return response.json()["error"]["code"]


# -- the v0.9 example, unchanged ----------------------------------------------------------


def test_the_v09_counter_app_counts_on_every_path(srv):
    first = call(srv, "counter", "/")
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Count: 1</h1>" in first.text
    assert "<h1>Count: 2</h1>" in call(srv, "counter", "/").text
    # v0.9 ran main.js for every path of the site
    assert "<h1>Count: 3</h1>" in call(srv, "counter", "/any/page.html").text
    # db is the app's kv (fazt.storage.kv): the value shows in its storage listing
    listing = srv.api("GET", "/api/apps/counter/storage/kv")
    assert listing.status_code == 200, listing.text
    assert {e["key"]: e["value"] for e in listing.json()["data"]} == {"count": 3}


# -- req and res ---------------------------------------------------------------------------


def test_req_carries_the_raw_query_string_headers_and_body_text(srv):
    r = call(
        srv,
        "legacy",
        "/echo?a=1&b=2&a=3",
        "POST",
        json={"x": 1},
        headers={"x-test": "yes"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "method": "POST",
        "path": "/echo",
        "query": "a=1&b=2&a=3",
        "body": '{"x":1}',
        "bodyType": "string",
        "test": "yes",  # header names as v0.9 gave them (Go's canonical form)
        "type": "application/json",
    }
    get = call(srv, "legacy", "/echo").json()
    assert get["query"] == "" and get["body"] == "" and get["method"] == "GET"
    status, body = raw_get(srv, "legacy.localhost", "/echo?q=a%20b&x=%2F&q=")
    assert status == 200 and json.loads(body)["query"] == "q=a%20b&x=%2F&q="  # not decoded


def test_res_status_header_and_json(srv):
    r = call(srv, "legacy", "/created")
    assert r.status_code == 201
    assert r.headers["x-custom"] == "yes"
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"created": True}
    chained = call(srv, "legacy", "/chain")
    assert (chained.status_code, chained.headers["x-a"], chained.text) == (202, "1", "chained")


def test_after_the_first_write_status_and_headers_are_fixed_and_sends_append(srv):
    r = call(srv, "legacy", "/late")
    assert r.status_code == 200
    assert "x-late" not in r.headers
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.text == 'ab{"c":1}'


def test_an_explicit_content_type_wins_and_nothing_written_is_an_empty_page(srv):
    typed = call(srv, "legacy", "/typed")
    assert (typed.headers["content-type"], typed.text) == ("text/plain", "plain")
    empty = call(srv, "legacy", "/nothing")
    assert (empty.status_code, empty.text) == (200, "")
    assert empty.headers["content-type"] == "text/html; charset=utf-8"


def test_every_method_runs_main_js(srv):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = call(srv, "legacy", "/form", method, content="a=1")
        assert r.status_code == 200 and r.text == f"<p>legacy {method} /form</p>", r.text
    assert call(srv, "legacy", "/form", "HEAD").status_code == 200


# -- globals ------------------------------------------------------------------------------


def test_process_env_comes_from_fazt_app_env_set(srv):
    assert call(srv, "legacy", "/env").json() == {"mode": None, "missing": True}
    srv.cli("app", "env", "set", "legacy", "MODE=production")
    wait_for(
        lambda: call(srv, "legacy", "/env").json()["mode"] == "production",
        what="process.env.MODE",
    )


def test_db_stores_strings_raw_and_reads_json_back_as_v09_did(srv):
    assert call(srv, "legacy", "/db").json() == {
        "n": 123,  # db.set('n', '123') reads back as the number 123 in v0.9
        "nType": "number",
        "word": "hello",
        "obj": {"a": [1, 2]},
        "missing": None,
        "deleted": None,
    }


def test_fetch_answers_an_error_object_for_a_host_not_allowed(srv):
    """v0.9's fetch never threw: {error} instead; here the app's allowlist applies (the
    allowed case is in test_net_fetch.py)."""
    r = call(srv, "legacy", "/fetch")
    assert r.status_code == 200
    out = r.json()
    assert set(out) == {"error"} and "127.0.0.1" in out["error"]


def test_socket_broadcast_reaches_the_sites_ws_clients(srv):
    sock = socket.create_connection(("127.0.0.1", srv.port))
    url = f"ws://legacy.localhost:{srv.port}/ws"
    with connect(url, sock=sock, open_timeout=5, close_timeout=2) as client:
        assert call(srv, "legacy", "/broadcast").json() == {"clients": 1}
        assert client.recv(timeout=5) == "hello sockets"  # the text as is, no envelope
        assert json.loads(client.recv(timeout=5)) == {"n": 1}
    wait_for(lambda: call(srv, "legacy", "/broadcast").json() == {"clients": 0}, what="0 clients")


def test_each_request_starts_fresh_with_the_sandbox_underneath(srv):
    call(srv, "legacy", "/state")
    for _ in range(3):
        state = call(srv, "legacy", "/state").json()
        assert state == {"calls": 1, "leaked": None, "sandbox": "function", "callee": 0}


def test_functions_compiled_from_app_code_keep_nothing_between_requests(srv):
    # Two JS workers: over five requests, one context serves at least three.
    answers = [call(srv, "sealed", "/api").json() for _ in range(5)]
    assert answers == [{"main": 0, "module": 0}] * 5


# -- errors and limits --------------------------------------------------------------------


def test_an_exception_is_a_500_with_the_line_in_the_logs(srv):
    r = call(srv, "legacy", "/throw")
    assert error_code(r, 500) == "FUNCTION_ERROR"
    assert "TypeError: legacy broke" in r.json()["error"]["message"]
    rid = r.headers["x-request-id"]

    def lines():
        data = srv.api("GET", "/api/apps/legacy/logs", params={"limit": 1000}).json()["data"]
        return [e for e in data if e["request_id"] == rid]

    entries = wait_for(lines, what="the error's log lines")
    assert entries[0]["message"] == "legacy GET /throw"  # console.log of main.js
    line = next(i for i, text in enumerate(APP.split("\n"), 1) if "legacy broke" in text)
    assert f"(main.js line {line})" in entries[-1]["message"]


def test_an_error_after_a_send_is_a_500_not_half_a_page(srv):
    r = call(srv, "legacy", "/half")
    assert error_code(r, 500) == "FUNCTION_ERROR"
    assert "half a page" not in r.text


def test_an_endless_loop_times_out_with_504_and_the_app_keeps_answering(srv):
    r = call(srv, "legacy", "/loop")
    assert error_code(r, 504) == "FUNCTION_TIMEOUT"
    assert call(srv, "legacy", "/chain").text == "chained"


def test_a_syntax_error_is_a_500_every_time(srv, tmp_path):
    srv.deploy(write_site(tmp_path / "bad", {"main.js": "res.send('x'\n"}), "badlegacy")
    for _ in range(2):
        assert error_code(call(srv, "badlegacy", "/"), 500) == "FUNCTION_ERROR"


# -- routing: main.js and the site's other files ------------------------------------------


@pytest.mark.parametrize("path", ["/main.js", "//main.js", "/x/..%2fmain.js", "/./main.js"])
def test_main_js_is_never_served_nor_answered(srv, path):
    status, body = raw_get(srv, "legacy.localhost", path)
    assert status == 404, (path, status, body)
    assert SOURCE_MARK not in body


def test_private_files_stay_private(srv):
    status, body = raw_get(srv, "legacy.localhost", "/private/notes.txt")
    assert status == 404 and "private notes" not in body


def test_main_js_shadows_the_sites_static_files_as_in_v09(srv):
    assert call(srv, "legacy", "/").text == "<p>legacy GET /</p>"
    assert call(srv, "legacy", "/index.html").text == "<p>legacy GET /index.html</p>"
    assert call(srv, "legacy", "/style.css").text == "<p>legacy GET /style.css</p>"


def test_api_wins_under_api_and_main_js_answers_the_rest(srv):
    assert call(srv, "both", "/api/hello").json() == {"api": "/api/hello"}
    assert call(srv, "both", "/").text == "main.js answered /"
    assert call(srv, "both", "/hello").text == "main.js answered /hello"
    # under /api, the site is like any other: public files, 404 without a route
    assert call(srv, "both", "/api/data.json").json() == {"static": True}
    assert call(srv, "both", "/api/nothing").status_code == 404
    assert call(srv, "v09api", "/api/anything").json() == {"v": 9}
    assert call(srv, "v09api", "/page").text == "main.js answered /page"


def test_a_site_without_main_js_is_unchanged(srv, tmp_path):
    srv.deploy(write_site(tmp_path / "plain", {"index.html": "plain"}), "plainsite")
    assert call(srv, "plainsite", "/").text == "plain"
    assert call(srv, "plainsite", "/", "POST").status_code == 405


def test_a_new_deployment_without_main_js_stops_the_legacy_runtime(srv, tmp_path):
    srv.deploy(write_site(tmp_path / "v1", {"main.js": "res.send('js')"}), "switch")
    assert call(srv, "switch", "/").text == "js"
    srv.deploy(write_site(tmp_path / "v2", {"index.html": "files now"}), "switch")
    assert call(srv, "switch", "/").text == "files now"
