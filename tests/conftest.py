"""Shared fixtures: a real `fazt server start` process on a free loopback port."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
import pytest

START_DEADLINE = 60.0  # a deadline, not a wait: a busy 2-core machine can be slow


# Under pytest-xdist each worker picks ports from a block of its own, below the kernel's
# ephemeral range (32768-60999): a port chosen and closed here stays free until the server
# binds it, whatever the other worker picks and whichever local ports outgoing connections
# take meanwhile.
_XDIST_PORTS = (20000, 1500)  # first port, ports per worker
_next_port = 0


def free_port() -> int:
    """A loopback port nothing listens on now."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... under xdist
    if not worker.startswith("gw"):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    global _next_port
    first, size = _XDIST_PORTS
    base = first + int(worker[2:]) * size
    for _ in range(size):
        port = base + _next_port % size
        _next_port += 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port in {base}-{base + size - 1}")


def fazt_cmd() -> list[str]:
    return [sys.executable, "-m", "fazt"]


def run_cli(
    home: Path, *args: str, check: bool = True, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run the real CLI with FAZT_HOME=home; fail the test with its output if check fails."""
    env = {**os.environ, "FAZT_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
    result = subprocess.run(
        [*fazt_cmd(), *args],
        env=env,
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"fazt {' '.join(args)} exited {result.returncode}:\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
    return result


def get_like_a_browser(client: httpx.Client, url: str, **kwargs) -> tuple[httpx.Response, bool]:
    """GET, and once more when the server closed the keep-alive connection the request was
    written to without reading it (a draining worker closes its idle connections; the
    request crossed the close). Browsers retry such a request on a new connection
    (RFC 9112, 9.3.1); httpx does not. Returns (response, whether it was retried)."""
    try:
        return client.get(url, **kwargs), False
    except httpx.RemoteProtocolError as exc:
        if "without sending a response" not in str(exc):
            raise
        return client.get(url, **kwargs), True


_shared_http: httpx.Client | None = None


def shared_http() -> httpx.Client:
    """The client behind FaztServer's HTTP helpers. httpx.get() builds a new client, and
    with it a TLS context, for every request: 70-150 ms each, which added up to minutes over
    the suite. Each request still goes out as httpx.get() sent it: no keep-alive (a killed
    or restarted server is no problem) and no cookie jar (nothing carries over)."""
    global _shared_http
    if _shared_http is None:
        _shared_http = httpx.Client(
            limits=httpx.Limits(max_keepalive_connections=0),
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
        )
    return _shared_http


@pytest.fixture(scope="session", autouse=True)
def _close_shared_http() -> Iterator[None]:
    yield
    if _shared_http is not None:
        _shared_http.close()


def wait_for(predicate, deadline: float = 10.0, interval: float = 0.05, what: str = "condition"):
    """Poll predicate() until it returns a truthy value or the deadline passes."""
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline}s waiting for {what}")
        time.sleep(interval)


@dataclass
class FaztServer:
    home: Path
    port: int
    db: Path
    proc: subprocess.Popen | None = None
    log: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    # Another fazt to run (e.g. an installed release) and extra environment variables.
    command: list[str] = field(default_factory=fazt_cmd)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "FAZT_HOME": str(self.home), **self.env}
        self.log = self.home / f"server-{time.monotonic_ns()}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [
                    *self.command,
                    "server",
                    "start",
                    "--port",
                    str(self.port),
                    "--db",
                    str(self.db),
                    *self.extra_args,
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(
            self._healthy, START_DEADLINE, what=f"fazt to answer on {self.port}\n" + self.output()
        )
        wait_for(lambda: "Listening:" in self.output(), what="the start banner")

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"fazt exited with {self.proc.returncode}:\n{self.output()}")
        try:
            return (
                shared_http()
                .get(self.url + "/health", headers={"host": "localhost"}, timeout=1)
                .status_code
                == 200
            )
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return self.log.read_text() if self.log and self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Stop the process by its pid; SIGKILL if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"fazt did not stop within {timeout}s after signal {sig}"
            ) from None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @contextmanager
    def serving(self, stop_timeout: float = 15) -> Iterator["FaztServer"]:
        """Start; on exit stop by pid (drain), SIGKILL if that fails."""
        self.start()
        try:
            yield self
        finally:
            try:
                self.stop(timeout=stop_timeout)
            finally:
                self.kill()

    def cli(self, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        return run_cli(self.home, *args, check=check, **kw)

    def get(self, path: str, host: str = "localhost", **kw) -> httpx.Response:
        headers = {"host": host, **kw.pop("headers", {})}
        return shared_http().get(self.url + path, headers=headers, timeout=10, **kw)

    def request(self, method: str, path: str, host: str = "localhost", **kw) -> httpx.Response:
        headers = {"host": host, **kw.pop("headers", {})}
        return shared_http().request(method, self.url + path, headers=headers, timeout=30, **kw)

    @property
    def token(self) -> str:
        """The admin token the server saved for the local CLI at first start."""
        import sqlite3

        conn = sqlite3.connect(self.home / "client.db")
        try:
            return conn.execute("SELECT token FROM peers WHERE name = 'local'").fetchone()[0]
        finally:
            conn.close()

    def api(self, method: str, path: str, token: str | None = None, **kw) -> httpx.Response:
        headers = {"authorization": f"Bearer {token or self.token}", **kw.pop("headers", {})}
        return self.request(method, path, headers=headers, **kw)

    def create_key(self, name: str, scopes: str = "deploy") -> str:
        return self.cli(
            "server", "create-key", "--name", name, "--scopes", scopes, "--db", str(self.db)
        ).stdout.strip()

    def deploy(self, directory: Path, site: str, *extra: str) -> dict:
        import json

        out = self.cli("deploy", str(directory), "--site", site, "--json", *extra)
        return json.loads(out.stdout)


@pytest.fixture
def fazt_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def server(fazt_home: Path) -> Iterator[FaztServer]:
    """A running fazt server with a fresh database, stopped after the test."""
    srv = FaztServer(home=fazt_home, port=free_port(), db=fazt_home / "data.db")
    with srv.serving():
        yield srv


@pytest.fixture
def fresh_server(fazt_home: Path) -> Iterator[FaztServer]:
    """`server` by another name, for the tests of a module whose `server` is its
    `shared_server` and that need a server of their own (see `shared_server`)."""
    srv = FaztServer(home=fazt_home, port=free_port(), db=fazt_home / "data.db")
    with srv.serving():
        yield srv


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaztServer]:
    """One server for a whole test module, started like `server` (a first start on a fresh
    database). Starting a server costs 2-4 s on a busy 2-core machine, so tests that touch
    only what they own (their own uniquely named sites, see `site_name`, their own keys,
    reads) share one. Tests that change server-wide state, count global things, or stop,
    restart or kill the server keep a server of their own. A module shares it by
    overriding `server`:

        @pytest.fixture
        def server(shared_server): return shared_server

    and its tests that need their own ask for `fresh_server`."""
    home = tmp_path_factory.mktemp("shared") / "home"
    home.mkdir()
    srv = FaztServer(home=home, port=free_port(), db=home / "data.db")
    with srv.serving():
        yield srv


@pytest.fixture
def site_name() -> str:
    """A site name no other test uses, for tests on a shared server."""
    return f"t{uuid.uuid4().hex[:10]}"


def write_site(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create a folder with the given relative paths and contents."""
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    return root


class PooledFaztServer(FaztServer):
    """A FaztServer whose HTTP helpers share one client: creating an httpx client per
    request costs ~70 ms (TLS context setup), which adds up over hundreds of requests.
    Connections are not kept alive, so a killed and restarted server is no problem."""

    _http: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
        return self._http

    def get(self, path: str, host: str = "localhost", **kw) -> httpx.Response:
        headers = {"host": host, **kw.pop("headers", {})}
        return self.http.get(self.url + path, headers=headers, timeout=10, **kw)

    def request(self, method: str, path: str, host: str = "localhost", **kw) -> httpx.Response:
        headers = {"host": host, **kw.pop("headers", {})}
        return self.http.request(method, self.url + path, headers=headers, timeout=30, **kw)


def init_server(home: Path, settings: dict[str, str] | None = None, *config: str) -> FaztServer:
    """A FaztServer (not started) on a freshly initialised database in `home`.

    `settings` rows are written straight into the `settings` table and `config` is passed
    to `fazt server set-config`, both before the first start, so the server loads them.
    """
    import sqlite3

    srv = PooledFaztServer(home=home, port=free_port(), db=home / "data.db")
    db = str(srv.db)
    run_cli(
        home,
        "server",
        "init",
        "--db",
        db,
        "--password",
        "longenough1",
        "--port",
        str(srv.port),
        input="",
    )
    if config:
        run_cli(home, "server", "set-config", *config, "--db", db)
    if settings:
        conn = sqlite3.connect(db)
        try:
            with conn:
                conn.executemany(
                    "INSERT INTO settings (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    list(settings.items()),
                )
        finally:
            conn.close()
    return srv


@contextmanager
def running_server(
    home: Path, settings: dict[str, str] | None = None, *config: str
) -> Iterator[FaztServer]:
    """Like the `server` fixture, for any scope: initialise, configure, start, stop."""
    home.mkdir(parents=True, exist_ok=True)
    srv = init_server(home, settings, *config)
    try:
        with srv.serving():
            yield srv
    finally:
        srv.http.close()


# -- a real browser (Debian's Chromium through Playwright; nothing is downloaded) ----------

CHROMIUM = os.environ.get("FAZT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    # A real domain's shape for the sibling-subdomain test: *.fazt.test is this machine.
    "--host-resolver-rules=MAP *.fazt.test 127.0.0.1, MAP fazt.test 127.0.0.1",
]


@pytest.fixture(scope="module")
def chromium():
    """One Chromium per test module. Playwright's sync API allows one instance at a time
    and, while it lives, keeps an event loop running in this thread (so asyncio.run in
    later tests would fail): it must be stopped when the module is done."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def preview_label(srv: FaztServer, site: str, deployment_id: int) -> str:
    """'<site>--<preview id>': the host label of one deployment (read from the database,
    so that it works for pending deployments too)."""
    conn = sqlite3.connect(f"file:{srv.db}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT preview_id FROM deployments WHERE id = ?", (deployment_id,)
        ).fetchone()
    finally:
        conn.close()
    assert row is not None, f"no deployment {deployment_id}"
    return f"{site}--{row[0]}"


def child_pids(pid: int) -> list[int]:
    """The live children of `pid` (a supervisor's workers), from /proc."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
