"""A bare Granian RSGI server on uvloop running a JS handler in QuickJS (no fazt code).

    python bench/bare/js_app.py HANDLER_FILE PORT WORKERS [--fazt]

WORKERS 0: the handler runs in the event loop's thread. WORKERS N: in N processes of
bench/bare/js_worker.py over pipes (length-prefixed JSON frames); every request goes at
once to the worker with the fewest answers pending (unbounded pipelining). Every answer is
the handler's {status, headers, body}, body as JSON. With --fazt (WORKERS >= 1) the
workers run the handler in fazt's sandbox and answer with fazt's answer frame, whose head
is parsed here and whose body is sent as it is (what fazt's server does with it). Stops on
SIGTERM (the workers with it: their stdin closes).
"""

import asyncio
import collections
import json
import struct
import sys
from pathlib import Path

import uvloop
from granian.constants import Interfaces
from granian.server.embed import Server
from js_worker import load_handler

handler, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fazt_sandbox = sys.argv[4:] == ["--fazt"]


class Worker(asyncio.SubprocessProtocol):
    """One worker process: frames out on its stdin, answers back in order on its stdout."""

    def __init__(self) -> None:
        self.buf, self.pending = bytearray(), collections.deque()
        self.transport: asyncio.SubprocessTransport | None = None

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= 4:
            (size,) = struct.unpack_from("!I", self.buf)
            if len(self.buf) < 4 + size:
                break
            self.pending.popleft().set_result(bytes(self.buf[4 : 4 + size]))
            del self.buf[: 4 + size]

    def send(self, payload: bytes) -> asyncio.Future:
        answer = asyncio.get_running_loop().create_future()
        self.pending.append(answer)
        self.transport.get_pipe_transport(0).write(struct.pack("!I", len(payload)) + payload)
        return answer


workers: list[Worker] = []
serve = load_handler(handler) if count == 0 else None


class App:
    async def __rsgi__(self, scope, proto):
        request = json.dumps(
            {"method": scope.method, "path": scope.path, "query": {},
             "headers": dict(scope.headers.items()), "body": None}
        )  # fmt: skip
        if serve is not None:
            out = json.loads(serve(request))
        else:
            least = min(workers, key=lambda w: len(w.pending))
            answer = await least.send(request.encode())
            if fazt_sandbox:  # "D" + head + newline + body
                head, _, body = answer[1:].decode().partition("\n")
                meta = json.loads(head)
                proto.response_str(meta["s"], [tuple(h) for h in meta["h"]], body)
                return
            out = json.loads(answer)
        headers = [(k, str(v)) for k, v in out.get("headers", {}).items()]
        body = json.dumps(out["body"], separators=(",", ":"))  # the bytes Node sends
        proto.response_str(out.get("status", 200), headers, body)


async def main() -> None:
    loop = asyncio.get_running_loop()
    script = str(Path(__file__).with_name("js_worker.py"))
    for _ in range(count):
        worker = Worker()
        flags = ["--fazt"] if fazt_sandbox else []
        worker.transport, _ = await loop.subprocess_exec(
            lambda w=worker: w, sys.executable, script, handler, *flags, stderr=None
        )
        workers.append(worker)
    server = Server(
        App(), address="127.0.0.1", port=port, interface=Interfaces.RSGI,
        log_enabled=False, backlog=1024,
    )  # fmt: skip
    await server.serve()  # until SIGTERM: its default action ends this process, which
    # closes the workers' stdin, so they exit too


uvloop.run(main())
