"""Deploying from the dashboard without JavaScript (the ZIP upload form), and preview
deployments labelled with their links on the app page."""

import io
import re
import zipfile
from collections.abc import Iterator

import pytest

from tests.conftest import FaztServer, running_server, wait_for, write_site
from tests.integration.test_auth_sessions import Browser


def zipped(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("deploy")
    with running_server(home / "home") as s:
        s.deploy(write_site(home / "v1", {"index.html": "app v1"}), "app")
        yield s


@pytest.fixture
def admin(srv) -> Iterator[Browser]:
    b = Browser(srv)
    assert b.login().status_code == 303
    yield b
    b.close()


def csrf_of(page) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def upload(admin: Browser, site: str, data: bytes, fields: dict, origin: str = ""):
    return admin.post(
        f"/apps/{site}/deploy", fields, origin=origin, files={"file": ("site.zip", data)}
    )


def test_the_upload_form_deploys_a_zip_live(srv, admin):
    page = admin.get("/apps/app")
    assert 'enctype="multipart/form-data"' in page.text and 'id="drop"' in page.text
    r = upload(admin, "app", zipped({"index.html": "app v2"}), {"csrf_token": csrf_of(page)})
    assert r.status_code == 201, r.text
    url = f"http://app.localhost:{srv.port}"
    assert f'href="{url}"' in r.text and "deployed" in r.text
    wait_for(lambda: srv.get("/", host="app.localhost").text == "app v2", what="v2 live")


def test_the_upload_form_needs_csrf_and_our_origin_and_changes_nothing(srv, admin):
    before = srv.api("GET", "/api/apps/app/deployments").json()["data"]
    token = csrf_of(admin.get("/apps/app"))
    data = zipped({"index.html": "forged"})
    r = upload(admin, "app", data, {})
    assert r.status_code == 403 and r.json()["error"]["code"] == "CSRF_FAILED"
    r = upload(admin, "app", data, {"csrf_token": token}, origin="http://evil.localhost")
    assert r.status_code == 403
    r = upload(admin, "app", b"not a zip", {"csrf_token": token})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"]
    assert srv.api("GET", "/api/apps/app/deployments").json()["data"] == before
    assert srv.get("/", host="app.localhost").text != "forged"


def test_a_logged_out_upload_is_sent_to_the_login(srv):
    anonymous = Browser(srv)
    try:
        r = upload(anonymous, "app", zipped({"index.html": "x"}), {})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    finally:
        anonymous.close()


def test_a_preview_is_labelled_with_its_link_and_can_be_made_live(srv, admin):
    token = csrf_of(admin.get("/apps/app"))
    r = upload(
        admin, "app", zipped({"index.html": "app preview"}), {"csrf_token": token, "preview": "1"}
    )
    assert r.status_code == 201 and "preview ready" in r.text
    link = re.search(r'href="(http://app--[a-z0-9]+\.localhost:\d+)"', r.text).group(1)
    assert srv.get("/", host="app.localhost").text != "app preview"
    assert srv.get("/", host=link.split("//")[1].split(":")[0]).text == "app preview"
    page = admin.get("/apps/app").text
    newest = srv.api("GET", "/api/apps/app/deployments").json()["data"][0]
    row = page[page.index(f'data-deployment="{newest["id"]}"') :].split("</tr>")[0]
    assert 'class="badge">preview<' in row and f'href="{link}"' in row
    r = admin.post("/apps/app/promote", {"csrf_token": token, "deployment_id": str(newest["id"])})
    assert r.status_code == 303
    wait_for(lambda: srv.get("/", host="app.localhost").text == "app preview", what="promoted")
