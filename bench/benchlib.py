"""Shared helpers for the benchmarks in bench/: a throwaway fazt server on loopback.

Every process a benchmark starts is tracked by pid and stopped (SIGTERM, then SIGKILL)
when the `with` block ends, whatever happened inside it; temp folders are removed too.
fazt is run as `sys.executable -m fazt`, i.e. the fazt installed beside this Python.
"""

import contextlib
import functools
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_BENCH = Path(os.environ.get("FAZT_SHARED_BENCH") or ROOT.parent / "shared" / "bench")


def fazt_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "fazt", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_pid(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM this one process, SIGKILL it if it has not exited after `grace` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def run_group(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run cmd in its own process group; on timeout or any exit (error, SIGTERM) stop the
    whole group (the group id is the child's pid), so its own children die too."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def missing_wrk_or_nginx(script: str) -> bool:
    """Say which of wrk and nginx (the anchors' tools) is not installed, as `script`; True
    then (the benchmark exits 2)."""
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            print(f"{script}: {tool} is not installed (apt-get install -y wrk nginx-light)")
            return True
    return False


def terminate_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally`/`with` clean-ups run."""

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def wrk_ratio(
    url_a: str, url_b: str, host_a: str, args, lua: list[str] | None = None
) -> float | None:
    """Run ../shared/bench/wrk-ratio (rounds/duration/conns from args), echo its output,
    return the median ratio A/B (None if it printed none). `lua`: a wrk script in
    ../shared/bench/ and its arguments (e.g. ["random-paths.lua", PATHS_FILE])."""
    cmd = [
        str(SHARED_BENCH / "wrk-ratio"),
        "--rounds",
        str(args.rounds),
        "--duration",
        str(args.duration),
        "--conns",
        str(args.conns),
        "--host-a",
        host_a,
    ]
    if lua:
        cmd += ["--lua", str(SHARED_BENCH / lua[0])]
        for value in lua[1:]:
            cmd += ["--lua-arg", value]
    cmd += [url_a, url_b]
    bound = 30 + (2 * args.rounds + 2) * (args.duration + 10)
    out = run_group(cmd, timeout=bound)  # wrk-ratio's own wrk children go with it
    sys.stdout.write(out.stdout)
    sys.stderr.write(out.stderr)
    found = re.search(r"ratio A/B = ([\d.]+)", out.stdout)
    return float(found.group(1)) if found else None


def _own_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _children(pid: int) -> list[int]:
    pids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(c) for c in (task / "children").read_text().split()]
    return pids


def worker_pid(supervisor: int) -> int:
    """The serving worker of a `fazt server start` supervisor (itself if it has none)."""
    children = _children(supervisor)
    return children[0] if children else supervisor


class PeakRSS:
    """Samples a process tree's RSS (rss_kb) in a thread every `interval` seconds, from
    the start; `.peak` in KiB."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_kb(self.pid))
            except (OSError, RuntimeError):
                return
            self._stop.wait(self.interval)


def rss_kb(pid: int) -> int:
    """VmRSS of a process and all its descendants, in KiB: `fazt server start` is a
    supervisor whose worker (and the worker's JavaScript processes) do the serving."""
    total = _own_rss_kb(pid)
    for child in _children(pid):
        try:
            total += rss_kb(child)
        except (OSError, RuntimeError):  # exited meanwhile
            continue
    return total


def _stat_cpu_seconds(stat_path: Path) -> float:
    """User + system CPU time from a /proc .../stat file."""
    stat = stat_path.read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    return _stat_cpu_seconds(Path(f"/proc/{pid}/stat"))


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its live descendants."""
    total = cpu_seconds(pid)
    for child in _children(pid):
        try:
            total += tree_cpu_seconds(child)
        except (OSError, ValueError):  # exited meanwhile
            continue
    return total


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU time of each thread of a process, by thread id."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[int(task.name)] = _stat_cpu_seconds(task / "stat")
        except OSError:  # the thread ended meanwhile
            continue
    return out


def children_cpu_seconds() -> float:
    """User + system CPU time of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def mb(kib: int) -> float:
    return kib / 1024


def get(port: int, path: str, host: str, timeout: float = 5.0) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Fazt:
    """A fazt server with its own FAZT_HOME in a temp folder.

    with Fazt() as fz:
        fz.start()
        fz.deploy(folder, "blog")
    """

    def __init__(self, keep_home: bool = False) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="fazt-bench."))
        self.db = self.home / "data.db"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.keep_home = keep_home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FAZT_")}
        self.env["FAZT_HOME"] = str(self.home)

    def __enter__(self) -> "Fazt":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        if not self.keep_home:
            shutil.rmtree(self.home, ignore_errors=True)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        out = subprocess.run(
            fazt_cmd(*args), env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if out.returncode != 0:
            raise RuntimeError(f"fazt {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
        return out

    def set_cache_mb(self, cache_mb: int) -> None:
        self.cli("server", "set-config", "--cache-mb", str(cache_mb), "--db", str(self.db))

    def start(self, timeout: float = 30) -> None:
        log = open(self.home / "server.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            fazt_cmd("server", "start", "--port", str(self.port), "--db", str(self.db)),
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fazt exited early:\n{self.log()}")
            try:
                status, _ = get(self.port, "/health", "localhost", timeout=1)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"fazt did not answer /health within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)
            self.proc = None

    def log(self) -> str:
        return (self.home / "server.log").read_text(errors="replace")

    def deploy(self, folder: Path, site: str) -> tuple[dict, float]:
        """Run the real `fazt deploy --json`; returns its JSON and the wall time.
        The JSON gets "_cpu": CPU seconds of the CLI process and of the server meanwhile."""
        client, server = children_cpu_seconds(), cpu_seconds(self.pid)
        started = time.perf_counter()
        out = self.cli("deploy", str(folder), "--site", site, "--json")
        elapsed = time.perf_counter() - started
        result = json.loads(out.stdout)
        result["_cpu"] = (children_cpu_seconds() - client, cpu_seconds(self.pid) - server)
        return result, elapsed

    def settle_rss(self, quiet_seconds: float = 3.0, limit: float = 30.0) -> int:
        """Poll VmRSS until it has not moved by more than 256 KiB for `quiet_seconds`
        (or `limit` passed); returns it in KiB."""
        deadline = time.monotonic() + limit
        last, since = rss_kb(self.pid), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = rss_kb(self.pid)
            if abs(now - last) > 256:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_seconds:
                return now
        return rss_kb(self.pid)


def machine_facts() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    try:
        from importlib.metadata import version

        granian = version("granian")
    except Exception:
        granian = "?"
    py = sys.version.split()[0]
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, "
        f"Python {py}, granian {granian}"
    )


# -- generated sites ----------------------------------------------------------------------

# (share of files, extension choices, relative weight of a file's size, binary?)
KINDS = [
    (0.45, ["html", "md", "txt"], 1.0, False),
    (0.20, ["css", "js", "json", "svg"], 2.0, False),
    (0.27, ["png", "jpg", "webp"], 4.0, True),
    (0.08, ["woff2", "mp3", "pdf", "js"], 15.0, True),
]
DIRS = ["", "posts/", "posts/2024/", "posts/2025/", "assets/", "assets/img/", "assets/css/", "js/"]


def generate_site(folder: Path, seed: int, files: int, total_bytes: int) -> list[Path]:
    """Write `files` files of about `total_bytes` in all; returns their paths."""
    rng = random.Random(seed)
    pool = _text_pool()
    plan = []
    for i in range(files):
        _, exts, weight, binary = rng.choices(KINDS, weights=[k[0] for k in KINDS])[0]
        plan.append((i, rng.choice(exts), weight * rng.lognormvariate(0, 0.8), binary))
    scale = total_bytes / sum(p[2] for p in plan)
    written, paths = 0, []
    for n, (i, ext, weight, binary) in enumerate(plan):
        size = max(64, int(weight * scale))
        if n == len(plan) - 1:  # the last file makes up the total
            size, binary = max(64, total_bytes - written), True
        binary = binary or size >= len(pool)
        tag = f"<!-- {seed}-{i} {rng.getrandbits(64):016x} -->\n".encode()  # unique content
        if binary:
            data = tag + rng.randbytes(size - len(tag))
        else:
            start = rng.randrange(0, len(pool) - size)
            data = tag + pool[start : start + size - len(tag)]
        path = folder / rng.choice(DIRS) / f"f{i:04d}.{ext}"
        if n == 0:
            path = folder / "index.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written += len(data)
        paths.append(path)
    return paths


@functools.cache
def _text_pool() -> bytes:
    """~2.6 MB of word salad: compresses like text; slices of it make text files."""
    rng = random.Random(0)
    words = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 10)))
        for _ in range(2000)
    ]
    return " ".join(rng.choices(words, k=400_000)).encode()
