"""The worker's malloc settings (fazt.server.run.tune_malloc): big blocks that are freed go
back to the system. Left to glibc, the size from which it maps a block on its own rises to
the biggest block freed so far, and the 4 MiB pieces of a big file streamed once then stay
in the heap (the worker kept +60 MB after a 1 GiB file: docs/benchmarks.md)."""

import platform
import subprocess
import sys

import pytest

# Two threads each read 4 MiB pieces (as a streamed file's) with small, lasting
# allocations in between; prints how much the process's RSS grew, in MB.
PIECES = """
import os, sys, threading
if sys.argv[1] == "tuned":
    from fazt.server.run import tune_malloc
    tune_malloc()
def rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
before = rss_mb()
kept = []
def stream():
    for _ in range(64):
        piece = os.urandom(4 * 1024 * 1024)
        kept.append(bytes(100))
        del piece
threads = [threading.Thread(target=stream) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(rss_mb() - before)
"""

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)


def growth_mb(mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PIECES, mode], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return float(out.stdout)


def test_pieces_of_a_streamed_file_are_returned_to_the_system():
    # Without tune_malloc the same run grows by 8 MB here (one piece kept per thread's arena).
    assert growth_mb("plain") >= 0  # the script itself runs
    assert growth_mb("tuned") < 3
