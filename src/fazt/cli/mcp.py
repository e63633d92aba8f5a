"""`fazt mcp`: serve the Model Context Protocol on stdin/stdout for an AI agent.

stdout carries protocol messages only: anything else printed there would corrupt the
stream, so errors before the server starts go to stderr (fail()) and the SDK logs there.
"""

import click
from rich.markup import escape

from fazt.cli.common import fail, token_option
from fazt.remote import peers
from fazt.remote.client import FaztClient

# The extra is optional because it costs ~23 MB and 19 packages (docs/mcp.md).
INSTALL_HINT = (
    "fazt mcp needs the MCP SDK (mcp >= 2.3): pip install 'fazt[mcp]' "
    "(from a clone of the repository: .venv/bin/pip install '.[mcp]')"
)


@click.command()
@click.option(
    "--peer",
    default=None,
    help="Saved server to act on (default: the default peer, `local` after `fazt server start`).",
)
@token_option
def mcp(peer: str | None, token: str | None) -> None:
    """Serve MCP over stdio: tools for AI agents to deploy and inspect apps."""
    try:
        from fazt.mcp.server import build_server
    except ImportError as exc:
        if (exc.name or "").split(".")[0] == "mcp":
            fail(escape(INSTALL_HINT))  # escape: rich would eat '[mcp]'
        raise
    found = peers.find(peer)
    if found is None:
        fail(
            escape(f"no saved peer named '{peer}'")
            if peer
            else "no server configured: start one with `fazt server start` (it saves the "
            "`local` peer)"
        )
    client = FaztClient(found.url, token or found.token)
    try:
        build_server(client).run("stdio")
    finally:
        client.close()
