"""The HTTPS settings, as saved by `fazt server start --https ...`."""

import sqlite3
from dataclasses import dataclass

from fazt.db import settings

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"


class HttpsConfigError(ValueError):
    """The HTTPS options cannot work together (e.g. no domain)."""


@dataclass(frozen=True)
class HttpsConfig:
    enabled: bool
    domain: str
    email: str
    directory: str
    ca_bundle: str  # trust this CA file for the ACME directory (a private or test CA)
    host: str
    http_port: int
    https_port: int
    hsts: bool
    debounce_seconds: float
    retry_base_seconds: float

    @classmethod
    def load(cls, conn: sqlite3.Connection) -> "HttpsConfig":
        v = settings.all_settings(conn)
        return cls(
            enabled=v["https_enabled"] == "1",
            domain=v["domain"],
            email=v["https_email"],
            directory=v["https_directory"] or LETS_ENCRYPT,
            ca_bundle=v["https_ca_bundle"],
            host=v["https_host"],
            http_port=int(v["https_http_port"]),
            https_port=int(v["https_https_port"]),
            hsts=v["https_hsts"] == "1",
            debounce_seconds=float(v["https_debounce_seconds"]),
            retry_base_seconds=float(v["https_retry_base_seconds"]),
        )


def save(conn: sqlite3.Connection, **options: object) -> None:
    """Store the options given on the command line (None = keep the saved value).

    Keys: enabled, email, directory, staging, ca_bundle, host, http_port, https_port, hsts.
    Raises HttpsConfigError when HTTPS would be enabled without a usable domain or email.
    """
    staging = options.pop("staging", None)
    if staging and not options.get("directory"):
        options["directory"] = LETS_ENCRYPT_STAGING
    for key, value in options.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "1" if value else "0"
        settings.put(conn, f"https_{key}", str(value))
    cfg = HttpsConfig.load(conn)
    if not cfg.enabled:
        return
    if cfg.domain in ("localhost", "") or cfg.domain.endswith(".localhost"):
        raise HttpsConfigError(
            "--https needs a public domain (--domain example.com): a CA cannot issue a "
            "certificate for localhost"
        )
    if not cfg.email or "@" not in cfg.email:
        raise HttpsConfigError(
            "--https needs a contact address for the CA: --email you@example.com"
        )
    if cfg.http_port == cfg.https_port:
        raise HttpsConfigError("--http-port and --https-port must differ")
