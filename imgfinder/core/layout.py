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

Everything here is numpy and Pillow, no Qt and no TensorFlow."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .image_ops import _band_fast, _dihedral, _ncc, _resize_fast
from .layout_prefilter import ThumbCache, plausible_score, plausible_scores
from .layout_search import COARSE, FILTER_MIN, SCALES, Layout, Match, _coarse_hypotheses
from .layout_signature import (
    SIDE,
    content_box,
    frame_fractions,
    layout_signature,
    signature_from_bytes,
    signature_to_bytes,
)

# The layout check's façade: its signature, array operations, search and first pass are
# defined beside it (layout_signature, image_ops, layout_search, layout_prefilter) and
# re-exported here.
__all__ = [
    "FILTER_MIN", "SIDE", "Layout", "LayoutVerifier", "Match", "ThumbCache", "content_box", "frame_fractions",
    "layout_signature", "match", "plausible_score", "plausible_scores", "signature_from_bytes", "signature_to_bytes",
]


SHIFT_RADIUS = 3  # pixels searched around a coarse position at 64 px


SCALE_RADIUS = 3  # pixels of template size searched around a coarse scale at 64 px


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
