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

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from fazt.auth import clientip
from fazt.server.upstream import Upstream, UpstreamError, request_target
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
        "expect",  # a 100 Continue is the primary's to send; the body goes along at once
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
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        raise ValueError(f"--primary has a bad port: {url!r}") from None
    return f"{parts.scheme}://{parts.netloc}"


def target_url(path: str, query: str) -> str:
    """The request line's target for the primary: only a path and a query, so the
    connection's destination is the primary's whatever they say (`//elsewhere/x` stays a
    path there)."""
    if not path.startswith("/"):  # an absolute-form target names no other server here
        raise HTTPError(400, "BAD_PATH", "the request target must be a path")
    return request_target(path, query)


class Forwarder:
    """Sends requests to the primary and passes its answers back."""

    def __init__(self, primary: str, trusted: tuple[clientip.Network, ...] = ()) -> None:
        self.primary = check_primary(primary)
        self.trusted = trusted  # trusted_proxies: whose X-Forwarded-Proto is believed
        self._writers: dict[str, float] = {}  # sha256(authorization) -> last write (monotonic)
        self.upstream = Upstream(self.primary, CONNECT_TIMEOUT, ANSWER_TIMEOUT)

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
        target = target_url(req.scope.path, req.scope.query_string)
        has_body = req.header("content-length") not in (None, "0") or req.header(
            "transfer-encoding"
        )
        body = req.stream() if has_body and req.method not in ("GET", "HEAD") else None
        headers = self.headers_for(req)
        if body is None or req.header("transfer-encoding"):
            # No body sent, or one sent chunked (Transfer-Encoding overrides a length):
            # a Content-Length left in would make the primary read the wrong bytes.
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        try:
            answer = await self.upstream.request(req.method, target, headers, body)
        except UpstreamError as exc:
            if exc.timeout:
                raise _unreachable(504, "PRIMARY_TIMEOUT", self.primary, exc) from None
            raise _unreachable(502, "PRIMARY_UNREACHABLE", self.primary, exc) from None
        if req.method not in ("GET", "HEAD", "OPTIONS") and answer.status < 400:
            self._remember_writer(req)
        headers = [(k, v) for k, v in answer.headers if k.lower() not in HOP_BY_HOP]
        headers.append(("x-fazt-served-by", "primary"))
        if req.method == "HEAD" or answer.status in (204, 304):
            return Response(answer.status, None, headers)
        if answer.length is not None and answer.length <= BUFFER_MAX:
            # One write: a stream's headers and body go out as two small packets, and the
            # second waits for the client's delayed ACK (measured: 40-50 ms per request).
            try:
                body_bytes = b"".join([chunk async for chunk in answer.body])
            except (UpstreamError, OSError, asyncio.IncompleteReadError) as exc:
                raise _unreachable(502, "PRIMARY_UNREACHABLE", self.primary, exc) from None
            kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
            return Response(answer.status, body_bytes, kept)  # Granian sets the length
        return Response(answer.status, b"", headers, stream=_relay(answer.body))

    async def close(self) -> None:
        await self.upstream.close()


async def _relay(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A big or chunked answer as it arrives; cut short if the primary goes away (the
    client sees a body shorter than its length, or an unfinished chunked one)."""
    try:
        async for chunk in body:
            yield chunk
    except (UpstreamError, OSError, asyncio.IncompleteReadError) as exc:
        log.warning("follower: the primary's answer broke off: %s", exc)
    finally:
        await body.aclose()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()  # no key kept in memory as it is


def _unreachable(status: int, code: str, primary: str, exc: Exception) -> HTTPError:
    log.warning("follower: forwarding to the primary %s failed: %s", primary, exc)
    what = "did not answer in time" if status == 504 else "is unreachable"
    return HTTPError(
        status,
        code,
        f"this server is a read-only follower and the primary {primary} {what} "
        f"({exc}): the request was not applied; try again later",
    )
