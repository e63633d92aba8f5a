"""A follower's forwarding of requests to its primary (docs/decisions/009-read-replicas.md).

A follower is a standby started with `--primary URL` (fazt.backup.standby): it serves
static files and read-only API calls from its followed copy, and sends to the primary
what it must not answer itself: every write (any method but GET, HEAD and OPTIONS), every
request that runs an app's JavaScript (its storage reads must see its own writes), the
dashboard's pages and visitor sign-in (sessions are writes), analytics and short-link
hits, and for a while the reads of an API key that just wrote through this follower
(read-your-writes for `fazt deploy` and scripts).

Only ever to the configured primary: the URL's scheme, host and port are fixed when the
worker starts; the request contributes its method, path, query, headers and body, never
where the connection goes. Redirects from the primary are passed back, not followed.
"""

import hashlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from fazt.auth import clientip
from fazt.web.http import HTTPError, Request, Response, peer_ip

log = logging.getLogger("fazt")

CONNECT_TIMEOUT = 5.0  # seconds: a primary that does not accept by then is down
ANSWER_TIMEOUT = 300.0  # seconds: a big deploy is processed before the primary answers
BUFFER_MAX = 1024 * 1024  # answers up to this size are relayed in one write, bigger streamed
STICKY_SECONDS = 10.0  # reads of a key that wrote here go to the primary this long (> lag)
STICKY_MAX = 10_000  # remembered keys, at most (the oldest are forgotten first)
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",  # sent as it came, below, for the primary's routing
        "x-forwarded-for",  # rebuilt below
        "x-forwarded-proto",
    }
)


def check_primary(url: str) -> str:
    """The primary's base URL (scheme://host[:port]), or ValueError saying what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--primary must be an http:// or https:// URL, not {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"--primary takes scheme://host[:port] only, not {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def target_url(primary: str, path: str, query: str) -> Any:
    """The httpx.URL a request for `path?query` goes to: the primary's scheme, host and
    port whatever the path says (`//elsewhere/x` stays a path on the primary)."""
    import httpx

    if not path.startswith("/"):  # an absolute-form target names no other server here
        raise HTTPError(400, "BAD_PATH", "the request target must be a path")
    return httpx.URL(primary).copy_with(path=path, query=query.encode() or None)


class Forwarder:
    """Sends requests to the primary and passes its answers back."""

    def __init__(self, primary: str, trusted: tuple[clientip.Network, ...] = ()) -> None:
        self.primary = check_primary(primary)
        self.trusted = trusted  # trusted_proxies: whose X-Forwarded-Proto is believed
        self._writers: dict[str, float] = {}  # sha256(authorization) -> last write (monotonic)
        self._client: Any = None  # an httpx.AsyncClient, made at the first forward

    def recently_wrote(self, req: Request) -> bool:
        """Whether this request's API key wrote through this follower in the last
        STICKY_SECONDS (its reads then go to the primary, which has the write)."""
        token = req.header("authorization")
        if not token or not self._writers:
            return False
        at = self._writers.get(_digest(token))
        return at is not None and time.monotonic() - at < STICKY_SECONDS

    def _remember_writer(self, req: Request) -> None:
        token = req.header("authorization")
        if not token:
            return
        writers = self._writers
        writers.pop(key := _digest(token), None)
        writers[key] = time.monotonic()  # re-inserted: the dict stays oldest first
        while len(writers) > STICKY_MAX:
            del writers[next(iter(writers))]

    def _http(self) -> Any:
        if self._client is None:
            import httpx  # here: a worker that is not a follower never loads it

            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(ANSWER_TIMEOUT, connect=CONNECT_TIMEOUT),
                follow_redirects=False,
                # Kept-alive connections for as many requests as are usually in flight:
                # opening one per request costs more than the request (bench/follower.py).
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=128),
                trust_env=False,  # no proxy from the environment: straight to the primary
            )
        return self._client

    def headers_for(self, req: Request) -> list[tuple[str, str]]:
        """The request's headers as the primary gets them: hop-by-hop ones dropped, the
        client's address appended to X-Forwarded-For, X-Forwarded-Proto as seen here."""
        headers = [
            (name, value)
            for name, value in req.scope.headers.items()
            if name.lower() not in HOP_BY_HOP
        ]
        peer = peer_ip(req.scope.client or "")
        earlier = req.header("x-forwarded-for")  # the primary takes the right-most untrusted
        headers.append(("x-forwarded-for", f"{earlier}, {peer}" if earlier else peer))
        tls = getattr(req.scope, "scheme", "http") == "https"
        proto = clientip.scheme(tls, req.header("x-forwarded-proto"), peer, self.trusted)
        headers.append(("x-forwarded-proto", proto))
        headers.append(("host", req.host))
        return headers

    async def forward(self, req: Request) -> Response:
        """The primary's answer to `req`; 502 PRIMARY_UNREACHABLE / 504 PRIMARY_TIMEOUT
        when there is none (nothing was written here either way)."""
        import httpx

        url = target_url(self.primary, req.scope.path, req.scope.query_string)
        body = None if req.method in ("GET", "HEAD") else req.stream()
        try:
            sent = self._http().build_request(
                req.method, url, headers=self.headers_for(req), content=body
            )
            answer = await self._http().send(sent, stream=True)
        except httpx.TimeoutException as exc:
            raise _unreachable(504, "PRIMARY_TIMEOUT", self.primary, exc) from None
        except httpx.HTTPError as exc:
            raise _unreachable(502, "PRIMARY_UNREACHABLE", self.primary, exc) from None
        if req.method not in ("GET", "HEAD", "OPTIONS") and answer.status_code < 400:
            self._remember_writer(req)
        headers = [
            (name, value)
            for name, value in answer.headers.multi_items()
            if name.lower() not in HOP_BY_HOP
        ]
        headers.append(("x-fazt-served-by", "primary"))
        if req.method == "HEAD" or answer.status_code in (204, 304):
            await answer.aclose()
            return Response(answer.status_code, None, headers)
        length = answer.headers.get("content-length", "")
        if length.isdigit() and int(length) <= BUFFER_MAX:
            # One write: a stream's headers and body go out as two small packets, and the
            # second waits for the client's delayed ACK (measured: 40-50 ms per request).
            body = b"".join([chunk async for chunk in _relay(answer)])
            kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
            return Response(answer.status_code, body, kept)  # Granian sets the length
        return Response(answer.status_code, b"", headers, stream=_relay(answer))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


async def _relay(answer: Any) -> AsyncIterator[bytes]:
    """The primary's body as it arrives, still encoded (its content-length holds)."""
    try:
        async for chunk in answer.aiter_raw():
            yield chunk
    finally:
        await answer.aclose()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()  # no key kept in memory as it is


def _unreachable(status: int, code: str, primary: str, exc: Exception) -> HTTPError:
    log.warning("follower: forwarding to the primary %s failed: %s", primary, exc)
    what = "did not answer in time" if status == 504 else "is unreachable"
    return HTTPError(
        status,
        code,
        f"this server is a read-only follower and the primary {primary} {what} "
        f"({type(exc).__name__}): the request was not applied; try again later",
    )
