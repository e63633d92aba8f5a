"""Cross-site request forgery checks for requests authenticated by the session cookie.

SameSite=Lax is not enough: user sites live on sibling subdomains (`evil.<domain>`),
which browsers treat as the *same site*, so their forms and fetches carry the cookie.
Every state-changing request must therefore (1) come from the dashboard's own origin,
when the browser says where it comes from, and (2) carry the session's CSRF token.

Pages carry the token masked afresh for every response (`mask`): a page that is
compressed (by a reverse proxy, say) and also reflects input could otherwise leak a fixed
secret through its compressed size (BREACH).
"""

import base64
import binascii
import hmac
import secrets
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "x-csrf-token"
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _origin(scheme: str, netloc: str) -> str:
    scheme, netloc = scheme.lower(), netloc.lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{scheme}://{netloc}"


def same_origin(origin: str | None, referer: str | None, scheme: str, host: str) -> bool:
    """Does the request come from `scheme://host` itself?

    Browsers send `Origin` on every cross-origin request and on same-origin POSTs; when
    it is absent we fall back to `Referer`. A client that sends neither (curl, scripts)
    is not a browser being tricked, and the token check alone decides.
    """
    expected = _origin(scheme, host)
    if origin is not None:
        if origin == "null":  # sandboxed frames, data: URLs, some redirects
            return False
        parts = urlsplit(origin)
        return _origin(parts.scheme, parts.netloc) == expected
    if referer:
        parts = urlsplit(referer)
        return _origin(parts.scheme, parts.netloc) == expected
    return True


MAX_MASKED_LENGTH = 256  # a masked session token is 115 characters


def mask(token: str) -> str:
    """`token` in a one-time disguise: base64url(pad + (token XOR pad)), pad random."""
    raw = token.encode()
    pad = secrets.token_bytes(len(raw))
    masked = bytes(a ^ b for a, b in zip(raw, pad, strict=True))
    return base64.urlsafe_b64encode(pad + masked).decode().rstrip("=")


def unmask(given: str) -> bytes | None:
    """The token inside a `mask` result, or None when `given` is not one."""
    if len(given) > MAX_MASKED_LENGTH:
        return None
    try:
        data = base64.urlsafe_b64decode(given + "=" * (-len(given) % 4))
    except (binascii.Error, ValueError):
        return None
    half = len(data) // 2
    if not data or len(data) % 2:
        return None
    return bytes(a ^ b for a, b in zip(data[:half], data[half:], strict=True))


def token_matches(expected: str, given: str | None) -> bool:
    """Does `given` (a masked token, as pages carry it) hold the session's token?"""
    token = unmask(given) if given else None
    return token is not None and hmac.compare_digest(expected.encode(), token)


def refusal(
    origin: str | None,
    referer: str | None,
    scheme: str,
    host: str,
    expected: str,
    given: str | None,
) -> str | None:
    """Why a state-changing request must be refused (None: it may proceed): it must come
    from `scheme://host` and carry the session's token `expected` (masked) as `given`."""
    if not same_origin(origin, referer, scheme, host):
        return "cross-origin request refused"
    if not token_matches(expected, given):
        return "missing or wrong CSRF token; reload the page"
    return None
