import os
import socket
import subprocess
import sys

import pytest

from fazt.server.guard import AlreadyServing, ServerLock, check_port_free


def test_second_lock_on_the_same_database_is_refused(tmp_path):
    db = tmp_path / "data.db"
    first = ServerLock(db)
    first.acquire()
    # flock is per open file description: another process is the real case.
    code = (
        "import sys; from pathlib import Path; from fazt.server.guard import ServerLock\n"
        "try:\n    ServerLock(Path(sys.argv[1])).acquire()\nexcept Exception as e:\n"
        "    print(e); sys.exit(3)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True)
    assert out.returncode == 3
    assert f"pid {os.getpid()}" in out.stdout
    first.release()
    again = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True)
    assert again.returncode == 0


def test_port_probe_sees_a_reuseport_listener():
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(AlreadyServing, match=f"127.0.0.1:{port}"):
            check_port_free("127.0.0.1", port)
    check_port_free("127.0.0.1", port)  # free again once closed
