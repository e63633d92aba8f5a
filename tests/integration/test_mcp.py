"""`fazt mcp`: the real stdio server, driven by the MCP SDK's own client, against a real
fazt server. Every tool call goes client -> `fazt mcp` process -> fazt JSON API."""

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import jsonschema
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from fazt.hosting import manifest
from tests.conftest import free_port, running_server, write_site

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "src" / "fazt" / "mcp" / "resources"

TOOLS = {
    "list_apps",
    "app_info",
    "deploy_folder",
    "rollback",
    "app_logs",
    "server_status",
    "create_app_from_template",
    "query_storage",
    "check_upgrade",
    "start_upgrade",
    "upgrade_status",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """One fazt server for the module (each test opens its own MCP sessions)."""
    with running_server(tmp_path_factory.mktemp("mcp") / "home") as server:
        yield server


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "FAZT_TOKEN"}


@asynccontextmanager
async def mcp_session(
    home: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> AsyncIterator[ClientSession]:
    """A `fazt mcp` process with FAZT_HOME=home (so it finds the `local` peer)."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "fazt", "mcp", *args],
        # The SDK passes only a few variables on by default; the CLI needs PYTHONPATH etc.
        env={**_environ(), "FAZT_HOME": str(home), **(env or {})},
        cwd=cwd,
    )
    with (home / f"mcp-{time.monotonic_ns()}.log").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


async def call(session: ClientSession, tool: str, **arguments) -> dict:
    """A successful tool call's structured result (fails the test on a tool error)."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {result.content[0].text}"
    return result.structured_content


async def call_error(session: ClientSession, tool: str, **arguments) -> str:
    """The message of a tool call that must fail."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, f"{tool} should have failed: {result.structured_content}"
    return result.content[0].text


async def poll(fn, deadline: float = 10.0, what: str = "condition"):
    end = time.monotonic() + deadline
    while True:
        value = await fn()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline}s waiting for {what}")
        await anyio.sleep(0.05)


def test_initialize_lists_tools_with_schemas_and_resources(srv):
    async def scenario():
        async with mcp_session(srv.home) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == TOOLS
            assert all(t.description and len(t.description) > 30 for t in tools.values())
            deploy = tools["deploy_folder"].input_schema
            assert deploy["required"] == ["path"]
            assert set(deploy["properties"]) == {"path", "name", "preview", "include_dotfiles"}
            assert tools["start_upgrade"].input_schema["properties"]["confirm"]["type"] == (
                "boolean"
            )
            storage = tools["query_storage"].input_schema["properties"]["what"]
            assert storage["enum"] == ["summary", "kv", "collection", "objects"]
            assert tools["app_info"].output_schema["properties"]["deployments"]["type"] == ("array")
            assert tools["list_apps"].annotations.read_only_hint is True
            assert tools["start_upgrade"].annotations.destructive_hint is True

            listed = {str(r.uri) for r in (await session.list_resources()).resources}
            assert listed == {
                "fazt://docs/serverless.md",
                "fazt://docs/storage.md",
                "fazt://schemas/manifest.json",
            }
            doc = await session.read_resource("fazt://docs/serverless.md")
            assert doc.contents[0].text == (ROOT / "docs" / "serverless.md").read_text()
            schema = await session.read_resource("fazt://schemas/manifest.json")
            assert json.loads(schema.contents[0].text)["properties"]["limits"]

    anyio.run(scenario)


def test_deploy_read_back_roll_back_and_logs(srv, tmp_path):
    site = write_site(tmp_path / "hello", {"index.html": "<h1>one</h1>", "a.css": "b{}"})

    async def scenario():
        async with mcp_session(srv.home, cwd=tmp_path) as session:
            first = await call(session, "deploy_folder", path="hello")  # relative to cwd
            assert first["site"] == "hello" and first["live"] is True
            assert first["uploaded_files"] == 2 and first["folder"] == str(site)
            assert srv.get("/", host="hello.localhost").text == "<h1>one</h1>"

            (site / "index.html").write_text("<h1>two</h1>")
            second = await call(session, "deploy_folder", path=str(site), name="hello")
            assert second["uploaded_files"] == 1  # the unchanged file is not sent again
            assert srv.get("/", host="hello.localhost").text == "<h1>two</h1>"

            info = await call(session, "app_info", app="hello")
            assert info["live_deployment_id"] == second["deployment_id"]
            assert [d["id"] for d in info["deployments"]] == [
                second["deployment_id"],
                first["deployment_id"],
            ]
            assert {f["path"] for f in info["files"]} == {"index.html", "a.css"}

            back = await call(session, "rollback", app="hello")
            assert back["id"] == first["deployment_id"] and back["live"] is True
            assert srv.get("/", host="hello.localhost").text == "<h1>one</h1>"
            names = [a["name"] for a in (await call(session, "list_apps"))["apps"]]
            assert "hello" in names

            # An api-template app: create the folder, deploy it, call it, read its logs.
            created = await call(
                session, "create_app_from_template", name="counter", template="api", deploy=True
            )
            assert created["folder"] == str(tmp_path / "counter")
            assert "api/visits.js" in created["files"]
            assert created["deployed"]["site"] == "counter"
            manifest_json = json.loads((tmp_path / "counter" / "manifest.json").read_text())
            assert manifest_json == {"name": "counter"}
            visit = srv.request("POST", "/api/visits", host="counter.localhost")
            assert visit.json() == {"visits": 1}

            async def logged():
                entries = (await call(session, "app_logs", app="counter"))["entries"]
                return [e for e in entries if "visit" in e["message"]]

            entry = (await poll(logged, what="the visit log line"))[0]
            assert entry["level"] == "info" and "1" in entry["message"]

            kv = await call(session, "query_storage", app="counter", what="kv")
            assert json.dumps(kv["data"]).count("visits") == 1
            summary = await call(session, "query_storage", app="counter")
            assert summary["data"]["kv"]["keys"] == 1

            # Documents in a collection whose name needs quoting in the URL.
            notes = write_site(
                tmp_path / "notes",
                {
                    "api/add.js": "module.exports = async function () {\n"
                    '  await fazt.storage.ds.insert("my notes", { text: "hi" });\n'
                    "  return { ok: true };\n};\n"
                },
            )
            await call(session, "deploy_folder", path=str(notes))
            added = srv.request("POST", "/api/add", host="notes.localhost")
            assert added.json() == {"ok": True}
            page = await call(
                session, "query_storage", app="notes", what="collection", collection="my notes"
            )
            assert page["data"]["total"] == 1
            assert page["data"]["documents"][0]["text"] == "hi"

            # A preview does not change what is live.
            (site / "index.html").write_text("<h1>preview</h1>")
            preview = await call(session, "deploy_folder", path=str(site), preview=True)
            assert preview["live"] is False
            # Its URL names the deployment by its unguessable preview id, not by its number.
            assert f"//hello--{preview['preview_id']}.localhost" in preview["url"]
            assert srv.get("/", host="hello.localhost").text == "<h1>one</h1>"

            status = await call(session, "server_status")
            assert status["status"] == "ok" and status["version"]
            assert isinstance(status["backups"], list)
            assert isinstance(status["certificates"], dict) and status["notes"] == []

    anyio.run(scenario)


def test_errors_are_clear_tool_errors(srv, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")

    async def scenario():
        async with mcp_session(srv.home, cwd=tmp_path) as session:
            message = await call_error(session, "app_info", app="no-such-app")
            assert "no app named 'no-such-app'" in message and "404" in message
            message = await call_error(session, "rollback", app="no-such-app")
            assert "no-such-app" in message
            message = await call_error(session, "app_logs", app="no-such-app")
            assert "no-such-app" in message

            message = await call_error(session, "start_upgrade")
            assert "confirm: true" in message
            message = await call_error(session, "start_upgrade", confirm=False)
            assert "confirm: true" in message
            # The upgrade tools relay the server's answer: here, an unreachable index.
            nowhere = f"http://127.0.0.1:{free_port()}/releases.json"
            message = await call_error(session, "check_upgrade", url=nowhere)
            assert "POST /api/upgrade" in message and "RELEASE_SOURCE_ERROR" in message

            message = await call_error(session, "deploy_folder", path=str(tmp_path / "nope"))
            assert "is not a folder" in message
            message = await call_error(session, "deploy_folder", path=str(tmp_path / "empty"))
            assert "has no files to deploy" in message
            message = await call_error(session, "deploy_folder", path="taken", name="Bad_Name!")
            assert "cannot deploy as 'bad_name!'" in message and "`name` input" in message
            message = await call_error(
                session, "create_app_from_template", name="taken", folder="taken"
            )
            assert "already exists" in message
            message = await call_error(session, "query_storage", app="x", what="collection")
            assert "needs the `collection` input" in message
            # Arguments are checked against the input schema before the tool runs.
            message = await call_error(session, "query_storage", app="x", what="tables")
            assert "what" in message

    anyio.run(scenario)
    assert not (tmp_path / "taken" / "index.html").exists()  # nothing was written
    assert srv.get("/", host="bad_name.localhost").status_code != 200


def test_deploy_scoped_token_cannot_use_admin_tools(srv, tmp_path):
    key = srv.create_key("agent", "deploy")
    site = write_site(tmp_path / "agent-site", {"index.html": "by agent"})

    async def scenario():
        async with mcp_session(srv.home, env={"FAZT_TOKEN": key}) as session:
            deployed = await call(session, "deploy_folder", path=str(site))
            assert deployed["live"] is True
            message = await call_error(session, "server_status")
            assert "403" in message and "/api/backups" in message
            assert "scope" in message
            message = await call_error(session, "start_upgrade", confirm=True)
            assert "403" in message and "POST /api/upgrade" in message

    anyio.run(scenario)
    assert srv.get("/", host="agent-site.localhost").text == "by agent"


def test_peer_option_and_unknown_peer(srv, tmp_path):
    async def scenario():
        async with mcp_session(srv.home, "--peer", "local") as session:
            assert "apps" in await call(session, "list_apps")

    anyio.run(scenario)
    env = {**_environ(), "FAZT_HOME": str(srv.home)}
    done = subprocess.run(
        [sys.executable, "-m", "fazt", "mcp", "--peer", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stdout == ""  # stdout is for protocol messages only
    assert "no saved peer named 'nope'" in done.stderr


def test_without_the_sdk_the_message_says_what_to_install(tmp_path):
    # sys.modules["mcp"] = None makes `import mcp` fail, as if the extra were not installed.
    code = (
        "import sys; sys.modules['mcp'] = None; sys.argv = ['fazt', 'mcp'];"
        "from fazt.cli.main import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**_environ(), "FAZT_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert "pip install 'fazt[mcp]'" in done.stderr


@pytest.mark.parametrize("name", ["serverless.md", "storage.md"])
def test_packaged_docs_match_docs_folder(name):
    assert (RESOURCES / name).read_text() == (ROOT / "docs" / name).read_text(), (
        f"copy docs/{name} to src/fazt/mcp/resources/{name}"
    )


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"name": "blog", "spa": True},
        {"cache": {"assets/*": "public, max-age=31536000, immutable"}},
        {"limits": {"timeout_ms": 2000, "memory_mb": 32, "max_body_bytes": 65536}},
        {"unknown": "ignored"},
        [],
        {"name": 5},
        {"spa": "yes"},
        {"cache": {"*": 3}},
        {"cache": {"*": "a\nb"}},
        {"limits": {"timeout_ms": 0}},
        {"limits": {"timeout_ms": "5"}},
        {"limits": {"cpu": 1}},
        {"realtime": {"echo": False}},
        {"realtime": {"echo": "no"}},
        {"realtime": {"other": 1}},
    ],
)
def test_manifest_schema_agrees_with_the_parser(document):
    schema = json.loads((RESOURCES / "manifest.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    try:
        manifest.parse(json.dumps(document))
        parser_ok = True
    except manifest.InvalidManifest:
        parser_ok = False
    schema_ok = jsonschema.Draft202012Validator(schema).is_valid(document)
    assert schema_ok == parser_ok
