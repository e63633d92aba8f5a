"""HTTPS with ACME against Pebble (Let's Encrypt's test CA, Debian package `pebble`).

Everything runs on loopback with unprivileged ports. `pebble-challtestsrv` (same package)
is Pebble's DNS server: it answers A 127.0.0.1 for every name (AAAA disabled), and its
management API lets a test point one name elsewhere to make its validation fail.
Pebble validates HTTP-01 on its configured `httpPort`, which is the server's --http-port.
"""

import datetime
import json
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import fazt_cmd, free_port, init_server, wait_for, write_site

DOMAIN = "example.test"
PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"


def trusting(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


@dataclass
class Pebble:
    directory: str
    ca_bundle: Path  # the certificate of Pebble's own HTTPS listener
    mgmt: str
    dns_mgmt: str
    http_port: int
    procs: list[subprocess.Popen]
    log: Path

    def root_pem(self) -> str:
        """The root that signs the certificates Pebble issues (new each Pebble run)."""
        r = httpx.get(f"{self.mgmt}/roots/0", verify=trusting(self.ca_bundle), timeout=5)
        r.raise_for_status()
        return r.text

    def point(self, host: str, address: str) -> None:
        """Make Pebble's DNS answer `address` for `host`."""
        r = httpx.post(
            f"{self.dns_mgmt}/add-a", json={"host": host, "addresses": [address]}, timeout=5
        )
        r.raise_for_status()

    def unpoint(self, host: str) -> None:
        """Back to the default answer, 127.0.0.1."""
        httpx.post(f"{self.dns_mgmt}/clear-a", json={"host": host}, timeout=5).raise_for_status()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _listener_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for Pebble's own HTTPS API on 127.0.0.1."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "pebble.crt", directory / "pebble.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def start_pebble(directory: Path, validity_seconds: int | None = None) -> Pebble:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = _listener_cert(directory)
    acme_port, mgmt_port, http_port = free_port(), free_port(), free_port()
    dns_port, dns_mgmt_port = free_port(), free_port()
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{acme_port}",
            "managementListenAddress": f"127.0.0.1:{mgmt_port}",
            "certificate": str(cert),
            "privateKey": str(key),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    if validity_seconds:
        config["pebble"]["certificateValidityPeriod"] = validity_seconds
    (directory / "pebble.json").write_text(json.dumps(config))
    log = directory / "pebble.log"
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    with log.open("w") as out:
        dns = subprocess.Popen(
            [
                CHALLTESTSRV,
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
                "-dns01",
                f"127.0.0.1:{dns_port}",
                "-management",
                f"127.0.0.1:{dns_mgmt_port}",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        pebble = subprocess.Popen(
            [
                PEBBLE,
                "-config",
                str(directory / "pebble.json"),
                "-dnsserver",
                f"127.0.0.1:{dns_port}",
                "-strict=false",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    peb = Pebble(
        directory=f"https://127.0.0.1:{acme_port}/dir",
        ca_bundle=cert,
        mgmt=f"https://127.0.0.1:{mgmt_port}",
        dns_mgmt=f"http://127.0.0.1:{dns_mgmt_port}",
        http_port=http_port,
        procs=[dns, pebble],
        log=log,
    )

    def up() -> bool:
        for proc in peb.procs:
            if proc.poll() is not None:
                raise AssertionError(f"pebble exited:\n{log.read_text()}")
        try:
            httpx.get(peb.directory, verify=trusting(cert), timeout=1).raise_for_status()
            httpx.get(f"{peb.dns_mgmt}/", timeout=1)
            return True
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 15, what="pebble to start")
    except BaseException:
        peb.stop()
        raise
    return peb


@pytest.fixture(scope="module")
def pebble(tmp_path_factory) -> Pebble:
    peb = start_pebble(tmp_path_factory.mktemp("pebble"))
    yield peb
    peb.stop()


def https_server(home: Path, peb: Pebble, *extra: str):
    """A fazt server (not started) configured for HTTPS against `peb` via the CLI options."""
    srv = init_server(
        home,
        {"https_debounce_seconds": "0.3", "https_retry_base_seconds": "1"},
        "--domain",
        DOMAIN,
    )
    srv.https_port = free_port()
    srv.http_port = peb.http_port
    srv.extra_args = [
        "--https",
        "--email",
        "ops@example.test",
        "--acme-directory",
        peb.directory,
        "--acme-ca-bundle",
        str(peb.ca_bundle),
        "--https-host",
        "127.0.0.1",
        "--http-port",
        str(peb.http_port),
        "--https-port",
        str(srv.https_port),
        *extra,
    ]
    return srv


def tls_get(srv, root: Path, name: str, path: str = "/", **kw) -> httpx.Response:
    """GET https://<name><path> from the server on 127.0.0.1, verifying against `root`."""
    headers = {"host": name, **kw.pop("headers", {})}
    with httpx.Client(verify=trusting(root), timeout=10) as client:
        return client.get(
            f"https://127.0.0.1:{srv.https_port}{path}",
            headers=headers,
            extensions={"sni_hostname": name},
            **kw,
        )


def served_certificate(srv, name: str) -> x509.Certificate:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", srv.https_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def cert_names(cert: x509.Certificate) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return set(san.value.get_values_for_type(x509.DNSName))


def https_status(srv) -> dict:
    out = srv.cli("server", "status", "--json", "--db", str(srv.db))
    return json.loads(out.stdout)["https"]


def wait_served(srv, name: str, deadline: float = 40) -> x509.Certificate:
    """Wait until the TLS listener presents a certificate from the CA that covers `name`."""

    def check():
        try:
            cert = served_certificate(srv, name)
        except OSError:
            return None
        is_pebble = "Pebble" in cert.issuer.rfc4514_string()
        return cert if is_pebble and name in cert_names(cert) else None

    return wait_for(check, deadline, 0.2, what=f"a certificate for {name}\n{srv.output()}")


@pytest.fixture(scope="module")
def root_ca(pebble, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("root") / "pebble-root.pem"
    path.write_text(pebble.root_pem())
    return path


@pytest.fixture(scope="module")
def https(pebble, tmp_path_factory):
    """One HTTPS fazt server for the module (issuing a certificate costs a few seconds)."""
    srv = https_server(tmp_path_factory.mktemp("https") / "home", pebble)
    try:
        with srv.serving():
            yield srv
    finally:
        srv.http.close()


# -- tests --------------------------------------------------------------------------------


def test_issues_a_certificate_at_start_for_the_apex_and_dashboard(https, root_ca):
    cert = wait_served(https, f"admin.{DOMAIN}")
    assert {DOMAIN, f"admin.{DOMAIN}"} <= cert_names(cert)
    r = tls_get(https, root_ca, f"admin.{DOMAIN}", "/health")
    assert r.status_code == 200 and r.json()["data"]["status"]
    info = https_status(https)
    assert info["enabled"] is True
    assert set(info["certificate"]["names"]) == {DOMAIN, f"admin.{DOMAIN}"}
    assert info["certificate"]["expired"] is False
    # The key is in the database, never in the status or the log.
    assert "PRIVATE KEY" not in json.dumps(info) and "PRIVATE KEY" not in https.output()
    conn = sqlite3.connect(https.db)
    try:
        assert "PRIVATE KEY" in conn.execute("SELECT key_pem FROM acme_accounts").fetchone()[0]
    finally:
        conn.close()


def test_runtime_files_are_private(https):
    wait_served(https, f"admin.{DOMAIN}")
    run_dir = https.home / "run" / "tls"
    assert run_dir.stat().st_mode & 0o777 == 0o700
    files = list(run_dir.iterdir())
    assert files and all(f.stat().st_mode & 0o777 == 0o600 for f in files)


def test_serves_http2_and_http11(https):
    wait_served(https, f"admin.{DOMAIN}")
    for offered, expected in ((["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1")):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(offered)
        with (
            socket.create_connection(("127.0.0.1", https.https_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=f"admin.{DOMAIN}") as tls,
        ):
            assert tls.selected_alpn_protocol() == expected


def test_new_site_gets_into_the_certificate_and_is_served_over_https(https, root_ca, tmp_path):
    wait_served(https, f"admin.{DOMAIN}")
    site = write_site(tmp_path / "blog", {"index.html": "<h1>blog over tls</h1>"})
    result = https.deploy(site, "blog")
    assert result["url"] == f"https://blog.{DOMAIN}:{https.https_port}"
    assert result["certificate"] in ("pending", "ready")
    wait_served(https, f"blog.{DOMAIN}")
    r = tls_get(https, root_ca, f"blog.{DOMAIN}")
    assert r.status_code == 200 and "blog over tls" in r.text
    # The scheme is visible to the app: the API answers with https URLs.
    apps = https.api("GET", "/api/apps/blog").json()["data"]
    assert json.dumps(apps).count("http://") == 0
    # Deploying again now reports the certificate as ready (once the worker serving the
    # new certificate has taken over from the one it replaces).
    wait_for(
        lambda: https.deploy(site, "blog")["certificate"] == "ready",
        15,
        0.5,
        what="the deploy answer to report the certificate ready",
    )
    text = https.cli("deploy", str(site), "--site", "blog").stdout
    assert f"https://blog.{DOMAIN}:{https.https_port}" in text
    assert "HTTPS certificate: ready" in text


def test_http_port_redirects_to_https_and_answers_challenges(https, tmp_path):
    https.deploy(write_site(tmp_path / "blog", {"index.html": "blog"}), "blog")
    wait_served(https, f"blog.{DOMAIN}")
    base = f"http://127.0.0.1:{https.http_port}"
    r = httpx.get(f"{base}/some/path?x=1&y=2", headers={"host": f"blog.{DOMAIN}"})
    assert r.status_code == 308
    assert r.headers["location"] == f"https://blog.{DOMAIN}:{https.https_port}/some/path?x=1&y=2"
    r = httpx.post(f"{base}/api/deploy", headers={"host": f"admin.{DOMAIN}"})
    assert r.status_code == 308  # the method is kept by the client on 308
    # The dashboard is always redirected, even for a name the certificate lacks.
    r = httpx.get(f"{base}/health", headers={"host": "localhost"})
    assert r.status_code == 308
    assert httpx.get(f"{base}/", headers={"host": "bad host"}).status_code == 400
    # Challenge answers come from the database (any worker can answer).
    conn = sqlite3.connect(https.db)
    try:
        with conn:
            conn.execute(
                "INSERT INTO acme_challenges (token, key_authorization, created_at) "
                "VALUES ('tok_123-abc', 'tok_123-abc.thumb', '2026-01-01T00:00:00.000000Z')"
            )
    finally:
        conn.close()
    r = httpx.get(f"{base}/.well-known/acme-challenge/tok_123-abc", headers={"host": DOMAIN})
    assert r.status_code == 200 and r.text == "tok_123-abc.thumb"
    r = httpx.get(f"{base}/.well-known/acme-challenge/unknown", headers={"host": DOMAIN})
    assert r.status_code == 404
    r = httpx.get(f"{base}/.well-known/acme-challenge/../../etc", headers={"host": DOMAIN})
    assert r.status_code in (308, 404)


def test_certificates_api(https):
    wait_served(https, f"admin.{DOMAIN}")
    r = https.api("GET", "/api/certificates")
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["enabled"] is True and DOMAIN in data["certificate"]["names"]
    assert "PRIVATE KEY" not in r.text
    deploy_key = https.create_key("ci", "deploy")
    assert https.api("GET", "/api/certificates", token=deploy_key).status_code == 403
    assert https.request("GET", "/api/certificates").status_code == 401


def test_failing_validation_is_reported_retried_and_others_keep_serving(
    https, pebble, root_ca, tmp_path
):
    wait_served(https, f"admin.{DOMAIN}")
    site = write_site(tmp_path / "shop", {"index.html": "shop"})
    https.deploy(site, "shop")
    # DNS for the custom domain points elsewhere: its HTTP-01 validation fails.
    pebble.point("shop.example.org", "127.0.0.2")
    https.cli("domain", "add", "shop.example.org", "shop")

    def failure():
        info = https_status(https)
        return info["name_failures"].get("shop.example.org")

    try:
        failed = wait_for(failure, 40, 0.3, what="the failure to be recorded")
    except AssertionError:
        raise AssertionError(https.output()) from None
    assert failed["error"] and failed["failures"] >= 1
    # Without a certificate, the http port serves the site instead of redirecting to a
    # certificate warning.
    plain = f"http://127.0.0.1:{https.http_port}/"
    r = httpx.get(plain, headers={"host": "shop.example.org"})
    assert r.status_code == 200 and r.text == "shop"
    # The other names still get their certificate and keep serving meanwhile.
    wait_served(https, f"shop.{DOMAIN}")
    assert tls_get(https, root_ca, f"admin.{DOMAIN}", "/health").status_code == 200
    api = https.api("GET", "/api/certificates").json()["data"]
    assert "shop.example.org" in api["name_failures"]
    text = https.cli("server", "status", "--db", str(https.db)).stdout
    assert "shop.example.org failed" in text
    # It is retried with backoff: once DNS is fixed, it gets in.
    pebble.unpoint("shop.example.org")
    wait_served(https, "shop.example.org", deadline=60)
    r = tls_get(https, root_ca, "shop.example.org")
    assert r.status_code == 200 and r.text == "shop"
    wait_for(
        lambda: httpx.get(plain, headers={"host": "shop.example.org"}).status_code == 308,
        10,
        what="the http port to redirect the now-covered name",
    )
    assert "shop.example.org" not in https_status(https)["name_failures"]


def test_no_request_fails_while_a_new_certificate_is_loaded(https, root_ca, tmp_path):
    wait_served(https, f"admin.{DOMAIN}")
    before = served_certificate(https, f"admin.{DOMAIN}").serial_number
    errors: list[str] = []
    done = threading.Event()
    count = 0

    def hammer():
        nonlocal count
        while not done.is_set():
            try:
                # A new connection (and TLS handshake) per request, through the handover.
                r = tls_get(https, root_ca, f"admin.{DOMAIN}", "/health")
                if r.status_code != 200:
                    errors.append(f"status {r.status_code}")
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            count += 1

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        https.deploy(write_site(tmp_path / "news", {"index.html": "news"}), "news")
        wait_served(https, f"news.{DOMAIN}")
        wait_for(
            lambda: served_certificate(https, f"admin.{DOMAIN}").serial_number != before,
            20,
            what="the new certificate on every connection",
        )
        time.sleep(0.5)  # keep requesting while the old listener drains
    finally:
        done.set()
        thread.join(30)
    assert count > 10
    assert errors == []


def test_ca_down_is_reported_and_retried_while_http_keeps_serving(tmp_path, pebble):
    srv = https_server(tmp_path / "home", pebble)
    dead = free_port()
    srv.extra_args[srv.extra_args.index("--acme-directory") + 1] = f"https://127.0.0.1:{dead}/dir"
    # Pebble's validation port belongs to the module's server; this one needs its own.
    srv.http_port = free_port()
    srv.extra_args[srv.extra_args.index("--http-port") + 1] = str(srv.http_port)
    srv.start()
    try:

        def failed_twice():
            info = https_status(srv)
            return info if info["failures"] >= 2 else None

        info = wait_for(failed_twice, 30, 0.3, what="two failed attempts")
        assert "cannot reach the CA" in info["last_error"]
        assert info["next_attempt_at"] and info["certificate"] is None
        assert srv.get("/health").status_code == 200  # the local listener keeps serving
        # The TLS port is up (with a placeholder) so nothing waits on the CA.
        served = served_certificate(srv, DOMAIN)
        assert "pending" in served.subject.rfc4514_string()
    finally:
        srv.stop()
        srv.kill()
        srv.http.close()


def test_renews_at_two_thirds_of_a_short_lifetime(tmp_path):
    peb = start_pebble(tmp_path / "pebble-short", validity_seconds=12)
    try:
        srv = https_server(tmp_path / "home", peb)
        srv.start()
        try:
            first = wait_served(srv, DOMAIN)
            lifetime = first.not_valid_after_utc - first.not_valid_before_utc
            assert lifetime <= datetime.timedelta(seconds=13)

            def renewed():
                cert = wait_served(srv, DOMAIN)
                return cert if cert.serial_number != first.serial_number else None

            second = wait_for(renewed, 30, 0.3, what="a renewed certificate")
            # Renewed before the old one expired, not after.
            assert second.not_valid_before_utc < first.not_valid_after_utc
            stored = https_status(srv)["certificate"]["not_after"]
            assert stored > first.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%S")
        finally:
            srv.stop()
            srv.kill()
            srv.http.close()
    finally:
        peb.stop()


def test_start_refuses_https_without_a_domain_or_email(tmp_path):
    from tests.conftest import run_cli

    home = tmp_path / "home"
    home.mkdir()
    db = str(home / "data.db")
    port = str(free_port())
    r = run_cli(home, "server", "start", "--db", db, "--port", port, "--https", check=False)
    assert r.returncode != 0 and "public domain" in r.stderr
    r = run_cli(
        home,
        "server",
        "start",
        "--db",
        db,
        "--port",
        port,
        "--https",
        "--domain",
        DOMAIN,
        check=False,
    )
    assert r.returncode != 0 and "--email" in r.stderr
    conn = sqlite3.connect(db)
    try:
        enabled = conn.execute("SELECT value FROM settings WHERE key = 'https_enabled'").fetchone()
    finally:
        conn.close()
    assert enabled is None  # nothing was saved


@pytest.fixture
def own_pebble(tmp_path) -> Pebble:
    """A Pebble for one test (the module's validates on the module server's http port)."""
    peb = start_pebble(tmp_path / "own-pebble")
    yield peb
    peb.stop()


def test_without_a_supervisor_the_worker_swaps_its_own_tls_listener(tmp_path, own_pebble):
    """`fazt server worker` run alone (no supervisor to hand over to) loads a new
    certificate by starting a second TLS listener and draining the first; with --hsts."""
    pebble = own_pebble
    root_ca = tmp_path / "root.pem"
    root_ca.write_text(pebble.root_pem())
    https_port = free_port()
    srv = init_server(
        tmp_path / "home",
        {
            "https_enabled": "1",
            "https_email": "ops@example.test",
            "https_directory": pebble.directory,
            "https_ca_bundle": str(pebble.ca_bundle),
            "https_host": "127.0.0.1",
            "https_http_port": str(pebble.http_port),
            "https_https_port": str(https_port),
            "https_hsts": "1",
            "https_debounce_seconds": "0.3",
            "https_retry_base_seconds": "1",
        },
        "--domain",
        DOMAIN,
    )
    srv.https_port = https_port
    env = {k: v for k, v in os.environ.items() if k != "FAZT_SUPERVISOR_PID"}
    env["FAZT_HOME"] = str(srv.home)
    log = srv.home / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [
                *fazt_cmd(),
                "server",
                "worker",
                "--host",
                "127.0.0.1",
                "--port",
                str(srv.port),
                "--db",
                str(srv.db),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    srv.log = log
    try:
        wait_served(srv, f"admin.{DOMAIN}")
        r = tls_get(srv, root_ca, f"admin.{DOMAIN}", "/health")
        assert r.headers["strict-transport-security"].startswith("max-age=31536000")
        assert "strict-transport-security" not in srv.get("/health").headers  # plain port
        before = served_certificate(srv, DOMAIN).serial_number
        errors: list[str] = []
        done = threading.Event()

        def hammer():
            while not done.is_set():
                try:
                    r = tls_get(srv, root_ca, DOMAIN, "/")
                    if r.status_code not in (200, 404):
                        errors.append(f"status {r.status_code}")
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))

        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            srv.deploy(write_site(tmp_path / "docs", {"index.html": "docs"}), "docs")
            wait_served(srv, f"docs.{DOMAIN}")
            wait_for(
                lambda: served_certificate(srv, DOMAIN).serial_number != before,
                10,
                what="only the new certificate to be served",
            )
        finally:
            done.set()
            thread.join(30)
        assert errors == []
        assert worker.poll() is None  # the same process swapped its listener
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        srv.http.close()
    assert not (srv.home / "run" / "tls").exists()  # the key files went with the worker


def test_start_refuses_https_ports_in_use(tmp_path):
    from tests.conftest import run_cli

    home = tmp_path / "home"
    home.mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        r = run_cli(
            home,
            "server",
            "start",
            "--db",
            str(home / "data.db"),
            "--port",
            str(free_port()),
            "--domain",
            DOMAIN,
            "--https",
            "--email",
            "ops@example.test",
            "--https-host",
            "127.0.0.1",
            "--http-port",
            str(free_port()),
            "--https-port",
            str(taken),
            check=False,
        )
    assert r.returncode != 0
    assert f"cannot use --https-port {taken}" in r.stderr and "in use" in r.stderr


def test_start_refuses_the_local_port_as_an_https_port(tmp_path):
    from tests.conftest import run_cli

    home = tmp_path / "home"
    home.mkdir()
    port = str(free_port())
    r = run_cli(
        home,
        "server",
        "start",
        "--db",
        str(home / "data.db"),
        "--port",
        port,
        "--domain",
        DOMAIN,
        "--https",
        "--email",
        "ops@example.test",
        "--http-port",
        port,
        check=False,
    )
    assert r.returncode != 0 and f"--http-port {port} is also --port" in r.stderr


def test_dashboard_login_over_https_sets_a_secure_cookie(https, root_ca):
    wait_served(https, f"admin.{DOMAIN}")
    admin = f"admin.{DOMAIN}"
    with httpx.Client(verify=trusting(root_ca), timeout=10) as client:
        r = client.post(
            f"https://127.0.0.1:{https.https_port}/login",
            # As a browser sends them: the port is part of both.
            headers={
                "host": f"{admin}:{https.https_port}",
                "origin": f"https://{admin}:{https.https_port}",
            },
            data={"username": "admin", "password": "longenough1", "next": "/"},
            extensions={"sni_hostname": admin},
        )
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-fazt_session=") and "Secure" in cookie


def test_a_deleted_site_leaves_the_certificate(https, tmp_path):
    https.deploy(write_site(tmp_path / "temp", {"index.html": "temp"}), "temp")
    wait_served(https, f"temp.{DOMAIN}")
    assert https.api("DELETE", "/api/apps/temp").status_code == 200

    def gone():
        try:
            names = cert_names(served_certificate(https, DOMAIN))
        except OSError:
            return False
        return f"temp.{DOMAIN}" not in names and f"admin.{DOMAIN}" in names

    wait_for(gone, 40, 0.3, what="a certificate without the deleted site")
    assert f"temp.{DOMAIN}" not in https_status(https)["certificate"]["names"]
