"""Idle memory (issue 22): what a real server's supervisor and worker hold after start.

tests/unit/server/test_idle_imports.py checks what importing the entry modules loads; this
starts a real `fazt server start` and reads the modules each of its processes really had
loaded once it served (start-up code imports more than module imports do: the settings,
the image variants, the routes). A `sitecustomize` on PYTHONPATH writes each process's
`sys.modules` and VmRSS when it exits; the supervisor passes its environment to the worker.
"""

import json
import os
import signal
from pathlib import Path

from tests.conftest import FaztServer, free_port, wait_for
from tests.unit.server.test_idle_imports import SUPERVISOR_NEVER, WORKER_LAZY

# Written at every exit of a Python process started with this folder on PYTHONPATH.
SITECUSTOMIZE = """
import atexit, os, sys

def _dump():
    modules = sorted(sys.modules)  # before json (and re) are imported to write them
    rss = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    import json

    path = os.path.join(os.environ["FAZT_TEST_DUMP_DIR"], f"{os.getpid()}.json")
    with open(path, "w") as f:
        json.dump({"argv": sys.argv, "modules": modules, "rss_kb": rss}, f)

atexit.register(_dump)
"""

# On top of what importing the entry modules must not load: what start-up code used to load.
SUPERVISOR_NEVER_RUNNING = (*SUPERVISOR_NEVER, "runpy", "shutil", "threading", "locale")
WORKER_NEVER_IDLE = (*WORKER_LAZY, "PIL", "PIL.Image", "html.entities", "email.utils", "uuid")


def _dumps(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in folder.glob("*.json")]


def test_an_idle_servers_processes_hold_only_what_idle_needs(tmp_path):
    custom, dumps, home = tmp_path / "site", tmp_path / "dumps", tmp_path / "home"
    for folder in (custom, dumps, home):
        folder.mkdir()
    (custom / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(custom), os.environ.get("PYTHONPATH")) if p)
    env = {"PYTHONPATH": path, "FAZT_TEST_DUMP_DIR": str(dumps)}
    srv = FaztServer(home=home, port=free_port(), db=home / "data.db", env=env)
    with srv.serving():
        assert srv.get("/health").status_code == 200
        srv.stop(signal.SIGTERM)
    # The CLI process exec'd into the supervisor (no exit of its own), so two processes.
    wait_for(lambda: len(_dumps(dumps)) >= 2, what="both processes' module lists")
    found = _dumps(dumps)
    supervisor = [d for d in found if "--lock-fd" in d["argv"]]  # as `server start` execs it
    worker = [d for d in found if d["argv"][1:3] == ["server", "worker"]]
    assert len(supervisor) == 1 and len(worker) == 1, [d["argv"] for d in found]
    held = set(supervisor[0]["modules"])
    assert "fazt.server.supervisor" in held
    assert sorted(m for m in SUPERVISOR_NEVER_RUNNING if m in held) == []
    held = set(worker[0]["modules"])
    assert "fazt.server.app" in held and "granian" in held  # it did serve
    assert sorted(m for m in WORKER_NEVER_IDLE if m in held) == []
