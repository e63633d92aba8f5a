"""A deploy whose finalize answer is lost is resolved, not guessed (issue 23, item 1).

A loopback TCP proxy sits between the CLI and a real server and loses finalize answers in
the ways a crash or a network does: after the server finalized, before it saw the
request, or with the server unreachable from then on. The CLI must print what is true and
exit with the code docs/deploying.md gives.
"""

import contextlib
import hashlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FaztServer, running_server, write_site

FINALIZE = b"/finalize HTTP/1.1"


class LossyProxy:
    """Forwards 127.0.0.1:port to the server; what it does to a finalize is `mode`:
    "after": the first one reaches the server, its answer is dropped (connection closed);
    "before": every one is dropped before the server sees it;
    "blackout": the first one is dropped unseen, and every request after it too."""

    def __init__(self, target_port: int, mode: str) -> None:
        self.target_port, self.mode = target_port, mode
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.finalizes_seen = 0
        self.answers_dropped = 0
        self.blackout = False
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                _close(sock)
        for thread in self.threads:
            thread.join(5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, server]
            conn = {"drop_answer": False}
            for args in ((client, server, conn, True), (server, client, conn, False)):
                thread = threading.Thread(target=self._pump, args=args, daemon=True)
                thread.start()
                self.threads.append(thread)

    def _pump(self, src: socket.socket, dst: socket.socket, conn: dict, upstream: bool) -> None:
        try:
            while chunk := src.recv(65536):
                if upstream and not self._pass_request(chunk, conn):
                    break
                if not upstream and conn["drop_answer"]:
                    with self.lock:
                        self.answers_dropped += 1
                    break
                dst.sendall(chunk)
        except OSError:
            pass
        _close(src)
        _close(dst)

    def _pass_request(self, chunk: bytes, conn: dict) -> bool:
        """Whether to forward this piece of a request (False: drop the connection)."""
        with self.lock:
            if self.blackout:
                return False
            if FINALIZE not in chunk:
                return True
            self.finalizes_seen += 1
            if self.mode == "after" and self.finalizes_seen == 1:
                conn["drop_answer"] = True
                return True
            if self.mode == "blackout":
                self.blackout = True
            return self.mode == "after"


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    with running_server(tmp_path_factory.mktemp("deploy-outcome")) as server:
        yield server


@pytest.fixture
def proxy(srv, request) -> Iterator[LossyProxy]:
    lossy = LossyProxy(srv.port, request.param)
    try:
        yield lossy
    finally:
        lossy.close()


def deploy_through(srv: FaztServer, proxy: LossyProxy, folder: Path, site: str):
    return srv.cli(
        "deploy", str(folder), "--site", site, "--to", proxy.url, "--token", srv.token,
        check=False, timeout=120,
    )  # fmt: skip


def live_id(srv: FaztServer, site: str) -> int | None:
    r = srv.api("GET", f"/api/apps/{site}")
    return r.json()["data"]["live_deployment_id"] if r.status_code == 200 else None


@pytest.mark.parametrize("proxy", ["after"], indirect=True)
def test_lost_answer_of_a_finalize_that_went_live_says_live(srv, proxy, tmp_path, site_name):
    folder = write_site(tmp_path / "s", {"index.html": "<p>went live</p>"})
    result = deploy_through(srv, proxy, folder, site_name)
    assert proxy.answers_dropped == 1 and proxy.finalizes_seen >= 2
    assert result.returncode == 0, result.stderr
    assert f"Live: http://{site_name}.localhost" in result.stdout
    assert "cannot reach" not in result.stdout
    assert srv.get("/", host=f"{site_name}.localhost").text == "<p>went live</p>"


@pytest.mark.parametrize("proxy", ["before"], indirect=True)
def test_finalize_that_never_arrived_says_not_live(srv, proxy, tmp_path, site_name):
    write_site(tmp_path / "v1", {"index.html": "v1"})
    srv.deploy(tmp_path / "v1", site_name)
    before = live_id(srv, site_name)
    folder = write_site(tmp_path / "v2", {"index.html": "v2"})
    result = deploy_through(srv, proxy, folder, site_name)
    assert result.returncode == 1, result.stderr
    assert "not live: the server answers that deployment" in result.stderr
    assert "was never finalized" in result.stderr
    assert live_id(srv, site_name) == before
    assert srv.get("/", host=f"{site_name}.localhost").text == "v1"


@pytest.mark.parametrize("proxy", ["before"], indirect=True)
def test_a_first_deploy_that_never_finalized_says_not_live(srv, proxy, tmp_path, site_name):
    folder = write_site(tmp_path / "s", {"index.html": "first"})
    result = deploy_through(srv, proxy, folder, site_name)
    assert result.returncode == 1, result.stderr
    assert "not live" in result.stderr and "was never finalized" in result.stderr
    assert srv.api("GET", f"/api/apps/{site_name}").status_code == 404


@pytest.mark.parametrize("proxy", ["blackout"], indirect=True)
def test_server_unreachable_after_finalize_says_unknown(srv, proxy, tmp_path, site_name):
    folder = write_site(tmp_path / "s", {"index.html": "maybe"})
    result = deploy_through(srv, proxy, folder, site_name)
    assert result.returncode == 3, result.stderr
    assert proxy.blackout and proxy.finalizes_seen == 1
    assert "unknown: deployment" in result.stderr
    assert f"check with `fazt app info {site_name}`" in result.stderr


def test_finalize_again_answers_the_same_success(srv, site_name):
    """The retry's contract: a repeated finalize of what went live (or of a preview) is the
    same 200; asking for something else than what happened is 409 and changes nothing."""
    data = b"<p>twice</p>"
    digest = hashlib.sha256(data).hexdigest()
    files = {"files": [{"path": "index.html", "sha256": digest, "size": len(data)}]}

    def started() -> int:
        r = srv.api("POST", f"/api/apps/{site_name}/deployments", json=files)
        assert r.status_code == 201, r.text
        return r.json()["data"]["deployment_id"]

    def finalize(dep_id: int, preview: bool):
        path = f"/api/deployments/{dep_id}/finalize"
        return srv.api("POST", path, json={"preview": preview})

    live = started()
    srv.api("PUT", f"/api/blobs/{digest}", content=data)
    first, again = finalize(live, False), finalize(live, False)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json()["data"] == first.json()["data"]
    assert again.json()["data"]["live"] is True
    assert finalize(live, True).json()["error"]["code"] == "CONFLICT"

    preview = started()
    assert finalize(preview, True).status_code == 200
    again = finalize(preview, True)
    assert again.status_code == 200 and again.json()["data"]["live"] is False
    refused = finalize(preview, False)
    assert refused.status_code == 409, refused.text
    assert f"fazt app promote {site_name} {preview}" in refused.json()["error"]["message"]
    assert live_id(srv, site_name) == live
