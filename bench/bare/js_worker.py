"""A bare QuickJS worker process (no fazt code): runs a handler file for request frames.

    python bench/bare/js_worker.py HANDLER_FILE [--fazt]

--fazt: run it in fazt's own sandbox instead (fazt.runtime.sandbox: its prelude, a fresh
scope per request, the reset after it), answering with fazt's answer frame ("D" + head +
newline + body): what fazt's JavaScript contract costs on this bare stack.

Reads frames from stdin, answers on stdout, in order; a frame is a 4-byte big-endian
length and that many bytes of JSON. In: the request ({method, path, query, headers,
body}); out: the handler's {status, headers, body}. Exits when stdin closes.
bench/bare/js_app.py starts these (and uses `load_handler` in its own thread).
"""

import json
import os
import struct
import sys
from pathlib import Path

import quickjs

# The fazt api/main.js contract: `function handler(req)`, maybe followed by a
# `handler(request);` line (ignored, as node-handler.js does). One JS call per request,
# JSON strings in and out, as fazt's workers do.
WRAP = "\nfunction __serve(s) { return JSON.stringify(handler(JSON.parse(s))); }\n"


def load_handler(path: str):
    """A Python callable: request JSON string -> answer JSON string."""
    source = Path(path).read_text().replace("handler(request);", "")
    ctx = quickjs.Context()
    ctx.eval(source + WRAP)
    return ctx.get("__serve")


def load_fazt(path: str):
    """A Python callable: request JSON string -> fazt's answer frame, from fazt's sandbox
    (the main.js source marked as fazt's deploy marks it; no storage: none is called)."""
    import time

    from fazt.runtime.sandbox import Host, Job, Prepared

    source = Path(path).read_text().replace("handler(request);", "__fazt_keep(handler(request));")
    context = json.dumps({"app": "bench", "env": {}, "version": "bare", "storage": False})
    key = ("bench", 1, 64, 256 * 1024)

    def job(request_json: str) -> Job:
        deadline = time.monotonic() + 30
        return Job("bench", key, "api/main.js", request_json, context, 64, key[3], deadline)

    prepared = Prepared(job("{}"), {"api/main.js": source}, Host())
    return lambda request_json: prepared.run(job(request_json)).raw


def read_exactly(fd: int, n: int, buf: bytearray) -> bytes:
    while len(buf) < n:
        chunk = os.read(fd, 65536)
        if not chunk:
            sys.exit(0)  # the server closed the pipe: stop
        buf += chunk
    out = bytes(buf[:n])
    del buf[:n]
    return out


def main() -> None:
    serve = (load_fazt if sys.argv[2:] == ["--fazt"] else load_handler)(sys.argv[1])
    buf = bytearray()
    while True:
        (size,) = struct.unpack("!I", read_exactly(0, 4, buf))
        answer = serve(read_exactly(0, size, buf).decode()).encode()
        out = memoryview(struct.pack("!I", len(answer)) + answer)
        while out:
            out = out[os.write(1, out) :]


if __name__ == "__main__":
    main()
