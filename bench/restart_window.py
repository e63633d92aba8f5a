"""What clients see while a crashed worker is replaced: refused connections, and how long
an answer takes.

    python bench/restart_window.py [--kills 5]

Starts a fazt server, then per round SIGKILLs its worker (by pid, as the OOM killer
would) while a prober opens a new connection every 10 ms and asks /health (30 s timeout),
until a new worker has answered for a second. Prints per round the connections refused,
the longest refused stretch, the slowest answer, and the time until the new worker
served. Never fails on a number; stops every process it started by pid.
SHOW_LOG=1 prints the server's log at the end; ROUND_LIMIT (seconds, default 120) ends
a round in which no new worker serves.
"""

import argparse
import os
import signal
import socket
import threading
import time

from benchlib import Fazt, terminate_on_sigterm

PROBE_EVERY = 0.01


def workers(supervisor: int) -> list[int]:
    with open(f"/proc/{supervisor}/task/{supervisor}/children") as f:
        return [int(p) for p in f.read().split()]


def probe(port: int) -> tuple[str, float]:
    """('ok' | 'refused' | 'reset' | 'timeout', seconds) for one GET /health."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            head = conn.recv(64)
        outcome = "ok" if head.startswith(b"HTTP/1.1 200") else "reset"
    except ConnectionRefusedError:
        outcome = "refused"
    except (ConnectionResetError, BrokenPipeError):
        outcome = "reset"
    except TimeoutError:
        outcome = "timeout"
    return outcome, time.monotonic() - started


def one_round(fz: Fazt) -> dict:
    deadline = time.monotonic() + 60
    while len(workers(fz.pid)) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)  # the previous round's worker is being reaped
    (worker,) = workers(fz.pid)
    results: list[tuple[float, str, float]] = []  # (sent at, outcome, seconds)
    done = threading.Event()

    def prober() -> None:
        while not done.is_set():
            at = time.monotonic()
            outcome, seconds = probe(fz.port)
            results.append((at, outcome, seconds))
            time.sleep(max(0.0, PROBE_EVERY - (time.monotonic() - at)))

    threads = [threading.Thread(target=prober) for _ in range(8)]  # slow answers overlap
    killed = time.monotonic()
    os.kill(worker, signal.SIGKILL)
    for t in threads:
        t.start()
    while True:  # until a new worker has answered for a second
        new = [w for w in workers(fz.pid) if w != worker]
        ok_since = [at for at, outcome, _ in results if outcome == "ok" and at > killed]
        if new and ok_since and time.monotonic() - min(ok_since) > 1.0:
            break
        if time.monotonic() - killed > float(os.environ.get("ROUND_LIMIT", "120")):
            break
        time.sleep(0.05)
    done.set()
    for t in threads:
        t.join()
    results.sort()
    refused = [at for at, outcome, _ in results if outcome == "refused"]
    first_ok = min((at + s for at, outcome, s in results if outcome == "ok"), default=None)
    return {
        "probes": len(results),
        "refused": len(refused),
        "refused_window_s": round(max(refused) - min(refused), 2) if refused else 0.0,
        "other_errors": sum(outcome not in ("ok", "refused") for _, outcome, _ in results),
        "slowest_answer_s": round(max((s for _, o, s in results if o == "ok"), default=0), 2),
        "served_again_after_s": round(first_ok - killed, 2) if first_ok else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args()
    terminate_on_sigterm()
    with Fazt() as fz:
        fz.cli(
            "server", "init", "--db", str(fz.db), "--password", "longenough1",
            "--port", str(fz.port), "--username", "admin", "--domain", "localhost",
        )  # fmt: skip
        # Rounds far apart in restart count: the pause before a restart stays short.
        try:
            fz.cli("server", "set-config", "worker_restart_max_delay_seconds=1", "--db", str(fz.db))
        except RuntimeError:
            print("(this version has no worker_restart_max_delay_seconds)")
        fz.start()
        try:
            for n in range(args.kills):
                print(f"kill {n + 1}: {one_round(fz)}", flush=True)
        finally:
            if os.environ.get("SHOW_LOG"):
                print(fz.log())


if __name__ == "__main__":
    main()
