"""The layout check's search: a photo's 64 px layout with what it contributes to every
pair computed once (dihedral templates, window norms, summed-area tables), and the coarse
search over rotations, mirrors, scales and shifts that proposes alignments to refine."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .image_ops import _band, _blur, _resize_fast, _summed_area, _templates, _window_norms, _windows
from .layout_signature import signature_from_bytes

COARSE = 24  # coarse search resolution


# Side of the smaller picture as a fraction of the larger one's: 1 (same framing) down
# to 0.57 (a crop to a third of the area, or a picture inside a wide border).
SCALES = (1.0, 0.93, 0.87, 0.81, 0.75, 0.69, 0.63, 0.57)


REFINE_TOP = 2  # coarse hypotheses refined at full resolution


FLAT = 1.0  # band-pass standard deviation (grey levels) below which a picture has no detail


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
