"""Sign-in end to end against panva's certified `oidc-provider` (npm, run by Node on
loopback: tests/oidc_node.py), with an RS256 and an ES256 client, through its real login
and consent forms."""

from urllib.parse import urlsplit

import pytest

from tests.conftest import write_site
from tests.oidc_node import drive, node_provider

SITE = "vnode"
HOST = f"{SITE}.localhost"
REDIRECT = f"http://{HOST}/_fazt/auth/callback"
ME = "module.exports = () => ({ user: fazt.auth.user() });"


@pytest.fixture
def server(shared_server):
    return shared_server


@pytest.fixture(scope="module")
def node(shared_server, tmp_path_factory):
    clients = [
        {"client_id": f"fazt-{alg}", "client_secret": f"secret-{alg}-0123456789abcdef",
         "redirect_uris": [REDIRECT], "alg": alg}
        for alg in ("RS256", "ES256")
    ]  # fmt: skip
    with node_provider(clients) as provider:
        for c in clients:
            body = {
                "name": c["client_id"].lower(),
                "issuer": provider.issuer,
                "client_id": c["client_id"],
                "client_secret": c["client_secret"],
            }
            assert shared_server.api("POST", "/api/auth/providers", json=body).status_code == 201
        root = tmp_path_factory.mktemp("vnode")
        shared_server.deploy(write_site(root, {"index.html": "hi", "api/me.js": ME}), SITE)
        yield provider


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_sign_in_through_oidc_provider(server, node, alg):
    name = f"fazt-{alg.lower()}"
    r = server.get("/_fazt/auth/login", host=HOST, params={"provider": name, "next": "/welcome"})
    assert r.status_code == 303, r.text
    state = r.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    back = urlsplit(drive(r.headers["location"], "carol", REDIRECT))
    r = server.get(
        f"{back.path}?{back.query}", host=HOST, headers={"cookie": f"fazt_auth_state={state}"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/welcome", r.text
    token = next(
        c.split(";", 1)[0].split("=", 1)[1]
        for c in r.headers.get_list("set-cookie")
        if c.startswith("fazt_visitor=")
    )
    user = server.get("/api/me", host=HOST, headers={"cookie": f"fazt_visitor={token}"}).json()
    assert user["user"] == {
        "id": f"{name}:carol",
        "email": "carol@example.test",
        "name": "Carol",
        "avatar": f"{node.issuer}/avatar/carol.png",
        "provider": name,
        "role": "user",
    }
