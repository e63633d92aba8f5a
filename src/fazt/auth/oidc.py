"""The OpenID Connect client side of a visitor's sign-in: discovery, the authorization
URL (state, nonce, PKCE S256), the code exchange and the ID token's verification.

The server talks to the provider the operator configured, never to an address an app
chose; still, only http(s) URLs are followed, redirects are not, and every call has a
timeout. An ID token is accepted only when signed with RS256 or ES256 by a key of the
issuer's JWKS, for this client (aud, azp), from this issuer, not expired (small skew),
and carrying the nonce of this sign-in.
"""

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from fazt.auth.visitors import VisitorAuthError

SKEW_SECONDS = 120
HTTP_TIMEOUT = 10.0
CACHE_SECONDS = 3600
MAX_RESPONSE_BYTES = 256 * 1024
_cache: dict[str, tuple[float, Any]] = {}  # discovery documents and JWKS by URL


@dataclass(frozen=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def fail(message: str) -> VisitorAuthError:
    return VisitorAuthError("SIGN_IN_FAILED", message)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_secrets() -> tuple[str, str, str]:
    """A fresh (state, nonce, PKCE verifier)."""
    return secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)


def challenge(verifier: str) -> str:
    """The PKCE S256 code challenge of a verifier."""
    return b64url(hashlib.sha256(verifier.encode()).digest())


def check_url(url: str, what: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(f"the provider's {what} is not an http(s) URL")
    return url


def unavailable(exc: httpx.HTTPError) -> VisitorAuthError:
    return VisitorAuthError(
        "PROVIDER_UNAVAILABLE", f"the sign-in provider cannot be reached ({type(exc).__name__})"
    )


async def _get_json(url: str) -> Any:
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
            headers = {"accept": "application/json"}
            response = await client.get(check_url(url, "URL"), headers=headers)
    except httpx.HTTPError as exc:
        raise unavailable(exc) from None
    return json_of(response, url)


def json_of(response: httpx.Response, url: str) -> Any:
    if response.status_code != 200 or len(response.content) > MAX_RESPONSE_BYTES:
        raise fail(f"the provider answered HTTP {response.status_code} for {url}")
    try:
        return response.json()
    except ValueError:
        raise fail(f"the provider's answer for {url} is not JSON") from None


async def _cached(url: str, refresh: bool = False) -> Any:
    found = _cache.get(url)
    if found and found[0] > time.monotonic() and not refresh:
        return found[1]
    value = await _get_json(url)
    _cache[url] = (time.monotonic() + CACHE_SECONDS, value)
    return value


async def discover(issuer: str) -> Discovery:
    """The issuer's /.well-known/openid-configuration (cached for an hour)."""
    doc = await _cached(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if not isinstance(doc, dict):
        raise fail("the provider's discovery document is not an object")
    fields = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    values = [doc.get(f) for f in fields]
    for name, value in zip(fields, values, strict=True):
        check_url(value, name)
    if values[0].rstrip("/") != issuer.rstrip("/"):
        raise fail("the discovery document names another issuer")
    return Discovery(*values)


def authorization_url(
    d: Discovery, client_id: str, scopes: str, redirect_uri: str, state: str, nonce: str,
    verifier: str,
) -> str:  # fmt: skip
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
    }
    sep = "&" if "?" in d.authorization_endpoint else "?"
    return d.authorization_endpoint + sep + urlencode(query)


async def exchange_code(
    d: Discovery, client_id: str, client_secret: str, code: str, redirect_uri: str,
    verifier: str,
) -> str:  # fmt: skip
    """The ID token the token endpoint gives for `code`."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
        "code_verifier": verifier,
    }
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
            response = await client.post(
                d.token_endpoint, data=form, headers={"accept": "application/json"}
            )
    except httpx.HTTPError as exc:
        raise unavailable(exc) from None
    body = json_of(response, "the token endpoint")
    token = body.get("id_token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise fail("the token endpoint gave no id_token")
    return token


async def verify_id_token(
    token: str, d: Discovery, client_id: str, nonce: str, now: float | None = None
) -> dict:
    """The claims of a valid ID token; raises SIGN_IN_FAILED otherwise."""
    header, claims, signed, signature = _split(token)
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ("RS256", "ES256"):
        raise fail(f"ID token algorithm {alg!r} is not accepted (RS256 or ES256)")
    keys = await _cached(d.jwks_uri)
    key = _find_key(keys, kid, alg)
    if key is None:  # the issuer may have rotated its keys: look once more
        key = _find_key(await _cached(d.jwks_uri, refresh=True), kid, alg)
    if key is None:
        raise fail("the ID token's key is not in the issuer's JWKS")
    if not _signature_ok(key, alg, signed, signature):
        raise fail("the ID token's signature does not verify")
    check_claims(claims, d.issuer, client_id, nonce, time.time() if now is None else now)
    return claims


def _split(token: str) -> tuple[dict, dict, bytes, bytes]:
    try:
        head, body, sig = token.split(".")
        header, claims = json.loads(_unb64url(head)), json.loads(_unb64url(body))
        signature = _unb64url(sig)
    except (ValueError, TypeError):
        raise fail("the ID token is not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise fail("the ID token is not a JWT")
    return header, claims, f"{head}.{body}".encode(), signature


def _find_key(jwks: Any, kid: str | None, alg: str) -> dict | None:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    want = "RSA" if alg == "RS256" else "EC"
    for key in keys if isinstance(keys, list) else []:
        if not isinstance(key, dict) or key.get("kty") != want:
            continue
        if key.get("use") not in (None, "sig") or (kid is not None and key.get("kid") != kid):
            continue
        return key
    return None


def _signature_ok(jwk: dict, alg: str, signed: bytes, signature: bytes) -> bool:
    try:
        if alg == "RS256":
            n = int.from_bytes(_unb64url(jwk["n"]), "big")
            e = int.from_bytes(_unb64url(jwk["e"]), "big")
            public = rsa.RSAPublicNumbers(e, n).public_key()
            public.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        else:
            if jwk.get("crv") != "P-256" or len(signature) != 64:
                return False
            x = int.from_bytes(_unb64url(jwk["x"]), "big")
            y = int.from_bytes(_unb64url(jwk["y"]), "big")
            public = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            public.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, KeyError, ValueError, TypeError):
        return False
    return True


def check_claims(claims: dict, issuer: str, client_id: str, nonce: str, now: float) -> None:
    """iss, aud/azp, exp, iat (with SKEW_SECONDS), nonce and sub."""
    if claims.get("iss") != issuer:
        raise fail("the ID token comes from another issuer")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise fail("the ID token is for another client")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise fail("the ID token is for another client (azp)")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp + SKEW_SECONDS < now:
        raise fail("the ID token has expired")
    if not isinstance(iat, int | float) or iat - SKEW_SECONDS > now:
        raise fail("the ID token was issued in the future")
    if not isinstance(nonce, str) or claims.get("nonce") != nonce:
        raise fail("the ID token's nonce does not match this sign-in")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise fail("the ID token has no subject")
