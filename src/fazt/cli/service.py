"""`fazt service ...`: run fazt as a systemd service on this machine (Linux, root)."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import httpx

from fazt import __version__
from fazt.cli.common import fail, json_option, log_options, print_json
from fazt.hosting.names import validate_domain
from fazt.service import install as installer
from fazt.service.unit import (
    DATA_DIR,
    INSTALL_ROOT,
    SERVICE_NAME,
    UNIT_PATH,
    ServiceConfig,
    read_port,
    render,
)

HEALTH_DEADLINE = 60.0


@click.group()
def service() -> None:
    """Run fazt as a systemd service on this machine."""


def _require_root(action: str) -> None:
    if os.geteuid() != 0:
        fail(f"`fazt service {action}` must run as root: try `sudo fazt service {action} ...`")


def _require_systemd() -> None:
    if not shutil.which("systemctl"):
        fail("systemd (systemctl) is not available on this machine")


def _prefixed(prefix: Path | None, path: Path) -> Path:
    return prefix / path.relative_to("/") if prefix else path


@service.command()
@click.option("--domain", required=True, help="The domain sites are served under.")
@click.option("--email", default=None, help="Contact for Let's Encrypt (needed with --https).")
@click.option("--https", is_flag=True, help="Get certificates automatically (ports 80 and 443).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=80,
    show_default=True,
    help="Plain HTTP port.",
)
@click.option(
    "--https-port", type=click.IntRange(1, 65535), default=443, show_default=True, hidden=True
)
@click.option(
    "--root",
    "install_root",
    type=click.Path(path_type=Path),
    default=INSTALL_ROOT,
    show_default=True,
    help="Install root holding releases/ and the current link.",
)
@click.option("--dry-run", is_flag=True, help="Print the steps and the unit; change nothing.")
@click.option(
    "--prefix",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="With --dry-run: also write the unit under this directory (for inspection).",
)
def install(domain, email, https, port, https_port, install_root, dry_run, prefix) -> None:
    """Install and start fazt as the `fazt` systemd service (needs root).

    Creates the `fazt` system user, /var/lib/fazt (data) and a hardened fazt.service,
    initialises the database (the admin password is shown once), enables and starts it.
    """
    try:
        domain = validate_domain(domain)
    except ValueError as exc:
        fail(str(exc))
    if https and (not email or "@" not in email):
        fail("--https needs a contact address for Let's Encrypt: --email you@example.com")
    if https and port == https_port:
        fail("--port and --https-port must differ")
    if prefix and not dry_run:
        fail("--prefix only goes with --dry-run")
    cfg = ServiceConfig(
        domain=domain,
        port=port,
        https=https,
        email=email,
        https_port=https_port,
        data_dir=DATA_DIR,
        install_root=install_root.absolute(),
    )
    unit_path = _prefixed(prefix, UNIT_PATH)
    steps = installer.install_steps(cfg, __version__, unit_path)
    if dry_run:
        click.echo("Dry run: nothing is changed. `fazt service install` would:")
        for number, step in enumerate(steps, 1):
            click.echo(f"  {number}. {step.description}")
        if prefix:
            unit_path.parent.mkdir(parents=True, exist_ok=True)
            unit_path.write_text(render(cfg, __version__))
            click.echo(f"Unit written to {unit_path}")
        else:
            click.echo(f"\n{UNIT_PATH}:\n")
            click.echo(render(cfg, __version__))
        return
    _require_root("install")
    try:
        installer.preflight(cfg)
        installer.run_steps(steps, click.echo)
    except installer.InstallError as exc:
        fail(f"installation failed at {exc}")
    port = cfg.api_port
    click.echo(f"==> waiting for fazt to answer on port {port}")
    health = _wait_healthy(port, HEALTH_DEADLINE)
    if health is None:
        fail(
            f"fazt.service did not answer http://127.0.0.1:{port}/health within "
            f"{HEALTH_DEADLINE:g}s; see `journalctl -u {SERVICE_NAME} -n 50`"
        )
    click.echo(f"fazt {health.get('version')} is running as a service: {cfg.public_url}")
    click.echo(
        f"Status: `fazt service status`; logs: `fazt service logs -f`; "
        f"data: {cfg.data_dir}; releases: {cfg.install_root}/releases"
    )


def _health(port: int) -> dict | None:
    try:
        response = httpx.get(
            f"http://127.0.0.1:{port}/health", headers={"host": "localhost"}, timeout=2
        )
        return response.json()["data"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def _wait_healthy(port: int, deadline: float) -> dict | None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        health = _health(port)
        if health is not None:
            return health
        time.sleep(0.5)
    return None


@service.command()
@json_option
def status(as_json) -> None:
    """Show systemd's view of fazt.service and whether fazt answers."""
    _require_systemd()
    if not UNIT_PATH.exists():
        fail(f"fazt is not installed as a service ({UNIT_PATH} does not exist)")
    active = subprocess.run(
        ["systemctl", "is-active", SERVICE_NAME], capture_output=True, text=True
    ).stdout.strip()
    port = read_port(UNIT_PATH.read_text())
    health = _health(port) if port else None
    if as_json:
        print_json({"active": active, "port": port, "health": health})
    else:
        subprocess.run(["systemctl", "status", "--no-pager", "--lines=5", SERVICE_NAME])
        if health:
            click.echo(f"\nHealth: ok, fazt {health.get('version')} on port {port}")
        else:
            click.echo(f"\nHealth: fazt does not answer on port {port}")
    sys.exit(0 if active == "active" and health else 1)


@service.command()
@log_options
def logs(follow, lines) -> None:
    """Show the service's log (journalctl -u fazt)."""
    if not shutil.which("journalctl"):
        fail("journalctl is not available on this machine")
    args = ["journalctl", "-u", SERVICE_NAME, "--no-pager", "-n", str(lines)]
    if follow:
        args.append("--follow")
    os.execvp(args[0], args)


@service.command()
@click.option("--purge", is_flag=True, help="Also delete the data, the releases and the user.")
@click.option(
    "--root",
    "install_root",
    type=click.Path(path_type=Path),
    default=INSTALL_ROOT,
    show_default=True,
    help="Install root the service was installed into (see `service install --root`).",
)
@click.option("--yes", is_flag=True, help="Do not ask before --purge deletes data.")
@click.option("--dry-run", is_flag=True, help="Print the steps; change nothing.")
@json_option
def uninstall(purge, install_root, yes, dry_run, as_json) -> None:
    """Stop and remove the service. Keeps /var/lib/fazt and the releases unless --purge."""
    cfg = ServiceConfig(domain="localhost", install_root=install_root.absolute())
    steps = installer.uninstall_steps(cfg, purge)
    if dry_run:
        if as_json:
            print_json({"steps": [s.description for s in steps]})
            return
        click.echo("Dry run: nothing is changed. `fazt service uninstall` would:")
        for number, step in enumerate(steps, 1):
            click.echo(f"  {number}. {step.description}")
        return
    _require_root("uninstall")
    if purge and not yes:
        click.confirm(
            f"Delete {cfg.data_dir} (every site, app data and backup) and {cfg.install_root}?",
            abort=True,
        )
    try:
        installer.run_steps(steps, (lambda m: None) if as_json else click.echo)
    except installer.InstallError as exc:
        fail(f"uninstall failed at {exc}")
    if as_json:
        click.echo(json.dumps({"removed": True, "purged": purge}))
    elif not purge:
        click.echo(f"Removed the service; data kept in {cfg.data_dir}, releases in {install_root}")
