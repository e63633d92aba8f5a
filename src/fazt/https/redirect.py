"""The plain-HTTP listener in HTTPS mode: ACME HTTP-01 answers, everything else -> https.

A site whose name the served certificate does not cover yet (its certificate is being
issued, its validation failed, or it is past the 100-name limit) is served here over plain
HTTP instead: a redirect would only lead to a certificate warning. The dashboard is always
redirected, so a login never travels in clear.
"""

from collections.abc import Callable
from typing import Any

from fazt.db import Database
from fazt.hosting import routing
from fazt.hosting.routing import normalise_host
from fazt.https import store

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
TEXT = [("content-type", "text/plain; charset=utf-8")]


class RedirectApp:
    """An RSGI app: ACME challenge answers from the database; 308 to https for names the
    certificate covers (and always for the dashboard); other names served as over HTTP."""

    def __init__(
        self, db: Database, https_port: int, app: Any, covered: Callable[[str], bool]
    ) -> None:
        self.db = db
        self.port_suffix = "" if https_port == 443 else f":{https_port}"
        self.app = app  # the FaztApp, for sites without a certificate yet
        self.covered = covered  # is this name in the certificate being served?

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            await self.app.__rsgi__(scope, proto)  # websockets: the app decides
            return
        path = scope.path
        if path.startswith(CHALLENGE_PREFIX) and scope.method in ("GET", "HEAD"):
            token = path[len(CHALLENGE_PREFIX) :]
            answer = await self.db.read(store.challenge, token) if _token_ok(token) else None
            if answer is None:
                proto.response_bytes(404, TEXT, b"no such challenge\n")
            else:
                proto.response_bytes(200, TEXT, answer.encode())
            return
        host = normalise_host(scope.headers.get("host") or scope.authority)
        if host is None:
            proto.response_bytes(400, TEXT, b"missing or malformed Host header\n")
            return
        if not self.covered(host):
            target = self.app.state.routing.resolve(host)
            if target.kind != routing.DASHBOARD:
                await self.app.__rsgi__(scope, proto)
                return
        query = f"?{scope.query_string}" if scope.query_string else ""
        location = f"https://{host}{self.port_suffix}{path}{query}"
        # 308 keeps the method and body (a POST stays a POST), unlike 301.
        proto.response_bytes(308, [("location", location), *TEXT], b"")


def _token_ok(token: str) -> bool:
    """ACME tokens are base64url; anything else is not worth a database read."""
    return 0 < len(token) <= 128 and all(c.isalnum() or c in "-_" for c in token)
