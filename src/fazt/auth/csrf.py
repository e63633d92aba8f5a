"""Cross-site request forgery checks for requests authenticated by the session cookie.

SameSite=Lax is not enough: user sites live on sibling subdomains (`evil.<domain>`),
which browsers treat as the *same site*, so their forms and fetches carry the cookie.
Every state-changing request must therefore (1) come from the dashboard's own origin,
when the browser says where it comes from, and (2) carry the session's CSRF token.
"""

import hmac
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "x-csrf-token"
FIELD = "csrf_token"
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


def token_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())
