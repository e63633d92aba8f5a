"""What a run of an app's JavaScript returns, and how it crosses the JS worker's pipe.

Shared by the server process (fazt.runtime.executor, fazt.runtime.service) and the JS
worker process (fazt.runtime.worker, fazt.runtime.sandbox). Apart from the sandbox and the
worker's own code because the server never runs those: importing them loaded quickjs and
the worker's storage and network bindings into every server, ~0.5 MB of its idle memory
(issue 22).
"""

import json
from dataclasses import dataclass, field

FUNCTION_ERROR = "FUNCTION_ERROR"
FUNCTION_TIMEOUT = "FUNCTION_TIMEOUT"
FUNCTION_MEMORY = "FUNCTION_MEMORY"


@dataclass
class Outcome:
    status: int = 200
    headers: list = field(default_factory=list)  # [name, value] pairs
    body: str = ""
    logs: list = field(default_factory=list)  # [level, message, epoch_ms]
    error: str | None = None  # FUNCTION_ERROR / FUNCTION_TIMEOUT / FUNCTION_MEMORY
    message: str = ""
    line: int | None = None
    file: str | None = None  # where the error happened ("api/x.js", "stdlib:lodash")
    discard: bool = False  # the context must not serve another request
    # The head's JSON text of a success without logs, as it crossed the pipe: the same text
    # is the same status and headers (whose checks the server keeps: service.py).
    head: str | None = None
    # A success as the prelude wrote it, already the answer frame (`D{"s","h","l"}\nbody`):
    # the worker forwards it as is; decode() gives the fields.
    raw: str | None = None

    def decode(self) -> "Outcome":
        """The fields of a `raw` outcome."""
        return self if self.raw is None else decode_outcome(self.raw[1:])


def timed_out() -> Outcome:
    return Outcome(error=FUNCTION_TIMEOUT, message="the function timed out")


def encode_outcome(o: Outcome) -> str:
    if o.raw is not None:  # the prelude wrote the frame itself
        return o.raw
    head = {"s": o.status, "h": o.headers, "l": o.logs}
    if o.error is not None:
        head.update(e=o.error, m=o.message, line=o.line, file=o.file)
    return "D" + json.dumps(head) + "\n" + o.body  # JSON text holds no raw newline


# Heads parsed, by their text: an app answers with the same few heads again and again.
# Bounded in count and in each head's length (an app choosing huge header values must not
# make the server keep megabytes).
_heads: dict[str, dict] = {}
HEADS_KEPT = 256
MAX_KEPT_HEAD_CHARS = 1024


def decode_outcome(text: str) -> Outcome:
    """The other side of encode_outcome (text without the leading "D"). The `headers` list
    of an Outcome from here may be shared with other answers: read it, never change it."""
    head, _, body = text.partition("\n")
    h = _heads.get(head)
    keep = h is not None
    if h is None:
        h = json.loads(head)
        # logs and errors differ from one answer to the next: such heads are not kept
        keep = not h["l"] and "e" not in h and len(head) <= MAX_KEPT_HEAD_CHARS
        if keep:
            if len(_heads) >= HEADS_KEPT:
                _heads.clear()
            _heads[head] = h
    if "j" in h:  # a body holding a NUL, as a JSON string (prelude.js)
        body = json.loads(body)
    return Outcome(
        head=head if keep else None,
        status=h["s"],
        headers=h["h"],  # [name, value] pairs
        body=body,
        logs=h["l"],
        error=h.get("e"),
        message=h.get("m", ""),
        line=h.get("line"),
        file=h.get("file"),
    )
