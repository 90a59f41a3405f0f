"""Local features of one photo: the evidence a copy is proven by (``core.copy_proof``).

A photo is decoded at about ``WORK_AREA`` pixels *by area* (a 12 MP JPEG's draft decode
gives that for free; a panorama keeps its short side instead of shrinking to a strip),
and OpenCV's SIFT finds at most ``MAX_KEYPOINTS`` keypoints on its grey picture. Why
SIFT (OpenCV, patent-free since 2020): its keypoints are located to a fraction of a
pixel and survive resizing, re-compression, blur and turns, which is what "one exact
geometric fit" needs; ORB's binary descriptors reached only 0.84-0.89 copy recall on
the same test. Why not a homography: an edit never changes perspective, and another shot
of a flat facade *is* a homography.

Besides the keypoints, a small grey picture (``CHECK_AREA`` pixels by area) is kept for
the block-by-block agreement check, and the photo's shown size (its EXIF orientation
applied) so fitted transforms can be stated in the photo's own pixels.

Everything is serialised to one ``bytes`` value (``to_bytes``/``from_bytes``) that the
catalog caches per photo (``Catalog.local_features``): a photo is examined once, when it
first appears in a candidate pair. Pure numpy and OpenCV, no Qt.
"""

from __future__ import annotations

import contextlib
import functools
import math
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .decoder import PhotoFile, to_rgb

# Pixels of the picture SIFT looks at. 384 x 384 and 512 x 512 gave the same decisions on
# every pair of benchmarks/local_fit_rule.py (977 of 1,026 copies, 3 of 678 hard negatives)
# and SIFT costs 17 ms here against 38 ms (a 1920 x 1200 photo, 2 cores).
WORK_AREA = 384 * 384
# Strongest keypoints kept: bounded work and bytes per photo. 500 and 800 gave the same
# decisions on benchmarks/local_fit_rule.py; 500 makes matching 2.5 times cheaper.
MAX_KEYPOINTS = 500
CHECK_AREA = 192 * 192  # pixels of the grey picture the agreement check compares
# The decoder's minimum side: a 4:3 picture of WORK_AREA pixels has a 333 px short side.
DECODE_MIN_SIDE = 288
FORMAT = 5  # bumped when the serialised layout changes; an older value is recomputed

_HEADER = struct.Struct("<BIIIIHHfI")  # format, W, H, work w, work h, check w, check h, sharpness, n


@dataclass(frozen=True, eq=False)
class LocalFeatures:
    """Keypoints of one photo at its working scale, and its small grey picture."""

    size: tuple[int, int]  # the photo's shown (width, height), orientation applied
    work: tuple[int, int]  # (width, height) of the picture the keypoints were found on
    xy: np.ndarray  # (N, 2) float32 keypoint positions in the working picture
    angle: np.ndarray  # (N,) float32 keypoint orientation, degrees (SIFT's)
    descriptors: np.ndarray  # (N, 128) uint8 SIFT descriptors
    check: np.ndarray  # (h, w) uint8 grey picture of about CHECK_AREA pixels
    # ``sharpness`` of the decoded picture (its short side >= DECODE_MIN_SIDE):
    # how much top-octave detail it has; a blurred copy has less (``core.keeper``).
    sharpness: float = 0.0

    @functools.cached_property
    def float_descriptors(self) -> np.ndarray:
        """The descriptors as float32, as OpenCV's matcher wants them (made once)."""
        return np.ascontiguousarray(self.descriptors, dtype=np.float32)

    @property
    def count(self) -> int:
        return int(self.xy.shape[0])

    def to_bytes(self) -> bytes:
        n = self.count
        ch, cw = self.check.shape
        head = _HEADER.pack(FORMAT, *self.size, *self.work, cw, ch, self.sharpness, n)
        return b"".join((head, self.xy.astype("<f4").tobytes(), self.angle.astype("<f4").tobytes(),
                         self.descriptors.astype(np.uint8).tobytes(), self.check.astype(np.uint8).tobytes()))

    @classmethod
    def from_bytes(cls, raw: bytes) -> LocalFeatures:
        fmt, w, h, ww, wh, cw, ch, sharp, n = _HEADER.unpack_from(raw)
        if fmt != FORMAT:
            raise ValueError(f"local features of format {fmt}, not {FORMAT}")
        at = _HEADER.size
        xy = np.frombuffer(raw, "<f4", 2 * n, at).reshape(n, 2)
        at += 8 * n
        angle = np.frombuffer(raw, "<f4", n, at)
        at += 4 * n
        desc = np.frombuffer(raw, np.uint8, 128 * n, at).reshape(n, 128)
        at += 128 * n
        check = np.frombuffer(raw, np.uint8, cw * ch, at).reshape(ch, cw)
        return cls((w, h), (ww, wh), xy, angle, desc, check, float(sharp))


def _scaled_size(width: int, height: int, area: int) -> tuple[int, int]:
    """(w, h) of about ``area`` pixels with the aspect ratio kept; never upscaled."""
    scale = min(1.0, math.sqrt(area / max(1, width * height)))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _sift():
    import cv2  # lazily: a library with no candidate pairs never loads OpenCV

    return cv2.SIFT_create(nfeatures=MAX_KEYPOINTS)


_DETECTORS = threading.local()  # one SIFT per thread (``local_check.extract_many`` runs several)
_OPENCV_THREADS = threading.Lock()


@contextlib.contextmanager
def single_threaded_opencv() -> Iterator[None]:
    """OpenCV on one thread per call while several photos are worked on at once (one per
    core): its own parallel loops would only compete with each other."""
    import cv2

    with _OPENCV_THREADS:
        before = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            yield
        finally:
            cv2.setNumThreads(before)


def features_of_grey(grey: np.ndarray, size: tuple[int, int] | None = None) -> LocalFeatures:
    """Local features of a grey uint8 picture already at (about) its working scale;
    ``size`` is the photo's full shown size (default: the picture's own)."""
    import cv2

    detector = getattr(_DETECTORS, "sift", None)
    if detector is None:
        detector = _DETECTORS.sift = _sift()
    grey = np.ascontiguousarray(grey, dtype=np.uint8)
    h, w = grey.shape
    ww, wh = _scaled_size(w, h, WORK_AREA)
    work = cv2.resize(grey, (ww, wh), interpolation=cv2.INTER_AREA) if (ww, wh) != (w, h) else grey
    points, desc = detector.detectAndCompute(work, None)
    if desc is None or not points:
        xy = np.zeros((0, 2), np.float32)
        angle = np.zeros(0, np.float32)
        desc = np.zeros((0, 128), np.uint8)
    else:
        order = np.argsort([-p.response for p in points], kind="stable")[:MAX_KEYPOINTS]
        xy = np.array([points[k].pt for k in order], np.float32).reshape(-1, 2)
        angle = np.array([points[k].angle for k in order], np.float32)
        desc = np.clip(np.rint(desc[order]), 0, 255).astype(np.uint8)
    cw, ch = _scaled_size(w, h, CHECK_AREA)
    check = cv2.resize(grey, (cw, ch), interpolation=cv2.INTER_AREA)
    sharp = sharpness(grey.astype(np.float32)) if min(h, w) >= 32 else 0.0
    return LocalFeatures(size or (w, h), (ww, wh), xy, angle, desc, check, sharp)


def _band_energy(grey: np.ndarray, factor: float) -> float:
    """Energy of what is lost by resampling down by ``factor`` and back up."""
    import cv2

    h, w = grey.shape
    sw, sh = max(2, round(w / factor)), max(2, round(h / factor))
    low = cv2.resize(cv2.resize(grey, (sw, sh), interpolation=cv2.INTER_AREA), (w, h),
                     interpolation=cv2.INTER_LINEAR)
    return float(np.mean((grey - low) ** 2))


SHARP_BLOCK = 32  # px: sharpness is the median over blocks of this size ...
SHARP_MIN_ENERGY = 1.0  # ... that have this much detail in the octave below the top,
SHARP_MIN_BLOCKS = 12  # ... when at least this many blocks have


def sharpness(grey: np.ndarray) -> float:
    """How much top-octave detail the picture has, relative to the octave below: the
    median over its textured blocks, so a watermark, a caption or a burnt-out sky (a
    few blocks) does not move it, while a blur lowers every block."""
    import cv2

    h, w = grey.shape

    def low(x: np.ndarray, factor: int) -> np.ndarray:
        small = cv2.resize(x, (max(2, w // factor), max(2, h // factor)), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)

    l2, l4 = low(grey, 2), low(grey, 4)
    top, below = (grey - l2) ** 2, (l2 - l4) ** 2
    rows, cols = h // SHARP_BLOCK, w // SHARP_BLOCK
    if not rows or not cols:
        return 0.0

    def block_means(x: np.ndarray) -> np.ndarray:
        return x[:rows * SHARP_BLOCK, :cols * SHARP_BLOCK].reshape(rows, SHARP_BLOCK, cols, SHARP_BLOCK).mean(axis=(1, 3))

    t, b = block_means(top), block_means(below)
    textured = b >= SHARP_MIN_ENERGY
    if int(textured.sum()) < SHARP_MIN_BLOCKS:
        return 0.0  # a picture with hardly any detail: its sharpness is not known
    return float(np.median(t[textured] / b[textured]))


def band_ratio(grey: np.ndarray, factor: float) -> float:
    """Energy above 1/``factor`` of the picture's resolution, over the octave below it:
    natural detail has about as much energy per octave, a blurred picture little at the top."""
    top = _band_energy(grey, factor)
    below = _band_energy(grey, 2 * factor) - top
    return top / below if below > 1e-6 else 0.0


def extract(path: str) -> LocalFeatures:
    """Decode ``path`` near its working scale and find its local features.

    Raises ``decoder.DecodeError`` (or OSError) when the photo cannot be read."""
    return features_of_grey(*working_grey(path))


def working_grey(path: str) -> tuple[np.ndarray, tuple[int, int]]:
    """``path``'s grey pixels near the working scale, and its full (width, height)."""
    from PIL import Image

    with PhotoFile(path) as photo:
        img, width, height = photo.load(min_side=DECODE_MIN_SIDE)
        img = to_rgb(img)
        # A large picture the draft decode could not reduce (not a JPEG) is reduced to
        # about the size a draft would give, so sharpness is measured at a like scale.
        target = _scaled_size(width, height, 4 * WORK_AREA)
        if img.size[0] * img.size[1] > 2 * target[0] * target[1]:
            img = img.resize(target, Image.Resampling.BOX)
        grey = np.asarray(img.convert("L"), dtype=np.uint8)
    return grey, (width, height)
