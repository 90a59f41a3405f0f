"""All near pairs of a set of vectors at once: the duplicate search's candidate pairs.

Why not one Annoy query per photo: a query costs about a millisecond whatever its
answer (100,000 photos: ~100 s on 2 cores), while the same neighbours come out of
blocked matrix products at BLAS speed. Two ways, one answer format:

* **exact** (up to ``EXACT_MAX`` vectors): every block of rows against all rows, one
  matrix product each; the pairs are the true ones.
* **clustered** (an inverted file, above that): spherical k-means puts the vectors in
  about ``2 sqrt(N)`` lists; each row is compared with every member of its
  ``PROBES`` nearest lists (a twentieth of the lists on big sets), one matrix product per
  list. A near pair is found when either photo's list is among the other's nearest;
  scores are exact dot products either way (not estimated), so a pair is either found
  with its true score or missed. Measured on the real-descriptor catalogs of
  ``benchmarks/scale_real.py``: at 20,000 (282 lists, 32 probes) 99.98 % of the pairs
  >= 0.85 and all >= 0.9 found, against 92 % with 8 probes (the descriptors are dense:
  lists are not well separated); at 100,000 (632 lists, 63 probes, 2 cores) 99.994 % of
  the exact top-64 pairs >= 0.85 and all >= 0.9, in 23 s and 0.7 GB (32 probes: 99.8 %
  and 99.97 %, 15 s). Those were 256-d vectors of a head that kept photos close. The
  closed-form 64-d copy vectors separate them: at 100,000, 32 probes find 100 % of the
  exact top-64 pairs >= 0.85 (12,430) and 99.3 % of those >= 0.75 in 3.4 s, 63 probes
  100 % / 99.97 % in 5.7 s, the exact products take 22 s.

Each row keeps at most ``max_per_row`` neighbours (its best ones) at or above
``floor``; a pair found from either side is kept once, with i < j.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

import numpy as np

EXACT_MAX = 20_000  # up to this many vectors the exact all-pairs products are cheap enough (~3 s)
BLOCK = 512  # rows per matrix product
PROBES = 32  # lists searched per row (clustered search), at least...
PROBE_SHARE = 20  # ...and a twentieth of the lists on big sets
KMEANS_ROUNDS = 6
KMEANS_SAMPLE = 50_000  # vectors the lists are trained on


@dataclass(frozen=True)
class PairArrays:
    """Candidate pairs as three aligned arrays (i < j, cosine): millions of pairs cost
    megabytes, not the gigabyte the same number of Python tuples would."""

    i: np.ndarray  # int64
    j: np.ndarray  # int64
    s: np.ndarray  # float32 (float64 from tuples: compared with thresholds as given)

    def __len__(self) -> int:
        return len(self.i)

    def __iter__(self) -> Iterator[tuple[int, int, float]]:
        return zip(self.i.tolist(), self.j.tolist(), self.s.tolist())

    @classmethod
    def empty(cls) -> PairArrays:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))

    @classmethod
    def from_pairs(cls, pairs) -> PairArrays:
        """From (i, j, cosine) tuples (or a PairArrays, returned as it is)."""
        if isinstance(pairs, PairArrays):
            return pairs
        rows = list(pairs)
        if not rows:
            return cls.empty()
        i, j, s = zip(*rows)
        return cls(np.asarray(i, np.int64), np.asarray(j, np.int64), np.asarray(s, np.float64))

    def take(self, keep: np.ndarray) -> PairArrays:
        return PairArrays(self.i[keep], self.j[keep], self.s[keep])


def _nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D mask, 2x faster (one flat scan, then divmod)."""
    return np.divmod(np.flatnonzero(mask), mask.shape[1])


def _best_per_row(scores: np.ndarray, rows: np.ndarray, cols: np.ndarray, floor: float, max_per_row: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, col, score) of each row's best ``max_per_row`` scores >= floor (row == col
    left out). ``rows``/``cols`` name the block's rows and columns."""
    r, c = _nonzero(scores >= floor)
    a, b = rows[r], cols[c]
    s = scores[r, c]
    other = a != b
    r, a, b, s = r[other], a[other], b[other], s[other]
    if len(r) == 0:
        return a, b, s
    counts = np.bincount(r, minlength=len(rows))
    if counts.max() > max_per_row:
        order = np.lexsort((-s, r))  # by row, best first
        r, a, b, s = r[order], a[order], b[order], s[order]
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        rank = np.arange(len(r)) - starts[r]
        keep = rank < max_per_row
        a, b, s = a[keep], b[keep], s[keep]
    return a, b, s


def _cap_per_row(a: np.ndarray, b: np.ndarray, s: np.ndarray, n: int, max_per_row: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row a's best ``max_per_row`` entries (the rest dropped)."""
    counts = np.bincount(a, minlength=n)
    if len(a) == 0 or counts.max() <= max_per_row:
        return a, b, s
    # One sort on row + (1 - score) / 4 (scores in [-1, 1]: the fraction stays below 1):
    # by row, best first.
    order = np.argsort(a + (1.0 - s.astype(np.float64)) / 4)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sorted_rows = a[order]
    keep = order[np.arange(len(order)) - starts[sorted_rows] < max_per_row]
    return a[keep], b[keep], s[keep]


def _merge(found: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n: int) -> PairArrays:
    """One entry per unordered pair (i < j), in key order."""
    if not found:
        return PairArrays.empty()
    a = np.concatenate([f[0] for f in found]).astype(np.int64)
    b = np.concatenate([f[1] for f in found]).astype(np.int64)
    s = np.concatenate([f[2] for f in found]).astype(np.float32)
    keys = np.minimum(a, b) * max(1, n) + np.maximum(a, b)
    keys, first = np.unique(keys, return_index=True)
    return PairArrays(keys // max(1, n), keys % max(1, n), s[first])


def _kmeans(vectors: np.ndarray, lists: int, rng: np.random.Generator) -> np.ndarray:
    """Spherical k-means centroids (lists, dim), unit length, trained on a sample."""
    sample = vectors[np.sort(rng.choice(len(vectors), min(len(vectors), KMEANS_SAMPLE), replace=False))]
    centroids = sample[rng.choice(len(sample), lists, replace=False)].copy()
    for _ in range(KMEANS_ROUNDS):
        label = _nearest_lists(sample, centroids, 1)[:, 0]
        order = np.argsort(label, kind="stable")
        counts = np.bincount(label, minlength=lists)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        sums = np.zeros_like(centroids)
        full = counts > 0
        sums[full] = np.add.reduceat(sample[order], starts[full], axis=0)
        empty = ~full
        sums[empty] = centroids[empty]  # an empty list keeps its centroid
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return centroids.astype(np.float32)


def _nearest_lists(vectors: np.ndarray, centroids: np.ndarray, probes: int) -> np.ndarray:
    """(N, probes) the nearest lists of each vector, nearest first."""
    out = np.empty((len(vectors), probes), np.int64)
    for s in range(0, len(vectors), 4096):
        sim = vectors[s : s + 4096] @ centroids.T
        if probes == 1:
            out[s : s + 4096, 0] = sim.argmax(axis=1)
            continue
        if probes < centroids.shape[0]:
            part = np.argpartition(-sim, probes - 1, axis=1)[:, :probes]
        else:
            part = np.broadcast_to(np.arange(centroids.shape[0]), (len(sim), centroids.shape[0])).copy()
        order = np.argsort(-np.take_along_axis(sim, part, axis=1), axis=1, kind="stable")
        out[s : s + 4096] = np.take_along_axis(part, order, axis=1)
    return out


def near_pairs(
    vectors: np.ndarray, floor: float, max_per_row: int = 64, *, exact_max: int = EXACT_MAX,
    probes: int | None = None, seed: int = 0,
) -> PairArrays:
    """``iter_near_pairs`` run to the end: the pairs."""
    steps = iter_near_pairs(vectors, floor, max_per_row, exact_max=exact_max, probes=probes, seed=seed)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def iter_near_pairs(
    vectors: np.ndarray, floor: float, max_per_row: int = 64, *, exact_max: int = EXACT_MAX,
    probes: int | None = None, seed: int = 0,
) -> Generator[int, None, PairArrays]:
    """Pairs (i < j) of rows of ``vectors`` (L2-normalised, float32) with cosine >= ``floor``:
    each row's best ``max_per_row`` (or fewer) neighbours, found from either side.

    Exact up to ``exact_max`` rows, else by the clustered search (see the module
    docstring). Yields how many rows are done after each block (progress; stop
    iterating to cancel) and returns the pairs.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    if n < 2:
        return PairArrays.empty()
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    everything = np.arange(n)
    if n <= exact_max:
        for s in range(0, n, BLOCK):
            rows = everything[s : s + BLOCK]
            found.append(_best_per_row(vectors[rows] @ vectors.T, rows, everything, floor, max_per_row))
            yield min(n, s + BLOCK)
        return _merge(found, n)
    rng = np.random.default_rng(seed)
    lists = max(2, int(2 * np.sqrt(n)))
    centroids = _kmeans(vectors, lists, rng)
    nearest = _nearest_lists(vectors, centroids, min(lists, probes or max(PROBES, lists // PROBE_SHARE)))
    home = nearest[:, 0]
    # Inverted lists both ways: list c holds its members, and is searched by every row
    # that has c among its nearest lists; one product per list.
    by_list = np.argsort(home, kind="stable")
    bounds = np.searchsorted(home[by_list], np.arange(lists + 1))
    probe_rows = np.repeat(np.arange(n), nearest.shape[1])
    probe_lists = nearest.ravel()
    by_probe = np.argsort(probe_lists, kind="stable")
    probe_bounds = np.searchsorted(probe_lists[by_probe], np.arange(lists + 1))
    # Each row's best so far, capped every 64 lists: a row's best of all its lists are
    # the best of (its best so far + the next lists'), and memory stays ~N x max_per_row
    # (a dense library has hundreds of pairs >= 0.8 per photo: uncapped, gigabytes).
    # A row whose best are full needs nothing below the worst of them (``bar``).
    kept = (np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32))
    bar = np.full(n, floor, np.float32)
    for c in range(lists):
        cols = by_list[bounds[c] : bounds[c + 1]]
        queries = probe_rows[by_probe[probe_bounds[c] : probe_bounds[c + 1]]]
        if len(cols) and len(queries):
            scores = vectors[queries] @ vectors[cols].T
            r, k = _nonzero(scores >= floor)
            a, b, s = queries[r], cols[k], scores[r, k]
            keep = (a != b) & (s >= bar[a])
            found.append((a[keep].astype(np.int32), b[keep].astype(np.int32), s[keep]))
        if c % 64 == 63 or c == lists - 1:
            parts = [kept, *found]
            kept = _cap_per_row(*(np.concatenate([p[x] for p in parts]) for x in range(3)), n, max_per_row)
            found = []
            counts = np.bincount(kept[0], minlength=n)
            present = np.flatnonzero(counts)
            full = counts[present] >= max_per_row
            if full.any():
                by_row = np.argsort(kept[0], kind="stable")
                starts = np.concatenate(([0], np.cumsum(counts[present])[:-1]))
                bar[present[full]] = np.minimum.reduceat(kept[2][by_row], starts)[full]
        if c % 16 == 15:
            yield min(n, int(probe_bounds[c + 1]) // nearest.shape[1])
    found = [kept]
    return _merge(found, n)
