"""The fazt MCP server: the tools of tools.py plus reference documents as resources."""

from importlib import resources

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from fazt import __version__
from fazt.mcp.tools import FaztTools
from fazt.remote.client import FaztClient

INSTRUCTIONS = """\
Operates one fazt server (a personal cloud: static sites plus serverless JavaScript apps).
Typical flow: create_app_from_template or write a folder, deploy_folder, then open the
returned URL; app_logs shows serverless output; rollback undoes a deploy. Before writing
serverless code, read fazt://docs/serverless.md and fazt://docs/storage.md; the schema of
manifest.json is fazt://schemas/manifest.json. Tools act with the token fazt mcp runs
with: a deploy-scoped token cannot use server_status or the upgrade tools."""

# (uri, packaged file, mime type, description)
RESOURCES = [
    (
        "fazt://docs/serverless.md",
        "serverless.md",
        "text/markdown",
        "How serverless JavaScript apps work on fazt: layouts, request/response, globals, "
        "limits, env vars, logs.",
    ),
    (
        "fazt://docs/storage.md",
        "storage.md",
        "text/markdown",
        "fazt.storage.kv / ds / s3: the storage API serverless apps use.",
    ),
    (
        "fazt://schemas/manifest.json",
        "manifest.schema.json",
        "application/schema+json",
        "JSON Schema of an app's manifest.json (name, spa, cache, limits).",
    ),
]

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
CHANGES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)


def resource_text(filename: str) -> str:
    return resources.files("fazt.mcp").joinpath("resources", filename).read_text("utf-8")


def _reader(filename: str):
    return lambda: resource_text(filename)


def build_server(client: FaztClient) -> MCPServer:
    """An MCP server whose tools act on the fazt server `client` talks to."""
    server = MCPServer("fazt", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
    tools = FaztTools(client)
    for fn, annotations in [
        (tools.list_apps, READ_ONLY),
        (tools.app_info, READ_ONLY),
        (tools.deploy_folder, CHANGES),
        (tools.rollback, CHANGES),
        (tools.app_logs, READ_ONLY),
        (tools.server_status, READ_ONLY),
        (tools.create_app_from_template, CHANGES),
        (tools.query_storage, READ_ONLY),
        (tools.check_upgrade, ToolAnnotations(read_only_hint=True, open_world_hint=True)),
        (tools.start_upgrade, ToolAnnotations(read_only_hint=False, destructive_hint=True)),
        (tools.upgrade_status, READ_ONLY),
    ]:
        server.add_tool(fn, annotations=annotations)
    for uri, filename, mime, description in RESOURCES:
        server.resource(uri, name=filename, description=description, mime_type=mime)(
            _reader(filename)
        )
    return server
