"""Where a point of one photo lies in another: the map the compare view pans and zooms by.

Two photos of different sizes show the same picture area only if their views move by the
picture, not by the scroll bar: a resized copy maps by its frame, a crop, a turn or a mirror
only through the detail the two share. The map comes from the local-feature fit that also
proves copies (``copy_proof.best_fit``), restated in the photos' own pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .copy_proof import MIN_INLIERS, best_fit, resampling_matrix
from .keypoints import LocalFeatures, extract


@dataclass(frozen=True)
class Alignment:
    """An affine map from photo a's pixels to photo b's (shown orientation, full size)."""

    matrix: np.ndarray  # (3, 3)
    matched: bool  # found from shared detail (False: the two frames laid on each other)

    def map(self, x: float, y: float) -> tuple[float, float]:
        u, v, _ = self.matrix @ np.array([x, y, 1.0])
        return float(u), float(v)

    @property
    def scale(self) -> float:
        """b's pixels per a's pixel (linear)."""
        return math.sqrt(abs(float(np.linalg.det(self.matrix[:2, :2])))) or 1.0

    def inverse(self) -> Alignment:
        return Alignment(np.linalg.inv(self.matrix), self.matched)

    def affine(self) -> tuple[float, float, float, float, float, float]:
        """The six coefficients PIL's ``Image.transform(..., AFFINE, data)`` takes to draw
        b into a's frame (it maps each output pixel of a to where it lies in b)."""
        return tuple(float(v) for v in self.matrix[:2].ravel())  # type: ignore[return-value]


def by_frames(size_a: tuple[int, int], size_b: tuple[int, int]) -> Alignment:
    """Lay b's frame on a's: right for a resized copy, a first guess for anything else."""
    sx = size_b[0] / max(1, size_a[0])
    sy = size_b[1] / max(1, size_a[1])
    return Alignment(np.array([[sx, 0.0, 0.0], [0.0, sy, 0.0], [0.0, 0.0, 1.0]]), False)


def from_features(a: LocalFeatures, b: LocalFeatures, min_inliers: int = MIN_INLIERS) -> Alignment:
    """The fit of a's detail onto b's when at least ``min_inliers`` matches agree with it
    (a copy's exact fit, or another shot's rough one); else ``by_frames``."""
    fit = best_fit(a, b)
    if fit is None or fit.inliers < min_inliers:
        return by_frames(a.size, b.size)
    work = np.vstack([fit.matrix, [0.0, 0.0, 1.0]])  # a's work -> b's work (mirrored if flipped)
    if fit.flipped:
        unmirror = np.array([[-1.0, 0.0, b.work[0] - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        work = unmirror @ work
    # full-size pixels -> working-picture pixels, on both sides
    full = np.linalg.inv(resampling_matrix(b.size, b.work)) @ work @ resampling_matrix(a.size, a.work)
    return Alignment(full, True)


def align(path_a: str, path_b: str) -> Alignment:
    """The map from the photo at ``path_a`` to the one at ``path_b``.

    Raises what ``keypoints.extract`` raises when either cannot be read."""
    return from_features(extract(path_a), extract(path_b))
