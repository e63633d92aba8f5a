"""Visitors who sign in to apps: providers, pending sign-ins, users and their sessions.

Separate from the dashboard's own users and sessions (auth/sessions.py): a visitor's
session belongs to one app, and is looked up with that app's name, so a cookie sent to
a sibling site (planted for the parent domain, or copied) names no session there.
Tokens and states are random; the database keeps only their SHA-256.
"""

import hashlib
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fazt.db.clock import stamp, utcnow
from fazt.errors import FaztError

COOKIE_NAME = "fazt_visitor"
SECURE_COOKIE_NAME = "__Host-fazt_visitor"  # over HTTPS: host-only, Secure, Path=/
STATE_COOKIE = "fazt_auth_state"  # binds a sign-in to the browser that started it
SECURE_STATE_COOKIE = "__Host-fazt_auth_state"  # over HTTPS: a sibling cannot plant it
MAX_PENDING_LOGINS = 1000  # per app: sign-ins started and not finished (10 minutes each)
LOGIN_TTL_SECONDS = 600
SESSION_TTL_SECONDS = 14 * 86400
ROLES = ("owner", "admin", "user")
DEV_PROVIDER = "dev"
PROVIDER_KINDS = ("oidc", "google", "github")
DEFAULT_ISSUERS = {"google": "https://accounts.google.com", "github": "https://github.com"}
DEFAULT_SCOPES = "openid email profile"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class VisitorAuthError(FaztError):
    """A sign-in or role change refused (the code says why)."""


@dataclass(frozen=True)
class Provider:
    name: str
    kind: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: str


@dataclass(frozen=True)
class PendingLogin:
    app: str
    provider: str
    nonce: str
    verifier: str
    next: str
    redirect_uri: str


@dataclass(frozen=True)
class Visitor:
    """A signed-in visitor, as fazt.auth.user() shows it (plus the role and CSRF token)."""

    id: str
    email: str | None
    name: str | None
    avatar: str | None
    provider: str
    role: str
    csrf_token: str

    def public(self) -> dict:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "avatar": self.avatar,
            "provider": self.provider,
            "role": self.role,
        }


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def cookie_name(https: bool) -> str:
    return SECURE_COOKIE_NAME if https else COOKIE_NAME


def session_cookie(token: str, max_age: int, https: bool) -> str:
    """Host-only (no Domain), HttpOnly, SameSite=Lax; Secure over HTTPS."""
    parts = [f"{cookie_name(https)}={token}", "Path=/", f"Max-Age={max_age}", "HttpOnly"]
    parts.append("SameSite=Lax")
    if https:
        parts.append("Secure")
    return "; ".join(parts)


def state_cookie_name(https: bool) -> str:
    return SECURE_STATE_COOKIE if https else STATE_COOKIE


def state_cookie(state: str, max_age: int, https: bool) -> str:
    """Over HTTPS `__Host-` named (so Path=/): a sibling subdomain cannot plant a state
    of its choosing in this browser (login CSRF)."""
    path = "/" if https else "/_fazt/auth/"
    name = state_cookie_name(https)
    parts = [f"{name}={state}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly"]
    parts.append("SameSite=Lax")
    if https:
        parts.append("Secure")
    return "; ".join(parts)


def _later(seconds: int) -> str:
    return stamp(datetime.now(UTC) + timedelta(seconds=seconds))


# -- providers ------------------------------------------------------------------------


def check_provider_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or name == DEV_PROVIDER:
        raise VisitorAuthError(
            "INVALID_PROVIDER",
            "a provider name is 1-32 of a-z, 0-9, '-', '_', starting with a letter"
            f" ('{DEV_PROVIDER}' is built in)",
        )
    return name


def save_provider(conn: sqlite3.Connection, p: Provider) -> bool:
    """Add or replace a provider; True when it is new."""
    known = conn.execute("SELECT 1 FROM auth_providers WHERE name = ?", (p.name,)).fetchone()
    conn.execute(
        "INSERT OR REPLACE INTO auth_providers"
        " (name, kind, issuer, client_id, client_secret, scopes, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (p.name, p.kind, p.issuer, p.client_id, p.client_secret, p.scopes, utcnow()),
    )
    return known is None


def get_provider(conn: sqlite3.Connection, name: str) -> Provider | None:
    row = conn.execute(
        "SELECT name, kind, issuer, client_id, client_secret, scopes FROM auth_providers"
        " WHERE name = ?",
        (name,),
    ).fetchone()
    return Provider(*row) if row else None


def list_providers(conn: sqlite3.Connection) -> list[dict]:
    """Every provider, without its secret."""
    rows = conn.execute(
        "SELECT name, kind, issuer, client_id, scopes, created_at FROM auth_providers ORDER BY name"
    ).fetchall()
    return [dict(r) for r in rows]


def remove_provider(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("DELETE FROM auth_providers WHERE name = ?", (name,)).rowcount > 0


# -- pending sign-ins ---------------------------------------------------------------


def start_login(conn: sqlite3.Connection, state: str, login: PendingLogin) -> None:
    conn.execute("DELETE FROM visitor_logins WHERE expires_at <= ?", (utcnow(),))
    (pending,) = conn.execute(
        "SELECT count(*) FROM visitor_logins WHERE app = ?", (login.app,)
    ).fetchone()
    if pending >= MAX_PENDING_LOGINS:
        raise VisitorAuthError(
            "TOO_MANY_SIGN_INS", "too many sign-ins in progress for this app; retry shortly"
        )
    conn.execute(
        "INSERT INTO visitor_logins (state_hash, app, provider, nonce, verifier, next,"
        " redirect_uri, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            hash_token(state),
            login.app,
            login.provider,
            login.nonce,
            login.verifier,
            login.next,
            login.redirect_uri,
            _later(LOGIN_TTL_SECONDS),
        ),
    )


def take_login(conn: sqlite3.Connection, state: str, app: str) -> PendingLogin | None:
    """The live pending sign-in of `app` for `state`, removed (a state is used once)."""
    key = hash_token(state)
    row = conn.execute(
        "SELECT app, provider, nonce, verifier, next, redirect_uri FROM visitor_logins"
        " WHERE state_hash = ? AND expires_at > ?",
        (key, utcnow()),
    ).fetchone()
    conn.execute("DELETE FROM visitor_logins WHERE state_hash = ?", (key,))
    if row is None or row[0] != app:
        return None
    return PendingLogin(*row)


# -- users and sessions -------------------------------------------------------------


def sign_in(
    conn: sqlite3.Connection,
    app: str,
    provider: str,
    subject: str,
    claims: dict,
) -> str:
    """Record the visitor (new: role 'user') and open a session; returns its token."""
    user_id = f"{provider}:{subject}"
    now = utcnow()
    email, name, avatar = (_claim(claims, k) for k in ("email", "name", "picture"))
    if claims.get("email_verified") is False:  # anyone may claim an address: not shown
        email = None
    conn.execute(
        "INSERT INTO app_users (app, id, provider, email, name, avatar, created_at,"
        " last_login_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app, id) DO UPDATE SET"
        " email = excluded.email, name = excluded.name, avatar = excluded.avatar,"
        " last_login_at = excluded.last_login_at",
        (app, user_id, provider, email, name, avatar, now, now),
    )
    conn.execute("DELETE FROM visitor_sessions WHERE expires_at <= ?", (now,))
    token = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO visitor_sessions (token_hash, app, user_id, csrf_token, created_at,"
        " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        (
            hash_token(token),
            app,
            user_id,
            secrets.token_urlsafe(24),
            now,
            _later(SESSION_TTL_SECONDS),
        ),
    )
    return token


def _claim(claims: dict, key: str) -> str | None:
    value = claims.get(key)
    return value[:500] if isinstance(value, str) and value else None


def lookup(conn: sqlite3.Connection, app: str, tokens: list[str]) -> Visitor | None:
    """The visitor of the first live session of `app` among `tokens`."""
    by_hash = {hash_token(t): i for i, t in enumerate(tokens) if t}
    if not by_hash:
        return None
    marks = ",".join("?" * len(by_hash))
    rows = conn.execute(
        "SELECT s.token_hash, u.id, u.email, u.name, u.avatar, u.provider, u.role,"
        " s.csrf_token FROM visitor_sessions s"
        " JOIN app_users u ON u.app = s.app AND u.id = s.user_id"
        f" WHERE s.token_hash IN ({marks}) AND s.app = ? AND s.expires_at > ?",
        (*by_hash, app, utcnow()),
    ).fetchall()
    if not rows:
        return None
    row = min(rows, key=lambda r: by_hash[r[0]])
    return Visitor(*tuple(row)[1:])


def end_session(conn: sqlite3.Connection, app: str, tokens: list[str]) -> int:
    hashes = [hash_token(t) for t in tokens if t]
    if not hashes:
        return 0
    marks = ",".join("?" * len(hashes))
    return conn.execute(
        f"DELETE FROM visitor_sessions WHERE app = ? AND token_hash IN ({marks})",
        (app, *hashes),
    ).rowcount


def list_users(conn: sqlite3.Connection, app: str) -> list[dict]:
    rows = conn.execute(
        "SELECT id, provider, email, name, avatar, role, created_at, last_login_at"
        " FROM app_users WHERE app = ? ORDER BY created_at, id",
        (app,),
    ).fetchall()
    return [dict(r) for r in rows]


def user_id_of(conn: sqlite3.Connection, app: str, user: str) -> str:
    """The id of the app's visitor named by id or email (USER_NOT_FOUND, AMBIGUOUS_USER)."""
    rows = conn.execute(
        "SELECT id FROM app_users WHERE app = ? AND (id = ? OR email = ?)", (app, user, user)
    ).fetchall()
    if not rows:
        raise VisitorAuthError("USER_NOT_FOUND", f"'{app}' has no signed-in user '{user}'")
    if len(rows) > 1:
        exact = [r[0] for r in rows if r[0] == user]
        if exact:
            return exact[0]
        raise VisitorAuthError(
            "AMBIGUOUS_USER", f"several users of '{app}' have the email '{user}': use the id"
        )
    return rows[0][0]


def delete_user(conn: sqlite3.Connection, app: str, user: str) -> str:
    """Delete the visitor's account: their sessions and stored data go with it (foreign
    keys of migrations 018 and 019). Returns the id."""
    user_id = user_id_of(conn, app, user)
    conn.execute("DELETE FROM app_users WHERE app = ? AND id = ?", (app, user_id))
    return user_id


def set_role(conn: sqlite3.Connection, app: str, user: str, role: str) -> dict:
    """Set the role of the user named by id or email; refuses an unknown role or user."""
    if role not in ROLES:
        raise VisitorAuthError("INVALID_ROLE", f"a role is one of {', '.join(ROLES)}")
    user_id = user_id_of(conn, app, user)
    conn.execute("UPDATE app_users SET role = ? WHERE app = ? AND id = ?", (role, app, user_id))
    return {"id": user_id, "role": role}
