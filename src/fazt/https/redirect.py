"""The plain-HTTP listener in HTTPS mode: ACME HTTP-01 answers, everything else -> https."""

from typing import Any

from fazt.db import Database
from fazt.hosting.routing import normalise_host
from fazt.https import store

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
TEXT = [("content-type", "text/plain; charset=utf-8")]


class RedirectApp:
    """An RSGI app: `/.well-known/acme-challenge/<token>` from the database, else 308."""

    def __init__(self, db: Database, https_port: int) -> None:
        self.db = db
        self.port_suffix = "" if https_port == 443 else f":{https_port}"

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            proto.close(404)
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
        query = f"?{scope.query_string}" if scope.query_string else ""
        location = f"https://{host}{self.port_suffix}{path}{query}"
        # 308 keeps the method and body (a POST stays a POST), unlike 301.
        proto.response_bytes(308, [("location", location), *TEXT], b"")


def _token_ok(token: str) -> bool:
    """ACME tokens are base64url; anything else is not worth a database read."""
    return 0 < len(token) <= 128 and all(c.isalnum() or c in "-_" for c in token)
