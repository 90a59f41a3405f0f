"""Decode memory: peak RSS of a process decoding one file (or two at once) for the model.

    .venv/bin/python benchmarks/decode_memory.py              # this checkout
    .venv/bin/python benchmarks/decode_memory.py --repo DIR   # another checkout (before/after)

Each case runs in a fresh interpreter that imports the decoder, decodes the file(s) with
``decode_for_model(path, 224)`` (two files: in two threads, as two indexer workers do) and
reports its peak RSS (``VmHWM``: ``ru_maxrss`` can carry the parent's over fork+exec)
and its peak after the imports. Baseline, in the same
run: the same process decoding one normal photo (a 12 MP camera-like JPEG). Reports peak
RSS, the growth over the imports, and the ratio of the peak to the baseline's peak.
Writes ``benchmarks/out/decode_memory.json``. The large files are generated once and
cached in ``.bench-data/decode_memory`` (the 289 MP PNGs take ~10 s each to write).

The cases are those of issue #12: a 289-megapixel greyscale PNG (281 KB on disk), two of
them at once, the same as a palette PNG, a 289 MP RGB PNG (1.16 GB of pixels: refused from
its header), and a 1 GiB file named .jpg that is not an image.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import DATA, REPO, camera_library, machine, table, write_json  # noqa: E402

CHILD = r"""
import json, re, resource, sys, threading
sys.path.insert(0, sys.argv[1])
from imgfinder.core.decoder import DecodeError, decode_for_model

def hwm_kb():  # this process's own peak (ru_maxrss may carry the parent's over fork+exec)
    try:
        with open("/proc/self/status") as status:
            return int(re.search(r"VmHWM:\s+(\d+)", status.read()).group(1))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

after_imports = hwm_kb()
results = {}

def one(path):
    try:
        d = decode_for_model(path, 224)
        results[path] = f"ok {d.width}x{d.height}"
    except DecodeError as exc:
        results[path] = exc.reason

threads = [threading.Thread(target=one, args=(p,)) for p in sys.argv[2:]]
for t in threads:
    t.start()
for t in threads:
    t.join()
peak = hwm_kb()
print(json.dumps({"after_imports_kb": after_imports, "peak_kb": peak, "results": [results[p] for p in sys.argv[2:]]}))
"""

SIDE = 17_000  # 17000 x 17000 = 289 megapixels


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def files() -> dict[str, Path]:
    from PIL import Image

    folder = DATA / "decode_memory"
    folder.mkdir(parents=True, exist_ok=True)
    out = {"normal": Path(camera_library(1) / "IMG_00000.jpg")}
    for mode in ("L", "P"):
        path = folder / f"huge_{mode}.png"
        if not path.exists():
            Image.MAX_IMAGE_PIXELS = None
            img = Image.new(mode, (SIDE, SIDE), 0)
            tmp = path.with_suffix(".tmp")
            img.save(tmp, "PNG")
            os.replace(tmp, path)
        out[f"huge_{mode}"] = path
    rgb = folder / "huge_RGB.png"  # the header of a real one is all the decoder reads
    if not rgb.exists():
        ihdr = struct.pack(">IIBBBBB", SIDE, SIDE, 8, 2, 0, 0, 0)
        rgb.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + _chunk(b"IEND", b""))
    out["huge_RGB"] = rgb
    junk = folder / "not_an_image_1GiB.jpg"
    if not junk.exists():
        with open(junk, "wb") as handle:
            handle.write(b"\x00\x00\x00\x18ftypmp42")
        os.truncate(junk, 1 << 30)
    out["junk"] = junk
    return out


def measure(repo: Path, paths: list[Path]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(repo), *map(str, paths)], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        return {"peak_kb": None, "after_imports_kb": None, "results": [f"crashed: {done.stderr.strip()[-300:]}"]}
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose imgfinder is measured")
    args = parser.parse_args()
    f = files()
    cases = [
        ("normal photo (12 MP JPEG, baseline)", [f["normal"]]),
        ("289 MP greyscale PNG (281 KB)", [f["huge_L"]]),
        ("two 289 MP greyscale PNGs at once", [f["huge_L"], f["huge_L"]]),
        ("289 MP palette PNG", [f["huge_P"]]),
        ("289 MP RGB PNG (1.16 GB of pixels)", [f["huge_RGB"]]),
        ("1 GiB file named .jpg, not an image", [f["junk"]]),
    ]
    rows = []
    payload = {"machine": machine(), "repo": str(args.repo), "cases": []}
    base_peak = None
    for name, paths in cases:
        m = measure(args.repo, paths)
        peak = m["peak_kb"] / 1024 if m["peak_kb"] else None
        grew = (m["peak_kb"] - m["after_imports_kb"]) / 1024 if m["peak_kb"] else None
        if base_peak is None:
            base_peak = peak
        ratio = peak / base_peak if peak and base_peak else None
        outcome = "; ".join(sorted(set(m["results"])))
        rows.append((name, f"{peak:,.0f} MB" if peak else "-", f"{grew:,.0f} MB" if grew is not None else "-",
                     f"{ratio:.1f}x" if ratio else "-", outcome[:90]))
        payload["cases"].append({"case": name, "peak_mb": peak, "growth_mb": grew, "ratio_to_baseline": ratio, "results": m["results"]})
        print(rows[-1], flush=True)
    print()
    print(table(rows, ("case", "peak RSS", "over imports", "vs baseline", "outcome")))
    print(f"\nwrote {write_json('decode_memory', payload)}")


if __name__ == "__main__":
    main()
