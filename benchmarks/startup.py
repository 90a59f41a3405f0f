"""Start-up: time from process start to the first window, to `imgfinder --help`, and to the
desktop app's model process being ready (target < 1.5 s).

    .venv/bin/python benchmarks/startup.py            # 5 runs each, offscreen

Each run is a fresh interpreter (``sys.executable``), timed from just before the process
is started until the window is shown (reported by the child) or the command exits.
Baseline, in the same run: ``python -c pass`` (the interpreter alone). Reports the median
and the ratio to that baseline, and whether TensorFlow was imported before the window
(it must not be). Writes ``benchmarks/out/startup.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import machine, table, write_json  # noqa: E402

WINDOW = r"""
import os, sys, time
from imgfinder.gui.app import default_factory, make_app
from imgfinder.gui.main_window import MainWindow
app = make_app()
w = MainWindow(sys.argv[1], default_factory)
w.show()
app.processEvents()
print("SHOWN", time.time(), sum(m.split(".")[0] in ("tensorflow", "keras") for m in sys.modules), flush=True)
w.close()
"""

# The desktop app's model process (gui_embedder: the model in a spawned child process),
# started from a fresh interpreter: READY is when load() returns, LOAD how long load() took.
MODEL_PROCESS = r"""
import sys, time
from imgfinder.gui.app import default_factory
e = default_factory()
t = time.time()
e.load()
done = time.time()
print("SHOWN", done, 0, flush=True)
print("LOAD", done - t, flush=True)
e.close()
"""


def timed(cmd: list[str], env: dict, marker: bool, extra: dict[str, list[float]] | None = None) -> float:
    t0 = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    if out.returncode != 0:
        raise SystemExit(f"{cmd} failed: {out.stderr[-500:]}")
    if not marker:
        return time.time() - t0
    if extra is not None:
        for x in out.stdout.splitlines():
            if x.startswith("LOAD"):
                extra.setdefault("GUI model process: load() alone", []).append(float(x.split()[1]))
    line = next(x for x in out.stdout.splitlines() if x.startswith("SHOWN"))
    _, shown, heavy = line.split()
    if int(heavy):
        raise SystemExit("TensorFlow was imported before the first window")
    return float(shown) - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    results: dict[str, list[float]] = {"python -c pass (baseline)": [], "imgfinder --help": [], "first window shown": [],
                                       "GUI model process ready (from process start)": []}
    loads: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):  # interleaved, so machine noise hits all three alike
            results["python -c pass (baseline)"].append(timed([sys.executable, "-c", "pass"], env, False))
            results["imgfinder --help"].append(timed([sys.executable, "-m", "imgfinder", "--help"], env, False))
            results["first window shown"].append(timed([sys.executable, "-c", WINDOW, str(Path(tmp) / "data")], env, True))
            results["GUI model process ready (from process start)"].append(
                timed([sys.executable, "-c", MODEL_PROCESS], env, True, loads))
    results.update(loads)
    base = statistics.median(results["python -c pass (baseline)"])
    rows = [(name, f"{statistics.median(v) * 1000:.0f}", f"{max(v) * 1000:.0f}", f"{statistics.median(v) / base:.1f}x")
            for name, v in results.items()]
    print(table(rows, ("measurement", "median ms", "worst ms", "vs interpreter alone")))
    write_json("startup", {"machine": machine(), "runs": args.runs,
                           "seconds": {k: sorted(v) for k, v in results.items()}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
