"""fazt.net.fetch over real HTTP: an app on a real fazt server fetches from HTTP servers
this test starts on 127.0.0.1. Loopback is refused by policy, so the server runs with
FAZT_TEST_NET_LOOPBACK naming the one port of the allowed test server (the test-only
escape); a second test server on another loopback port stands for every address the
policy refuses: nothing may ever connect to it."""

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.conftest import FaztServer, init_server, wait_for, write_site

MAX_BYTES = 100_000
REQUEST_MS = 5000

FETCH_JS = r"""
module.exports = function (req) {
  const b = req.body;
  const opts = b.options || {};
  if (b.secret) opts.headers = Object.assign({}, opts.headers,
    {authorization: 'Bearer ' + fazt.secret(b.secret)});
  if (b.secretBody) opts.body = {token: fazt.secret(b.secretBody), n: 1};
  let url = b.url;
  if (b.secretQuery) url += '?key=' + fazt.secret(b.secretQuery) + '&x=1';
  try {
    const r = fazt.net.fetch(url, opts);
    let json = null;
    try { json = r.json(); } catch (e) {}
    return {status: r.status, ok: r.ok, headers: r.headers, body: r.body, json, url: r.url,
            redirected: r.redirected, text: r.text() === r.body};
  } catch (e) {
    return respond(502, {error: e.message});
  }
};
"""

ASYNC_JS = r"""
module.exports = async function (req) {
  const r = await fazt.net.fetch(req.body.url);
  return {status: r.status, json: r.json()};
};
"""

SECRET_JS = r"""
module.exports = function () {
  const s = fazt.secret('API_TOKEN');
  console.log('secret is', s, 'and', String(s));
  return {str: String(s), concat: 'Bearer ' + s, json: JSON.stringify({s}),
          keys: Object.keys(s), frozen: Object.isFrozen(s),
          env: [fazt.env.get('API_TOKEN', 'absent'), fazt.env.has('API_TOKEN'),
                fazt.env.get('PLAIN')], plain: String(fazt.secret('PLAIN'))};
};
"""


LEGACY_JS = r"""
const r = fetch(req.query.split('=')[1] ? decodeURIComponent(req.query.split('=')[1]) : '',
                {method: 'POST', headers: {'x-from': 'v09'}, body: 'hi'});
res.json(r);
"""


FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>First post</title><link>https://example.com/1</link><pubDate>Mon</pubDate></item>
<item><title><![CDATA[Second & last]]></title><link>https://example.com/2</link></item>
</channel></rss>"""
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "feed-reader"


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[dict] = []
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()
        self.thread.join(5)


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, *args) -> None:
        pass

    def _answer(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        seen = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }
        self.server.seen.append({**seen, "body": body})
        if url.path in ("/redirect", "/loop"):
            self.send_response(int(query.get("code", "302")))
            self.send_header("location", query.get("to", "/loop"))
            self.send_header("content-length", "0")
            self.end_headers()
        elif url.path == "/big":
            n = int(query["n"])
            self.send_response(200)
            if "nolength" not in query:
                self.send_header("content-length", str(n))
            self.end_headers()
            for _ in range(n // 1000):
                self.wfile.write(b"x" * 1000)
            self.close_connection = True
        elif url.path == "/feed.xml":
            data = FEED.encode()
            self.send_response(200)
            self.send_header("content-type", "application/rss+xml")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif url.path == "/drip":  # a byte every 50 ms, each read well within a timeout
            self.send_response(200)
            self.send_header("content-length", "200")
            self.end_headers()
            for _ in range(200):
                if self.server.release.wait(0.05):
                    break
                self.wfile.write(b"x")
                self.wfile.flush()
        elif url.path == "/stall":
            self.server.release.wait(20)
            self.send_response(204)
            self.end_headers()
        else:
            data = json.dumps({"hello": "world", **seen, "body": body}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("x-test", "yes")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@pytest.fixture(scope="module")
def allowed() -> Iterator[Recorder]:
    srv = Recorder()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def forbidden() -> Iterator[Recorder]:
    """A loopback server the escape does not open: reaching it would be a policy breach."""
    srv = Recorder()
    yield srv
    assert srv.seen == [], "a refused fetch reached a loopback server"
    srv.close()


def manifest(*allow: str) -> str:
    return json.dumps({"net": {"allow": list(allow)}})


@pytest.fixture(scope="module")
def srv(tmp_path_factory, allowed: Recorder, forbidden: Recorder) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("net")
    settings = {
        "net_max_response_bytes": str(MAX_BYTES),
        "runtime_timeout_ms": str(REQUEST_MS),
        "runtime_workers": "2",
    }
    server = init_server(home / "home", settings)
    server.env["FAZT_TEST_NET_LOOPBACK"] = str(allowed.port)
    with server.serving():
        site = write_site(
            home / "app",
            {
                "manifest.json": manifest(
                    f"127.0.0.1:{allowed.port}",
                    f"127.0.0.1:{forbidden.port}",
                    f"localhost:{forbidden.port}",
                    "[::ffff:127.0.0.1]:80",
                ),
                "api/fetch.js": FETCH_JS,
                "api/later.js": ASYNC_JS,
                "api/secret.js": SECRET_JS,
            },
        )
        server.deploy(site, "netapp")
        legacy = write_site(
            home / "legacy",
            {"manifest.json": manifest(f"127.0.0.1:{allowed.port}"), "main.js": LEGACY_JS},
        )
        server.deploy(legacy, "legacyfetch")
        server.cli("app", "env", "set", "netapp", "API_TOKEN=s3cr3t-v4lue", "--secret")
        r = server.api("PUT", "/api/apps/netapp/env/PLAIN", json={"value": "plain-v4lue"})
        assert r.status_code == 201, r.text
        yield server
    server.http.close()


def fetch(srv: FaztServer, url: str, **body) -> tuple[int, dict]:
    r = srv.request("POST", "/api/fetch", host="netapp.localhost", json={"url": url, **body})
    return r.status_code, r.json()


def logs(srv: FaztServer, app: str = "netapp") -> list[str]:
    r = srv.api("GET", f"/api/apps/{app}/logs?limit=1000")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    rows = data if isinstance(data, list) else data.get("logs", data.get("lines", []))
    return [row["message"] for row in rows]


def test_get_json_and_headers(srv: FaztServer, allowed: Recorder) -> None:
    status, out = fetch(
        srv,
        f"http://127.0.0.1:{allowed.port}/json?q=1",
        options={
            "headers": {"x-custom": "hello"},
        },
    )
    assert status == 200, out
    assert out["status"] == 200 and out["ok"] is True and out["text"] is True
    assert out["json"]["hello"] == "world"
    assert out["headers"]["x-test"] == "yes"
    assert out["headers"]["content-type"] == "application/json"
    sent = out["json"]["headers"]
    assert sent["x-custom"] == "hello"
    assert sent["host"] == f"127.0.0.1:{allowed.port}"
    assert out["json"]["path"] == "/json?q=1"


def test_post_body_json_and_method(srv: FaztServer, allowed: Recorder) -> None:
    url = f"http://127.0.0.1:{allowed.port}/echo"
    status, out = fetch(srv, url, options={"method": "post", "body": {"a": [1, 2]}})
    assert status == 200, out
    echoed = out["json"]
    assert echoed["method"] == "POST"
    assert json.loads(echoed["body"]) == {"a": [1, 2]}
    assert echoed["headers"]["content-type"] == "application/json"
    status, out = fetch(srv, url, options={"method": "PUT", "body": "plain text"})
    assert out["json"]["method"] == "PUT" and out["json"]["body"] == "plain text"


def test_await_works(srv: FaztServer, allowed: Recorder) -> None:
    url = f"http://127.0.0.1:{allowed.port}/json"
    r = srv.request("POST", "/api/later", host="netapp.localhost", json={"url": url})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": 200, "json": {**r.json()["json"], "hello": "world"}}


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://example.com/", "not on the app's net allowlist"),
        ("http://127.0.0.1:1/", "not on the app's net allowlist"),
        ("ftp://127.0.0.1/", "only http and https"),
        ("http://user:pw@127.0.0.1/", "user names and passwords"),
        ("http://2130706433/", "not a canonical IPv4 address"),
        ("http://0x7f.1/", "not a canonical IPv4 address"),
        ("http://127.1/", "not a canonical IPv4 address"),
        ("http://[::ffff:127.0.0.1]/", "refused to connect to"),
        ("http://169.254.169.254/latest/meta-data/", "not on the app's net allowlist"),
    ],
)
def test_refused_urls(srv: FaztServer, url: str, reason: str) -> None:
    status, out = fetch(srv, url)
    assert status == 502, out
    assert reason in out["error"]


def test_loopback_outside_the_escape_is_refused(srv: FaztServer, forbidden: Recorder) -> None:
    """Allowlisted, but loopback: refused, by address and by a name resolving to it (the
    DNS-rebinding case); the server never sees a connection (checked at teardown)."""
    for host in ("127.0.0.1", "localhost"):
        status, out = fetch(srv, f"http://{host}:{forbidden.port}/json")
        assert status == 502, out
        assert "refused to connect to" in out["error"] and "loopback" in out["error"]


@pytest.mark.parametrize(
    "to",
    [
        "http://127.0.0.1:{forbidden}/json",  # allowlisted, but loopback outside the escape
        "http://localhost:{forbidden}/json",
        "http://10.0.0.1/",  # private, not allowlisted either
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        "file:///etc/passwd",
    ],
)
def test_redirect_to_a_refused_address(
    srv: FaztServer, allowed: Recorder, forbidden: Recorder, to: str
) -> None:
    target = to.format(forbidden=forbidden.port)
    url = f"http://127.0.0.1:{allowed.port}/redirect?to={target}"
    status, out = fetch(srv, url)
    assert status == 502, out
    assert out["error"].startswith("fetch: ")


def test_redirects_followed_and_rechecked(srv: FaztServer, allowed: Recorder) -> None:
    base = f"http://127.0.0.1:{allowed.port}"
    status, out = fetch(srv, f"{base}/redirect?to=/json%3Fr%3D1", options={"method": "POST"})
    assert status == 200, out
    assert out["redirected"] is True and out["url"] == f"{base}/json?r=1"
    assert out["json"]["method"] == "GET"  # 302 after a POST: GET, as browsers do
    status, out = fetch(srv, f"{base}/loop")
    assert status == 502 and "redirects" in out["error"], out


def test_size_limit(srv: FaztServer, allowed: Recorder) -> None:
    base = f"http://127.0.0.1:{allowed.port}/big?n="
    status, out = fetch(srv, f"{base}{MAX_BYTES // 2}")
    assert status == 200 and len(out["body"]) == MAX_BYTES // 2, status
    for extra in ("", "&nolength=1"):  # declared, then found while reading
        status, out = fetch(srv, f"{base}{MAX_BYTES * 20}{extra}")
        assert status == 502, out
        assert f"larger than {MAX_BYTES} bytes" in out["error"]


def test_timeouts(srv: FaztServer, allowed: Recorder) -> None:
    url = f"http://127.0.0.1:{allowed.port}/stall"
    started = time.monotonic()
    status, out = fetch(srv, url, options={"timeout": 300})
    assert status == 502 and "timed out" in out["error"], out
    assert time.monotonic() - started < 3.5  # not the 10 s default nor the 5 s request
    # No timeout given: the 10 s default is cut to what is left of the request's 5 s, so
    # the app still answers (not the runtime's 504).
    status, out = fetch(srv, url)
    assert status == 502 and "timed out" in out["error"], out  # a 504 would be the runtime's
    # A body trickling in: the limit is the fetch's total time, not the time per read.
    started = time.monotonic()
    status, out = fetch(srv, f"http://127.0.0.1:{allowed.port}/drip", options={"timeout": 500})
    assert status == 502 and "timed out" in out["error"], out
    assert time.monotonic() - started < 3.5


def test_secret_reaches_only_the_wire(srv: FaztServer, allowed: Recorder) -> None:
    url = f"http://127.0.0.1:{allowed.port}/echo"
    status, out = fetch(
        srv,
        url,
        secret="API_TOKEN",
        secretBody="API_TOKEN",
        secretQuery="API_TOKEN",
        options={"method": "POST"},
    )
    assert status == 200, out
    got = allowed.seen[-1]
    assert got["headers"]["authorization"] == "Bearer s3cr3t-v4lue"
    assert json.loads(got["body"]) == {"token": "s3cr3t-v4lue", "n": 1}
    assert got["path"] == "/echo?key=s3cr3t-v4lue&x=1"
    # In JavaScript a secret is a placeholder, whatever it is turned into.
    r = srv.request("GET", "/api/secret", host="netapp.localhost")
    assert r.status_code == 200
    shown = r.json()
    assert "s3cr3t" not in r.text
    assert shown["str"].startswith("{{fazt-secret:") and shown["str"].endswith(":API_TOKEN}}")
    assert shown["concat"] == "Bearer " + shown["str"] and shown["frozen"] is True
    assert shown["env"] == ["absent", False, "plain-v4lue"]  # a secret is not in fazt.env
    listed = srv.api("GET", "/api/apps/netapp/env").json()["data"]
    assert {e["name"]: e["secret"] for e in listed} == {"API_TOKEN": True, "PLAIN": False}
    # set again without the flag, it stays secret
    srv.api("PUT", "/api/apps/netapp/env/API_TOKEN", json={"value": "s3cr3t-v4lue"})
    r = srv.request("GET", "/api/secret", host="netapp.localhost")
    assert r.json()["env"][0] == "absent" and "s3cr3t" not in r.text
    lines = logs(srv)
    assert not [line for line in lines if "s3cr3t" in line]
    fetched = [line for line in lines if line.startswith("fetch POST")]
    assert fetched and fetched[-1] == fetched[-1].split("?")[0]  # no query in the log
    assert f"127.0.0.1:{allowed.port}/echo -> 200" in fetched[-1]


def test_unknown_secret_and_plain_env_secret(srv: FaztServer, allowed: Recorder) -> None:
    url = f"http://127.0.0.1:{allowed.port}/echo"
    status, out = fetch(srv, url, secret="NOPE")
    assert status == 502 and "no env var NOPE" in out["error"], out
    status, out = fetch(srv, url, secret="PLAIN")  # a plain env var works too
    assert status == 200 and allowed.seen[-1]["headers"]["authorization"] == "Bearer plain-v4lue"


def test_secret_headers_are_dropped_on_a_redirect_to_another_origin(
    srv: FaztServer, allowed: Recorder
) -> None:
    here = f"http://127.0.0.1:{allowed.port}"
    # Same origin: kept. (Another origin cannot be reached from a test, so the rule is
    # checked in tests/unit/runtime/test_net_client.py.)
    status, out = fetch(srv, f"{here}/redirect?to=/echo", secret="API_TOKEN")
    assert status == 200 and out["json"]["headers"]["authorization"] == "Bearer s3cr3t-v4lue"


def test_every_call_is_logged(srv: FaztServer, allowed: Recorder) -> None:
    fetch(srv, f"http://127.0.0.1:{allowed.port}/json?token=abc")
    fetch(srv, "http://example.com/x")
    # Log lines are written after the answer (off the request path): wait for both.
    wait_for(
        lambda: any(line.startswith("fetch GET example.com/x -> ") for line in logs(srv)),
        what="the refused call's log line",
    )
    lines = logs(srv)
    assert any(
        line.startswith(f"fetch GET 127.0.0.1:{allowed.port}/json -> 200 (") for line in lines
    ), lines
    assert any(line.startswith("fetch GET example.com/x -> failed: ") for line in lines), lines
    assert not [line for line in lines if "token=abc" in line]


def test_budget(srv: FaztServer, allowed: Recorder, tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "b",
        {
            "manifest.json": manifest(f"127.0.0.1:{allowed.port}"),
            "api/fetch.js": FETCH_JS,
        },
    )
    srv.deploy(site, "budget")
    conn = sqlite3.connect(srv.db)
    try:
        with conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES ('net_requests_per_minute', '3')"
            )
        url = f"http://127.0.0.1:{allowed.port}/json"

        def refused() -> bool:
            r = srv.request("POST", "/api/fetch", host="budget.localhost", json={"url": url})
            return r.status_code == 502 and "budget of 3 requests" in r.json()["error"]

        wait_for(refused, what="the budget to refuse a fetch")
        assert refused()  # and keeps refusing within the minute
    finally:
        with conn:
            conn.execute("DELETE FROM settings WHERE key = 'net_requests_per_minute'")
        conn.close()
    # The workers read settings anew within seconds: then other apps fetch again.
    wait_for(lambda: fetch(srv, url)[0] == 200, what="the default budget to be back")


def test_operator_rules_by_cli_and_api(srv: FaztServer, allowed: Recorder) -> None:
    url = f"http://127.0.0.1:{allowed.port}/json"
    host = f"127.0.0.1:{allowed.port}"
    out = srv.cli("app", "net", "deny", "netapp", host).stdout
    assert f"{host}: deny for 'netapp'" in out
    try:
        status, body = fetch(srv, url)
        assert status == 502 and "not on the app's net allowlist" in body["error"], body
        listed = json.loads(srv.cli("app", "net", "list", "netapp", "--json").stdout)
        assert host in listed["manifest"]
        assert [(r["host"], r["rule"]) for r in listed["rules"]] == [(host, "deny")]
        table = srv.cli("app", "net", "list", "netapp").stdout
        assert "manifest.json" in table and "fazt app net" in table
    finally:
        srv.cli("app", "net", "remove", "netapp", host)
    status, body = fetch(srv, url)
    assert status == 200, body
    # The API: a rule is checked and stored in its one spelling; changing needs admin.
    r = srv.api("PUT", "/api/apps/netapp/net/API.Example.COM", json={"rule": "allow"})
    assert r.status_code == 201 and r.json()["data"]["host"] == "api.example.com", r.text
    r = srv.api("PUT", "/api/apps/netapp/net/api.example.com", json={"rule": "deny"})
    assert r.status_code == 200 and r.json()["data"]["rule"] == "deny", r.text
    for bad, code in [("127.1", "INVALID_NET_RULE"), ("*.com", "INVALID_NET_RULE")]:
        r = srv.api("PUT", f"/api/apps/netapp/net/{bad}", json={"rule": "allow"})
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    r = srv.api("PUT", "/api/apps/netapp/net/a.example.com", json={"rule": "maybe"})
    assert r.status_code == 400, r.text
    deployer = srv.create_key("deployer", "deploy")
    r = srv.api("PUT", "/api/apps/netapp/net/b.example.com", token=deployer, json={"rule": "allow"})
    assert r.status_code == 403, r.text
    assert srv.api("GET", "/api/apps/netapp/net", token=deployer).status_code == 200
    assert srv.api("DELETE", "/api/apps/netapp/net/api.example.com").status_code == 200
    r = srv.api("DELETE", "/api/apps/netapp/net/api.example.com")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NET_RULE_NOT_FOUND"
    assert srv.api("GET", "/api/apps/nope/net").status_code == 404


def test_the_feed_reader_example(srv: FaztServer, allowed: Recorder) -> None:
    srv.cli("deploy", str(EXAMPLE))
    h = "feed-reader.localhost"
    feed = f"http://127.0.0.1:{allowed.port}/feed.xml"
    srv.cli("app", "env", "set", "feed-reader", f"FEED_URL={feed}")
    r = srv.request("POST", "/api/refresh", host=h)
    assert r.status_code == 500 and "allowlist" in r.text, r.text  # hnrss.org only
    srv.cli("app", "net", "allow", "feed-reader", f"127.0.0.1:{allowed.port}")
    r = srv.request("POST", "/api/refresh", host=h)
    assert r.status_code == 200 and r.json() == {"count": 2}, r.text
    data = srv.get("/api/items", host=h).json()
    assert [i["title"] for i in data["items"]] == ["First post", "Second & last"]
    assert data["items"][0] == {
        "title": "First post",
        "link": "https://example.com/1",
        "date": "Mon",
    }
    assert data["fetchedAt"]
    assert "Feed reader" in srv.get("/", host=h).text


def test_v09_root_main_js_fetch_returns_v09s_shape(srv: FaztServer, allowed: Recorder) -> None:
    """v0.9's synchronous fetch in a root main.js: {status, headers, body}, on top of
    fazt.net.fetch (the manifest allows the test server); a refused URL gives {error}."""
    url = f"http://127.0.0.1:{allowed.port}/echo"
    r = srv.get("/?u=" + quote(url, safe=""), host="legacyfetch.localhost")
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"status", "headers", "body"} and out["status"] == 200
    assert out["headers"]["X-Test"] == "yes"  # Go's canonical header names, as v0.9 gave them
    echoed = json.loads(out["body"])
    assert echoed["method"] == "POST" and echoed["body"] == "hi"
    assert echoed["headers"]["x-from"] == "v09"
    refused = srv.get("/?u=" + quote("http://10.0.0.1/", safe=""), host="legacyfetch.localhost")
    assert set(refused.json()) == {"error"}
