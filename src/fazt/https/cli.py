"""The `fazt server start` options for HTTPS (saved in the settings, so restarts keep them)."""

from collections.abc import Callable
from pathlib import Path

import click

from fazt.cli.common import fail
from fazt.https import config

_PORT = click.IntRange(1, 65535)
OPTIONS = [
    click.option("--https/--no-https", "enabled", default=None, help="Serve HTTPS with ACME."),
    click.option("--email", default=None, help="Contact address for the CA (with --https)."),
    click.option(
        "--acme-directory",
        "directory",
        default=None,
        help="ACME directory URL (default: Let's Encrypt).",
    ),
    click.option("--staging", is_flag=True, default=None, help="Use Let's Encrypt's staging CA."),
    click.option(
        "--acme-ca-bundle",
        "ca_bundle",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help="Trust this CA file for the ACME directory (a private or test CA).",
    ),
    click.option(
        "--https-host", "host", default=None, help="Address for the http/https ports (0.0.0.0)."
    ),
    click.option("--http-port", type=_PORT, default=None, help="ACME + redirect port (80)."),
    click.option("--https-port", type=_PORT, default=None, help="TLS port (443)."),
    click.option("--hsts/--no-hsts", default=None, help="Send Strict-Transport-Security."),
]


def https_options(fn: Callable) -> Callable:
    for option in reversed(OPTIONS):
        fn = option(fn)
    return fn


def save_options(db, options: dict) -> None:
    """Save the given options (None = unchanged); exit with a clear message if unusable."""
    if options.get("ca_bundle"):
        options["ca_bundle"] = str(Path(options["ca_bundle"]).resolve())
    try:
        db.write_sync(lambda conn: config.save(conn, **options))
    except config.HttpsConfigError as exc:
        fail(str(exc))
