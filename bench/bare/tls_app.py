"""A bare Granian RSGI server on uvloop answering one file over TLS (no fazt code): a ceiling.

    python bench/bare/tls_app.py FILE PORT CERT KEY

Every request gets the file's bytes (read once at start) with `response_bytes`, over
Granian's own TLS (rustls) with the given certificate and key, as fazt's HTTPS listener.
Started by bench/ceilings.py; stops on SIGTERM.
"""

import sys
from pathlib import Path

import uvloop
from granian.constants import Interfaces, SSLProtocols
from granian.server.embed import Server

body = Path(sys.argv[1]).read_bytes()
port, cert, key = int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
HEADERS = [("content-type", "text/html"), ("etag", '"x"'), ("cache-control", "public, max-age=0")]


class App:
    async def __rsgi__(self, scope, proto):
        proto.response_bytes(200, HEADERS, body)


async def main() -> None:
    server = Server(
        App(),
        address="127.0.0.1",
        port=port,
        interface=Interfaces.RSGI,
        log_enabled=False,
        backlog=1024,
        ssl_cert=cert,
        ssl_key=key,
        ssl_protocol_min=SSLProtocols.tls12,  # as fazt's listener (wrk still gets TLS 1.3)
    )
    await server.serve()


uvloop.run(main())
