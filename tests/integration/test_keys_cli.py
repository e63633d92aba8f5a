"""`fazt key create|list|revoke` and `fazt server reset-admin` against a real server."""

import json
from collections.abc import Iterator

import pytest

from tests.conftest import FaztServer, running_server
from tests.integration.test_auth_sessions import PASSWORD, Browser


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    with running_server(tmp_path_factory.mktemp("keys") / "home") as s:
        yield s


def keys(srv: FaztServer) -> list[dict]:
    return json.loads(srv.cli("key", "list", "--json").stdout)


def test_create_prints_the_token_once_and_its_scopes_hold(srv):
    out = srv.cli("key", "create", "ci", "--scopes", "deploy")
    token = out.stdout.strip()
    assert token.startswith("fazt_") and "\n" not in token
    assert "not shown again" in out.stderr
    assert srv.api("GET", "/api/apps", token=token).status_code == 200
    assert srv.api("GET", "/api/keys", token=token).status_code == 403  # admin route
    listed = next(k for k in keys(srv) if k["name"] == "ci")
    assert listed["scopes"] == ["deploy"] and not listed["revoked"]
    assert token not in json.dumps(keys(srv))


def test_create_json(srv):
    data = json.loads(
        srv.cli("key", "create", "ci-json", "--scopes", "deploy,admin", "--json").stdout
    )
    assert data["name"] == "ci-json" and data["scopes"] == ["admin", "deploy"]
    assert srv.api("GET", "/api/keys", token=data["token"]).status_code == 200


def test_list_shows_last_used_time(srv):
    token = srv.cli("key", "create", "used").stdout.strip()
    assert next(k for k in keys(srv) if k["name"] == "used")["last_used_at"] is None
    assert srv.api("GET", "/api/apps", token=token).status_code == 200
    used = next(k for k in keys(srv) if k["name"] == "used")
    # Written off the request path; the API reply above is sent first.
    assert used["last_used_at"] is not None or _eventually_used(srv)
    table = srv.cli("key", "list").stdout
    assert "used" in table and "last_used_at" in table and token not in table


def _eventually_used(srv) -> bool:
    from tests.conftest import wait_for

    return wait_for(
        lambda: next(k for k in keys(srv) if k["name"] == "used")["last_used_at"],
        what="last_used_at",
    )


def test_revoke_stops_the_key_at_once(srv):
    token = srv.cli("key", "create", "temp").stdout.strip()
    key_id = next(k["id"] for k in keys(srv) if k["name"] == "temp")
    assert srv.api("GET", "/api/apps", token=token).status_code == 200
    out = srv.cli("key", "revoke", str(key_id))
    assert f"Revoked key {key_id}" in out.stdout
    assert srv.api("GET", "/api/apps", token=token).status_code == 401
    assert next(k for k in keys(srv) if k["id"] == key_id)["revoked"]


def test_bad_input_is_a_clear_error_that_changes_nothing(srv):
    before = keys(srv)
    r = srv.cli("key", "create", "x", "--scopes", "root", check=False)
    assert r.returncode != 0 and "unknown scope" in r.stderr
    r = srv.cli("key", "revoke", "999999", check=False)
    assert r.returncode != 0 and "no active key" in r.stderr
    r = srv.cli("key", "revoke", "abc", check=False)
    assert r.returncode != 0
    deploy_only = srv.cli("key", "create", "weak").stdout.strip()
    r = srv.cli("key", "list", "--token", deploy_only, "--url", srv.url, check=False)
    assert r.returncode != 0 and "admin" in r.stderr
    assert [k["name"] for k in keys(srv)] == [k["name"] for k in before] + ["weak"]


def test_reset_admin_sets_a_new_password_and_logs_everyone_out(tmp_path):
    with running_server(tmp_path / "home") as srv:
        b = Browser(srv)
        assert b.login().status_code == 303
        assert b.get("/apps").status_code == 200
        out = srv.cli("server", "reset-admin", "--db", str(srv.db))
        assert "1 dashboard session(s) logged out" in out.stdout
        new_password = out.stdout.split("save it now): ")[1].strip()
        assert b.get("/apps").status_code == 303  # the running server sees it at once
        assert Browser(srv).login(PASSWORD).status_code == 401
        assert Browser(srv).login(new_password).status_code == 303
        r = srv.cli(
            "server", "reset-admin", "--password", "short", "--db", str(srv.db), check=False
        )
        assert r.returncode != 0 and "at least 8" in r.stderr
        assert Browser(srv).login(new_password).status_code == 303  # unchanged
        out = srv.cli(
            "server",
            "reset-admin",
            "--username",
            "root",
            "--password",
            "another-one1",
            "--db",
            str(srv.db),
        )
        assert "shown once" not in out.stdout
        assert Browser(srv).login("another-one1", "root").status_code == 303
