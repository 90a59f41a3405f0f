"""Indexing throughput on full-size 12 MP JPEGs, as ratios to limits measured in the same run.

    .venv/bin/python benchmarks/indexing.py              # 400 photos, 3 rounds
    .venv/bin/python benchmarks/indexing.py --quick      # 60 photos, 1 round

Each measurement runs in a fresh subprocess (so TensorFlow's thread settings and the
"cold start" are real), in rounds that interleave the variants, because the CPU is shared:

* ``decode``: the limit. Read + hash + decode at the model's input size (``draft()``),
  in the same thread pool the indexer uses, nothing else.
* ``naive``: the baseline. Full decode, resize, embed one photo at a time (model already
  loaded, so the baseline is flattered, not the pipeline).
* ``pipeline``: ``Library.indexer().run()`` from a fresh process into an empty catalog,
  timed from before the model runtime is imported to the Annoy index on disk (cold
  start), then again into a fresh catalog with the model loaded (warm).
* ``phash`` / ``dhash``: the peers users would pick instead: ImageHash's perceptual and
  difference hashes over the same files, one process per core (``imagehash.phash(
  Image.open(path))``, as imagededup and most scripts call it), whole child process timed.

Prints a table and writes ``benchmarks/out/indexing.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _data  # noqa: E402



def model_size() -> int:
    """The side of the square the default model sees (160 today), read from the model itself
    (the constructor is cheap: TensorFlow loads on first use)."""
    from imgfinder.embedders import default_embedder

    return int(default_embedder().input_size)


def set_tf_threads(embedder: object, intra: int | None) -> None:
    """TensorFlow's intra-op threads, on the Keras runtime only (importing TensorFlow for the
    TFLite runtime would skew its cold start)."""
    from imgfinder.model.keras_embedder import KerasEmbedder

    if isinstance(embedder, KerasEmbedder):
        from imgfinder.model.keras_embedder import configure_tf_threads

        configure_tf_threads(intra)


# -- children (each in its own process) -------------------------------------------------
def child_decode(files: list[str], workers: int) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from imgfinder.core.decoder import decode_for_model, read_file

    size = model_size()

    def work(path: str) -> int:
        return decode_for_model(path, size, read_file(path)).width

    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, files))
    wall = time.perf_counter() - t
    return {"files": len(files), "seconds": wall, "per_s": len(files) / wall}


def child_stages(files: list[str], batch: int) -> dict:
    """Where one photo's time goes, one thread, milliseconds per photo, stage by stage."""
    import io

    import numpy as np
    from PIL import Image

    from imgfinder.core.decoder import hash_bytes, model_pixels
    from imgfinder.core.layout import layout_signature, signature_to_bytes
    from imgfinder.embedders import default_embedder

    embedder = default_embedder()
    size = embedder.input_size
    ms: dict[str, float] = {}

    def clock(name: str, fn) -> list:
        t = time.perf_counter()
        out = [fn(x) for x in items]
        ms[name] = (time.perf_counter() - t) * 1000 / len(files)
        return out

    items = files
    datas = clock("read", lambda f: Path(f).read_bytes())
    items = datas
    clock("hash (blake2b)", hash_bytes)

    def draft(data: bytes) -> Image.Image:
        img = Image.open(io.BytesIO(data))
        img.draft("RGB", (size, size))  # DCT scaling: 1/8 a side for 12 MP
        img.load()
        return img

    images = clock("decode (draft)", draft)
    items = images
    pixels = clock("squeeze to the model square", lambda img: model_pixels(img, size, 1))
    items = pixels
    clock("layout signature", lambda px: signature_to_bytes(layout_signature(px)))
    embedder.load()
    stack = np.stack(pixels)
    embedder.embed(stack[:batch])  # warm-up
    t = time.perf_counter()
    for i in range(0, len(stack), batch):
        embedder.embed(stack[i : i + batch])
    ms[f"model (4 turns, batches of {batch})"] = (time.perf_counter() - t) * 1000 / len(files)
    return {"files": len(files), "ms_per_photo": ms, "per_s": 1000 / sum(ms.values())}


def _hash_one(args: tuple[str, str]) -> str:
    import imagehash
    from PIL import Image

    kind, path = args
    with Image.open(path) as img:
        return str(getattr(imagehash, kind)(img))


def child_hash(files: list[str], workers: int, hash_kind: str) -> dict:
    """ImageHash over ``files`` with one process per core, timed from this child's start."""
    from concurrent.futures import ProcessPoolExecutor

    t = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        hashes = list(pool.map(_hash_one, [(hash_kind, f) for f in files], chunksize=4))
    wall = time.perf_counter() - t
    assert len(hashes) == len(files)
    return {"files": len(files), "seconds": wall, "per_s": len(files) / wall}


def child_naive(files: list[str], intra: int | None) -> dict:
    from PIL import Image

    from imgfinder.embedders import default_embedder

    embedder = default_embedder()
    set_tf_threads(embedder, intra)
    t = time.perf_counter()
    embedder.load()
    load = time.perf_counter() - t
    import numpy as np

    size = embedder.input_size
    t = time.perf_counter()
    for path in files:
        with Image.open(path) as img:
            rgb = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        embedder.embed(np.asarray(rgb)[None])
    wall = time.perf_counter() - t
    return {"files": len(files), "seconds": wall, "per_s": len(files) / wall, "model_load_s": load}


def child_pipeline(folder: str, workers: int, batch: int, intra: int | None, embed_only: bool) -> dict:
    t0 = time.perf_counter()
    from imgfinder.core.library import Library
    from imgfinder.embedders import default_embedder

    embedder = default_embedder()
    if intra is not None:
        set_tf_threads(embedder, intra)
    if embed_only:  # the model's own throughput on ready pixels, for context
        import numpy as np

        embedder.load()
        x = np.random.default_rng(0).integers(0, 255, (batch * 8, embedder.input_size, embedder.input_size, 3), dtype=np.uint8)
        embedder.embed(x[:batch])
        t = time.perf_counter()
        embedder.embed(x)
        wall = time.perf_counter() - t
        return {"files": len(x), "seconds": wall, "per_s": len(x) / wall}
    data_dir = tempfile.mkdtemp(prefix="imgfinder-bench-")
    try:
        with Library(data_dir, embedder) as lib:
            ix = lib.indexer(workers=workers, batch_size=batch)
            first_embed = None
            for p in ix.run([folder]):
                if first_embed is None and p.stage == "index" and p.done:
                    first_embed = time.perf_counter() - t0
            wall = time.perf_counter() - t0
            s = ix.summary
            assert s.decoded == s.added and s.failed == 0, s.as_dict()
        # The same again into a fresh catalog with the model already loaded: the rate a
        # large library settles at once the start-up cost is amortised.
        warm_dir = os.path.join(data_dir, "warm")
        with Library(warm_dir, embedder) as lib:
            ix = lib.indexer(workers=workers, batch_size=batch)
            t = time.perf_counter()
            list(ix.run([folder]))
            warm = time.perf_counter() - t
        return {"files": s.added, "seconds": wall, "per_s": s.added / wall, "first_batch_s": first_embed,
                "warm_seconds": warm, "steady_per_s": ix.summary.added / warm}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def run_child(kind: str, **kw: object) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--child-args", json.dumps(kw)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- driver -----------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=400, help="library size (12 MP JPEGs, generated once)")
    ap.add_argument("--naive-photos", type=int, default=40, help="photos for the slow naive baseline")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved repetitions (median reported)")
    ap.add_argument("--workers", type=int, default=None, help="decoder threads (default: the indexer's)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--intra", type=int, default=None, help="TF intra-op threads (default: the embedder's)")
    ap.add_argument("--variants", default="", help="extra pipeline variants, e.g. 'w3,i1,w3i1' (decoder threads, TF intra-op threads)")
    ap.add_argument("--quick", action="store_true", help="60 photos, 1 round")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-args", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kw = json.loads(args.child_args)
        fn = {"decode": child_decode, "naive": child_naive, "pipeline": child_pipeline, "hash": child_hash,
              "stages": child_stages}[args.child]
        print(json.dumps(fn(**kw)))
        return
    if args.quick:
        args.photos, args.rounds, args.naive_photos = 60, 1, 20

    from imgfinder.core.indexer import default_workers

    workers = args.workers or default_workers()
    files = _data.camera_files(args.photos)
    folder = str(Path(files[0]).parent)
    if len(list(Path(folder).glob("*.jpg"))) != args.photos:  # the folder is the library
        folder = tempfile.mkdtemp(prefix="imgfinder-camera-")
        for f in files:
            os.link(f, os.path.join(folder, os.path.basename(f)))
    for f in files:  # warm the page cache: every variant reads the same bytes from RAM
        Path(f).read_bytes()

    variants = {"pipeline": dict(workers=workers, intra=args.intra)}
    import re

    for v in filter(None, args.variants.split(",")):  # e.g. w3 (3 decoders), i1 (1 TF thread), w3i1
        w = re.search(r"w(\d+)", v)
        i = re.search(r"i(\d+)", v)
        variants[f"pipeline {v}"] = dict(workers=int(w.group(1)) if w else workers,
                                         intra=int(i.group(1)) if i else args.intra)

    results: dict[str, list[dict]] = {}
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr)
        results.setdefault("decode", []).append(run_child("decode", files=files, workers=workers))
        for name, v in variants.items():
            results.setdefault(name, []).append(
                run_child("pipeline", folder=folder, workers=v["workers"], batch=args.batch, intra=v["intra"], embed_only=False))
        for kind in ("phash", "dhash"):
            results.setdefault(f"ImageHash {kind}", []).append(run_child("hash", files=files, workers=workers, hash_kind=kind))
        results.setdefault("naive", []).append(run_child("naive", files=files[: args.naive_photos], intra=args.intra))
        results.setdefault("embed", []).append(
            run_child("pipeline", folder=folder, workers=workers, batch=args.batch, intra=args.intra, embed_only=True))

    stages = run_child("stages", files=files[: min(len(files), 96)], batch=args.batch)
    med = {k: statistics.median(x["per_s"] for x in v) for k, v in results.items()}
    decode, naive = med["decode"], med["naive"]
    rows = [
        ("decode only (limit)", f"{decode:.1f}", "1.00", f"{decode / naive:.1f}x", f"read+hash+draft decode, {workers} threads"),
        ("model only (context)", f"{med['embed']:.1f}", f"{med['embed'] / decode:.2f}", f"{med['embed'] / naive:.1f}x", f"embed ready model-size batches (4 turns each) of {args.batch}"),
        ("naive baseline", f"{naive:.1f}", f"{naive / decode:.2f}", "1.0x", "full decode + resize + embed 1 by 1, model preloaded"),
    ]
    for name in variants:
        p = med[name]
        first = statistics.median(x["first_batch_s"] for x in results[name])
        steady = statistics.median(x["steady_per_s"] for x in results[name])
        med[f"{name} steady"] = steady
        rows.append((f"{name} (cold start)", f"{p:.1f}", f"{p / decode:.2f}", f"{p / naive:.1f}x",
                     f"{args.photos} photos: process start to index on disk; first batch at {first:.1f} s"))
        rows.append((f"{name} (model loaded)", f"{steady:.1f}", f"{steady / decode:.2f}", f"{steady / naive:.1f}x",
                     "same again, fresh catalog, model already loaded"))
    for kind in ("phash", "dhash"):
        h = med[f"ImageHash {kind}"]
        rows.append((f"ImageHash {kind} (peer)", f"{h:.1f}", f"{h / decode:.2f}", f"{h / naive:.1f}x",
                     f"one process per core ({workers}), full decode; imgfinder cold = {med['pipeline'] / h:.2f}x this"))
    bound = 1 / (1 / decode + 1 / med["embed"])
    rows.append(("bound: decode + model share 2 cores", f"{bound:.1f}", f"{bound / decode:.2f}", f"{bound / naive:.1f}x",
                 "1 / (1/decode + 1/model): both are CPU-bound"))
    print()
    print(f"Indexing {args.photos} full-size 4000x3000 q90 JPEGs on {_data.machine()['cpus']} cores "
          f"(median of {args.rounds} round(s))")
    print(_data.table(rows, ("measurement", "photos/s", "vs decode", "vs naive", "notes")))
    total = sum(stages["ms_per_photo"].values())
    print(f"\nWhere one photo's time goes (one thread, {stages['files']} photos; both cores share this work):")
    print(_data.table([(k, f"{v:.1f}", f"{v / total:.0%}") for k, v in stages["ms_per_photo"].items()]
                      + [("total", f"{total:.1f}", "100%")], ("stage", "ms/photo", "share")))
    payload = {
        "stages_ms_per_photo": stages["ms_per_photo"], "machine": _data.machine(), "photos": args.photos, "naive_photos": args.naive_photos, "workers": workers,
        "batch": args.batch, "intra": args.intra, "median_per_s": med, "runs": results,
        "targets": {
            "pipeline_vs_decode": med["pipeline"] / decode, "pipeline_vs_decode_target": 0.75,
            "pipeline_vs_naive": med["pipeline"] / naive, "pipeline_vs_naive_target": 5.0,
            "cpu_bound_per_s": bound, "cpu_bound_vs_decode": bound / decode,
            "pipeline_vs_phash": med["pipeline"] / med["ImageHash phash"], "pipeline_vs_phash_target": 3.0,
            "pipeline_vs_dhash": med["pipeline"] / med["ImageHash dhash"],
        },
    }
    print(f"\nwrote {_data.write_json('indexing', payload)}")


if __name__ == "__main__":
    main()
