"""Apps are tenants: one app's code, data and secrets are reachable only through its own
hosts and its own finalized deployments, whatever host, id or path spelling is tried.

Two sites on one real server: `pub` (whose handler returns whatever kv and env it can
see) and `priv` (which holds a secret in both). Each test tries one way across.
"""

import http.client
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import FaztServer, running_server, write_site

SECRET = "priv-secret-4711"
LEAK = "module.exports = () => ({kv: fazt.storage.kv.get('secret'), env: fazt.env.get('NOTE')});\n"
SOURCE_MARK = "fazt.storage.kv.get('secret')"
STORE = """module.exports = (req) => {
  fazt.storage.kv.set('secret', req.query.v);
  return {stored: true};
};
"""
SURROGATES = r"""module.exports = (req) => {
  const lone = '\ud800';
  const k = req.query.k;
  if (k === 'kv-key') return fazt.storage.kv.set(lone, 1);
  if (k === 'kv-value') return fazt.storage.kv.set('x', lone);
  if (k === 'doc') return fazt.storage.ds.insert('c', {v: lone});
  if (k === 'publish') return fazt.realtime.publish('ch', lone);
  if (k === 'body') return lone;
  if (k === 'log') { console.log(lone); return 'logged'; }
  if (k === 'header') return {status: 200, headers: {'x-lone': lone}, body: 'h'};
  return 'ok';
};
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    root = tmp_path_factory.mktemp("tenants")
    with running_server(root / "home") as server:
        pub = {
            "api/list.js": LEAK,
            "api/_lib/config.json": '{"helper": true}',
            "api/data.json": '{"public": true}',
            "api/surrogates.js": SURROGATES,
            "private/notes.txt": "private notes",
            "index.html": "<h1>pub</h1>",
        }
        server.deploy(write_site(root / "pub", pub), "pub")
        server.deploy(write_site(root / "pub2", {**pub, "index.html": "<h1>pub 2</h1>"}), "pub")
        server.deploy(write_site(root / "priv", {"api/store.js": STORE, "index.html": "p"}), "priv")
        # A root main.js runs (v0.9's legacy runtime) for every path but its own.
        legacy = {"main.js": f"// legacy runtime source: {SOURCE_MARK}\nres.send('ran');"}
        server.deploy(write_site(root / "leg", legacy), "leg")
        assert server.get("/api/store?v=" + SECRET, host="priv.localhost").status_code == 200
        server.cli("app", "env", "set", "priv", "NOTE=" + SECRET)
        yield server


def raw_get(srv: FaztServer, host: str, path: str) -> tuple[int, str]:
    """GET with the path exactly as written (httpx would normalise it)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def history(srv: FaztServer, site: str) -> list[dict]:
    response = srv.api("GET", f"/api/apps/{site}/deployments")
    assert response.status_code == 200
    return response.json()["data"]


def test_a_deployment_never_runs_under_another_sites_name(srv):
    deps = history(srv, "pub")
    assert len(deps) == 2
    for dep in deps:
        # By sequential number (the reported attack) and by the real preview id alike.
        for label in (str(dep["id"]), dep["preview_id"]):
            status, body = raw_get(srv, f"priv--{label}.localhost", "/api/list")
            assert status == 404, (label, body)
            assert SECRET not in body


def test_sequential_deployment_numbers_name_nothing(srv):
    for dep in history(srv, "pub"):
        status, body = raw_get(srv, f"pub--{dep['id']}.localhost", "/")
        assert status == 404 and "<h1>pub" not in body


def test_a_deployment_url_serves_that_deployment_as_its_own_site(srv):
    old, new = sorted(history(srv, "pub"), key=lambda d: d["id"])
    assert len(old["preview_id"]) >= 20 and old["preview_id"] != new["preview_id"]
    assert old["url"].startswith(f"http://pub--{old['preview_id']}.localhost")
    status, body = raw_get(srv, f"pub--{old['preview_id']}.localhost", "/")
    assert (status, body) == (200, "<h1>pub</h1>")
    status, body = raw_get(srv, f"pub--{old['preview_id']}.localhost", "/api/list")
    assert status == 200 and SECRET not in body  # pub's code with pub's (empty) data


def test_deployment_urls_can_be_turned_off_per_site(srv):
    dep = history(srv, "pub")[0]
    host = f"pub--{dep['preview_id']}.localhost"
    out = srv.cli("app", "previews", "pub", "off").stdout
    assert "Deployment URLs for 'pub' are off" in out
    assert srv.api("GET", "/api/apps/pub").json()["data"]["previews"] is False
    try:
        assert raw_get(srv, host, "/")[0] == 404
        assert history(srv, "pub")[0]["url"] is None
        assert raw_get(srv, "pub.localhost", "/")[0] == 200  # the site itself still serves
    finally:
        srv.api("PATCH", "/api/apps/pub", json={"previews": True})
    assert raw_get(srv, host, "/")[0] == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"previews": "no"}, {"previews": 0}, {"previews": True, "other": 1}, [], None],
)
def test_app_settings_reject_bad_input(srv, body):
    response = srv.api("PATCH", "/api/apps/pub", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("BAD_REQUEST", "INVALID_JSON")
    assert srv.api("GET", "/api/apps/pub").json()["data"]["previews"] is True
    assert srv.cli("app", "previews", "pub", "maybe", check=False).returncode == 2
    assert srv.api("PATCH", "/api/apps/nosuch", json={"previews": False}).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/list.js",
        "//api/list.js",
        "/./api/list.js",
        "/x/../api/list.js",
        "/x/..%2fapi/list.js",
        "/x/..%2Fapi/list.js",
        "/api//list.js",
        "/api/./list.js",
        "/%2e/api/list.js",
        "/a/b/../../api/list.js",
        "/../api/list.js",
        "/api/list",  # runs (below), but never returns the source
        "/main.js",
        "//main.js",
        "/x/..%2fmain.js",
        "/private/notes.txt",
        "//private/notes.txt",
        "/api/_lib/config.json",
        "//api/_lib/config.json",
    ],
)
def test_server_side_code_is_never_served_as_a_file(srv, path):
    status, body = raw_get(srv, "leg.localhost" if "main.js" in path else "pub.localhost", path)
    assert SOURCE_MARK not in body
    assert "private notes" not in body and '"helper"' not in body
    if path != "/api/list":
        assert status == 404, (path, status, body)


@pytest.mark.parametrize("path", ["//api/list", "/./api/list", "/x/../api/list", "/api//list"])
def test_every_spelling_of_an_api_path_runs_the_function(srv, path):
    status, body = raw_get(srv, "pub.localhost", path)
    assert status == 200 and body.startswith("{"), (path, status, body)


def test_public_files_under_api_stay_public(srv):
    assert raw_get(srv, "pub.localhost", "/api/data.json") == (200, '{"public": true}')
    assert raw_get(srv, "pub.localhost", "//api/data.json") == (200, '{"public": true}')


def test_a_control_character_in_the_path_is_refused(srv):
    status, body = raw_get(srv, "pub.localhost", "/index%00.html")
    assert status == 400 and "BAD_PATH" in body


@pytest.mark.parametrize("kind", ["kv-key", "kv-value", "doc", "publish", "body", "log", "header"])
def test_a_lone_surrogate_gets_a_clear_error_not_an_internal_one(srv, kind):
    response = httpx.get(
        f"{srv.url}/api/surrogates", params={"k": kind}, headers={"host": "pub.localhost"}
    )
    assert "internal error" not in response.text, response.text
    assert response.status_code in (200, 500)
    if response.status_code == 500:
        assert response.json()["error"]["code"] == "FUNCTION_ERROR"
        assert "surrogate" in response.json()["error"]["message"]
    # The server is fine afterwards and logged no traceback for it.
    assert httpx.get(f"{srv.url}/api/surrogates", headers={"host": "pub.localhost"}).text == "ok"
    assert "Traceback" not in srv.output()


def test_storage_and_env_of_one_app_are_not_in_another_apps_answers(srv):
    status, body = raw_get(srv, "pub.localhost", "/api/list")
    assert status == 200 and SECRET not in body
    # priv's data is really there, so the checks above could have failed.
    assert SECRET in srv.api("GET", "/api/apps/priv/storage/kv").text


def test_history_lists_preview_ids(srv: FaztServer, tmp_path: Path):
    for dep in history(srv, "priv"):
        assert dep["url"] == f"http://priv--{dep['preview_id']}.localhost:{srv.port}"
