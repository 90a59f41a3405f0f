"""Model inference: TensorFlow Lite (float32, float16 weights, int8) against the Keras model.

    .venv/bin/python benchmarks/inference.py            # 7 interleaved rounds
    .venv/bin/python benchmarks/inference.py --only float32

One process runs every runtime on the same pixels (the committed test photos and the
shared photos, decoded as the indexer decodes them, 160 px): the Keras model (a traced
``tf.function``, TensorFlow with 2 intra-op threads) and the TFLite models on LiteRT/XNNPACK
with 2 threads. The float16 and int8 models are converted on first use into
``.bench-data/tflite/`` (int8 calibrated on 200 grocery shots of ../shared/multiview, none of
which is measured here). Reports:

* agreement with the Keras descriptors: cosine (min / median over the photos) of the
  descriptors, the copy vectors (Siamese head) and the retrieval vectors (whitening);
* speed: photos per second on batches of 32 (the indexer's batch: 128 views) and the
  latency of one photo (4 views, what ``similar`` waits for), median of the rounds, and the
  ratio to the Keras model measured in the same round (the CPU is shared).

Writes ``benchmarks/out/inference.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import DATA, REPO, machine, table, write_json  # noqa: E402

sys.path.insert(0, str(REPO))

PRECISIONS = ("float32", "float16", "int8")
GROCERY = REPO.parent / "shared" / "multiview" / "grocery"


def photos() -> list[Path]:
    shared = REPO.parent / "shared" / "photos"
    return sorted((REPO / "tests" / "photos").glob("*.jpg")) + sorted(shared.glob("*.jpg"))


def model_file(precision: str) -> Path:
    from imgfinder.shipped import BACKBONE_FILE, resource_path

    if precision == "float32":
        return resource_path(BACKBONE_FILE)
    path = DATA / "tflite" / f"efficientnet_lite0_s160.{precision}.tflite"
    if not path.is_file():
        from imgfinder.model.tflite_convert import _calibration_photos, write_model

        calibration = _calibration_photos([GROCERY], 200) if precision == "int8" else None
        write_model(path, precision, calibration=calibration)
    return path


def cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--only", action="append", choices=PRECISIONS, default=None)
    args = ap.parse_args()
    precisions = args.only or list(PRECISIONS)

    from imgfinder.core.decoder import decode_for_model
    from imgfinder.embedders import default_head, default_whitening
    from imgfinder.model.keras_embedder import KerasEmbedder
    from imgfinder.model.tflite_embedder import TFLiteEmbedder

    paths = photos()
    pixels = np.stack([decode_for_model(str(p), 160).pixels for p in paths])
    head, whitening = default_head(), default_whitening()
    runtimes = {"keras": KerasEmbedder(head_path=head, whitening_path=whitening)}
    for p in precisions:
        runtimes[f"tflite {p}"] = TFLiteEmbedder(head_path=head, whitening_path=whitening, tflite_path=model_file(p))
    for r in runtimes.values():
        r.load()

    descriptors = {name: r.describe(pixels) for name, r in runtimes.items()}
    ref = descriptors["keras"]
    keras = runtimes["keras"]
    agreement = {}
    for name, d in descriptors.items():
        r = runtimes[name]
        c = cos(d, ref)
        cc = cos(r.copy_vectors(d), keras.copy_vectors(ref))
        cr = cos(r.retrieval_vectors(d), keras.retrieval_vectors(ref))
        agreement[name] = {
            "descriptor_min": float(c.min()), "descriptor_median": float(np.median(c)),
            "copy_min": float(cc.min()), "copy_median": float(np.median(cc)),
            "retrieval_min": float(cr.min()), "retrieval_median": float(np.median(cr)),
            "max_abs_diff": float(np.abs(d - ref).max()),
            "worst_photo": paths[int(c.argmin())].name,
        }

    batch = np.ascontiguousarray(np.resize(pixels, (32, *pixels.shape[1:])))
    one = pixels[:1]
    batch_s: dict[str, list[float]] = {n: [] for n in runtimes}
    one_s: dict[str, list[float]] = {n: [] for n in runtimes}
    for name, r in runtimes.items():  # warm-up: first calls set up buffers
        r.describe(batch)
        r.describe(one)
    for _ in range(args.rounds):
        for name, r in runtimes.items():
            t = time.perf_counter()
            r.describe(batch)
            batch_s[name].append(time.perf_counter() - t)
            laps = []
            for _ in range(3):
                t = time.perf_counter()
                r.describe(one)
                laps.append(time.perf_counter() - t)
            one_s[name].append(min(laps))
    ratios = {n: statistics.median(k / v for k, v in zip(batch_s["keras"], batch_s[n])) for n in runtimes}
    ratios_one = {n: statistics.median(k / v for k, v in zip(one_s["keras"], one_s[n])) for n in runtimes}

    rows = []
    for name in runtimes:
        a = agreement[name]
        rows.append((
            name, f"{32 / statistics.median(batch_s[name]):.1f}", f"{ratios[name]:.2f}x",
            f"{statistics.median(one_s[name]) * 1000:.0f}", f"{ratios_one[name]:.2f}x",
            f"{a['descriptor_min']:.6f} / {a['descriptor_median']:.6f}",
            f"{a['copy_min']:.4f} / {a['retrieval_min']:.4f}",
        ))
    print(f"{len(paths)} photos; {args.rounds} rounds; batches of 32 photos (128 views) and single photos")
    print(table(rows, ("runtime", "photos/s", "vs Keras", "1 photo ms", "vs Keras",
                       "descriptor cosine min / median", "copy / retrieval cosine min")))
    write_json("inference", {
        "machine": machine(), "rounds": args.rounds, "photos": [p.name for p in paths],
        "batch_seconds": batch_s, "one_photo_seconds": one_s, "speed_vs_keras": ratios,
        "one_photo_vs_keras": ratios_one, "agreement_with_keras": agreement,
        "model_bytes": {n: r.tflite_path.stat().st_size for n, r in runtimes.items() if hasattr(r, "tflite_path")},
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
