"""One documented command per job, the old names hidden aliases that say the new name;
and the next-step hints of `fazt app` (server down, token refused) in `fazt remote`,
`fazt upgrade` and the MCP tools too."""

import sqlite3

import pytest

from fazt.auth import passwords
from fazt.mcp.tools import FaztTools, ToolError
from fazt.remote.client import FaztClient
from tests.conftest import free_port, init_server, run_cli


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """One running server for the tests that need an answer."""
    server = init_server(tmp_path_factory.mktemp("names") / "home")
    with server.serving():
        yield server
    server.http.close()


@pytest.fixture
def stopped(tmp_path):
    """An initialised database with no server running."""
    return init_server(tmp_path / "home")


def _admin(db) -> tuple[str, str]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT username, password_hash FROM users").fetchone()
    finally:
        conn.close()


# -- key create (documented) and server create-key (hidden alias) --------------------------


def test_key_create_with_db_needs_no_server_and_its_token_works(srv, stopped):
    out = run_cli(stopped.home, "key", "create", "ci", "--db", str(stopped.db), "--scopes", "admin")
    token = out.stdout.strip()
    assert out.stdout == token + "\n" and token.startswith("fazt_")
    assert "Created key" in out.stderr and "admin" in out.stderr
    conn = sqlite3.connect(stopped.db)
    assert conn.execute("SELECT scopes FROM api_keys WHERE name = 'ci'").fetchone() == ("admin",)
    conn.close()
    both = run_cli(
        stopped.home, "key", "create", "x", "--db", str(stopped.db), "--url", srv.url, check=False
    )
    assert both.returncode == 1 and "give one of them" in both.stderr


def test_server_create_key_is_a_hidden_alias_that_names_the_new_spelling(srv):
    out = srv.cli("server", "create-key", "--name", "old", "--db", str(srv.db))
    token = out.stdout.strip()
    assert out.stdout == token + "\n"  # the token alone, as scripts expect
    assert srv.api("GET", "/api/apps", token=token).status_code == 200
    assert out.stderr.count("\n") == 1
    assert f"note: `fazt server create-key --name N` is now `fazt key create N --db {srv.db}`" in (
        out.stderr
    )
    listing = srv.cli("server", "--help").stdout
    assert "create-key" not in listing and "set-credentials" not in listing
    assert "reset-admin" in listing


# -- server reset-admin (documented) and server set-credentials (hidden alias) -------------


def test_reset_admin_can_keep_the_password_or_the_sessions(stopped):
    db = str(stopped.db)
    _, before = _admin(stopped.db)
    out = run_cli(
        stopped.home, "server", "reset-admin", "--username", "ann", "--keep-password", "--db", db
    )
    assert "password" not in out.stdout.lower()  # none generated, none shown
    assert _admin(stopped.db) == ("ann", before)
    kept = run_cli(
        stopped.home,
        "server",
        "reset-admin",
        "--password",
        "a-new-password",
        "--keep-sessions",
        "--db",
        db,
    )
    assert "dashboard sessions kept" in kept.stdout
    assert passwords.verify_password(_admin(stopped.db)[1], "a-new-password")
    both = run_cli(
        stopped.home,
        "server",
        "reset-admin",
        "--password",
        "p4ssw0rd-long",
        "--keep-password",
        "--db",
        db,
        check=False,
    )
    assert both.returncode == 1 and "give one of them" in both.stderr
    short = run_cli(
        stopped.home, "server", "reset-admin", "--password", "short", "--db", db, check=False
    )
    assert short.returncode == 1 and "at least 8" in short.stderr


def test_set_credentials_is_a_hidden_alias_that_names_the_new_spelling(stopped):
    db = str(stopped.db)
    _, before = _admin(stopped.db)
    out = run_cli(stopped.home, "server", "set-credentials", "--username", "bob", "--db", db)
    assert out.stdout == "Credentials updated for 'bob'.\n"
    assert (
        "note: `fazt server set-credentials` is now "
        "`fazt server reset-admin --keep-sessions --keep-password`" in out.stderr
    )
    assert _admin(stopped.db) == ("bob", before)  # the password kept, as before
    run_cli(stopped.home, "server", "set-credentials", "--password", "third-password", "--db", db)
    assert passwords.verify_password(_admin(stopped.db)[1], "third-password")


# -- the next step in `fazt remote`, `fazt upgrade` and the MCP tools ----------------------


def test_remote_commands_say_what_to_do_about_a_server_that_is_down(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    home = tmp_path / "laptop"
    run_cli(home, "remote", "add", "gone", "--url", url, "--token", "t", "--no-check")
    for args in (["remote", "apps", "gone"], ["remote", "status", "gone"]):
        out = run_cli(home, *args, check=False)
        assert out.returncode == 1, args
        assert f"next: nothing answers at {url}" in out.stderr, (args, out.stderr)
        assert "`fazt server start`" in out.stderr
    added = run_cli(home, "remote", "add", "new", "--url", url, "--token", "t", check=False)
    assert added.returncode == 1 and f"next: nothing answers at {url}" in added.stderr
    upgrade = run_cli(home, "remote", "upgrade", "gone", check=False)
    assert upgrade.returncode == 1 and f"next: nothing answers at {url}" in upgrade.stderr
    check = run_cli(home, "remote", "upgrade", "gone", "--check", check=False)
    assert check.returncode == 1 and f"next: nothing answers at {url}" in check.stderr


def test_remote_commands_say_what_to_do_about_a_refused_token(srv, tmp_path):
    home = tmp_path / "laptop"
    run_cli(home, "remote", "add", "stale", "--url", srv.url, "--token", "fazt_x", "--no-check")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("hi")
    for args in (
        ["remote", "deploy", str(site), "stale"],
        ["remote", "logs", "blog", "stale"],
        ["remote", "apps", "stale"],
        ["remote", "status", "stale"],
        ["remote", "upgrade", "stale"],
        ["remote", "upgrade", "stale", "--check"],
    ):
        out = run_cli(home, *args, check=False)
        assert out.returncode == 1, args
        assert "refused the token from saved peer 'stale'" in out.stderr, (args, out.stderr)
        assert "`fazt key create NAME --scopes deploy --db DATABASE`" in out.stderr
        assert f"`fazt remote add NAME --url {srv.url} --token KEY --replace`" in out.stderr


def test_mcp_tool_errors_carry_the_next_step(srv):
    url = f"http://127.0.0.1:{free_port()}"
    with FaztClient(url, "t") as client, pytest.raises(ToolError) as down:
        FaztTools(client).list_apps()
    assert f"next: nothing answers at {url}" in str(down.value)
    with FaztClient(srv.url, "fazt_wrong") as client, pytest.raises(ToolError) as refused:
        FaztTools(client).list_apps()
    assert "refused the token from the token `fazt mcp` uses" in str(refused.value)
