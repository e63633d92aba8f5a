import pytest

from fazt.auth import passwords, tokens
from fazt.db import Database


@pytest.fixture
def db(tmp_path):
    with Database.open(tmp_path / "data.db") as database:
        yield database


def test_token_is_stored_only_as_hash(db):
    _, token = db.write_sync(tokens.create_key, "ci", frozenset({"deploy"}))
    assert token.startswith("fazt_") and len(token) > 40
    row = db.read_sync(lambda c: c.execute("SELECT * FROM api_keys").fetchone())
    assert token not in [str(v) for v in tuple(row)]
    assert row["token_hash"] == tokens.hash_token(token)


def test_lookup_and_scopes(db):
    _, deploy_token = db.write_sync(tokens.create_key, "ci", frozenset({"deploy"}))
    _, admin_token = db.write_sync(tokens.create_key, "me", frozenset({"admin"}))
    deploy_key = db.read_sync(tokens.lookup, deploy_token)
    admin_key = db.read_sync(tokens.lookup, admin_token)
    assert deploy_key.allows("deploy") and not deploy_key.allows("admin")
    assert admin_key.allows("deploy") and admin_key.allows("admin")
    assert db.read_sync(tokens.lookup, deploy_token + "x") is None
    assert db.read_sync(tokens.lookup, "") is None


def test_revoked_key_no_longer_authenticates(db):
    key_id, token = db.write_sync(tokens.create_key, "ci", frozenset({"deploy"}))
    assert db.write_sync(tokens.revoke, key_id) is True
    assert db.read_sync(tokens.lookup, token) is None
    assert db.write_sync(tokens.revoke, key_id) is False


@pytest.mark.parametrize("text", ["", "deploy,root", "everything", " , "])
def test_parse_scopes_rejects_unknown_or_empty(text):
    with pytest.raises(ValueError):
        tokens.parse_scopes(text)


def test_parse_scopes_accepts_known():
    assert tokens.parse_scopes("deploy, admin") == frozenset({"deploy", "admin"})


def test_passwords_argon2id_and_minimum_length():
    hashed = passwords.hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "correct horse")
    assert not passwords.verify_password(hashed, "wrong horse")
    assert not passwords.verify_password("not-a-hash", "correct horse")
    assert passwords.hash_password("correct horse") != hashed  # salted
    with pytest.raises(ValueError, match="at least 8"):
        passwords.hash_password("short")


def test_site_limited_key_round_trips_and_allows_only_its_sites(db):
    sites = tokens.parse_sites("Blog, docs,blog")
    assert sites == {"blog", "docs"}
    _, token = db.write_sync(tokens.create_key, "ci", frozenset({"deploy"}), sites)
    key = db.read_sync(tokens.lookup, token)
    assert key.sites == {"blog", "docs"}
    assert key.allows_site("blog") and not key.allows_site("other")
    _, everywhere = db.write_sync(tokens.create_key, "me", frozenset({"deploy"}))
    assert db.read_sync(tokens.lookup, everywhere).sites is None
    listed = {k["name"]: k["sites"] for k in db.read_sync(tokens.list_keys)}
    assert listed == {"ci": ["blog", "docs"], "me": None}


@pytest.mark.parametrize(
    "value", ["", " , ", [], ["-bad"], ["a--b"], ["www"], [1], "x" * 64, {"blog": 1}]
)
def test_parse_sites_rejects_bad_or_empty_lists(value):
    with pytest.raises(ValueError):
        tokens.parse_sites(value)


def test_parse_sites_accepts_system_sites_and_caps_the_count():
    assert tokens.parse_sites(["root", "404"]) == {"root", "404"}
    with pytest.raises(ValueError, match="at most"):
        tokens.parse_sites([f"s{i}" for i in range(tokens.MAX_SITES + 1)])


def test_keys_made_before_migration_009_keep_every_site(tmp_path):
    import sqlite3

    from fazt.db import migrations

    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.row_factory = sqlite3.Row
    migrations.migrate(conn, before=9)
    conn.execute(
        "INSERT INTO api_keys (name, token_hash, prefix, scopes, created_at) "
        "VALUES ('old', ?, 'fazt_old', 'deploy', 'x')",
        (tokens.hash_token("fazt_old-token"),),
    )
    assert "009_key_sites.sql" in migrations.migrate(conn)
    key = tokens.lookup(conn, "fazt_old-token")
    conn.close()
    assert key.sites is None and key.allows_site("anything")
