"""CLI start-up with the model: `similar` for a photo outside the library, and the first batch of `index`.

    .venv/bin/python benchmarks/startup_cli.py            # 5 runs each, interleaved

Each run is a fresh interpreter started by this script and timed from just before the
process is started. Measured, for the TensorFlow Lite runtime (the default) and the old
TensorFlow/Keras runtime (``IMGFINDER_BACKBONE_TFLITE=none``) in the same run:

* ``imgfinder similar OUTSIDE.jpg`` on a library of 40 camera photos (12 MP), for a 41st
  camera photo that is not in it: wall time until the process exits and its peak RSS
  (``wait4``'s ``ru_maxrss``).
* ``imgfinder index`` of the 40 photos into an empty data folder: when the first batch
  (the CLI's first batch is 2 photos, then 4, 8, ... up to 32) starts being embedded and
  when its descriptors are back (the model loads in that call), since process start
  (the CLI is run through ``imgfinder.cli.main`` with the default embedder wrapped to note
  the times), plus the whole run's wall time and peak RSS.

Baseline, in the same run: ``python -c pass``. Reports medians, the worst run, and the ratio
of the old runtime to the new one; writes ``benchmarks/out/startup_cli.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import REPO, camera_library, machine, table, write_json  # noqa: E402

LIBRARY = 40

# Runs the real CLI with the default embedder, noting when the first batch is embedded.
INDEX = r"""
import sys, time
from imgfinder import cli
from imgfinder.embedders import default_embedder

marks = sys.argv[1]

class Noting:
    def __init__(self, inner):
        self._inner = inner
    def __getattr__(self, name):
        return getattr(self._inner, name)
    def describe(self, images):
        start = time.time()
        out = self._inner.describe(images)
        with open(marks, "a") as f:
            f.write(f"{start} {time.time()} {len(images)}\n")
        return out

sys.exit(cli.main(sys.argv[2:], embedder_factory=lambda: Noting(default_embedder())))
"""


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(start time, wall seconds, peak RSS MB) of one process, its output discarded."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{cmd[:6]} failed ({proc.returncode}): {err.decode()[-1500:]}")
    return t0, wall, usage.ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    photos = camera_library(LIBRARY + 1)
    runtimes = {"tflite": {}, "keras": {"IMGFINDER_BACKBONE_TFLITE": "none"}}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("IMGFINDER_")}
    exe = [sys.executable, "-m", "imgfinder"]
    results: dict[str, list[float]] = {}

    def note(key: str, value: float) -> None:
        results.setdefault(key, []).append(value)

    with tempfile.TemporaryDirectory() as tmp:
        lib = Path(tmp) / "library"
        lib.mkdir()
        for i in range(LIBRARY):
            os.symlink(photos / f"IMG_{i:05d}.jpg", lib / f"IMG_{i:05d}.jpg")
        outside = str(photos / f"IMG_{LIBRARY:05d}.jpg")
        for name, extra in runtimes.items():  # one library per runtime, indexed once
            run([*exe, "index", str(lib), "--data-dir", f"{tmp}/data-{name}", "--quiet"], base_env | extra)
        for _ in range(args.runs):  # interleaved, so machine noise hits all alike
            note("python -c pass (baseline) wall", run([sys.executable, "-c", "pass"], base_env)[1])
            for name, extra in runtimes.items():
                env = base_env | extra
                _, wall, rss = run([*exe, "similar", outside, "--data-dir", f"{tmp}/data-{name}", "--quiet"], env)
                note(f"similar {name} wall", wall)
                note(f"similar {name} rss", rss)
                data, marks = Path(tmp) / f"fresh-{name}", Path(tmp) / f"marks-{name}"
                shutil.rmtree(data, ignore_errors=True)
                marks.unlink(missing_ok=True)
                t0, wall, rss = run([sys.executable, "-c", INDEX, str(marks), "index", str(lib),
                                     "--data-dir", str(data), "--quiet"], env)
                first = marks.read_text().splitlines()[0].split()
                note(f"index {name} first batch starts", float(first[0]) - t0)
                note(f"index {name} first batch embedded", float(first[1]) - t0)
                note(f"index {name} wall", wall)
                note(f"index {name} rss", rss)
                print(f"{name}: similar {results[f'similar {name} wall'][-1]:.2f} s, "
                      f"index first batch {float(first[1]) - t0:.2f} s ({first[2]} photos)", flush=True)

    med = {k: statistics.median(v) for k, v in results.items()}
    rows = []
    for what, unit in (("similar {} wall", "s"), ("similar {} rss", "MB"), ("index {} first batch starts", "s"),
                       ("index {} first batch embedded", "s"), ("index {} wall", "s"), ("index {} rss", "MB")):
        new, old = what.format("tflite"), what.format("keras")
        worst = max(results[new])
        fmt = (lambda x: f"{x:.2f}") if unit == "s" else (lambda x: f"{x:.0f}")
        rows.append((what.format("").replace("  ", " "), unit, fmt(med[new]), fmt(worst), fmt(med[old]),
                     f"{med[old] / med[new]:.1f}x"))
    print(f"\nmedian of {args.runs} runs; 'python -c pass' took {med['python -c pass (baseline) wall']:.3f} s")
    print(table(rows, ("measurement", "unit", "TFLite median", "TFLite worst", "TensorFlow median", "old / new")))
    write_json("startup_cli", {"machine": machine(), "runs": args.runs, "library_photos": LIBRARY,
                               "values": {k: sorted(v) for k, v in results.items()}, "median": med})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
