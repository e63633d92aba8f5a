"""Which HTTPS-mode sockets the supervisor holds for its workers, and how a worker finds
them (real sockets on loopback and a real database file)."""

import socket

from fazt.db import Database, settings
from fazt.server.supervisor import Supervisor, https_addresses
from fazt.web.inherited import by_port
from tests.conftest import free_port


def _db(tmp_path, **values: str) -> str:
    path = tmp_path / "data.db"
    with Database.open(path) as db:
        for key, value in values.items():
            db.write_sync(settings.put, key, value)
    return str(path)


def test_none_when_https_is_off(tmp_path):
    assert https_addresses(_db(tmp_path)) == []
    assert https_addresses(str(tmp_path / "missing.db")) == []


def test_the_redirect_and_tls_ports_when_on(tmp_path):
    db = _db(
        tmp_path,
        https_enabled="1",
        https_host="127.0.0.1",
        https_http_port="8080",
        https_https_port="8443",
    )
    assert https_addresses(db) == [("127.0.0.1", 8080), ("127.0.0.1", 8443)]


def test_supervisor_binds_them_and_the_worker_finds_them_by_port(tmp_path):
    main, http, tls = free_port(), free_port(), free_port()
    db = _db(
        tmp_path,
        https_enabled="1",
        https_host="127.0.0.1",
        https_http_port=str(http),
        https_https_port=str(tls),
    )
    said: list[str] = []
    sup = Supervisor("127.0.0.1", main, db, said.append)
    extra = sup.bind_extra(https_addresses(db))
    try:
        assert by_port(tuple(s.fileno() for s in extra)) == {
            http: extra[0].fileno(),
            tls: extra[1].fileno(),
        }
        # Bound, not listening: the port joins only when a worker serves.
        assert not extra[0].getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    finally:
        Supervisor.close_all(extra)
    assert extra == [] and said == []


def test_a_port_it_cannot_bind_is_left_to_the_worker(tmp_path):
    main, tls = free_port(), free_port()
    with socket.socket() as taken:  # bound without SO_REUSEPORT: nobody else may bind it
        taken.bind(("127.0.0.1", tls))
        db = _db(
            tmp_path,
            https_enabled="1",
            https_host="127.0.0.1",
            https_http_port=str(main),  # the main port itself is never bound twice
            https_https_port=str(tls),
        )
        said: list[str] = []
        sup = Supervisor("127.0.0.1", main, db, said.append)
        assert sup.bind_extra(https_addresses(db)) == []
    assert len(said) == 1 and f"127.0.0.1:{tls}" in said[0]
