"""A plain uvloop HTTP/1.1 server (no Granian, no fazt code) serving a folder: a ceiling.

    python bench/bare/uvloop_static.py FOLDER PORT MODE

MODE: `mem` (every file read into memory at start) or `pread` (each file read per request,
open + fstat + pread). One thread parses, answers and writes, where Granian hands each
request between its Rust thread and the event loop's. A measurement device only: GET
without bodies, a naive header split, no limits. Started by bench/ceilings.py; stops on
SIGTERM.
"""

import asyncio
import mimetypes
import sys
from pathlib import Path
from urllib.parse import quote

import uvloop
from files import read  # bench/bare/files.py (this script's folder is on sys.path)

folder, port, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
files: dict[bytes, tuple[bytes, bytes | str]] = {}  # path -> (status line + headers, body)
for path in folder.rglob("*"):
    if path.is_file():
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        head = (
            f'HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\netag: "x"\r\n'
            f"cache-control: public, max-age=0\r\ncontent-length: {path.stat().st_size}\r\n\r\n"
        ).encode()
        body = path.read_bytes() if mode == "mem" else str(path)
        files[("/" + quote(path.relative_to(folder).as_posix())).encode()] = (head, body)
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found"


class Connection(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            target = buffer[: buffer.find(b"\r\n")].split(b" ")[1]
            buffer = buffer[end + 4 :]
            hit = files.get(target.partition(b"?")[0])
            if hit is None:
                self.transport.write(NOT_FOUND)
            else:
                head, body = hit
                self.transport.writelines((head, body if mode == "mem" else read(body)))
        self.buffer = buffer


async def main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Connection, "127.0.0.1", port, backlog=1024)
    await server.serve_forever()  # until SIGTERM (its default action ends the process)


uvloop.run(main())
