"""A minimal OpenID Connect provider for tests, on loopback: discovery, authorize (the
test user consents automatically), token (client secret, PKCE S256 checked), JWKS, ID
tokens signed RS256 with `cryptography`.

It is a real HTTP server that the fazt server process talks to. Knobs for the refusal
tests: `claims` (merged into the next ID tokens: a wrong nonce, an old exp),
`sign_with_other_key` (a key the JWKS does not publish).
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(n: int) -> str:
    return _b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class OidcProvider:
    def __init__(self, client_id: str, client_secret: str, redirect_uris: set[str]) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uris = redirect_uris
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.user = {"sub": "alice-1", "email": "alice@example.test", "name": "Alice"}
        self.claims: dict[str, Any] = {}
        self.sign_with_other_key = False
        self.codes: dict[str, dict] = {}
        self.token_requests = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "OidcProvider":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    # -- what the endpoints answer ----------------------------------------------------

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        jwk = {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256"}
        return {"keys": [{**jwk, "n": _int(numbers.n), "e": _int(numbers.e)}]}

    def authorize(self, q: dict[str, str]) -> tuple[int, dict, str]:
        """Auto-consent for the test user; 400 for anything a real provider refuses."""
        if q.get("client_id") != self.client_id or q.get("redirect_uri") not in self.redirect_uris:
            return 400, {}, "unknown client or redirect_uri"
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
            return 400, {}, "code flow with PKCE S256 only"
        if not q.get("code_challenge") or not q.get("nonce") or not q.get("state"):
            return 400, {}, "missing code_challenge, nonce or state"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**q, "user": dict(self.user)}
        query = urlencode({"code": code, "state": q["state"]})
        return 302, {"location": f"{q['redirect_uri']}?{query}"}, ""

    def token(self, form: dict[str, str]) -> tuple[int, dict]:
        self.token_requests += 1
        grant = self.codes.pop(form.get("code", ""), None)
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return 401, {"error": "invalid_client"}
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **grant["user"],
            **self.claims,
        }
        return 200, {"access_token": "at", "token_type": "Bearer", "id_token": self.sign(claims)}

    def sign(self, claims: dict) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": "k1"}
        signed = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        key = self.other_key if self.sign_with_other_key else self.key
        signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{_b64(signature)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(self, status: int, body: Any, headers: dict | None = None) -> None:
                data = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/openid-configuration":
                    self._send(200, provider.discovery())
                elif parts.path == "/jwks":
                    self._send(200, provider.jwks())
                elif parts.path == "/authorize":
                    status, headers, text = provider.authorize(dict(parse_qsl(parts.query)))
                    self._send(status, text, headers)
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                if urlsplit(self.path).path != "/token":
                    self._send(404, {"error": "not_found"})
                    return
                status, body = provider.token(form)
                self._send(status, body)

        return Handler
