"""AWS Signature Version 4 for S3 requests (header-based authentication).

https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html. The
payload hash is signed too: S3 refuses a body whose sha256 is not the one signed, so an
upload of a content-addressed blob signed with its own hash is checked by the store.
"""

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"


def amz_date(now: datetime | None = None) -> str:
    """The x-amz-date value: UTC, `YYYYMMDDTHHMMSSZ`."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def uri_encode(text: str, *, keep_slash: bool) -> str:
    """RFC 3986 encoding as SigV4 wants it: unreserved characters kept, the rest %XX."""
    return quote(text, safe="/~" if keep_slash else "~")


def canonical_query(params: list[tuple[str, str]]) -> str:
    encoded = sorted(
        (uri_encode(k, keep_slash=False), uri_encode(v, keep_slash=False)) for k, v in params
    )
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(
    method: str, path: str, params: list[tuple[str, str]], headers: dict[str, str], payload: str
) -> tuple[str, str]:
    """(the canonical request, the signed header names joined by ';')."""
    clean = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    names = sorted(clean)
    lines = "".join(f"{n}:{clean[n]}\n" for n in names)
    signed = ";".join(names)
    text = "\n".join(
        [
            method,
            uri_encode(path, keep_slash=True),
            canonical_query(params),
            lines,
            signed,
            payload,
        ]
    )
    return text, signed


def signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret_key).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def authorization(
    method: str,
    path: str,
    params: list[tuple[str, str]],
    headers: dict[str, str],
    payload: str,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    service: str = "s3",
) -> str:
    """The Authorization header for a request whose `headers` (host, x-amz-date,
    x-amz-content-sha256 and any others to sign) are final."""
    when = next(v for k, v in headers.items() if k.lower() == "x-amz-date")
    day = when[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    request, signed = canonical_request(method, path, params, headers, payload)
    to_sign = "\n".join([ALGORITHM, when, scope, hashlib.sha256(request.encode()).hexdigest()])
    signature = hmac.new(
        signing_key(secret_key, day, region, service), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    return (
        f"{ALGORITHM} Credential={access_key}/{scope},SignedHeaders={signed},Signature={signature}"
    )


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()
