"""A/B of the serverless kv path: this checkout (A) against another source tree (B), two
servers side by side, alternating wrk rounds (../shared/bench/wrk-ratio), per handler.

    python bench/kv_ab.py --base /path/to/other/checkout/src [--rounds 4] [--duration 5]
        [--handlers kv,mix,trivial]

Handlers: `kv` one kv.set + kv.get per request (bench/runtime.py's), `mix` a kv read mix
(3 gets, a set in one request of 4, 100 keys), `trivial` no storage. B runs with
PYTHONPATH=BASE, so `python -m fazt` and its JS workers are that tree's code. Prints each
server's CPU per request too. Every process is stopped by pid; temp folders are removed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import SHARED_BENCH, Fazt, get, terminate_on_sigterm
from runtime import HANDLER, KV_HANDLER, cpu_split

MIX_HANDLER = """function handler(req) {
  const kv = fazt.storage.kv;
  const k = "k" + Math.floor(Math.random() * 100);
  if (Math.random() < 0.25) kv.set(k, { at: Date.now(), path: req.path });
  const a = kv.get(k), b = kv.get("k1"), c = kv.get("k2");
  return { status: 200, headers: { "content-type": "application/json" },
           body: { ok: true, a: a, b: b, c: c } };
}
handler(request);
"""
HANDLERS = {"kv": KV_HANDLER, "mix": MIX_HANDLER, "trivial": HANDLER}


def deploy_all(fz: Fazt, tmp: Path, names: list[str]) -> None:
    for name in names:
        folder = tmp / name
        (folder / "api").mkdir(parents=True, exist_ok=True)
        (folder / "api" / "main.js").write_text(HANDLERS[name])
        fz.deploy(folder, name)
        status, body = get(fz.port, "/api/x", f"{name}.localhost")
        assert status == 200 and json.loads(body)["ok"] is True, (status, body)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="B's source tree (the folder holding fazt/)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--handlers", default="kv,mix,trivial")
    args = ap.parse_args()
    names = args.handlers.split(",")
    terminate_on_sigterm()
    tmp = Path(tempfile.mkdtemp(prefix="fazt-bench-kvab."))
    try:
        with Fazt() as a, Fazt() as b:
            b.env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(Path(args.base).resolve()), b.env.get("PYTHONPATH")) if p
            )
            a.start()
            b.start()
            deploy_all(a, tmp, names)
            deploy_all(b, tmp, names)
            print(f"load average before: {os.getloadavg()}")
            for name in names:
                host = f"{name}.localhost"
                print(f"--- {name}: A = this checkout, B = {args.base}")
                subprocess.run(
                    [
                        sys.executable,
                        str(SHARED_BENCH / "wrk-ratio"),
                        "--rounds", str(args.rounds),
                        "--duration", str(args.duration),
                        "--conns", str(args.conns),
                        "--host-a", host,
                        "--host-b", host,
                        f"http://127.0.0.1:{a.port}/api/x",
                        f"http://127.0.0.1:{b.port}/api/x",
                    ],
                    check=False,
                )  # fmt: skip
                print("A", cpu_split(a, host, 4))
                print("B", cpu_split(b, host, 4))
            print(f"load average after: {os.getloadavg()}")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
