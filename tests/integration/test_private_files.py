"""Private files on a real server: files under `private/` are never served, by any
spelling of their path, and are read by the app's own JavaScript (`fazt.private`) from the
deployment its request runs, never another app's and never outside `private/`."""

import json

import pytest

from tests.conftest import FaztServer, write_site
from tests.integration.test_trust_boundaries import raw_get

READER = """
module.exports = function (req) {
  const p = fazt.private, q = req.query;
  try {
    if (q.op === "read") return {value: p.read(q.path)};
    if (q.op === "json") return {value: p.json(q.path)};
    if (q.op === "bytes") { const b = p.bytes(q.path); return {value: b && Array.from(b)}; }
    if (q.op === "list") return {value: q.prefix === undefined ? p.list() : p.list(q.prefix)};
  } catch (e) { return respond(400, {error: String(e.message)}); }
  return respond(404, "no op");
};
"""


@pytest.fixture
def server(shared_server):
    return shared_server


def app(root, secret: str, extra: dict | None = None):
    return write_site(
        root,
        {
            "index.html": "<h1>app</h1>",
            "api/private.js": READER,
            "private/config.json": json.dumps({"secret": secret, "n": 5}),
            "private/notes/a.txt": "héllo",
            "private/notes/b.txt": "b",
            "private/bin.dat": bytes([0, 1, 254, 255]),
            "public.txt": "public",
            **(extra or {}),
        },
    )


def call(srv: FaztServer, site: str, **query):
    r = srv.get("/api/private", host=f"{site}.localhost", params=query)
    return r.status_code, r.json()


def test_the_app_reads_its_private_files(server, tmp_path, site_name):
    server.deploy(app(tmp_path, "s3cret"), site_name)
    assert call(server, site_name, op="json", path="config.json") == (
        200,
        {"value": {"secret": "s3cret", "n": 5}},
    )
    assert call(server, site_name, op="read", path="notes/a.txt") == (200, {"value": "héllo"})
    assert call(server, site_name, op="bytes", path="bin.dat") == (200, {"value": [0, 1, 254, 255]})
    assert call(server, site_name, op="read", path="missing.txt") == (200, {"value": None})
    assert call(server, site_name, op="json", path="missing.json") == (200, {"value": None})
    listed = call(server, site_name, op="list")[1]["value"]
    assert listed == [
        {"path": "bin.dat", "size": 4},
        {"path": "config.json", "size": len(json.dumps({"secret": "s3cret", "n": 5}))},
        {"path": "notes/a.txt", "size": len("héllo".encode())},
        {"path": "notes/b.txt", "size": 1},
    ]
    notes = call(server, site_name, op="list", prefix="notes/")[1]["value"]
    assert [f["path"] for f in notes] == ["notes/a.txt", "notes/b.txt"]


SPELLINGS = [
    "/private/config.json",
    "//private/config.json",
    "/./private/config.json",
    "/x/../private/config.json",
    "/%70rivate/config.json",
    "/private%2fconfig.json",
    "/private/./config.json",
    "/private//config.json",
    "/PRIVATE/config.json",
    "/private/",
    "/private",
]


def test_private_files_are_never_served_by_any_spelling(server, tmp_path, site_name):
    server.deploy(app(tmp_path, "topsecret"), site_name)
    for path in SPELLINGS:
        status, body = raw_get(server, f"{site_name}.localhost", path)
        assert status == 404, (path, status)
        assert "topsecret" not in body
    assert server.get("/public.txt", host=f"{site_name}.localhost").text == "public"


@pytest.fixture(scope="module")
def reader(shared_server, tmp_path_factory) -> str:
    site = "privreader"
    shared_server.deploy(app(tmp_path_factory.mktemp("reader"), "s"), site)
    return site


@pytest.mark.parametrize(
    "path",
    [
        "../index.html",
        "../api/private.js",
        "notes/../../public.txt",
        "/config.json",
        "",
        ".",
        "a//b",
    ],
)
def test_no_path_leaves_private(server, reader, path):
    status, body = call(server, reader, op="read", path=path)
    assert status == 400, body
    assert "private.read" in body["error"]


def test_another_app_and_another_deployment_see_nothing(server, tmp_path, site_name):
    other = site_name + "o"
    server.deploy(app(tmp_path / "a", "mine"), site_name)
    server.deploy(write_site(tmp_path / "b", {"api/private.js": READER}), other)
    assert call(server, other, op="read", path="config.json") == (200, {"value": None})
    assert call(server, other, op="list") == (200, {"value": []})
    # a new deployment without the file: the old deployment's copy is gone for the app
    server.deploy(write_site(tmp_path / "c", {"api/private.js": READER}), site_name)
    assert call(server, site_name, op="read", path="config.json") == (200, {"value": None})
