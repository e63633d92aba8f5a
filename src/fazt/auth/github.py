"""GitHub sign-in: OAuth 2 (not OpenID Connect), then the /user API for who signed in.

There is no ID token: the state (one use, bound to the browser) and PKCE protect the
code; the user is whoever the access token belongs to, read from GitHub's API over the
same connection rules as oidc.py (http(s) only, no redirects, timeouts). The issuer is
https://github.com, or a GitHub Enterprise Server's URL (API under /api/v3).
"""

from typing import Any
from urllib.parse import urlencode

import httpx

from fazt.auth.oidc import HTTP_TIMEOUT, challenge, check_url, fail, json_of, unavailable

GITHUB = "https://github.com"
SCOPES = "read:user user:email"


def _api(issuer: str) -> str:
    return "https://api.github.com" if issuer == GITHUB else issuer + "/api/v3"


def authorization_url(
    issuer: str, client_id: str, redirect_uri: str, state: str, verifier: str
) -> str:
    query = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": SCOPES,
        "state": state,
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
        "allow_signup": "true",
    }
    return f"{check_url(issuer, 'issuer')}/login/oauth/authorize?{urlencode(query)}"


async def sign_in_claims(
    issuer: str, client_id: str, client_secret: str, code: str, redirect_uri: str, verifier: str
) -> dict:
    """Exchange the code, then read the user: {sub, email, name, picture}."""
    form = {
        "client_id": client_id,
        "client_secret": client_secret,
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    accept = {"accept": "application/json"}
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
            r = await client.post(f"{issuer}/login/oauth/access_token", data=form, headers=accept)
            body = json_of(r, "the token endpoint")
            token = body.get("access_token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise fail("GitHub gave no access token")
            auth = {**accept, "authorization": f"Bearer {token}"}
            user = json_of(await client.get(f"{_api(issuer)}/user", headers=auth), "/user")
            emails = await client.get(f"{_api(issuer)}/user/emails", headers=auth)
            listed = json_of(emails, "/user/emails") if emails.status_code == 200 else []
    except httpx.HTTPError as exc:
        raise unavailable(exc) from None
    return _claims(user, listed)


def _claims(user: Any, emails: Any) -> dict:
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        raise fail("GitHub's /user answer has no id")
    verified = [
        e.get("email")
        for e in (emails if isinstance(emails, list) else [])
        if isinstance(e, dict) and e.get("verified") is True
    ]
    primary = [
        e.get("email")
        for e in (emails if isinstance(emails, list) else [])
        if isinstance(e, dict) and e.get("verified") is True and e.get("primary") is True
    ]
    # Only an address GitHub says is verified: /user's public email is not checked.
    email = (primary or verified or [None])[0]
    return {
        "sub": str(user["id"]),
        "email": email if isinstance(email, str) else None,
        "name": user.get("name") or user.get("login"),
        "picture": user.get("avatar_url"),
    }
