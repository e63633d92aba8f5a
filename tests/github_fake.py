"""A stand-in for GitHub's OAuth 2 web flow and /user API, in the layout of a GitHub
Enterprise Server (API under /api/v3), on loopback: authorize (auto-consent), token
(client secret and PKCE checked), /user, /user/emails."""

import base64
import hashlib
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit


class FakeGitHub:
    def __init__(self, client_id: str, client_secret: str) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.user = {"id": 42, "login": "octo", "name": None, "avatar_url": "http://a/o.png"}
        self.emails = [
            {"email": "spoof@corp.test", "verified": False, "primary": False},
            {"email": "octo@example.test", "verified": True, "primary": True},
        ]
        self.codes: dict[str, dict] = {}
        self.tokens: set[str] = set()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeGitHub":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gh = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: object, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/login/oauth/authorize":
                    q = dict(parse_qsl(parts.query))
                    if (
                        q.get("client_id") != gh.client_id
                        or q.get("code_challenge_method") != "S256"
                    ):
                        self._send(400, {"error": "bad request"})
                        return
                    code = secrets.token_urlsafe(8)
                    gh.codes[code] = q
                    back = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
                    self._send(302, {}, {"location": back})
                    return
                token = (self.headers.get("authorization") or "").removeprefix("Bearer ")
                if token not in gh.tokens:
                    self._send(401, {"message": "Bad credentials"})
                elif parts.path == "/api/v3/user":
                    self._send(200, gh.user)
                elif parts.path == "/api/v3/user/emails":
                    self._send(200, gh.emails)
                else:
                    self._send(404, {"message": "Not Found"})

            def do_POST(self) -> None:
                form = dict(
                    parse_qsl(self.rfile.read(int(self.headers["content-length"])).decode())
                )
                grant = gh.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                pkce = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
                ok = (
                    grant is not None
                    and form.get("client_secret") == gh.client_secret
                    and pkce.decode() == grant["code_challenge"]
                )
                if not ok:
                    self._send(200, {"error": "bad_verification_code"})  # as GitHub does
                    return
                token = secrets.token_urlsafe(16)
                gh.tokens.add(token)
                self._send(200, {"access_token": token, "token_type": "bearer"})

        return Handler
