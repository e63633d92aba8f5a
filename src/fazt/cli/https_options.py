"""The `fazt server start` options for HTTPS (saved in the settings, so restarts keep them)."""

import errno
from collections.abc import Callable
from pathlib import Path

import click

from fazt.cli.common import fail
from fazt.db import Database
from fazt.https import config

_PORT = click.IntRange(1, 65535)
OPTIONS = [
    click.option(
        "--https/--no-https", "https_enabled", default=None, help="Serve HTTPS with ACME."
    ),
    click.option(
        "--email", "https_email", default=None, help="Contact address for the CA (with --https)."
    ),
    click.option(
        "--acme-directory",
        "https_directory",
        default=None,
        help="ACME directory URL (default: Let's Encrypt).",
    ),
    click.option(
        "--staging",
        "https_staging",
        is_flag=True,
        default=None,
        help="Use Let's Encrypt's staging CA.",
    ),
    click.option(
        "--acme-ca-bundle",
        "https_ca_bundle",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help="Trust this CA file for the ACME directory (a private or test CA).",
    ),
    click.option(
        "--https-host",
        "https_host",
        default=None,
        help="Address for the http/https ports (0.0.0.0).",
    ),
    click.option(
        "--http-port",
        "https_http_port",
        type=_PORT,
        default=None,
        help="ACME + redirect port (80).",
    ),
    click.option(
        "--https-port", "https_https_port", type=_PORT, default=None, help="TLS port (443)."
    ),
    click.option(
        "--hsts/--no-hsts", "https_hsts", default=None, help="Send Strict-Transport-Security."
    ),
]


def https_options(fn: Callable) -> Callable:
    for option in reversed(OPTIONS):
        fn = option(fn)
    return fn


def save_options(db: Database, given: dict, main_port: int) -> None:
    """Save the given options (None = unchanged); exit with a clear message if unusable.

    `main_port` is the plain listener's port (`--port`), which must be another port."""
    # The option names carry an https_ prefix so they never clash with `start`'s own.
    options = {key.removeprefix("https_"): value for key, value in given.items()}
    if options.get("ca_bundle"):
        options["ca_bundle"] = str(Path(options["ca_bundle"]).resolve())
    try:
        db.write_sync(lambda conn: config.save(conn, **options))
    except config.HttpsConfigError as exc:
        fail(str(exc))
    _check_ports(db.read_sync(config.HttpsConfig.load), main_port)


def _check_ports(cfg: config.HttpsConfig, main_port: int) -> None:
    """Refuse to start when the http/https ports cannot be ours, with the reason."""
    from fazt.server.guard import AlreadyServing, check_port_free

    if not cfg.enabled:
        return
    for flag, port in (("--http-port", cfg.http_port), ("--https-port", cfg.https_port)):
        if port == main_port:
            fail(
                f"{flag} {port} is also --port: in HTTPS mode --port is the local plain "
                "listener (keep the default 4698, on 127.0.0.1)"
            )
        try:
            check_port_free(cfg.host, port)
        except AlreadyServing as exc:
            fail(f"cannot use {flag} {port}: {exc}")
        except OSError as exc:
            hint = ""
            if exc.errno == errno.EACCES:
                hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            fail(f"cannot use {flag} {port} on {cfg.host}: {exc.strerror}{hint}")
