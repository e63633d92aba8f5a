"""A chat page written for fazt v0.9's /ws, in two Chromium tabs: it shows a message
when the channel sends it back, so the sender's own message must come back to it."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import FaztServer, running_server, write_site

TIMEOUT = 15_000  # ms
CHAT = """<!doctype html><html><head><title>chat</title></head><body>
<ul id="log"></ul><input id="msg" aria-label="Message"><button id="send">Send</button>
<script>
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onopen = () => { document.body.dataset.open = "yes"; };
  ws.onmessage = (e) => {
    const li = document.createElement("li");
    li.textContent = e.data;
    document.getElementById("log").appendChild(li);
  };
  ws.onclose = (e) => { document.body.dataset.closed = String(e.code); };
  document.getElementById("send").onclick = () => {
    const box = document.getElementById("msg");
    ws.send(box.value);  // v0.9 style: nothing is shown until the channel echoes it
    box.value = "";
  };
</script></body></html>"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[FaztServer]:
    home = tmp_path_factory.mktemp("chat")
    with running_server(home / "home", {"ws_idle_seconds": "4"}) as s:
        s.deploy(write_site(home / "chat", {"index.html": CHAT}), "chat")
        yield s


@pytest.fixture
def tabs(chromium) -> Iterator[tuple[Page, Page]]:
    context = chromium.new_context()
    context.set_default_timeout(TIMEOUT)
    yield context.new_page(), context.new_page()
    context.close()


def open_chat(page: Page, srv: FaztServer) -> None:
    page.goto(f"http://chat.localhost:{srv.port}/")
    expect(page.locator("body")).to_have_attribute("data-open", "yes")


def test_both_tabs_show_a_message_the_sender_included(srv, tabs):
    ann, bob = tabs
    open_chat(ann, srv)
    open_chat(bob, srv)
    ann.get_by_label("Message").fill("hi from ann")
    ann.get_by_role("button", name="Send").click()
    expect(ann.locator("#log li")).to_have_text(["hi from ann"])
    expect(bob.locator("#log li")).to_have_text(["hi from ann"])
    bob.get_by_label("Message").fill("hi ann")
    bob.get_by_role("button", name="Send").click()
    expect(ann.locator("#log li")).to_have_text(["hi from ann", "hi ann"])
    expect(bob.locator("#log li")).to_have_text(["hi from ann", "hi ann"])


def test_what_a_browser_reports_when_an_idle_socket_is_closed(srv, tabs):
    # The hub means 4000 (idle); Granian sends a close frame without a code, which the
    # browser reports as 1005. docs/serverless.md states this measured behaviour.
    page, _ = tabs
    open_chat(page, srv)
    expect(page.locator("body")).to_have_attribute("data-closed", "1005")
