"""Benchmark data, generated once and cached in ``<repo>/.bench-data`` (gitignored).

* ``camera_library(n)``: ``n`` full-size camera-like JPEGs (4000x3000, quality 90, with
  4:2:0 chroma like a camera) made from distinct crops, rescales, flips and tints of the
  shared photos, so no two of them are duplicates.
* ``synthetic_catalog(n, dim)``: ``n`` clustered, L2-normalised embeddings like a real
  library's (scenes with many loosely related shots, plus ~5% near-duplicate clusters of
  2-6 copies), written through the real ``Catalog.write_batch`` so the benchmarks time the
  real code paths.
* ``tiny_tree(n)``: ``n`` small files for the unchanged re-index benchmark.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("IMGFINDER_BENCH_DATA", REPO / ".bench-data"))
OUT = REPO / "benchmarks" / "out"
PHOTOS = Path(os.environ.get("IMGFINDER_PHOTOS", REPO.parent / "shared" / "photos"))

CAMERA_SIZE = (4000, 3000)
CAMERA_QUALITY = 90


def source_photos() -> list[Path]:
    photos = sorted(PHOTOS.glob("*.jpg"))
    if not photos:
        raise SystemExit(f"no photos in {PHOTOS} (set IMGFINDER_PHOTOS)")
    return photos


def camera_library(n: int) -> Path:
    """A folder of ``n`` distinct 12 MP q90 JPEGs (cached; generation is incremental)."""
    from PIL import Image, ImageEnhance, ImageOps

    folder = DATA / "camera"
    folder.mkdir(parents=True, exist_ok=True)
    sources = source_photos()
    rng = np.random.default_rng(1234)
    # One fixed recipe per index so the same file is always generated for the same n.
    recipes = [
        (i % len(sources), rng.uniform(0.45, 0.85), rng.uniform(0, 1), rng.uniform(0, 1),
         bool(rng.integers(2)), rng.uniform(0.75, 1.3), rng.uniform(0.8, 1.2))
        for i in range(max(n, 1))
    ]
    made = 0
    for i, (src, frac, fx, fy, flip, colour, bright) in enumerate(recipes[:n]):
        dst = folder / f"IMG_{i:05d}.jpg"
        if dst.exists():
            continue
        with Image.open(sources[src]) as img:
            img = img.convert("RGB")
            w, h = img.size
            # A crop of 45-85% of the side at a 4:3 aspect, at a random place.
            cw = int(w * frac)
            ch = min(h, int(cw * 3 / 4))
            cw = int(ch * 4 / 3)
            x0 = int((w - cw) * fx)
            y0 = int((h - ch) * fy)
            img = img.crop((x0, y0, x0 + cw, y0 + ch))
            if flip:
                img = ImageOps.mirror(img)
            img = ImageEnhance.Color(img).enhance(colour)
            img = ImageEnhance.Brightness(img).enhance(bright)
            img = img.resize(CAMERA_SIZE, Image.Resampling.BICUBIC)
            # Sensor-like noise so the file has a camera's entropy (an upscale alone
            # compresses far better than a real 12 MP photo and decodes faster).
            noise = np.random.default_rng(i).normal(0, 4.0, (CAMERA_SIZE[1], CAMERA_SIZE[0], 1))
            arr = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
            tmp = dst.with_suffix(".tmp")
            Image.fromarray(arr).save(tmp, "JPEG", quality=CAMERA_QUALITY, subsampling="4:2:0")
            os.replace(tmp, dst)
            made += 1
    if made:
        print(f"generated {made} camera JPEGs in {folder}")
    return folder


def camera_files(n: int) -> list[str]:
    folder = camera_library(n)
    return [str(folder / f"IMG_{i:05d}.jpg") for i in range(n)]


def clustered_embeddings(n: int, dim: int, seed: int = 7, latent: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(vectors (n, dim) float32 L2-normalised, near-duplicate cluster per row; -1 = none).

    Shaped like the real model's pooled features (measured on the shared photos: about
    half the entries are zero after the ReLU, unrelated photos have a cosine of 0.13-0.45,
    median 0.21): a ``latent``-dimensional scene structure (events of ~50 related shots)
    pushed through a random ReLU layer. About 5% of the rows are near-duplicate clusters of
    2-6 copies (cosine ~0.92-0.99 to their original, like re-saves, crops and edits).
    """
    rng = np.random.default_rng(seed)
    # A decaying spectrum, like the principal components of CNN features (a flat one
    # makes every neighbour look alike, which no photo library does).
    decay = (np.arange(1, latent + 1, dtype=np.float32) ** -0.5)[:, None]
    w = (rng.standard_normal((latent, dim)) * decay / np.sqrt((decay**2).sum())).astype(np.float32)
    scale = rng.gamma(2.0, 0.5, dim).astype(np.float32)  # some features fire more than others
    n_scenes = max(1, n // 50)
    scenes = rng.standard_normal((n_scenes, latent)).astype(np.float32)
    z = scenes[rng.integers(0, n_scenes, n)] + 0.9 * rng.standard_normal((n, latent)).astype(np.float32)
    labels = np.full(n, -1, np.int64)
    order = rng.permutation(n)
    pos, cluster, budget = 0, 0, int(n * 0.05)
    while pos < budget:
        size = int(rng.integers(2, 7))
        members = order[pos : pos + size]
        pos += size
        spread = rng.uniform(0.08, 0.3)
        z[members[1:]] = z[members[0]] + spread * rng.standard_normal((len(members) - 1, latent)).astype(np.float32)
        labels[members] = cluster
        cluster += 1
    vectors = np.empty((n, dim), np.float32)
    for s in range(0, n, 4096):
        x = z[s : s + 4096] @ w - 0.1
        x += 0.15 * rng.standard_normal(x.shape).astype(np.float32)  # per-photo detail
        np.maximum(x, 0, out=x)
        vectors[s : s + 4096] = x * scale
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors, labels


def synthetic_catalog(n: int, dim: int, model_id: str | None = None) -> Path:
    """A data dir holding a catalog of ``n`` fake files with clustered embeddings (cached)."""
    from imgfinder.core.catalog import Catalog, FileRecord
    from imgfinder.core.library import CATALOG_NAME

    model_id = model_id or f"synthetic-{dim}"
    data_dir = DATA / f"catalog-{n}-{dim}-{hashlib.sha1(model_id.encode()).hexdigest()[:8]}"
    done = data_dir / "complete"
    if done.exists():
        return data_dir
    import shutil

    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    t = time.perf_counter()
    vectors, labels = clustered_embeddings(n, dim)
    np.save(data_dir / "labels.npy", labels)
    with Catalog(data_dir / CATALOG_NAME) as catalog:
        batch = []
        for i in range(n):
            h = hashlib.blake2b(i.to_bytes(8, "little"), digest_size=20).hexdigest()
            batch.append(FileRecord(f"/photos/{i // 1000:03d}/IMG_{i:06d}.jpg", 3_000_000 + i, 1_600_000_000_000_000_000 + i,
                                    h, 4000, 3000, vectors[i]))
            if len(batch) == 5000:
                catalog.write_batch(batch, model_id)
                batch = []
        catalog.write_batch(batch, model_id)
    done.write_text(model_id)
    print(f"generated a {n}-entry {dim}-d catalog in {time.perf_counter() - t:.1f} s")
    return data_dir


def tiny_tree(n: int) -> Path:
    """``n`` small distinct JPEGs in folders of 500 (cached)."""
    from PIL import Image

    folder = DATA / f"tiny-{n}"
    done = folder / ".complete"
    if done.exists():
        return folder
    rng = np.random.default_rng(3)
    for i in range(n):
        sub = folder / f"d{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        arr = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(arr).resize((64, 64)).save(sub / f"p{i:05d}.jpg", quality=80)
    done.write_text("ok")
    return folder


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = 0.0
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    import PIL

    return {
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu, "memory_gib": round(mem, 1), "python": platform.python_version(),
        "pillow": PIL.__version__, "platform": platform.platform(), "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def table(rows: list[tuple], headers: tuple) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    return "\n".join([line, sep, *body])


def write_json(name: str, payload: dict) -> Path:
    import json

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    return path


def timed_duplicates(lib, threshold: float, prepare=None) -> tuple:
    """The real duplicates path of a ``Library``, timed: (finder, groups, seconds of the
    candidate search, seconds of grouping and verification, progress updates seen).
    ``prepare(finder)``, if given, runs between the two (untimed)."""
    from imgfinder.core.duplicates import DuplicateFinder

    t0 = time.perf_counter()
    finder = None
    for item in lib.iter_duplicate_finder():
        if isinstance(item, DuplicateFinder):
            finder = item
    t1 = time.perf_counter()
    assert finder is not None
    if prepare is not None:
        prepare(finder)
        t1 = time.perf_counter()
    groups: list = []
    updates = 0
    for item in finder.iter_groups(threshold):
        if isinstance(item, list):
            groups = item
        else:
            updates += 1
    return finder, groups, t1 - t0, time.perf_counter() - t1, updates
