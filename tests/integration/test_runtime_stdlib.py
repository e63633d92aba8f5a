"""Serverless JavaScript over real HTTP, second part: synchronous storage as v0.9 apps use
it (a high-score API written without `await`), every stdlib module used from a handler,
the stdlib's isolation, and errors naming the module file in the app's logs."""

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import FaztServer, running_server, wait_for, write_site

# A v0.9-style game API (reference §3.2): storage calls return values, no await anywhere.
HIGHSCORES = r"""
function handler(req) {
  var ds = fazt.storage.ds, kv = fazt.storage.kv;
  if (req.path === '/api/state' && req.method === 'POST') {
    var s = req.body.session;
    var found = ds.find('sessions', {sessionId: s});
    if (found.length) {
      ds.update('sessions', {sessionId: s}, {$set: {stats: req.body.stats, updatedAt: Date.now()}});
    } else {
      ds.insert('sessions', {sessionId: s, displayName: req.body.name, stats: req.body.stats});
    }
    var best = kv.get('best') || 0;
    if (req.body.stats.highScore > best) kv.set('best', req.body.stats.highScore);
    return respond(200, {saved: true});
  }
  if (req.path === '/api/state') {
    var doc = ds.find('sessions', {sessionId: req.query.session})[0];
    return {status: 200, headers: {'Content-Type': 'application/json'},
            body: JSON.stringify(doc ? doc.stats : null)};
  }
  if (req.path === '/api/leaderboard') {
    var top = ds.find('sessions', {})
      .filter(function (d) { return d.stats && d.stats.highScore; })
      .sort(function (a, b) { return b.stats.highScore - a.stats.highScore; })
      .slice(0, 10)
      .map(function (d) { return {displayName: d.displayName, score: d.stats.highScore}; });
    return respond({top: top, best: kv.get('best')});
  }
  return respond(404, {error: 'not found'});
}
handler(request);
"""

STDLIB = r"""
function handler(req) {
  const p = req.path;
  if (p === '/api/lodash') {
    const _ = require('lodash');
    return {chunks: _.chunk([1, 2, 3, 4, 5], 2), same: require('lodash') === _,
            sorted: _.sortBy([{n: 3}, {n: 1}], 'n').map((x) => x.n)};
  }
  if (p === '/api/dayjs') {
    const dayjs = require('dayjs');
    return {next: dayjs('2024-02-28T12:00:00Z').add(1, 'day').toISOString()};
  }
  if (p === '/api/marked') return {html: require('marked').marked('# Hi *there*')};
  if (p === '/api/uuid') {
    const uuid = require('uuid');
    const a = uuid.v4(), b = uuid.v4();
    return {a, b, valid: uuid.validate(a), v5: uuid.v5('fazt', uuid.v5.URL),
            native: crypto.randomUUID().length};
  }
  if (p === '/api/validator') {
    const v = require('validator');
    return {good: v.isEmail('ann@example.com'), bad: v.isEmail('not an email'),
            url: v.isURL('https://example.com/x')};
  }
  if (p === '/api/zod') {
    const {z} = require('zod');
    const Score = z.object({name: z.string().min(1), score: z.number().int().nonnegative()});
    const bad = Score.safeParse({name: '', score: -1});
    return {ok: Score.safeParse({name: 'ann', score: 3}).success, bad: bad.success,
            issues: bad.success ? 0 : bad.error.issues.length};
  }
  if (p === '/api/cheerio') {
    const $ = require('cheerio').load('<ul><li class="a">one</li><li>two</li></ul>');
    return {items: $('li').map((i, el) => $(el).text()).get(), a: $('.a').text()};
  }
  if (p === '/api/tamper') {
    const _ = require('lodash');
    let threw = false;
    try { _.chunk = () => 'hijacked'; } catch (e) { threw = true; }
    return {threw, chunk: _.chunk([1, 2], 1)};
  }
  if (p === '/api/local')  // beside a local api/lodash.js: the bare name is the stdlib's
    return {bare: typeof require('lodash').chunk, local: require('./lodash')};
  return respond(404, {error: 'no route ' + p});
}
handler(request);
"""

BROKEN_LIB = "// helper\nexports.explode = function () {\n\n  return missingThing.x;\n};\n"


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    root = tmp_path_factory.mktemp("runtime-stdlib")
    with running_server(root / "home", {"runtime_timeout_ms": "10000"}) as server:
        server.deploy(write_site(root / "game", {"api/main.js": HIGHSCORES}), "game")
        files = {"api/main.js": STDLIB, "api/lodash.js": "module.exports = 'local';\n"}
        server.deploy(write_site(root / "lib", files), "lib")
        files = {
            "api/main.js": "const lib = require('./lib/broken');\nlib.explode();\n",
            "api/lib/broken.js": BROKEN_LIB,
        }
        server.deploy(write_site(root / "broken", files), "broken")
        yield server


def call(srv: FaztServer, site: str, path: str, method: str = "GET", **kw) -> httpx.Response:
    return srv.request(method, path, host=f"{site}.localhost", **kw)


def test_v09_high_score_app_runs_unchanged(srv):
    for session, name, score in (("fox-gold-river", "Ann", 120), ("owl-blue-lake", "Bo", 300)):
        body = {"session": session, "name": name, "stats": {"highScore": score}}
        r = call(srv, "game", "/api/state", "POST", json=body)
        assert r.status_code == 200 and r.json() == {"saved": True}, r.text
    # an update of an existing session, through ds.update
    body = {"session": "fox-gold-river", "name": "Ann", "stats": {"highScore": 450}}
    assert call(srv, "game", "/api/state", "POST", json=body).status_code == 200
    r = call(srv, "game", "/api/state", params={"session": "fox-gold-river"})
    assert r.json() == {"highScore": 450}
    board = call(srv, "game", "/api/leaderboard").json()
    assert board == {
        "top": [{"displayName": "Ann", "score": 450}, {"displayName": "Bo", "score": 300}],
        "best": 450,
    }


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/lodash", {"chunks": [[1, 2], [3, 4], [5]], "same": True, "sorted": [1, 3]}),
        ("/api/dayjs", {"next": "2024-02-29T12:00:00.000Z"}),
        ("/api/marked", {"html": "<h1>Hi <em>there</em></h1>\n"}),
        (
            "/api/validator",
            {"good": True, "bad": False, "url": True},
        ),
        ("/api/zod", {"ok": True, "bad": False, "issues": 2}),
        ("/api/cheerio", {"items": ["one", "two"], "a": "one"}),
    ],
)
def test_each_stdlib_module_works_in_a_handler(srv, path, expected):
    for _ in range(2):  # the first request loads it, the second reuses it
        r = call(srv, "lib", path)
        assert r.status_code == 200, r.text
        assert r.json() == expected


def test_uuid_and_crypto(srv):
    first = call(srv, "lib", "/api/uuid").json()
    second = call(srv, "lib", "/api/uuid").json()
    assert first["valid"] is True and first["native"] == 36
    assert len({first["a"], first["b"], second["a"], second["b"]}) == 4
    assert first["a"][14] == "4"  # version 4, from crypto.getRandomValues
    assert first["v5"] == second["v5"]  # v5 is deterministic


def test_stdlib_is_frozen_and_comes_before_local_files(srv):
    for _ in range(2):  # a changed export never reaches the next request
        r = call(srv, "lib", "/api/tamper").json()
        assert r == {"threw": True, "chunk": [[1], [2]]}
    assert call(srv, "lib", "/api/local").json() == {"bare": "function", "local": "local"}


def test_errors_name_the_module_file_and_line_in_logs(srv):
    r = call(srv, "broken", "/api")
    assert r.status_code == 500
    assert r.json()["error"]["message"] == "ReferenceError: missingThing is not defined"
    assert "broken.js" not in r.text  # the location goes to the logs only
    rid = r.headers["x-request-id"]

    def entries() -> list[dict]:
        out = srv.api("GET", "/api/apps/broken/logs", params={"limit": 100})
        assert out.status_code == 200, out.text
        return [e for e in out.json()["data"] if e["request_id"] == rid]

    logged = wait_for(entries, what="the error in the logs")
    assert "(api/lib/broken.js line 4)" in logged[-1]["message"], logged
    assert "<input>" not in json.dumps(logged)
