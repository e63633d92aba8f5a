"""Start HTTPS inside a worker when it is enabled in the settings."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fazt.db import Database
from fazt.https.config import HttpsConfig

if TYPE_CHECKING:
    from fazt.https.manager import CertificateManager


def runtime_dir(db_path: Path) -> Path:
    """Where a worker writes the certificate files Granian reads (private, removed at exit)."""
    return Path(db_path).parent / "run" / "tls"


async def start(
    db: Database, app: Any, inherited: dict[int, int] | None = None
) -> "CertificateManager | None":
    """Listen on the http and https ports and manage the certificate; None when HTTPS is off.

    `inherited`: the supervisor's sockets by port, served instead of binding."""
    cfg = await db.read(HttpsConfig.load)
    if not cfg.enabled:
        return None
    # Imported only when used: the ACME client costs ~20 MB and a second of start-up.
    from fazt.https.listeners import HttpsListeners
    from fazt.https.manager import CertificateManager

    listeners = HttpsListeners(db, app, cfg, runtime_dir(db.path), inherited or {})
    manager = CertificateManager(db, cfg, listeners)
    await manager.start()
    return manager
