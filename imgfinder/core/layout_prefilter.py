"""The layout check's cheap first pass: the same search on 16 px thumbnails (~0.14 ms a
pair), which lets every edited copy through and stops most different pictures, so the
full check runs only on pairs that might be copies."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .image_ops import _dihedral_index, _resize_matrix
from .layout_search import FILTER_SIDE, FILTER_SIZES, Layout


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
