"""The training data of the copy head: views of each photo (windows cut from it, each with
the edits a copy may have), decoded as the app decodes, their backbone features cached, and
the nuisance differences (what an edit changes) the closed-form head learns to ignore."""

from __future__ import annotations

import hashlib
import io
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from imgfinder.core.decoder import PREPROCESSING_ID, open_image, square_pixels
from imgfinder.model.edits import brightness, greyscale, random_edit_chain, rescale

WORK_SIDE = 1280  # sources are cut from a copy this large: fast, and more than the model sees


SOURCE_AREA = (0.12, 0.45)  # area fraction of a photo that one window source covers


MAX_NEGATIVE_OVERLAP = 0.05  # windows sharing less than this much are different pictures


@dataclass(frozen=True)
class Window:
    """A part of a photo used as its own training source: (left, top, right, bottom) in [0, 1]."""

    box: tuple[float, float, float, float]

    @property
    def area(self) -> float:
        l, t, r, b = self.box
        return (r - l) * (b - t)

    def overlap(self, other: Window) -> float:
        """Shared area as a fraction of the smaller window."""
        l = max(self.box[0], other.box[0])
        t = max(self.box[1], other.box[1])
        r = min(self.box[2], other.box[2])
        b = min(self.box[3], other.box[3])
        inter = max(0.0, r - l) * max(0.0, b - t)
        return inter / max(1e-9, min(self.area, other.area))

    def cut(self, img: Image.Image) -> Image.Image:
        w, h = img.size
        l, t, r, b = self.box
        return img.crop((round(l * w), round(t * h), round(r * w), round(b * h)))


FULL = Window((0.0, 0.0, 1.0, 1.0))


def windows_for(rng: random.Random, count: int) -> list[Window]:
    """The whole frame plus ``count`` random windows, as a photographer's other shots of a scene."""
    out = [FULL]
    for _ in range(count):
        area = rng.uniform(*SOURCE_AREA)
        aspect = rng.uniform(0.6, 1.6)
        w = min(1.0, (area * aspect) ** 0.5)
        h = min(1.0, area / w)
        l = rng.uniform(0, 1 - w)
        t = rng.uniform(0, 1 - h)
        out.append(Window((l, t, l + w, t + h)))
    return out


@dataclass
class ViewSet:
    """Backbone features of the training views, with their sources."""

    features: np.ndarray  # (V, 1280) float32
    source: np.ndarray  # (V,) int: source id
    photo: np.ndarray  # (V,) int: photo id
    boxes: np.ndarray  # (V, 4) float: the source window of each view
    photo_names: list[str]

    def negative_mask(self, rows: np.ndarray) -> np.ndarray:
        """For rows of a batch: may (i, j) be used as a negative pair?

        Views of different photos always; views of two windows of one photo only when
        the windows barely overlap (the hard negatives). The whole frame against one of
        its windows is neither positive nor negative: a big crop is a duplicate, a small
        one is not, and the boundary is not for the training data to decide.
        """
        photo, boxes = self.photo[rows], self.boxes[rows]
        l = np.maximum(boxes[:, None, 0], boxes[None, :, 0])
        t = np.maximum(boxes[:, None, 1], boxes[None, :, 1])
        r = np.minimum(boxes[:, None, 2], boxes[None, :, 2])
        b = np.minimum(boxes[:, None, 3], boxes[None, :, 3])
        inter = np.clip(r - l, 0, None) * np.clip(b - t, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        overlap = inter / np.maximum(np.minimum(area[:, None], area[None, :]), 1e-9)
        same_photo = photo[:, None] == photo[None, :]
        return ~same_photo | (overlap < MAX_NEGATIVE_OVERLAP)


def pixels_like_the_app(img: Image.Image, size: int) -> np.ndarray:
    """Encode a view as a JPEG and decode it the way the indexer does (draft + squash)."""
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=95)
    decoded, _, _ = open_image(buf.getvalue(), min_side=size)
    return square_pixels(decoded, size)


def load_photo(path: str) -> Image.Image:
    img, _, _ = open_image(Path(path).read_bytes(), min_side=WORK_SIDE)
    img = img.convert("RGB")
    return rescale(img, WORK_SIDE / max(img.size)) if max(img.size) > WORK_SIDE else img


def make_views(
    photos: list[str], windows: int | list[int], views_per_source: int, seed: int, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels of every training view: (V, size, size, 3) plus source, photo and window box.

    ``windows`` is the number of window sources per photo, or one number per photo."""
    pixels, source, photo, boxes = [], [], [], []
    n_sources = 0
    per_photo = windows if isinstance(windows, list) else [windows] * len(photos)
    for p_index, (path, n_windows) in enumerate(zip(photos, per_photo)):
        img = load_photo(path)
        rng = random.Random(f"{seed}:{os.path.basename(path)}")
        for window in windows_for(rng, n_windows):
            src = window.cut(img)
            for v in range(views_per_source):
                view = src if v == 0 else random_edit_chain(src, rng)
                pixels.append(pixels_like_the_app(view, size))
                source.append(n_sources)
                photo.append(p_index)
                boxes.append(window.box)
            n_sources += 1
    return np.stack(pixels), np.array(source), np.array(photo), np.array(boxes, dtype=np.float32)


def backbone_features(pixels: np.ndarray) -> np.ndarray:
    """The 1280-d features before any head, computed by the app's own embedder."""
    from imgfinder.model.keras_embedder import KerasEmbedder

    return KerasEmbedder(batch_size=64).features(pixels)


def model_input_size() -> int:
    from imgfinder.model.keras_embedder import KerasEmbedder

    return KerasEmbedder().input_size


def _photo_cache_key(path: str, windows: int, views_per_source: int, seed: int, size: int) -> str:
    key = hashlib.sha256()
    key.update(Path(path).name.encode())
    key.update(hashlib.blake2b(Path(path).read_bytes(), digest_size=16).digest())
    key.update(f"{windows}:{views_per_source}:{seed}:{size}:{WORK_SIDE}:{SOURCE_AREA}:rot4:{PREPROCESSING_ID}:v4".encode())
    return key.hexdigest()[:20]


def build_view_set(
    photos: list[str], windows: int | list[int], views_per_source: int, seed: int, cache_dir: Path | None,
    size: int | None = None,
) -> ViewSet:
    """Views of every photo with their backbone features, cached per photo.

    A photo's views depend only on the photo, its window count, the seed and the size (the
    random generator is seeded per photo), so a cache per photo lets every subset of a
    collection (the folds of a cross-validation) reuse the features already computed.
    """
    size = size or model_input_size()
    per_photo = windows if isinstance(windows, list) else [windows] * len(photos)
    names = [Path(p).name for p in photos]
    parts: dict[int, dict[str, np.ndarray]] = {}
    missing: list[int] = []
    for n, (path, w) in enumerate(zip(photos, per_photo)):
        cache = cache_dir / f"photo-{_photo_cache_key(path, w, views_per_source, seed, size)}.npz" if cache_dir else None
        if cache is not None and cache.exists():
            with np.load(cache) as z:
                parts[n] = {k: z[k] for k in ("features", "source", "boxes")}
        else:
            missing.append(n)
    if missing:
        started = time.monotonic()
        pixels, source, photo, boxes = make_views(
            [photos[n] for n in missing], [per_photo[n] for n in missing], views_per_source, seed, size)
        print(f"made {len(pixels)} views of {len(missing)} photos in {time.monotonic() - started:.0f}s", file=sys.stderr)
        started = time.monotonic()
        features = backbone_features(pixels)
        print(f"backbone features in {time.monotonic() - started:.0f}s", file=sys.stderr)
        for k, n in enumerate(missing):
            rows = photo == k
            part = {"features": features[rows], "source": source[rows] - source[rows].min(), "boxes": boxes[rows]}
            parts[n] = part
            if cache_dir is not None:
                cache_dir.mkdir(parents=True, exist_ok=True)
                key = _photo_cache_key(photos[n], per_photo[n], views_per_source, seed, size)
                np.savez(cache_dir / f"photo-{key}.npz", **part)
    features_l, source_l, photo_l, boxes_l = [], [], [], []
    offset = 0
    for n in range(len(photos)):
        part = parts[n]
        features_l.append(part["features"])
        source_l.append(part["source"] + offset)
        photo_l.append(np.full(len(part["source"]), n))
        boxes_l.append(part["boxes"])
        offset += int(part["source"].max()) + 1
    return ViewSet(np.concatenate(features_l), np.concatenate(source_l), np.concatenate(photo_l),
                   np.concatenate(boxes_l), names)


def nuisance_differences(
    photos: list[str], seed: int, cache_dir: Path | None, size: int | None = None,
) -> dict[str, np.ndarray]:
    """(edited - plain) backbone descriptors of every photo made greyscale ("grey") and
    brightened or darkened by a random factor of 0.6-1.45 ("relit"), each decoded the
    way the app decodes photos; cached per photo like the views."""
    size = size or model_input_size()
    out: dict[str, list[np.ndarray]] = {"grey": [], "relit": []}
    missing: list[int] = []
    found: dict[int, dict[str, np.ndarray]] = {}

    def cache_file(path: str) -> Path | None:
        return cache_dir / f"nuisance-{_photo_cache_key(path, 0, 3, seed, size)}.npz" if cache_dir else None

    for n, path in enumerate(photos):
        cache = cache_file(path)
        if cache is not None and cache.exists():
            with np.load(cache) as z:
                found[n] = {k: z[k] for k in out}
        else:
            missing.append(n)
    if missing:
        pixels = []
        for n in missing:
            img = load_photo(photos[n])
            rng = random.Random(f"{seed}:nuisance:{os.path.basename(photos[n])}")
            for view in (img, greyscale(img), brightness(img, rng.uniform(0.6, 1.45))):
                pixels.append(pixels_like_the_app(view, size))
        features = backbone_features(np.stack(pixels)).reshape(len(missing), 3, -1)
        for k, n in enumerate(missing):
            found[n] = {"grey": features[k, 1] - features[k, 0], "relit": features[k, 2] - features[k, 0]}
            cache = cache_file(photos[n])
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cache, **found[n])
    for n in range(len(photos)):
        for k in out:
            out[k].append(found[n][k])
    return {k: np.stack(v) for k, v in out.items()}
