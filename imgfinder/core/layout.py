"""Pixel-layout verification: is one picture an edited copy of the other, or only
another picture of the same kind of scene?

Why: a CNN embedding says "these look alike". It cannot tell a 60% crop of a photo
from the other half of the same beach, because its pooled features are the same kind
of sand, sea and sky. A copy, though, keeps the *layout*: every detail of the smaller
picture sits at the same place in the larger one, under one of the eight rotations or
mirrors, one scale and one shift. This module checks exactly that, on a 64 x 64 grey
*layout signature* stored per photo (4 KB), in a few milliseconds per candidate pair:

1. coarse search at 24 px: every rotation/mirror, both directions (A inside B, B inside
   A), eight scales from 1 down to 0.57 of the side (crops to a third of the area),
   every shift, by normalised cross-correlation (NCC);
2. the best hypotheses are refined at 64 px (scale to a pixel, shift to a pixel);
3. the score is the NCC of the *band-passed* pictures at that alignment: fine detail
   (edges, texture) must line up, not just the sky-above-ground gradient that two shots
   of one scene share. Brightness, contrast, greyscale, JPEG, blur, rescaling, a small
   watermark and a border leave it high; another part of the scene does not.

Speed: everything a photo contributes (dihedral templates, its windows' norms,
summed-area tables) is computed once per photo; a pair costs one gather and a few
matrix products per scale at 24 px, and one product per candidate size in the
refinement (each row shift a strided view of whole picture rows): ~3 ms a pair on a
busy 2-core machine, a third of the first, Pillow-resizing version, with the same
decisions (benchmarks/layout_speed.py).

Before that check, ``plausible_score`` runs the same search on 16 px thumbnails, a
cheap filter (~0.14 ms) that lets every edited copy through and stops most different
pictures, so the full check runs only on pairs that might be copies.

Everything here is numpy and Pillow, no Qt and no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view
from PIL import Image

SIDE = 64  # stored signature: SIDE x SIDE grey uint8
COARSE = 24  # coarse search resolution
# Side of the smaller picture as a fraction of the larger one's: 1 (same framing) down
# to 0.57 (a crop to a third of the area, or a picture inside a wide border).
SCALES = (1.0, 0.93, 0.87, 0.81, 0.75, 0.69, 0.63, 0.57)
REFINE_TOP = 2  # coarse hypotheses refined at full resolution
SHIFT_RADIUS = 3  # pixels searched around a coarse position at 64 px
SCALE_RADIUS = 3  # pixels of template size searched around a coarse scale at 64 px
FLAT = 1.0  # band-pass standard deviation (grey levels) below which a picture has no detail

_GREY = np.array([0.299, 0.587, 0.114], np.float32)


BORDER_TOLERANCE = 8.0  # grey levels: a row/column this close to the frame colour is border
MAX_BORDER = 0.3  # at most this fraction of a side is trimmed as border


def content_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the picture inside a uniform frame (a padded copy's
    border, letterboxing), so the frame's sharp edge is never compared as detail.

    Only a *frame* is trimmed: uniform bands of one colour and similar width on two
    opposite sides. A one-sided band (a blown-out sky, a white wall at one edge) is
    part of the picture.
    """
    n0, n1 = grey.shape

    def band(lines: np.ndarray, limit: int) -> tuple[int, float]:
        colour = float(np.median(lines[0]))

        def off(line: np.ndarray) -> np.ndarray:
            return np.abs(line - colour)

        k = 0
        while k < limit and float(off(lines[k]).max()) <= BORDER_TOLERANCE:
            k += 1
        if not k:
            return 0, colour
        # Lines that are frame but for JPEG ringing or the blend of frame and picture that
        # resizing makes: frame on average.
        while k < limit and float(off(lines[k]).mean()) <= BORDER_TOLERANCE / 2:
            k += 1
        # A frame ends at an edge: within two lines (one may still blend frame and
        # picture) the picture differs from the frame's colour on average, not only
        # somewhere. Why: a flat or smoothed picture (a grey wall, noise averaged down)
        # has uniform lines too, and is no frame.
        if max(float(off(line).mean()) for line in lines[k : k + 2]) <= BORDER_TOLERANCE:
            return 0, colour
        return k, colour

    def pair(lines: np.ndarray) -> tuple[int, int]:
        n = lines.shape[0]
        limit = int(n * MAX_BORDER)
        a, ca = band(lines, limit)
        b, cb = band(lines[::-1], limit)
        if a and b and abs(ca - cb) <= BORDER_TOLERANCE and abs(a - b) <= max(2, 0.25 * max(a, b)):
            return a, n - b
        return 0, n

    top, bottom = pair(grey)
    left, right = pair(grey.T)
    return top, bottom, left, right


def frame_fractions(pixels: np.ndarray) -> tuple[float, float, float, float] | None:
    """(left, top, right, bottom) of the picture inside a uniform frame, as fractions of
    the ``pixels``' (H, W, 3) sides; None when there is no frame (``content_box``)."""
    grey = np.asarray(pixels, dtype=np.float32) @ _GREY
    top, bottom, left, right = content_box(grey)
    h, w = grey.shape
    if (top, bottom, left, right) == (0, h, 0, w):
        return None
    return left / w, top / h, right / w, bottom / h


def layout_signature(pixels: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 RGB (the model's square input) -> (SIDE, SIDE) grey uint8 of the
    picture without any uniform frame around it."""
    grey = np.asarray(pixels, dtype=np.float32) @ _GREY
    top, bottom, left, right = content_box(grey)
    grey = np.ascontiguousarray(grey[top:bottom, left:right])
    small = Image.fromarray(grey, "F").resize((SIDE, SIDE), Image.Resampling.BOX)
    return np.clip(np.asarray(small) + 0.5, 0, 255).astype(np.uint8)


def signature_to_bytes(signature: np.ndarray) -> bytes:
    return np.ascontiguousarray(signature, dtype=np.uint8).tobytes()


def signature_from_bytes(raw: bytes) -> np.ndarray:
    if len(raw) != SIDE * SIDE:
        raise ValueError(f"layout signature has {len(raw)} bytes, expected {SIDE * SIDE}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(SIDE, SIDE)


def _resize(a: np.ndarray, m: int) -> np.ndarray:
    if a.shape[0] == m:
        return np.asarray(a, dtype=np.float32)
    img = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), "F")
    return np.asarray(img.resize((m, m), Image.Resampling.BOX if m < a.shape[0] else Image.Resampling.BILINEAR))


@lru_cache(maxsize=256)
def _resize_matrix(n: int, m: int) -> np.ndarray:
    """(m, n) matrix R with ``_resize(a, m) == R @ a @ R.T`` for an n x n ``a``.

    Why: Pillow's resampling is separable and linear, so one pair of small matrix
    products replaces a Pillow round trip per candidate size (the refinement tries up
    to seven sizes per hypothesis). Read off Pillow itself, so the weights are its own.
    """
    if n == m:
        return np.eye(n)
    eye = Image.fromarray(np.eye(n, dtype=np.float32), "F")  # row r is the unit vector e_r
    rows = eye.resize((m, n), Image.Resampling.BOX if m < n else Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(rows, dtype=np.float64).T)


def _resize_fast(a: np.ndarray, m: int) -> np.ndarray:
    r = _resize_matrix(a.shape[0], m)
    return r @ a @ r.T


def _dihedral(a: np.ndarray, k: int) -> np.ndarray:
    """The 8 rotations/mirrors: k in 0..3 rotates by 90 degrees k times, 4..7 also mirrors."""
    a = np.rot90(a, k % 4)
    return np.ascontiguousarray(a[:, ::-1] if k >= 4 else a)


def _blur_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(3 * sigma + 0.5))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with reflected edges (Pillow has none for float images)."""
    kernel = _blur_kernel(sigma)
    radius = len(kernel) // 2
    n0, n1 = a.shape
    p = np.pad(a, radius, mode="reflect")
    rows = sum(kernel[i] * p[i : i + n0, :] for i in range(len(kernel)))
    return sum(kernel[i] * rows[:, i : i + n1] for i in range(len(kernel)))


@lru_cache(maxsize=256)
def _blur_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) matrix B with ``_blur(a, sigma) == B @ a @ B.T``: two products instead of
    a Python loop over the kernel's taps."""
    kernel = _blur_kernel(sigma).astype(np.float64)
    radius = len(kernel) // 2
    p = np.pad(np.eye(n), ((radius, radius), (0, 0)), mode="reflect")
    return sum(kernel[i] * p[i : i + n] for i in range(len(kernel)))


def _band(a: np.ndarray) -> np.ndarray:
    """Detail at the scale of a pixel or two of the 64 px signature."""
    return _blur(a, 0.6) - _blur(a, 2.0)


def _band_fast(a: np.ndarray) -> np.ndarray:
    """``_band`` by matrix products (square ``a``)."""
    fine, wide = _blur_matrix(a.shape[0], 0.6), _blur_matrix(a.shape[0], 2.0)
    return fine @ a @ fine.T - wide @ a @ wide.T


def _ncc(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum()) / den if den > 1e-6 else 0.0


@lru_cache(maxsize=64)
def _dihedral_index(m: int) -> np.ndarray:
    """(8, m * m) flat indices: ``a.ravel()[index[k]] == _dihedral(a, k).ravel()``."""
    grid = np.arange(m * m, dtype=np.intp).reshape(m, m)
    return np.stack([_dihedral(grid, k).ravel() for k in range(8)])


def _templates(a: np.ndarray) -> np.ndarray:
    """(m * m, 8) zero-mean, unit-norm dihedral variants of ``a``, one per column."""
    t = np.asarray(a, dtype=np.float32).ravel()[_dihedral_index(a.shape[0])]
    t -= t.mean(axis=1, keepdims=True)
    t /= np.sqrt((t * t).sum(axis=1, keepdims=True)) + 1e-6
    return np.ascontiguousarray(t.T)


def _windows(big: np.ndarray, m: int) -> np.ndarray:
    """(positions, m * m): every m x m window of ``big``, row-major positions."""
    return sliding_window_view(big, (m, m)).reshape(-1, m * m)


def _summed_area(x: np.ndarray) -> np.ndarray:
    table = np.zeros((x.shape[0] + 1, x.shape[1] + 1))
    table[1:, 1:] = x.cumsum(axis=0).cumsum(axis=1)
    return table


def _box_sums(table: np.ndarray, m: int) -> np.ndarray:
    """Sums of every m x m window (row-major positions) from a summed-area table."""
    return (table[m:, m:] - table[:-m, m:] - table[m:, :-m] + table[:-m, :-m]).ravel()


def _window_norms(picture: np.ndarray, m: int, tables: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Each m x m window's deviation from its mean, as a norm (the NCC's denominator)."""
    s = _box_sums(tables[0], m)
    return np.sqrt(np.maximum(_box_sums(tables[1], m) - s * s / (m * m), 1e-6)).astype(np.float32)


class _Search:
    """One picture at one resolution, ready for a batched NCC search: its dihedral
    templates at every scale and its windows' norms at every scale (precomputed once per
    photo, so a pair costs one matrix product per scale and direction)."""

    def __init__(self, picture: np.ndarray, sizes: tuple[int, ...]) -> None:
        self.picture = np.ascontiguousarray(picture, dtype=np.float32)
        self.sizes = sizes
        x = self.picture.astype(np.float64)
        self.templates = {m: _templates(_resize_fast(x, m)) for m in sizes}
        tables = (_summed_area(x), _summed_area(x * x))
        self.norms = {m: _window_norms(self.picture, m, tables) for m in sizes}

    def all_windows(self) -> np.ndarray:
        """Every window at every size, concatenated (one gather instead of one per size)."""
        return self.picture.ravel()[_window_index(self.picture.shape[0], self.sizes)]

    def ncc(self, small: _Search, m: int, windows: np.ndarray | None = None) -> np.ndarray:
        """(positions, 8) NCC of ``small``'s 8 variants at size m with every window here
        (``windows``: this size's block of ``all_windows()``)."""
        if windows is None:
            windows = _windows(self.picture, m)
        return (windows @ small.templates[m]) / self.norms[m][:, None]


@lru_cache(maxsize=8)
def _window_index(side: int, sizes: tuple[int, ...]) -> np.ndarray:
    """Flat pixel indices of every m x m window of a side x side picture, sizes in order."""
    grid = np.arange(side * side, dtype=np.intp).reshape(side, side)
    return np.concatenate([sliding_window_view(grid, (m, m)).reshape(-1) for m in sizes])


def _sizes(side: int) -> tuple[int, ...]:
    return tuple(dict.fromkeys(round(side * s) for s in SCALES))


# The cheap filter: the same search on 16 px thumbnails at four scales (1 down to 0.63
# of the side), ~10x cheaper than ``match``. Every benchmark edit of every shared photo
# scores >= 0.79 (the weakest: crop80), while 19 in 20 pairs of other shots of one
# grocery product score below 0.7 (benchmarks/layout_speed.py): a margin both ways.
FILTER_SIDE = 16
FILTER_SIZES = (16, 14, 12, 10)
FILTER_MIN = 0.7


@dataclass
class Layout:
    """A photo's signature with everything a comparison needs, each part computed on
    first use and kept: the cheap filter needs only ``thumb``, a full check the rest."""

    full: np.ndarray  # (SIDE, SIDE) float32

    def __post_init__(self) -> None:
        self.full = np.asarray(self.full, dtype=np.float32)

    @cached_property
    def smooth(self) -> np.ndarray:
        return _blur(self.full, 1.0)

    @cached_property
    def coarse(self) -> _Search:
        return _Search(_resize_fast(self.full64, COARSE), _sizes(COARSE))

    @cached_property
    def flat(self) -> bool:
        return float(_band(self.full)[4:-4, 4:-4].std()) < FLAT

    @classmethod
    def from_bytes(cls, raw: bytes) -> Layout:
        return cls(signature_from_bytes(raw))

    @cached_property
    def thumb(self) -> _Search:
        """The cheap filter's 16 px search data (~20 KB)."""
        return _Search(_resize_fast(self.full64, FILTER_SIDE), FILTER_SIZES)

    # Not kept (32 KB each, a few microseconds to make): a verifier keeps thousands of
    # layouts (``LAYOUT_CACHE``), each ~200 KB without them.
    @property
    def smooth64(self) -> np.ndarray:
        return self.smooth.astype(np.float64)

    @property
    def full64(self) -> np.ndarray:
        return self.full.astype(np.float64)

    @cached_property
    def integrals(self) -> tuple[np.ndarray, np.ndarray]:
        """Summed-area tables of the smoothed picture and its square (float64: exact
        enough for window variances), for every window's norm in O(1)."""
        s = self.smooth64
        return _summed_area(s), _summed_area(s * s)


@dataclass(frozen=True)
class Match:
    """How well the smaller picture lines up inside the larger one."""

    score: float  # band-pass NCC at the best alignment: the verification score
    coarse: float  # NCC of the smoothed pictures at that alignment
    dihedral: int  # 0..7, see _dihedral
    scale: float  # side of the smaller picture / side of the larger
    flat: bool  # both pictures lack detail: ``score`` is the smooth NCC


def _coarse_hypotheses(a: Layout, b: Layout, top: int = REFINE_TOP) -> list[tuple[float, int, int, int, int, int]]:
    """The ``top`` best (ncc, dihedral, direction, m, x, y) at COARSE resolution.

    direction 0: B (transformed) inside A; 1: A (transformed) inside B. Candidates are
    the best position of each (scale, direction, dihedral), ranked as a stable sort of
    that order would rank them.
    """
    windows = (a.coarse.all_windows(), b.coarse.all_windows())
    values, best_positions, blocks = [], [], []
    offset = 0
    for m in a.coarse.sizes:
        positions = COARSE - m + 1
        size = positions * positions * m * m
        for direction, (big, small) in enumerate(((a, b), (b, a))):
            block = windows[direction][offset : offset + size].reshape(-1, m * m)
            ncc = big.coarse.ncc(small.coarse, m, block)
            best = ncc.argmax(axis=0)
            values.append(ncc[best, _EIGHT])
            best_positions.append(best)
            blocks.append((direction, m, positions))
        offset += size
    flat = np.concatenate(values)
    order = np.argsort(-flat, kind="stable")[:top]
    found = []
    for i in order.tolist():
        block, k = divmod(i, 8)
        direction, m, positions = blocks[block]
        y, x = divmod(int(best_positions[block][k]), positions)
        found.append((float(flat[i]), k, direction, m, x, y))
    return found


_EIGHT = np.arange(8)


def plausible_score(a: Layout, b: Layout) -> float:
    """Best NCC of the 16 px thumbnails over every rotation/mirror, scale and shift,
    both ways round: the cheap filter's score."""
    windows = (a.thumb.all_windows(), b.thumb.all_windows())
    best = -1.0
    offset = 0
    for m in a.thumb.sizes:
        positions = FILTER_SIDE - m + 1
        size = positions * positions * m * m
        for direction, (big, small) in enumerate(((a, b), (b, a))):
            block = windows[direction][offset : offset + size].reshape(-1, m * m)
            best = max(best, float(big.thumb.ncc(small.thumb, m, block).max()))
        offset += size
    return best


def _resize_many(a: np.ndarray, m: int) -> np.ndarray:
    """``_resize_fast`` of a stack (U, n, n) -> (U, m, m), as two big matrix products."""
    u, n = a.shape[0], a.shape[1]
    r = _resize_matrix(n, m)
    cols = (a.reshape(u * n, n) @ r.T).reshape(u, n, m)  # a @ r.T
    return (cols.transpose(0, 2, 1).reshape(u * m, n) @ r.T).reshape(u, m, m).transpose(0, 2, 1)


def _thumb_parts(fulls: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray], dict[int, np.ndarray]]:
    """The cheap filter's data of many photos (``Layout.thumb``, computed as ``_Search``
    does): (16 x 16 pictures (U, 16, 16) float32, {m: the picture resized to m, zero
    mean and unit norm (U, m * m) float32: the template in its own orientation},
    {m: every m x m window's norm (U, p, p), p = 17 - m, float32})."""
    pictures = _resize_many(fulls.astype(np.float64), FILTER_SIDE).astype(np.float32)
    x = pictures.astype(np.float64)
    u = len(x)
    tables = []
    for y in (x, x * x):
        t = np.zeros((u, FILTER_SIDE + 1, FILTER_SIDE + 1))
        t[:, 1:, 1:] = y.cumsum(axis=1).cumsum(axis=2)
        tables.append(t)
    templates, norms = {}, {}
    for m in FILTER_SIZES:
        resized = x if m == FILTER_SIDE else _resize_many(x, m)
        t = resized.astype(np.float32).reshape(u, m * m)
        t -= t.mean(axis=1, keepdims=True)
        t /= np.sqrt((t * t).sum(axis=1, keepdims=True)) + 1e-6
        templates[m] = t
        s1, s2 = (tb[:, m:, m:] - tb[:, :-m, m:] - tb[:, m:, :-m] + tb[:, :-m, :-m] for tb in tables)
        norms[m] = np.sqrt(np.maximum(s2 - s1 * s1 / (m * m), 1e-6)).astype(np.float32)
    return pictures, templates, norms


class ThumbCache:
    """The cheap filter's data of many photos, in flat arrays (~4 KB a photo): each
    photo's is computed once, vectorised, the first time one of its pairs is asked."""

    def __init__(self, count: int) -> None:
        self.done = np.zeros(count, dtype=bool)
        self.pictures = np.empty((count, FILTER_SIDE, FILTER_SIDE), np.float32)
        self.templates = {m: np.empty((count, m * m), np.float32) for m in FILTER_SIZES}
        self.norms = {m: np.empty((count, FILTER_SIDE - m + 1, FILTER_SIDE - m + 1), np.float32)
                      for m in FILTER_SIZES}

    def fill(self, photos: np.ndarray, fulls: Callable[[np.ndarray], np.ndarray]) -> None:
        """Compute the photos not done yet; ``fulls(photos)`` gives their signatures."""
        todo = np.unique(photos[~self.done[photos]])
        for s in range(0, len(todo), 4096):
            part = todo[s : s + 4096]
            pictures, templates, norms = _thumb_parts(fulls(part))
            self.pictures[part] = pictures
            for m in FILTER_SIZES:
                self.templates[m][part] = templates[m]
                self.norms[m][part] = norms[m]
            self.done[part] = True


def plausible_scores(fulls: np.ndarray | ThumbCache, first: np.ndarray, second: np.ndarray,
                     batch: int = 1024) -> np.ndarray:
    """``plausible_score`` of many pairs at once: pair n is (photo first[n], photo
    second[n]) of ``fulls`` ((U, SIDE, SIDE) signatures, or a filled ``ThumbCache``).

    One stacked matrix product per scale and direction for ``batch`` pairs (each
    picture's windows against the other's 8 turned templates), instead of a dozen small
    products per pair: ~0.1 ms a pair against ~0.2 ms, plus ~0.5 ms a photo for its
    ``Layout.thumb``. Scores as ``plausible_score``'s, to float32 rounding."""
    first, second = np.asarray(first, np.intp), np.asarray(second, np.intp)
    best = np.full(len(first), -1.0, np.float32)
    if len(first) == 0:
        return best
    if isinstance(fulls, ThumbCache):
        cache = fulls
    else:
        cache = ThumbCache(len(fulls))
        cache.fill(np.unique(np.concatenate([first, second])), lambda part: fulls[part])
    for s in range(0, len(first), batch):
        best[s : s + batch] = _plausible_batch(cache, first[s : s + batch], second[s : s + batch])
    return best


def _plausible_batch(cache: ThumbCache, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    best = np.full(len(first), -1.0, np.float32)
    sides = [(photos, cache.pictures[photos]) for photos in (first, second)]
    for m in FILTER_SIZES:
        side = FILTER_SIDE - m + 1
        index = _dihedral_index(m).T  # (m * m, 8)
        parts = []
        for photos, pictures in sides:
            windows = sliding_window_view(pictures, (m, m), axis=(1, 2)).reshape(len(photos), side * side, m * m)
            # The 8 turned templates, C-contiguous (a strided operand slows the products 5x).
            turned = np.take(cache.templates[m][photos], index, axis=1)  # (B, m * m, 8)
            parts.append((windows, turned, cache.norms[m][photos].reshape(len(photos), side * side, 1)))
        (wa, ta, na), (wb, tb, nb) = parts
        for windows, turned, norms in ((wa, tb, na), (wb, ta, nb)):
            ncc = np.matmul(windows, turned) / norms
            np.maximum(best, ncc.max(axis=(1, 2)), out=best)
    return best


def _window_norms_at(big: Layout, ys: range, xs: range, w: int) -> np.ndarray:
    """Norms of the w x w windows of ``big.smooth`` with top-left corners ys x xs."""
    s1, s2 = big.integrals
    n = w * w
    y0, y1, x0, x1 = ys.start, ys.stop, xs.start, xs.stop

    def box(t: np.ndarray) -> np.ndarray:
        return t[y0 + w : y1 + w, x0 + w : x1 + w] - t[y0:y1, x0 + w : x1 + w] - t[y0 + w : y1 + w, x0:x1] + t[y0:y1, x0:x1]

    s = box(s1)
    return np.sqrt(np.maximum(box(s2) - s * s / n, 1e-6))


def _fine_ncc(big: Layout, t: np.ndarray, ys: range, xs: range) -> np.ndarray:
    """NCC of the zero-mean, unit-norm template ``t`` with the windows of ``big.smooth``
    whose top-left corners are ys x xs, as one matrix product: each row shift is a
    strided view of whole picture rows, each column shift a copy of the template placed
    at that column of a zero canvas as wide as the picture."""
    w = t.shape[0]
    rows = big.smooth64[ys.start :]
    slabs = as_strided(rows, shape=(len(ys), w * SIDE), strides=(rows.strides[0], rows.strides[1]))
    canvas = np.zeros((len(xs), w, SIDE))
    for n, x in enumerate(xs):
        canvas[n, :, x : x + w] = t
    return (slabs @ canvas.reshape(len(xs), -1).T) / _window_norms_at(big, ys, xs, w)


def _smooth_template(small: Layout, k: int, m: int, cache: dict) -> tuple[int, np.ndarray]:
    """(inner cut, zero-mean unit-norm template) of ``small``'s smoothed picture, turned
    by dihedral k, at size m; ``cache`` shares it between the hypotheses of one pair."""
    key = (id(small), k, m)
    found = cache.get(key)
    if found is None:
        # Only the inner part is compared: blurring mixes a border (a padded copy's
        # frame, the edge of a crop) into the outer pixels of both pictures differently.
        c = max(2, m // 16)
        t = _resize_fast(_dihedral(small.smooth64, k), m)[c : m - c, c : m - c]
        t = t - t.mean()
        t /= np.sqrt((t * t).sum()) + 1e-6
        found = cache[key] = (c, t)
    return found


def _refine(a: Layout, b: Layout, hypothesis: tuple[float, int, int, int, int, int], cache: dict | None = None) -> Match:
    _, k, direction, m_coarse, xc, yc = hypothesis
    cache = {} if cache is None else cache
    big, small = (a, b) if direction == 0 else (b, a)
    factor = SIDE / COARSE
    m_guess = round(m_coarse * factor)
    best = (-2.0, m_guess, 0, 0)  # (smooth NCC, size, top, left)
    smallest = round(SCALES[-1] * SIDE)  # the search range ends here, refinement too
    for m in range(max(smallest, m_guess - SCALE_RADIUS), min(SIDE, m_guess + SCALE_RADIUS) + 1):
        x_mid = round(xc * factor + (m_coarse * factor - m) / 2)
        y_mid = round(yc * factor + (m_coarse * factor - m) / 2)
        x0, x1 = max(0, x_mid - SHIFT_RADIUS), min(SIDE - m, x_mid + SHIFT_RADIUS)
        y0, y1 = max(0, y_mid - SHIFT_RADIUS), min(SIDE - m, y_mid + SHIFT_RADIUS)
        if x1 < x0 or y1 < y0:
            continue
        c, t = _smooth_template(small, k, m, cache)
        ncc = _fine_ncc(big, t, range(y0 + c, y1 + c + 1), range(x0 + c, x1 + c + 1))
        y, x = np.unravel_index(int(ncc.argmax()), ncc.shape)
        if ncc[y, x] > best[0]:
            best = (float(ncc[y, x]), m, y0 + int(y), x0 + int(x))
    coarse_score, m, y, x = best
    flat = big.flat and small.flat
    if flat:
        score = coarse_score
    else:
        crop = big.full64[y : y + m, x : x + m]
        t = _resize_fast(_dihedral(small.full64, k), m)
        cut = max(2, m // 16)
        score = _ncc(_band_fast(crop)[cut:-cut, cut:-cut], _band_fast(t)[cut:-cut, cut:-cut])
    return Match(score=score, coarse=coarse_score, dihedral=k, scale=m / SIDE, flat=flat)


# The best coarse hypothesis, refined, is taken without refining the others when it lines
# up this well (smoothed and fine detail): only a better alignment of the same picture
# could come from them. Why: most full checks are of real copies (at 100,000 photos 92 %
# pass), and the second refinement was a third of a check's time.
EARLY_COARSE = 0.95
EARLY_SCORE = 0.90


def match(a: Layout, b: Layout) -> Match:
    """The best alignment of the smaller picture inside the larger, and its score."""
    cache: dict = {}
    results = []
    for h in _coarse_hypotheses(a, b):
        r = _refine(a, b, h, cache)
        if not results and r.coarse >= EARLY_COARSE and r.score >= EARLY_SCORE:
            return r
        results.append(r)
    return max(results, key=lambda r: (r.coarse, r.score))


# A pair is the same picture when, at the best alignment, both the smoothed pictures
# (the layout of light and dark) and their fine detail agree. Chosen on 3,000 pairs of
# edited copies against 3,000 pairs of other parts of one scene from the quality
# benchmark's set: 8 copies of 3,000 fail, while a self-similar texture (wood planks)
# or a smooth horizon scene still passes now and then, which the embedding's threshold
# and complete linkage (every pair of a group must pass) must then stop.
SAME_PICTURE_MIN = 0.65  # band-pass NCC
SAME_LAYOUT_MIN = 0.85  # smoothed NCC


# Layouts a verifier keeps (least recently used dropped first): ~200 KB each, 2048 of
# them ~400 MB. Why that many: a grouping checks a photo's pairs in score order, spread
# over the whole run; on the 20,000-photo benchmark (4,472 photos checked) 512 kept meant
# 7,443 builds (~2.7 ms each), 2048 4,883 (benchmarks/scale_real.py).
LAYOUT_CACHE = 2048


class LayoutVerifier:
    """Answers "same picture?" for pairs of rows, with the layouts and answers cached.

    ``signatures[i]`` is row i's stored signature (bytes) or None; a pair with a missing
    signature (a catalog written before signatures existed) is accepted on the
    embedding's word alone, as before. ``plausible`` is the cheap filter (~0.1 ms) to ask
    before ``same_picture`` (a few ms). Thread-safe enough for one grouping at a time.
    """

    def __init__(
        self, signatures: list[bytes | None], minimum: float = SAME_PICTURE_MIN,
        layout_minimum: float = SAME_LAYOUT_MIN, cache_size: int = LAYOUT_CACHE,
        filter_minimum: float = FILTER_MIN,
    ) -> None:
        self.signatures = signatures
        self.minimum = minimum
        self.layout_minimum = layout_minimum
        self.filter_minimum = filter_minimum
        self.cache_size = cache_size
        self._layouts: dict[int, Layout] = {}
        self._answers: dict[tuple[int, int], Match] = {}
        self._pending: dict[tuple[int, int], Callable[[], None]] = {}  # checks under way elsewhere
        self._plausible: dict[tuple[int, int], bool] = {}
        self._thumbs: ThumbCache | None = None  # plausible_many's filter data
        self._valid: np.ndarray | None = None
        self.checked = 0  # full checks computed (cached answers are not counted again)
        self.filtered = 0  # pairs the cheap filter rejected

    def _layout(self, i: int) -> Layout | None:
        found = self._layouts.pop(i, None)
        if found is not None:
            self._layouts[i] = found  # most recently used last: evicted last
        else:
            raw = self.signatures[i]
            if raw is None:
                return None
            try:
                found = Layout.from_bytes(raw)
            except ValueError:  # a damaged signature must not stop the grouping
                return None
            if len(self._layouts) >= self.cache_size:
                self._layouts.pop(next(iter(self._layouts)))  # least recently used first (dict order)
            self._layouts[i] = found
        return found

    def plausible(self, i: int, j: int) -> bool:
        """False only for pairs clearly too different to be the same picture (the cheap
        filter); True when a signature is missing."""
        key = (i, j) if i < j else (j, i)
        found = self._plausible.get(key)
        if found is None:
            a, b = self._layout(key[0]), self._layout(key[1])
            found = a is None or b is None or plausible_score(a, b) >= self.filter_minimum
            self._plausible[key] = found
            self.filtered += not found
        return found

    def plausible_many(self, first: np.ndarray, second: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """``plausible`` of many pairs (rows first[n], second[n]) at once, vectorised
        (``plausible_scores``, each photo's filter data computed once and kept: ~4 KB);
        the answers are cached as ``plausible``'s are (a regrouping asks again)."""
        first, second = np.asarray(first, np.int64), np.asarray(second, np.int64)
        out = np.ones(len(first), dtype=bool)  # a missing signature: plausible
        if self._thumbs is None:
            self._thumbs = ThumbCache(len(self.signatures))
            self._valid = np.array([raw is not None and len(raw) == SIDE * SIDE for raw in self.signatures], bool)
        valid = self._valid

        def fulls(photos: np.ndarray) -> np.ndarray:
            return np.stack([signature_from_bytes(self.signatures[i]) for i in photos.tolist()])

        known = self._plausible
        for s in range(0, len(first), chunk):
            a, b = first[s : s + chunk], second[s : s + chunk]
            cached = [known.get((i, j) if i < j else (j, i)) for i, j in zip(a.tolist(), b.tolist())]
            both = valid[a] & valid[b] & np.array([c is None for c in cached], dtype=bool)
            out[s : s + len(a)] = [c is not False for c in cached]  # asked before: that answer
            if both.any():
                a2, b2 = a[both], b[both]
                self._thumbs.fill(np.concatenate([a2, b2]), fulls)
                out[s : s + len(a)][both] = plausible_scores(self._thumbs, a2, b2) >= self.filter_minimum
            for i, j, ok in zip(a.tolist(), b.tolist(), out[s : s + len(a)].tolist()):
                key = (i, j) if i < j else (j, i)
                if key not in self._plausible:
                    self._plausible[key] = ok
                    self.filtered += not ok
        return out

    def _checkable(self, i: int) -> bool:
        raw = self.signatures[i]
        return raw is not None and len(raw) == SIDE * SIDE

    def needs_match(self, i: int, j: int) -> bool:
        """Would ``match(i, j)`` compute a check (both signatures usable, not known or
        under way yet)?"""
        key = (i, j) if i < j else (j, i)
        return (key not in self._answers and key not in self._pending
                and self._checkable(i) and self._checkable(j))

    def expect(self, pairs: list[tuple[int, int]], wait: Callable[[], None]) -> None:
        """These pairs (i < j) are being checked elsewhere: ``match`` calls ``wait`` (which
        ``remember``s them) instead of checking one again."""
        for key in pairs:
            self._pending[key] = wait

    def remember(self, i: int, j: int, found: Match) -> None:
        """Keep a match computed elsewhere (``parallel_checks``) as if ``match`` had made it."""
        key = (i, j) if i < j else (j, i)
        self._pending.pop(key, None)
        if key not in self._answers:
            self._answers[key] = found
            self.checked += 1

    def match(self, i: int, j: int) -> Match | None:
        """How rows i and j line up (None: no signature to check)."""
        key = (i, j) if i < j else (j, i)
        wait = self._pending.pop(key, None)
        if wait is not None:
            wait()
        if key in self._answers:
            return self._answers[key]
        a, b = self._layout(key[0]), self._layout(key[1])
        if a is None or b is None:
            return None
        result = match(a, b)
        self.checked += 1
        self._answers[key] = result
        return result

    def same_picture(self, i: int, j: int) -> bool:
        """The full check (the cheap filter first: it never rejects an edited copy)."""
        if not self.plausible(i, j):
            return False
        m = self.match(i, j)
        return m is None or (m.score >= self.minimum and m.coarse >= self.layout_minimum)
