"""`fazt remote ...`: the fazt servers ("peers") this CLI knows, and what to do with them.

Peers live in $FAZT_HOME/client.db (mode 0600). A token is never printed.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from fazt.cli import app as app_cli
from fazt.cli import deploy as deploy_cli
from fazt.cli.common import (
    console,
    fail,
    fail_api,
    human_size,
    json_option,
    print_json,
    print_table,
)
from fazt.cli.upgrade import run_upgrade, upgrade_options
from fazt.remote import peers
from fazt.remote.client import ApiError, FaztClient

STATUS_TIMEOUT = 10.0
LATENCY_SAMPLES = 3


@click.group()
def remote() -> None:
    """Manage the fazt servers this CLI talks to (peers)."""


def _peer(name: str | None) -> peers.Peer:
    try:
        return peers.resolve(name)
    except peers.PeerError as exc:
        fail(str(exc))


@contextmanager
def _client(peer: peers.Peer, timeout: float = 60.0) -> Iterator[FaztClient]:
    """A client for the peer; API errors end the command naming the peer."""
    client = FaztClient(peer.url, peer.token, timeout=timeout)
    try:
        yield client
    except ApiError as exc:
        fail_api(exc, f"saved peer {peer.name!r}", f"peer '{peer.name}': ")
    finally:
        client.close()


def _read_token(token: str) -> str:
    if token == "-":  # keeps the token out of the shell history and `ps`
        token = sys.stdin.readline()
    token = token.strip()
    if not token:
        fail("the token is empty")
    return token


@remote.command()
@click.argument("name")
@click.option("--url", required=True, help="The server's admin URL, e.g. https://admin.example.com")
@click.option("--token", required=True, help="An API key for it ('-' reads it from stdin).")
@click.option("--default", "make_default", is_flag=True, help="Make it the default peer.")
@click.option("--replace", is_flag=True, help="Overwrite a peer of the same name.")
@click.option("--no-check", is_flag=True, help="Save without asking the server first.")
@json_option
def add(name, url, token, make_default, replace, no_check, as_json) -> None:
    """Save a server as peer NAME (the token is checked against it first)."""
    try:
        name, url = peers.validate_name(name), peers.normalise_url(url)
    except peers.PeerError as exc:
        fail(str(exc))
    token = _read_token(token)
    if peers.find(name) is not None and not replace:
        fail(f"a peer named '{name}' already exists (pass --replace to overwrite it)")
    version = None
    if not no_check:
        with FaztClient(url, token, timeout=STATUS_TIMEOUT) as client:
            try:
                version = client.health()[0].get("version")
                client.get("/api/apps")  # any valid key may list apps: proves the token
            except ApiError as exc:
                fail_api(exc, "--token", f"peer '{name}' not saved (--no-check saves it anyway): ")
    peers.save(name, url, token, make_default=make_default)
    peer = peers.find(name)
    if as_json:
        print_json({**peer.public(), "version": version, "checked": not no_check})
        return
    checked = f", fazt {version}" if version else " (not checked)"
    default = " (default)" if peer.is_default else ""
    click.echo(f"Added peer '{name}' -> {url}{checked}{default}")


@remote.command("list")
@json_option
def list_peers(as_json) -> None:
    """List peers (tokens are never shown)."""
    found = [p.public() for p in peers.list_all()]
    if as_json:
        print_json(found)
        return
    rows = [{**p, "default": "*" if p["default"] else ""} for p in found]
    print_table(rows, ["name", "url", "default", "created_at"])


@remote.command()
@click.argument("name")
@json_option
def remove(name, as_json) -> None:
    """Forget peer NAME (the server is not touched)."""
    if not peers.remove(name):
        fail(f"no peer named '{name}'")
    if as_json:
        print_json({"name": name, "removed": True})
    else:
        click.echo(f"Removed peer '{name}'")


@remote.command()
@click.argument("name")
@json_option
def default(name, as_json) -> None:
    """Make NAME the peer used when none is named."""
    if not peers.set_default(name):
        fail(f"no peer named '{name}'")
    if as_json:
        print_json({"name": name, "default": True})
    else:
        click.echo(f"Default peer is now '{name}'")


def _uptime(seconds: int | None) -> str:
    if seconds is None:
        return "unknown"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    parts += [f"{minutes}m", f"{secs}s"]
    return " ".join(parts)


def peer_status(peer: peers.Peer) -> dict:
    """Reachable? version, uptime, latency (best of a few /health calls), token accepted?"""
    info = {"name": peer.name, "url": peer.url, "reachable": False, "token_ok": False}
    with FaztClient(peer.url, peer.token, timeout=STATUS_TIMEOUT) as client:
        try:
            samples = [client.health() for _ in range(LATENCY_SAMPLES)]
        except ApiError as exc:
            return {**info, "error": str(exc), "next_step": _next_step(exc, peer)}
        data = samples[-1][0]
        info.update(
            reachable=True,
            version=data.get("version"),
            uptime_seconds=data.get("uptime_seconds"),
            latency_ms=round(min(ms for _, ms in samples), 1),
        )
        try:
            info["apps"] = len(client.get("/api/apps"))
            info["token_ok"] = True
        except ApiError as exc:
            info["error"] = f"token not accepted: {exc}"
            info["next_step"] = _next_step(exc, peer)
    return info


def _next_step(exc: ApiError, peer: peers.Peer) -> str:
    return exc.next_step(f"saved peer {peer.name!r}").strip()


@remote.command()
@click.argument("name", required=False)
@json_option
def status(name, as_json) -> None:
    """Is the peer (default: the default one) up: version, uptime, latency, token."""
    peer = _peer(name)
    info = peer_status(peer)
    if as_json:
        print_json(info)
    elif not info["reachable"]:
        click.echo(f"{peer.name} ({peer.url}): UNREACHABLE", err=True)
    else:
        for label, value in [
            ("Peer", peer.name + (" (default)" if peer.is_default else "")),
            ("URL", peer.url),
            ("Status", "reachable" if info["token_ok"] else "reachable, token rejected"),
            ("Version", info["version"]),
            ("Uptime", _uptime(info["uptime_seconds"])),
            ("Latency", f"{info['latency_ms']} ms"),
            ("Apps", info.get("apps", "?")),
        ]:
            console.print(f"{label + ':':9} {value}", highlight=False)
    if info.get("error"):
        hint = f"\n  {info['next_step']}" if info.get("next_step") else ""
        fail(f"peer '{peer.name}': {info['error']}{hint}")


@remote.command()
@click.argument("name", required=False)
@json_option
def apps(name, as_json) -> None:
    """List the apps on a peer."""
    peer = _peer(name)
    with _client(peer) as client:
        found = client.get("/api/apps")
    if as_json:
        print_json(found)
        return
    rows = [{**a, "size": human_size(a["size_bytes"]), "files": a["file_count"]} for a in found]
    print_table(rows, ["name", "kind", "url", "files", "size", "last_deploy_at"], title=peer.name)


@remote.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("name", required=False)
@click.option("--site", default=None, help="Site name (default: manifest.json name or folder).")
@click.option("--preview", is_flag=True, help="Publish without going live.")
@click.option(
    "--include-dotfiles",
    is_flag=True,
    help="Also publish files starting with '.' (never .git/, .ssh/ or .env*).",
)
@json_option
@click.pass_context
def deploy(ctx, directory, name, site, preview, include_dotfiles, as_json) -> None:
    """Deploy DIRECTORY to peer NAME (default: the default peer)."""
    peer = _peer(name)
    if not as_json:
        click.echo(f"Peer '{peer.name}' ({peer.url})", err=True)
    ctx.invoke(
        deploy_cli.deploy,
        directory=directory,
        site=site,
        url=peer.url,
        token=peer.token,
        preview=preview,
        include_dotfiles=include_dotfiles,
        as_json=as_json,
    )


@remote.command()
@click.argument("app_name", metavar="APP")
@click.argument("name", required=False)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=100,
    show_default=True,
    help="Newest log lines shown.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@json_option
@click.pass_context
def logs(ctx, app_name, name, limit, follow, as_json) -> None:
    """Show APP's logs on peer NAME (default: the default peer)."""
    peer = _peer(name)
    ctx.invoke(
        app_cli.logs,
        name=app_name,
        limit=limit,
        follow=follow,
        interval=1.0,
        url=peer.url,
        token=peer.token,
        as_json=as_json,
    )


@remote.command("upgrade")
@click.argument("name", required=False)
@upgrade_options
def upgrade_peer(name, check, version, index_url, timeout, as_json) -> None:
    """Upgrade peer NAME and wait until it proves it runs the new version (or rolled back)."""
    run_upgrade(_peer(name), check, version, index_url, timeout, as_json)
