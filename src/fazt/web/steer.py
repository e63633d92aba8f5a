"""Steer new connections on a SO_REUSEPORT port to the newest listener (Linux only).

During a handover two workers listen on the same port and the kernel spreads new
connections over both. A connection the old worker accepts just before it stops can be
closed unanswered (measured: ~1 in 5 handovers lost a TLS request). Once the new worker
is ready it attaches a tiny classic-BPF program to the port's reuseport group that picks
the socket at index 1 — the newest of two (the kernel appends sockets to the group) — so
the old worker gets no new connections and only finishes the ones it has. With one socket
in the group, index 1 does not exist and the kernel falls back to its usual hash.
"""

import contextlib
import ctypes
import os
import socket
import sys

SO_ATTACH_REUSEPORT_CBPF = 51
BPF_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K: return the constant k


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter)))


def listening_sockets(port: int) -> list[int]:
    """File descriptors of this process's TCP sockets listening on `port`."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with sock:
            try:
                listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                bound = sock.getsockname()
            except OSError:
                continue
            if sock.type == socket.SOCK_STREAM and listening and bound[1] == port:
                found.append(fd)
    return found


def steer_to_newest(port: int) -> bool:
    """Send new connections on `port` to the newest listener; False if not possible here."""
    if not sys.platform.startswith("linux"):
        return False
    program = (_SockFilter * 1)(_SockFilter(BPF_RET_K, 0, 0, 1))
    fprog = _SockFprog(1, program)
    done = False
    for fd in listening_sockets(port):
        with (
            contextlib.suppress(OSError),
            socket.socket(fileno=os.dup(fd)) as sock,
        ):
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(fprog))
            done = True
    return done
