"""The client deploy engine (fazt.remote.deploy) used as a library, as the MCP tool uses it:
no Click, no terminal; progress and messages arrive through callbacks."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fazt.remote.client import FaztClient
from fazt.remote.deploy import BATCH_FILE_LIMIT, deploy_files, files_to_deploy
from tests.conftest import FaztServer, running_server, write_site


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    with running_server(tmp_path_factory.mktemp("deploy-engine")) as server:
        yield server


class Recorder:
    """A Progress that remembers each phase's total and the bytes reported done."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int]] = []
        self.done: dict[str, int] = {}
        self.open: set[str] = set()

    @contextmanager
    def __call__(self, label: str, total_bytes: int) -> Iterator[Callable[[int], None]]:
        self.phases.append((label, total_bytes))
        self.done[label] = 0
        self.open.add(label)

        def advance(n: int) -> None:
            self.done[label] += n

        yield advance
        self.open.remove(label)


def test_progress_and_messages_go_through_callbacks(srv: FaztServer, tmp_path: Path) -> None:
    big = b"b" * (BATCH_FILE_LIMIT + 10)  # travels alone, by PUT
    folder = write_site(tmp_path / "lib", {"index.html": "<p>lib</p>", "big.bin": big})
    files = files_to_deploy(folder)
    total = sum(f.size for f in files)
    progress, said = Recorder(), []
    with FaztClient(srv.url, srv.token) as client:
        result = deploy_files(client, "lib", files, progress=progress, say=said.append)

    assert progress.phases == [("Hashing", total), ("Uploading", total)]
    assert progress.done == {"Hashing": total, "Uploading": total}
    assert not progress.open  # every phase was closed
    assert said == ["Uploading 2 new file(s) of 2"]
    assert result["uploaded_files"] == 2
    assert srv.get("/", host=f"lib.localhost:{srv.port}").text == "<p>lib</p>"

    # Nothing new to send: the upload phase is not even opened.
    progress = Recorder()
    with FaztClient(srv.url, srv.token) as client:
        again = deploy_files(client, "lib", files_to_deploy(folder), progress=progress)
    assert progress.phases == [("Hashing", total)]
    assert again["uploaded_files"] == 0
    assert again["deployment_id"] > result["deployment_id"]
