"""fazt.runtime.net.AppNet in-process, with a resolver the test controls: the connection
goes to the address that was checked (one lookup, no second one for the HTTP client to
be rebound by), and one bad address among the answers refuses the name."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fazt.db import Database
from fazt.hosting.deployments import ensure_site
from fazt.runtime import netrules
from fazt.runtime.net import AppNet
from fazt.runtime.worker import LocalDB


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append(self.headers.get("host"))  # type: ignore[attr-defined]
        self.server.headers.append(dict(self.headers))  # type: ignore[attr-defined]
        if self.path.startswith("/go?to="):
            self.send_response(302)
            self.send_header("location", self.path[len("/go?to=") :])
            self.send_header("content-length", "0")
            self.end_headers()
            return
        data = b'{"ok": true}'
        self.send_response(200)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _serve() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.seen = []  # type: ignore[attr-defined]
    srv.headers = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def local() -> Iterator[ThreadingHTTPServer]:
    yield from _serve()


@pytest.fixture
def other() -> Iterator[ThreadingHTTPServer]:
    yield from _serve()


@pytest.fixture
def db(tmp_path) -> LocalDB:
    path = tmp_path / "data.db"
    with Database.open(path):
        pass
    local = LocalDB(str(path))
    local.write_sync(ensure_site, "app")
    return local


def resolver(*addresses: str) -> tuple[list, object]:
    calls: list = []

    def resolve(host, port, type=0):
        calls.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, type, 6, "", (a, port))
            for a in addresses
        ]

    return calls, resolve


def app_net(db: LocalDB, rule: str) -> AppNet:
    db.write_sync(netrules.set_rule, "app", rule, "allow")
    return AppNet(db, "app", 0, time.monotonic() + 10)


def test_the_checked_address_is_the_one_connected_to(db, local, monkeypatch) -> None:
    port = local.server_address[1]
    monkeypatch.setenv("FAZT_TEST_NET_LOOPBACK", str(port))
    net = app_net(db, f"rebind.invalid:{port}")
    calls, net.resolve = resolver("127.0.0.1")
    out = json.loads(net.fetch(f"http://rebind.invalid:{port}/x", "{}", "0" * 16))
    assert out["status"] == 200, out  # the name does not exist: no second lookup happened
    assert calls == ["rebind.invalid"]
    assert local.seen == [f"rebind.invalid:{port}"]  # Host is the name, not the address
    assert out["log"].startswith(f"fetch GET rebind.invalid:{port}/x -> 200 (")


@pytest.mark.parametrize("answers", [("93.184.216.34", "127.0.0.1"), ("10.0.0.7",), ("::1",)])
def test_one_refused_answer_refuses_the_name(db, local, monkeypatch, answers) -> None:
    port = local.server_address[1]
    monkeypatch.delenv("FAZT_TEST_NET_LOOPBACK", raising=False)
    net = app_net(db, f"rebind.invalid:{port}")
    _, net.resolve = resolver(*answers)
    out = json.loads(net.fetch(f"http://rebind.invalid:{port}/", "{}", "0" * 16))
    assert "refused to connect" in out["error"], out
    assert local.seen == []


def test_the_budget_is_counted_before_the_checks(db, monkeypatch) -> None:
    net = app_net(db, "example.com")
    db.write_sync(lambda c: c.execute("INSERT INTO settings VALUES ('net_requests_per_minute', 2)"))
    monkeypatch.setattr("fazt.runtime.net._settings_cache", (0.0, {}))
    errors = [json.loads(net.fetch("http://nope.invalid/", "{}", "0" * 16))["error"] for _ in "abc"]
    assert "allowlist" in errors[0] and "allowlist" in errors[1]
    assert "budget of 2 requests a minute" in errors[2]


def test_credentials_and_secrets_stay_with_their_origin(db, local, other, monkeypatch) -> None:
    a, b = local.server_address[1], other.server_address[1]
    monkeypatch.setenv("FAZT_TEST_NET_LOOPBACK", f"{a},{b}")
    db.write_sync(
        lambda c: c.execute(
            "INSERT INTO app_env (app, name, value, secret, created_at, updated_at) "
            "VALUES ('app', 'KEY', 'v4lue', 1, '', '')"
        )
    )
    net = app_net(db, f"127.0.0.1:{a}")
    db.write_sync(netrules.set_rule, "app", f"127.0.0.1:{b}", "allow")
    nonce = "ab" * 8
    marker = "{{fazt-secret:" + nonce + ":KEY}}"
    headers = {"authorization": "Bearer x", "x-key": marker, "x-plain": "kept"}
    options = json.dumps({"headers": headers})
    out = json.loads(
        net.fetch(f"http://127.0.0.1:{a}/go?to=/go?to=http://127.0.0.1:{b}/end", options, nonce)
    )
    assert out["status"] == 200 and out["redirected"] is True, out
    first, same_origin = local.headers
    assert first["x-key"] == same_origin["x-key"] == "v4lue"
    assert same_origin["authorization"] == "Bearer x"
    (moved,) = other.headers
    assert "x-key" not in moved and "authorization" not in moved
    assert moved["x-plain"] == "kept"


def _cert(directory, name: str) -> tuple[str, str]:
    """A self-signed certificate (its own CA) for the DNS name `name` only."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.mark.parametrize("served", ["tls.invalid", "other.invalid"])
def test_https_to_the_checked_address_verifies_the_name(db, tmp_path, monkeypatch, served):
    """The URL names the address, yet TLS sends the name (SNI) and checks the certificate
    against it: the right certificate passes, another name's fails."""
    import ssl

    from fazt.runtime import net

    cert, key = _cert(tmp_path, served)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.seen, srv.headers = [], []  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    sni: list = []
    context.sni_callback = lambda sock, name, ctx: sni.append(name)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        port = srv.server_address[1]
        monkeypatch.setenv("FAZT_TEST_NET_LOOPBACK", str(port))
        trust = ssl.create_default_context(cafile=cert)
        monkeypatch.setattr(net, "_client", net.make_client(trust))
        app = app_net(db, f"tls.invalid:{port}")
        _, app.resolve = resolver("127.0.0.1")
        out = json.loads(app.fetch(f"https://tls.invalid:{port}/", "{}", "0" * 16))
        assert sni == ["tls.invalid"]
        if served == "tls.invalid":
            assert out["status"] == 200, out
            assert srv.seen == [f"tls.invalid:{port}"]  # type: ignore[attr-defined]
        else:
            assert "certificate" in out["error"].lower() or "ssl" in out["error"].lower(), out
            assert srv.seen == []  # type: ignore[attr-defined]
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.mark.parametrize(
    "headers, message",
    [
        ({"x-a": "caf\u00e9"}, "is not ASCII"),
        ({"x-a": "a\r\nx-b: c"}, "line break"),
        ({"host": "evil.com"}, "set by fetch itself"),
        ({"bad name": "x"}, "invalid header"),
    ],
)
def test_bad_headers_are_refused_before_sending(db, local, monkeypatch, headers, message):
    port = local.server_address[1]
    monkeypatch.setenv("FAZT_TEST_NET_LOOPBACK", str(port))
    net = app_net(db, f"127.0.0.1:{port}")
    out = json.loads(net.fetch(f"http://127.0.0.1:{port}/", json.dumps({"headers": headers}), ""))
    assert message in out["error"], out
    assert out["log"].startswith("fetch GET ") and "failed" in out["log"]
    assert local.seen == []
