"""A bare Granian RSGI server on uvloop serving a folder (no fazt code): a ceiling.

    python bench/bare/static_app.py FOLDER PORT MODE

MODE says how a file gets to the answer:
  mem    every file read into memory at start, sent with `response_bytes`
  pread  each file read per request (open + fstat + pread), sent with `response_bytes`
  file   `response_file` per request (Granian reads the file)
  mount  Granian's own Rust static file serving (`static_path_mount`), no Python at all
Unknown paths get 404. Started by bench/ceilings.py; stops on SIGTERM.
"""

import mimetypes
import sys
from pathlib import Path
from urllib.parse import quote

import uvloop
from files import read  # bench/bare/files.py (this script's folder is on sys.path)
from granian.constants import Interfaces
from granian.server.embed import Server

folder, port, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
# The headers an HTTP cache needs, like fazt sends (values are fixed: no fazt logic here).
files: dict[str, tuple[bytes | str, list[tuple[str, str]]]] = {}
for path in folder.rglob("*"):
    if path.is_file():
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        headers = [("content-type", ctype), ("etag", '"x"'), ("cache-control", "public, max-age=0")]
        body = path.read_bytes() if mode == "mem" else str(path)
        files["/" + quote(path.relative_to(folder).as_posix())] = (body, headers)


class App:
    async def __rsgi__(self, scope, proto):
        hit = files.get(scope.path)
        if hit is None:
            proto.response_bytes(404, [], b"not found")
        elif mode == "mem":
            proto.response_bytes(200, hit[1], hit[0])
        elif mode == "pread":
            proto.response_bytes(200, hit[1], read(hit[0]))
        else:
            proto.response_file(200, hit[1], hit[0])


async def main() -> None:
    # Route "" mounts the folder at the root (route "/" would match no path).
    mount = {"static_path_route": [""], "static_path_mount": [folder]} if mode == "mount" else {}
    server = Server(
        App(),
        address="127.0.0.1",
        port=port,
        interface=Interfaces.RSGI,
        log_enabled=False,
        backlog=1024,  # as fazt's
        **mount,
    )
    await server.serve()  # until SIGTERM (its default action ends the process)


uvloop.run(main())
