"""API authentication: scopes, failed-attempt limit, error envelopes."""

import pytest


@pytest.fixture
def server(shared_server):
    """One server for the module; the rate-limit test, which locks 127.0.0.1 out, has its own."""
    return shared_server


def test_missing_and_malformed_authorization(server):
    r = server.request("GET", "/api/apps")
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    r = server.request("GET", "/api/apps", headers={"authorization": "Basic abc"})
    assert r.status_code == 401 and "Bearer" in r.json()["error"]["message"]
    assert r.headers["content-type"] == "application/json"


def test_failed_tokens_are_rate_limited_per_ip_and_headers_cannot_spoof(fresh_server):
    server = fresh_server
    for i in range(20):
        r = server.api(
            "GET", "/api/apps", token=f"fazt_wrong{i}", headers={"x-forwarded-for": f"10.0.0.{i}"}
        )
        assert r.status_code == 401, r.text
    r = server.api("GET", "/api/apps", token="fazt_wrong", headers={"x-forwarded-for": "10.9.9.9"})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "RATE_LIMITED"
    assert int(r.headers["retry-after"]) > 0
    # Even the right token is refused from this IP until the window passes.
    assert server.api("GET", "/api/apps").status_code == 429
    # Public routes stay available.
    assert server.get("/health").status_code == 200


def test_wrong_method_is_405_with_allow(server):
    r = server.api("PUT", "/api/apps")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert r.headers["allow"] == "GET"


def test_unknown_api_route_is_json_404(server):
    r = server.api("GET", "/api/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("method", "path", "scope_needed"),
    [
        ("DELETE", "/api/apps/blog", "admin"),
        ("GET", "/api/domains", "admin"),
        ("POST", "/api/domains", "admin"),
    ],
)
def test_deploy_key_cannot_use_admin_routes(server, method, path, scope_needed):
    token = server.create_key("ci", "deploy")
    r = server.api(method, path, token=token, json={})
    assert r.status_code == 403
    assert f"'{scope_needed}' scope" in r.json()["error"]["message"]


def test_head_health_has_length_and_no_body(server):
    r = server.request("HEAD", "/health")
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) > 0
