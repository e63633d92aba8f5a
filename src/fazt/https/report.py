"""The state of HTTPS as JSON, for `fazt server status` and `GET /api/certificates`."""

import sqlite3
from datetime import UTC, datetime

from fazt.db.clock import stamp
from fazt.https import store
from fazt.https.config import HttpsConfig
from fazt.https.names import wanted_names


def describe(conn: sqlite3.Connection) -> dict:
    """Everything about HTTPS from the database alone (no private key, ever)."""
    cfg = HttpsConfig.load(conn)
    if not cfg.enabled:
        return {"enabled": False}
    wanted = wanted_names(conn, cfg.domain)
    cert = store.current_certificate(conn)
    covered = set(cert.names) if cert else set()
    certificate = None
    if cert is not None:
        from fazt.https import certs  # cryptography (~8 MB): only when there is a cert

        info = certs.CertInfo(cert.names, cert.not_before, cert.not_after, 0)
        certificate = {
            "names": cert.names,
            "not_before": stamp(cert.not_before),
            "not_after": stamp(cert.not_after),
            "renew_after": stamp(info.renewal_due()),
            "issued_at": cert.issued_at,
            "expired": cert.not_after <= datetime.now(UTC),
        }
    return {
        "enabled": True,
        "directory": cfg.directory,
        "http_port": cfg.http_port,
        "https_port": cfg.https_port,
        "hsts": cfg.hsts,
        "certificate": certificate,
        "pending": [n for n in wanted.covered if n not in covered],
        "not_covered": wanted.uncovered,
        **store.status(conn),
        "name_failures": store.name_failures(conn),
    }


def summary(info: dict) -> str:
    """One line for `fazt server status`."""
    if not info["enabled"]:
        return "off"
    cert = info["certificate"]
    parts = []
    if cert is None:
        parts.append("no certificate yet")
    else:
        state = "EXPIRED" if cert["expired"] else f"valid until {cert['not_after'][:19]}Z"
        parts.append(f"{len(cert['names'])} names, {state}")
    if info["pending"]:
        parts.append(f"{len(info['pending'])} pending")
    if info["not_covered"]:
        parts.append(f"{len(info['not_covered'])} over the 100-name limit")
    if info["last_error"]:
        parts.append(f"last error: {info['last_error']} (retry at {info['next_attempt_at']})")
    for name, failure in info["name_failures"].items():
        parts.append(f"{name} failed: {failure['error']} (retry at {failure['next_attempt_at']})")
    return "; ".join(parts)
