"""What fazt v0.9 apps and scripts do keeps working (issue 16 items 3, 5, 6), written from
the reference's description of v0.9 (runtime-storage.md §2, server.md §4.6, §6.5, §6.6)."""

import hashlib
import hmac
import io
import json
import time
import zipfile

import pytest

from tests.conftest import running_server, write_site

# An app written for v0.9's storage API: return values used the way v0.9 gave them.
V09_STORAGE_APP = r"""
function handler(req) {
  var kv = fazt.storage.kv, ds = fazt.storage.ds, s3 = fazt.storage.s3;
  var id = ds.insert('scores', {player: 'ann', score: 3});
  kv.set('session', {u: 1}, 60000);
  kv.set('forever', 2);
  s3.put('note.txt', 'hello', 'text/plain');
  var blob = s3.get('note.txt');
  var entries = kv.list('');
  var byKey = {};
  entries.forEach(function (e) { byKey[e.key] = e; });
  return {
    idType: typeof id,
    player: ds.findOne('scores', id).player,
    hash: blob.hash,
    sessionExpires: byKey.session.expiresAt,
    sessionExpiresType: typeof byKey.session.expiresAt,
    foreverHasExpiresAt: 'expiresAt' in byKey.forever,
    now: Date.now()
  };
}
handler(request);
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("compat09")
    with running_server(root / "home") as server:
        files = {"index.html": "v09", "api/main.js": V09_STORAGE_APP}
        server.deploy(write_site(root / "oldapp", files), "oldapp")
        yield server


def test_storage_return_values_are_v09s(srv):
    r = srv.request("GET", "/api", host="oldapp.localhost")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["idType"] == "string"  # ds.insert returns the id string
    assert out["player"] == "ann"
    assert out["hash"] == hashlib.sha256(b"hello").hexdigest()  # s3.get carries hash
    # kv.list: expiresAt in ms since the epoch, absent without a TTL
    assert out["sessionExpiresType"] == "number"
    assert 55_000 <= out["sessionExpires"] - out["now"] <= 61_000
    assert out["foreverHasExpiresAt"] is False


def test_redirect_created_with_v09_fields(srv):
    body = {"slug": "gh09", "destination": "https://github.com/fazt-sh", "tags": ["a", "b"]}
    r = srv.api("POST", "/api/redirects", json=body)
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert isinstance(data["id"], int)
    assert (data["slug"], data["destination"], data["tags"], data["click_count"]) == (
        "gh09",
        "https://github.com/fazt-sh",
        ["a", "b"],
        0,
    )
    assert data["url"] == "https://github.com/fazt-sh"  # our own field stays
    hop = srv.get("/r/gh09")
    assert hop.status_code == 302 and hop.headers["location"] == "https://github.com/fazt-sh"


@pytest.mark.parametrize(
    "body",
    [
        {"slug": "bad09", "destination": "javascript:alert(1)"},
        {"slug": "bad09", "destination": "https://x.example", "tags": "a,b"},
        {"slug": "", "destination": "https://x.example"},
    ],
)
def test_bad_v09_redirects_are_refused(srv, body):
    r = srv.api("POST", "/api/redirects", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "BAD_REQUEST"
    assert srv.get("/r/bad09").status_code == 404


def v09_sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_webhook_created_with_v09_fields_accepts_v09_signatures(srv):
    body = {"name": "GitHub deploy", "endpoint": "github-deploy", "secret": "s3cret"}
    r = srv.api("POST", "/api/webhooks", json=body)
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["name"] == "GitHub deploy" and data["endpoint"] == "github-deploy"
    assert data["has_secret"] is True and data["is_active"] is True
    assert isinstance(data["id"], int) and "secret" not in data
    payload = b'{"event": "push"}'
    ok = srv.request(
        "POST",
        "/webhook/github-deploy",
        content=payload,
        headers={"x-webhook-signature": v09_sign("s3cret", payload)},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["verified"] is True
    bad = srv.request(
        "POST",
        "/webhook/github-deploy",
        content=payload,
        headers={"x-webhook-signature": v09_sign("wrong", payload)},
    )
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "INVALID_SIGNATURE"
    events = srv.api("GET", "/api/webhook-events", params={"webhook": "github-deploy"})
    assert [e["event"] for e in events.json()["data"]] == ["push"]  # the refused one is not


def test_v09_signatures_are_refused_by_webhooks_without_the_flag(srv):
    secret = "a-secret-of-sixteen-plus"
    made = srv.api("POST", "/api/webhooks", json={"name": "modern", "secret": secret})
    assert made.status_code == 201, made.text
    assert "legacy_signatures" not in made.json()["data"]
    payload = b'{"event": "x"}'
    r = srv.request(
        "POST",
        "/webhook/modern",
        content=payload,
        headers={"x-webhook-signature": v09_sign(secret, payload)},
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "MISSING_SIGNATURE"
    # ...and accepted once a webhook asks for them
    flagged = srv.api(
        "POST",
        "/api/webhooks",
        json={"name": "flagged", "secret": secret, "legacy_signatures": True},
    )
    assert flagged.status_code == 201 and flagged.json()["data"]["legacy_signatures"] is True
    ok = srv.request(
        "POST",
        "/webhook/flagged",
        content=payload,
        headers={"x-webhook-signature": v09_sign(secret, payload)},
    )
    assert ok.status_code == 200, ok.text
    # The list shows which webhooks take the weaker signature.
    listed = {w["name"]: w for w in srv.api("GET", "/api/webhooks").json()["data"]}
    assert listed["flagged"]["legacy_signatures"] is True
    assert listed["modern"]["legacy_signatures"] is False
    assert listed["github-deploy"]["legacy_signatures"] is True
    # The timestamped scheme still works on a flagged webhook.
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    signed = {"x-fazt-signature": f"t={t},v1={mac}"}
    assert srv.request("POST", "/webhook/flagged", content=payload, headers=signed).is_success


@pytest.mark.parametrize(
    "body",
    [
        {"name": "No endpoint type", "endpoint": 5},
        {"name": "Bad endpoint", "endpoint": "Has Spaces"},
        {"name": "Bad secret", "endpoint": "bad-secret", "secret": "x" * 257},
        {"name": "ok", "secret": "a-secret-of-sixteen-plus", "legacy_signatures": "yes"},
    ],
)
def test_bad_v09_webhooks_are_refused(srv, body):
    r = srv.api("POST", "/api/webhooks", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BAD_REQUEST"
    names = [w["name"] for w in srv.api("GET", "/api/webhooks").json()["data"]]
    assert "bad-secret" not in names and "ok" not in names


def test_v09_webhook_without_a_secret_takes_unsigned_payloads(srv):
    r = srv.api("POST", "/api/webhooks", json={"name": "Open", "endpoint": "open09"})
    assert r.status_code == 201 and r.json()["data"]["has_secret"] is False
    ok = srv.request("POST", "/webhook/open09", content=b"plain")
    assert ok.status_code == 200 and ok.json()["data"]["verified"] is False


def test_app_list_items_carry_v09_id_and_source(srv):
    apps = {a["name"]: a for a in srv.api("GET", "/api/apps").json()["data"]}
    assert apps["oldapp"]["id"] == "oldapp" and apps["oldapp"]["source"] == "deploy"
    assert apps["admin"]["source"] == "system"
    # the id is what /api/apps/{id} takes
    assert srv.api("GET", "/api/apps/oldapp").status_code == 200


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("filename", ["site.bin", "upload", "SITE.ZIP.tmp"])
def test_a_zip_whose_file_name_does_not_end_in_zip_is_deployed(srv, filename):
    # v0.9 refused such a name; this fazt looks at the content (more lenient is fine).
    data = _zip({"index.html": filename.encode()})
    r = srv.api(
        "POST",
        "/api/deploy",
        data={"site_name": "zipname"},
        files={"file": (filename, data, "application/octet-stream")},
    )
    assert r.status_code in (200, 201), r.text
    assert srv.get("/", host=f"zipname.localhost:{srv.port}").text == filename


def test_cli_creates_a_webhook_with_legacy_signatures(srv):
    out = srv.cli(
        "webhook", "add", "clihook", "--secret", "a-secret-of-sixteen-plus", "--legacy-signatures"
    )
    assert "clihook" in out.stdout
    listed = srv.cli("webhook", "list", "--json").stdout
    mine = next(w for w in json.loads(listed) if w["name"] == "clihook")
    assert mine["legacy_signatures"] is True and mine["signed"] is True
