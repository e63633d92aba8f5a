"""The HTTPS-mode listeners of one worker: TLS on the https port, redirects on the http port.

Both are Granian embedded servers on the worker's event loop. Under a supervisor they serve
the sockets it owns and passes down (fazt.web.inherited: a crashed worker's clients wait in
the backlog, not refused); alone, they bind with SO_REUSEPORT, so a replacement worker (or a
replacement TLS listener in this worker) can bind the same port before the old one stops
accepting.
"""

import asyncio
import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from granian.constants import Interfaces, SSLProtocols
from granian.server.embed import Server

from fazt.db import Database
from fazt.https import certs
from fazt.https.config import HttpsConfig
from fazt.https.redirect import RedirectApp
from fazt.web.http import http1_settings
from fazt.web.inherited import InheritedSocketServer, serving
from fazt.web.steer import steer_to_newest

log = logging.getLogger("fazt")
HSTS = ("strict-transport-security", "max-age=31536000; includeSubDomains")
READY_DEADLINE = 10.0


class HttpsListeners:
    def __init__(
        self,
        db: Database,
        app: Any,
        cfg: HttpsConfig,
        runtime_dir: Path,
        inherited: dict[int, int] | None = None,
    ) -> None:
        self.db = db
        self.cfg = cfg
        self.inherited = inherited or {}  # the supervisor's sockets, by port
        self.files = certs.RuntimeFiles(runtime_dir)
        # Only __rsgi__: the app's init/del hooks already run with the main listener.
        self.app = app
        # The app's slowloris header timeout, as on its plain listener.
        self.http1 = http1_settings(app.edge.limits.http_header_timeout_seconds)
        self.target = HstsApp(app).__rsgi__ if cfg.hsts else app.__rsgi__
        self.covered: Callable[[str], bool] = lambda host: False  # set by the manager
        self._tls: tuple[Server, asyncio.Future, tuple[Path, Path]] | None = None
        self._plain: tuple[Server, asyncio.Future] | None = None

    @property
    def probe_host(self) -> str:
        return "127.0.0.1" if self.cfg.host in ("0.0.0.0", "", "::") else self.cfg.host

    async def start(self, cert_pem: str, key_pem: str) -> None:
        """Listen on both ports; returns once both accept connections."""
        redirect = RedirectApp(
            self.db, self.cfg.https_port, self.app, lambda host: self.covered(host)
        )
        plain = self._server(
            redirect,
            self.cfg.http_port,
            http1_settings=self.http1,  # the slowloris header timeout
        )
        self._plain = (plain, asyncio.ensure_future(plain.serve()))
        self._tls = self._start_tls(cert_pem, key_pem)
        await _wait_listening(self.probe_host, self.cfg.http_port, self._plain[1])
        await _wait_listening(self.probe_host, self.cfg.https_port, self._tls[1])
        # A worker we replace keeps its sockets until it is told to stop: from now on new
        # connections come to us, so it only finishes what it has.
        steer_to_newest(self.cfg.http_port)
        steer_to_newest(self.cfg.https_port)

    def _start_tls(self, cert_pem: str, key_pem: str):
        cert_path, key_path = self.files.write(cert_pem, key_pem)
        server = self._server(
            self.target,
            self.cfg.https_port,
            http1_settings=self.http1,
            ssl_cert=cert_path,
            ssl_key=key_path,
            # TLS 1.2 too: older clients (and many HTTP libraries) still need it.
            ssl_protocol_min=SSLProtocols.tls12,
        )
        return server, asyncio.ensure_future(server.serve()), (cert_path, key_path)

    def _server(self, app: Any, port: int, **options: Any) -> Server:
        """A Granian server for `port`: on the supervisor's socket when it passed one."""
        fd = self.inherited.get(port)
        cls = Server if fd is None else InheritedSocketServer
        server = cls(
            app,
            address=self.cfg.host,
            port=port,
            interface=Interfaces.RSGI,
            log_enabled=False,
            backlog=1024,
            **options,
        )
        return server if fd is None else serving(server, fd)

    async def swap(self, cert_pem: str, key_pem: str) -> None:
        """Serve a new certificate without a supervisor: start a second TLS listener on the
        same port, wait until it answers with the new certificate, then drain the old one."""
        old = self._tls
        new = self._start_tls(cert_pem, key_pem)
        serial = certs.inspect(cert_pem).serial
        try:
            await self._wait_serving(serial, new[1])
        except BaseException:
            new[0].stop()
            await asyncio.gather(new[1], return_exceptions=True)
            self.files.remove(*new[2])
            raise
        self._tls = new
        steer_to_newest(self.cfg.https_port)
        if old is not None:
            old[0].stop()
            await asyncio.gather(old[1], return_exceptions=True)
            self.files.remove(*old[2])

    async def _wait_serving(self, serial: int, serving: asyncio.Future) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_DEADLINE
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        while loop.time() < deadline:
            if serving.done():
                serving.result()
                raise RuntimeError("the new TLS listener stopped")
            try:
                got = await peer_serial(self.probe_host, self.cfg.https_port, context)
                if got == serial:
                    return
            except (OSError, ssl.SSLError):
                pass
            await asyncio.sleep(0.02)
        raise RuntimeError("the new TLS listener did not start in time")

    async def stop(self) -> None:
        for entry in (self._tls, self._plain):
            if entry is not None:
                entry[0].stop()
        await asyncio.gather(
            *(e[1] for e in (self._tls, self._plain) if e is not None), return_exceptions=True
        )
        self.files.close()


async def peer_serial(host: str, port: int, context: ssl.SSLContext) -> int:
    """The serial number of the certificate a TLS listener presents."""
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context, server_hostname="fazt.invalid"), 2
    )
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der).serial_number
    finally:
        writer.close()


async def _wait_listening(host: str, port: int, serving: asyncio.Future) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_DEADLINE
    while True:
        if serving.done():
            serving.result()
            raise RuntimeError(f"the listener on port {port} stopped")
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            if loop.time() > deadline:
                raise RuntimeError(f"nothing listens on {host}:{port}") from None
            await asyncio.sleep(0.025)


class HstsApp:
    """Adds Strict-Transport-Security to every HTTPS response (opt-in: --hsts)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            await self.app.__rsgi__(scope, proto)
            return
        await self.app.__rsgi__(scope, _HstsProto(proto))


class _HstsProto:
    __slots__ = ("_proto",)

    def __init__(self, proto: Any) -> None:
        self._proto = proto

    def __call__(self) -> Any:  # `await proto()` reads the whole body
        return self._proto()

    def __aiter__(self) -> Any:  # `async for chunk in proto` streams it
        return self._proto.__aiter__()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._proto, name)

    def response_empty(self, status: int, headers: list) -> None:
        self._proto.response_empty(status, [*headers, HSTS])

    def response_str(self, status: int, headers: list, body: str) -> None:
        self._proto.response_str(status, [*headers, HSTS], body)

    def response_bytes(self, status: int, headers: list, body: bytes) -> None:
        self._proto.response_bytes(status, [*headers, HSTS], body)

    def response_file(self, status: int, headers: list, file: str) -> None:
        self._proto.response_file(status, [*headers, HSTS], file)

    def response_file_range(self, status: int, headers: list, file: str, *args: Any) -> None:
        self._proto.response_file_range(status, [*headers, HSTS], file, *args)

    def response_stream(self, status: int, headers: list) -> Any:
        return self._proto.response_stream(status, [*headers, HSTS])
