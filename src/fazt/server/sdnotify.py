"""Tell systemd about our state (`Type=notify` units); a no-op when not under systemd."""

import os
import socket


def notify(*fields: str) -> bool:
    """Send `READY=1`, `RELOADING=1`, `STOPPING=1`, `STATUS=...` to $NOTIFY_SOCKET."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode())
    except OSError:
        return False
    return True
