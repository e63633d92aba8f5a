"""A file over the per-file limit is refused with a message that names the limit."""

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FaztServer, running_server, write_site

MiB = 1024 * 1024
EXPECTED = (
    "'big.bin' is 1.5 MB; the limit per file is 1 MB "
    "(setting deploy_max_file_bytes, docs/configuration.md)"
)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("limit") / "home"
    with running_server(home, {"deploy_max_file_bytes": str(MiB)}) as srv:
        yield srv


def test_cli_deploy_names_the_size_and_the_limit(small: FaztServer, tmp_path: Path) -> None:
    site = write_site(tmp_path / "big", {"index.html": "hi", "big.bin": b"x" * (MiB + MiB // 2)})
    done = small.cli("deploy", str(site), "--site", "big", check=False)
    assert done.returncode != 0
    assert EXPECTED in " ".join((done.stdout + done.stderr).split())
    assert small.get("/", host="big.localhost").status_code == 404  # nothing went live


def test_api_manifest_names_the_limit(small: FaztServer) -> None:
    body = {"files": [{"path": "big.bin", "sha256": "a" * 64, "size": MiB + MiB // 2}]}
    r = small.api("POST", "/api/apps/big2/deployments", json=body)
    assert r.status_code == 413, r.text
    assert r.json()["error"] == {"code": "FILE_TOO_LARGE", "message": EXPECTED}


def test_zip_deploy_names_the_limit(small: FaztServer) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.bin", b"x" * (MiB + MiB // 2))
    r = small.api(
        "POST",
        "/api/deploy",
        data={"site_name": "big3"},
        files={"file": ("site.zip", buffer.getvalue(), "application/zip")},
    )
    assert r.status_code == 413, r.text
    assert r.json()["error"] == {"code": "FILE_TOO_LARGE", "message": EXPECTED}


def test_one_byte_over_shows_exact_counts() -> None:
    from fazt.hosting.archive import file_too_large

    error = file_too_large("v.mp4", 100 * MiB + 1, 100 * MiB)
    assert "'v.mp4' is 104,857,601 bytes; the limit per file is 104,857,600 bytes" in (
        error.message
    )
