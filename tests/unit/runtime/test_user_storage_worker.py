"""fazt.storage.user inside one real JS worker (runtime/worker.py JsWorker, in process):
the visitor named by each frame, and only that one, is the scope of its request's calls,
also when one context serves several visitors one after the other."""

import json
import time

import pytest

from fazt.auth import visitors
from fazt.db import Database
from fazt.hosting.deployments import ensure_site
from fazt.runtime.outcome import decode_outcome
from fazt.runtime.worker import JsWorker

SOURCE = """
module.exports = (req) => {
  const kv = fazt.storage.user.kv;
  const op = req.query.op;
  if (op === "set") { kv.set("k", req.query.v); return { ok: true }; }
  if (op === "get") return { v: kv.get("k") === undefined ? null : kv.get("k") };
  if (op === "later") {  // not awaited: must not run as the next request's visitor
    Promise.resolve().then(() => kv.set("late", "from " + req.query.v));
    return { ok: true };
  }
  const late = () => (kv.get("late") === undefined ? null : kv.get("late"));
  if (op === "read-late") return (async () => ({ v: late() }))();
  try { kv.get("x"); return { anonymous: false }; } catch (e) { return { error: e.message }; }
};
"""
HEADER = json.dumps(
    {"app": "w", "dep": 1, "entry": "api/x.js", "mem": 64, "stack": 1 << 20,
     "src": {"api/x.js": SOURCE}}
)  # fmt: skip
CONTEXT = json.dumps({"app": "w", "env": {}, "version": "t", "storage": True})


@pytest.fixture
def worker(tmp_path):
    path = tmp_path / "data.db"
    with Database.open(path) as db:
        db.write_sync(ensure_site, "w")
        for who in ("alice", "bob"):
            db.write_sync(visitors.sign_in, "w", "dev", who, {"email": f"{who}@x"})
    return JsWorker(str(path), lambda _text: None)


def call(worker: JsWorker, user: str | None, **query: str) -> dict:
    request = {"id": "r", "method": "GET", "path": "/api/x", "query": query, "headers": {}}
    timing = f"{time.monotonic() + 5!r} 0" + ("" if user is None else " " + json.dumps(user))
    frame = f"{HEADER}\0{timing}\0{json.dumps(request)}\0{CONTEXT}"
    outcome = decode_outcome(worker.handle(frame)[1:])
    assert outcome.error is None, outcome.message
    return json.loads(outcome.body)


def test_each_frame_names_its_visitor(worker):
    call(worker, "dev:alice", op="set", v="a")
    call(worker, "dev:bob", op="set", v="b")
    assert call(worker, "dev:alice", op="get") == {"v": "a"}
    assert call(worker, "dev:bob", op="get") == {"v": "b"}
    assert call(worker, None)["error"].startswith("AUTH_REQUIRED")
    assert call(worker, "dev:alice", op="get") == {"v": "a"}  # the same context throughout
    assert len(worker.contexts) == 1


def test_a_job_left_by_one_request_never_runs_as_the_next_visitor(worker):
    call(worker, "dev:alice", op="later", v="alice")
    # (an async handler runs the context's pending jobs: before the fix, alice's ran here)
    assert call(worker, "dev:bob", op="read-late") == {"v": None}
    assert call(worker, "dev:bob", op="read-late") == {"v": None}
    assert call(worker, "dev:alice", op="read-late") == {"v": "from alice"}
