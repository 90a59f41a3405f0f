"""Small array operations the layout check is built from: resizing by matrices, the eight
rotations and mirrors, blur and band-pass, normalised cross-correlation, and the sliding
windows' sums (summed-area tables) that make a search a few matrix products."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image


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
