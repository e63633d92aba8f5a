"""Where HTTPS mode listens: the redirect and TLS ports, from the saved settings.

The supervisor binds these ports for its workers, so that a worker's crash does not refuse
HTTPS connections. `fazt server start` reads them (it has the database open) and passes them
to the supervisor, which reads them itself only at a handover: an idle supervisor never
loads sqlite3 and the settings schema (~4 MB, issue 22).
"""

from pathlib import Path


def https_addresses(db: str) -> list[tuple[str, int]]:
    """The redirect and TLS ports from the saved settings; [] when HTTPS mode is off."""
    from fazt.db import settings

    def value(key: str) -> str:
        saved = settings.saved(Path(db), key)
        return settings.DEFAULTS[key] if saved is None else saved

    if value("https_enabled") != "1":
        return []
    try:
        ports = [int(value("https_http_port")), int(value("https_https_port"))]
    except ValueError:
        return []  # the worker reports the bad setting
    return [(value("https_host"), port) for port in ports]
