"""v0.9's admin login and domain (its `configurations` table), and its API keys.

The admin keeps their username and password: v0.9's bcrypt hash is stored as it is and
replaced by argon2id at the first login (auth.passwords). The keys keep their tokens the
same way (auth.legacy_keys), so a v0.9 client's saved peers go on working. A database
imported with its admin is initialised like a first start would: domain, port, and a key
for the CLI on this machine (returned to the command, which saves it; never printed).
"""

from fazt.auth import legacy_keys, passwords, tokens
from fazt.compat import v09_source
from fazt.compat.v09_context import Context, to_stamp
from fazt.compat.v09_report import Report
from fazt.db import settings
from fazt.db.clock import utcnow
from fazt.db.setting_schema import SettingError

DEFAULT_PORT = 4698  # v0.9's and this fazt's


def import_admin(src, dst, rep: Report, ctx: Context) -> None:
    """The admin user, if v0.9 had one with a bcrypt hash; else the first start makes one."""
    tally = rep.tally("admin")
    username = v09_source.setting(src, "auth.username")
    password_hash = v09_source.setting(src, "auth.password_hash")
    if username is None and password_hash is None:
        if ctx.domain:
            rep.notes.append(
                f"v0.9 served {ctx.domain}: give this fazt the same domain on its first start "
                "(fazt server start --domain ...)"
            )
        return
    tally.found = 1
    if not username or not username.strip() or not password_hash:
        tally.skip(str(username), "no username or password in v0.9's settings")
        return
    if not passwords.BCRYPT_HASH.match(password_hash):
        tally.skip(username, "the password hash is not bcrypt's; set one with fazt server init")
        return
    domain = _setting_or(dst, rep, "domain", ctx.domain or "localhost", "localhost")
    port = _setting_or(dst, rep, "port", v09_source.setting(src, "server.port"), DEFAULT_PORT)
    passwords.set_credentials(dst, username.strip(), password_hash)
    _, rep.local_token = tokens.create_key(dst, tokens.LOCAL_KEY_NAME, frozenset({"admin"}))
    rep.local_url = f"http://localhost:{port}"
    tally.imported = 1
    rep.notes.append(
        f"the admin '{username.strip()}' signs in with their v0.9 password; domain {domain}"
    )


def _setting_or(dst, rep: Report, key: str, value, fallback) -> str:
    """Store v0.9's value for `key` if this fazt accepts it, else `fallback` (noted)."""
    try:
        settings.put(dst, key, str(value if value not in (None, "") else fallback))
    except SettingError as exc:
        rep.notes.append(f"v0.9's {key} {value!r} is not accepted here ({exc}); using {fallback}")
        settings.put(dst, key, str(fallback))
    return settings.get(dst, key)


def import_api_keys(src, dst, rep: Report, ctx: Context) -> None:
    """Each key keeps its token: checked against v0.9's bcrypt hash once, then re-hashed."""
    tally = rep.tally("api_keys")
    for row in src.execute("SELECT id, name, key_hash, created_at FROM api_keys ORDER BY id"):
        tally.found += 1
        name = row["name"] if isinstance(row["name"], str) and row["name"].strip() else None
        key_hash = row["key_hash"] if isinstance(row["key_hash"], str) else ""
        label = f"{name or '(unnamed)'} (id {row['id']})"
        try:
            legacy_keys.store(
                dst,
                name or f"v0.9 key {row['id']}",
                key_hash,
                to_stamp(row["created_at"]) or utcnow(),
            )
        except legacy_keys.NotABcryptHash:
            tally.skip(label, "its hash is not bcrypt's: re-create it (fazt key create)")
            continue
        tally.imported += 1
