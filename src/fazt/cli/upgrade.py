"""`fazt upgrade`: upgrade the server on this machine (the `local` peer) through its API.

`fazt remote upgrade NAME` does the same to any peer; both print through `run_upgrade`.
"""

import sys
from pathlib import Path

import click

from fazt.cli.common import fail, fail_api, json_option, print_json, renamed_option
from fazt.remote import peers, upgrade_client
from fazt.remote.client import ApiError, FaztClient

# A service install keeps the server's files (and its `local` peer) here; root running
# `fazt upgrade` on that machine has no peer of its own.
SERVICE_HOME = Path("/var/lib/fazt")


def upgrade_options(command):
    """--check, --version, --release-url, --timeout, --json: shared with `remote upgrade`."""
    for option in reversed(
        [
            click.option("--check", is_flag=True, help="Only report whether an upgrade exists."),
            click.option("--version", "version", default=None, help="Install this version."),
            renamed_option(
                "--release-url",
                "index_url",
                old=("--url",),
                default=None,
                help="Release index URL (default: the server's release_url setting).",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(1, 3600),
                default=upgrade_client.DEFAULT_TIMEOUT,
                show_default=True,
                help="Seconds to wait for a verified result.",
            ),
            json_option,
        ]
    ):
        command = option(command)
    return command


def run_upgrade(
    peer: peers.Peer,
    check: bool,
    version: str | None,
    index_url: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Check or upgrade `peer`, print the result, exit 0 only on a verified outcome."""
    with FaztClient(peer.url, peer.token, timeout=upgrade_client.REQUEST_TIMEOUT) as client:
        if check:
            try:
                info = upgrade_client.check(client, version, index_url)
            except ApiError as exc:
                fail_api(exc, f"saved peer {peer.name!r}", f"peer '{peer.name}': ")
            if as_json:
                print_json({"peer": peer.name, "url": peer.url, **info})
                return
            current, latest = info.get("current_version"), info.get("latest_version")
            if info.get("update_available"):
                again = f"fazt remote upgrade {peer.name}" + (
                    f" --release-url {index_url}" if index_url else ""
                )
                click.echo(f"{peer.name} runs {current}; {latest} is available (run `{again}`)")
            else:
                click.echo(f"{peer.name} runs {current}, the latest version")
            return

        def show_step(step: dict) -> None:
            if not as_json:
                click.echo(f"  {step.get('step')}: {step.get('message')}", err=True)

        if not as_json:
            click.echo(f"Upgrading {peer.name} ({peer.url}) ...", err=True)
        outcome = upgrade_client.upgrade(
            client, peer.name, version=version, url=index_url, timeout=timeout, on_step=show_step
        )
        if not outcome.ok and outcome.upgrade_id is None:  # refused before it started
            _say_next_step(client, peer)
    if as_json:
        print_json(outcome.as_dict())
    else:
        if outcome.warning:
            click.echo(f"warning: {outcome.warning}", err=True)
        click.echo(outcome.line())
    sys.exit(0 if outcome.verified else 1)


def _say_next_step(client: FaztClient, peer: peers.Peer) -> None:
    """After an upgrade that never started: the next step if the server is down or refuses
    the token (asked again with a check, which changes nothing)."""
    try:
        upgrade_client.check(client)
    except ApiError as exc:
        hint = exc.next_step(f"saved peer {peer.name!r}").strip()
        if hint:
            click.echo(hint, err=True)


def local_peer() -> peers.Peer:
    """The server started on this machine: `local` in $FAZT_HOME, else the service's."""
    peer = peers.find(peers.LOCAL_PEER)
    if peer is not None:
        return peer
    service_db = SERVICE_HOME / "client.db"
    if service_db.is_file():
        try:
            return _peer_from(service_db)
        except (OSError, LookupError) as exc:
            fail(f"cannot read the service's local peer in {service_db}: {exc} (use sudo?)")
    fail(
        f"no local server known in {peers.client_db_path()}: start one with "
        "`fazt server start`, or upgrade a server by name with `fazt remote upgrade NAME`"
    )


def _peer_from(path: Path) -> peers.Peer:
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT name, url, token FROM peers WHERE name = ?", (peers.LOCAL_PEER,)
        ).fetchone()
    except sqlite3.Error as exc:
        raise OSError(str(exc)) from None
    finally:
        conn.close()
    if row is None:
        raise LookupError("no peer named 'local'")
    return peers.Peer(*row)


@click.command()
@upgrade_options
def upgrade(check, version, index_url, timeout, as_json) -> None:
    """Upgrade the fazt server on this machine to the latest (or given) release.

    The server downloads and verifies the release, restarts into it and rolls back by
    itself if the new version is not healthy; this command waits for the proof.
    """
    run_upgrade(local_peer(), check, version, index_url, timeout, as_json)
