"""Granian serving a listening socket it was given, and finding which one serves a port.

The supervisor (fazt.server.supervisor) owns the sockets of every port the server listens
on (the main HTTP port, and in HTTPS mode the TLS and redirect ports) and passes them to
each worker: while a crashed worker is replaced, connections wait in the socket's backlog
instead of being refused.
"""

import os
import socket

from granian._granian import SocketHolder
from granian.server.embed import Server


class InheritedSocketServer(Server):
    """Granian serving a bound socket it was given (`listen_fd`, which it closes when done).

    Granian's embedded server binds in `_init_shared_socket` (on Linux: a spec each worker
    binds); this override listens on the socket and hands it over instead, as Granian
    does off Linux.
    """

    listen_fd: int = -1

    def _init_shared_socket(self) -> None:
        # Listening now, not in the supervisor, puts the socket in the port's group only
        # once this worker serves (again: a no-op for a crashed worker's socket).
        sock = socket.socket(fileno=self.listen_fd)
        try:
            sock.listen(self.backlog)
        finally:
            sock.detach()  # the fd stays open, for Granian
        self._ssp = None
        self._shd = SocketHolder(self.listen_fd, False, self.backlog)
        self._sfd = self._shd.get_fd()


def serving(server: Server, fd: int) -> Server:
    """`server` (an InheritedSocketServer) set to serve a copy of the socket `fd`: each
    server owns its descriptor, so one stopping (a replaced TLS listener) closes only its
    own, never the socket others still serve."""
    server.listen_fd = os.dup(fd)
    return server


def by_port(fds: tuple[int, ...]) -> dict[int, int]:
    """The given sockets by the port each is bound to."""
    found = {}
    for fd in fds:
        sock = socket.socket(fileno=fd)
        try:
            found[sock.getsockname()[1]] = fd
        finally:
            sock.detach()
    return found
