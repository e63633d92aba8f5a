"""The real OpenID Connect provider for sign-in tests: panva's certified `oidc-provider`
(npm, tests/oidc: `npm ci --prefix tests/oidc`) run by Node on a free loopback port,
stopped by its pid. `drive()` signs a visitor in through its login and consent forms
over HTTP, as a browser would."""

import html
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for

HERE = Path(__file__).parent / "oidc"
_FORM = re.compile(r"<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", re.S | re.I)
_INPUT = re.compile(r"<input[^>]*name=\"([^\"]+)\"(?:[^>]*value=\"([^\"]*)\")?", re.I)


@dataclass
class NodeProvider:
    issuer: str
    pid: int


@contextmanager
def node_provider(clients: list[dict]) -> Iterator[NodeProvider]:
    """Start tests/oidc/server.js with these clients; stop it by pid afterwards."""
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("run `npm ci --prefix tests/oidc` (Node from Debian's nodejs, see .ci/run)")
    port = free_port()
    env = {**os.environ, "PORT": str(port), "CLIENTS": json.dumps(clients)}
    proc = subprocess.Popen(
        [node, "server.js"],
        cwd=HERE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(issuer) or proc.poll() is not None, 30, what="oidc-provider")
        assert proc.poll() is None, "oidc-provider exited"
        yield NodeProvider(issuer, proc.pid)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def _up(issuer: str) -> bool:
    try:
        return httpx.get(issuer + "/.well-known/openid-configuration", timeout=2).is_success
    except httpx.HTTPError:
        return False


def drive(url: str, login: str, redirect_prefix: str, max_steps: int = 12) -> str:
    """From the authorization URL to the redirect back to the site: submit the login form
    (any password) and the consent form. Returns that redirect's URL."""
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        response = client.get(url)
        for _ in range(max_steps):
            location = response.headers.get("location")
            if location:
                location = str(response.url.join(location))
                if location.startswith(redirect_prefix):
                    return location
                response = client.get(location)
                continue
            assert response.status_code == 200, response.text[:500]
            action, fields = _form(response.text)
            fields.update({"login": login, "password": "any"} if "login" in fields else {})
            response = client.post(str(response.url.join(action)), data=fields)
    raise AssertionError("the provider never sent the browser back")


def _form(page: str) -> tuple[str, dict[str, str]]:
    found = _FORM.search(page)
    assert found, page[:500]
    fields = {name: html.unescape(value or "") for name, value in _INPUT.findall(found[2])}
    return html.unescape(found[1]), fields
