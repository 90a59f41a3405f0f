"""Searching vectors: exact cosine top-k where it is as fast as Annoy (below
``EXACT_MAX_WORK``), Annoy trees above, long vectors indexed through a projection on their
principal directions and re-scored exactly."""

from __future__ import annotations

import numpy as np
from annoy import AnnoyIndex

from .index_files import Manifest

DEFAULT_TREES = 64


PROJECT_ABOVE = 128  # vectors longer than this are indexed by a projection...


PROJECTED_DIM = 128  # ...on this many principal directions


PROJECT_MIN_COUNT = 5000  # below this the trees are cheap anyway: index the vectors as they are


# Up to this much work per query (vectors x dimensions) a query scores every vector exactly:
# results that never depend on how the trees happened to be built. Above, Annoy. From
# benchmarks/exact_search.py (2 cores, 2026-12-07): 50,000 vectors of 256 (the retrieval
# vector) take 3.0 ms exactly against Annoy's 3.2 ms; 10,000 of 1,280 3.1 ms against
# 1.8 ms, where Annoy already misses 2 % of the top 20.
EXACT_MAX_WORK = 50_000 * 256


RERANK = 500  # candidates re-scored exactly per query (projected indexes)


PCA_SAMPLE = 20000  # rows used to find the principal directions


NEAR_SEARCH_K = 500  # search_k of query_position (duplicate candidates) on projected indexes


def default_search_k(k: int, count: int, projected: bool) -> int:
    """Annoy's search_k for a top-``k`` query on ``count`` items (tuned in benchmarks/scale.py).

    Projected indexes examine 40% of the items, at most 50,000 (recall@10 0.95 in 4.8 ms on
    100,000 items, 2 cores); unprojected ones use Annoy's default (trees x k).
    """
    if not projected:
        return -1
    return int(min(count, max(4 * RERANK, k * 40, min(50_000, count * 2 // 5))))


def cosine_from_angular(distance: np.ndarray | float) -> np.ndarray | float:
    """Annoy's angular distance is sqrt(2 - 2 cos); invert it and clip to [0, 1]."""
    return np.clip(1.0 - np.square(distance) / 2.0, 0.0, 1.0)


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, cosines) of the ``k`` best of ``vectors`` (L2-normalised rows) for
    ``query``, best first, ties by position: the same answer on every build."""
    # einsum, not ``@``: see VectorIndex._rerank.
    scores = np.einsum("ij,j->i", vectors, np.asarray(query, dtype=np.float32))
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = top[np.lexsort((top, -scores[top]))]
    return order.astype(np.int64), scores[order].astype(np.float32)


class VectorIndex:
    """A loaded (memory-mapped) Annoy index, the full vectors and the id map."""

    def __init__(
        self, annoy: AnnoyIndex, ids: np.ndarray, manifest: Manifest,
        vectors: np.ndarray | None = None, projection: np.ndarray | None = None,
    ) -> None:
        self._annoy = annoy
        self.ids = ids
        self.manifest = manifest
        self.vectors = vectors  # (N, dim) float32, L2-normalised, memory-mapped
        self.projection = projection  # (dim, projected_dim) or None
        self._position = {int(i): p for p, i in enumerate(ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def position_of(self, file_id: int) -> int | None:
        return self._position.get(int(file_id))

    def _rerank(self, candidates: list[int], query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        assert self.vectors is not None
        cand = np.unique(np.asarray(candidates, dtype=np.int64))  # sorted: memory-map pages in order
        # einsum, not ``@``: a small matrix-vector product through multi-threaded BLAS
        # costs 10-20 ms when the cores are busy (measured), against 0.2 ms single-threaded.
        scores = np.einsum("ij,j->i", self.vectors[cand], query)
        order = np.argsort(-scores, kind="stable")[:k]
        return cand[order], scores[order].astype(np.float32)

    def query_vector(self, vector: np.ndarray, k: int, search_k: int = -1,
                     exact: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(catalog ids, cosine scores) of the ``k`` nearest items, best first.

        ``exact``: score every stored vector (default: up to ``EXACT_MAX_WORK``, when the
        full vectors are loaded). ``search_k=-1`` uses :func:`default_search_k`.
        """
        if len(self.ids) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
        if exact is None:
            exact = len(self.ids) * len(query) <= EXACT_MAX_WORK
        if exact and self.vectors is not None:
            query = query / max(float(np.linalg.norm(query)), 1e-12)
            positions, scores = exact_top(self.vectors, query, k)
            return self.ids[positions], np.clip(scores, 0.0, 1.0)
        if self.projection is None or self.vectors is None:
            positions, distances = self._annoy.get_nns_by_vector(
                query.tolist(), k, search_k=search_k, include_distances=True
            )
            return self.ids[np.asarray(positions, dtype=np.int64)], np.asarray(
                cosine_from_angular(np.asarray(distances, dtype=np.float32)), dtype=np.float32
            )
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        if search_k < 0:
            search_k = default_search_k(k, len(self.ids), True)
        projected = np.einsum("i,ij->j", query, self.projection)  # no BLAS threads (see _rerank)
        candidates = self._annoy.get_nns_by_vector(projected.tolist(), max(k, RERANK), search_k=search_k)
        positions, scores = self._rerank(candidates, query, k)
        return self.ids[positions], np.clip(scores, 0.0, 1.0)

    def query_position(self, position: int, k: int, search_k: int = -1) -> np.ndarray:
        """Positions of the ``k`` nearest items to the item at ``position`` (itself included)."""
        return self.query_position_scored(position, k, search_k)[0]

    def query_position_scored(self, position: int, k: int, search_k: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """(positions, exact cosines) of the ``k`` nearest items to the item at ``position``,
        best first, itself included. Thread-safe; Annoy releases the GIL while searching."""
        if self.projection is None or self.vectors is None:
            found = self._annoy.get_nns_by_item(position, k, search_k=search_k)
            if self.vectors is None:
                return np.asarray(found, dtype=np.int64), np.zeros(len(found), np.float32)
            return self._rerank(found, np.asarray(self.vectors[position]), k)
        # Near neighbours of an indexed item are what duplicate search asks for: a small
        # candidate pool re-scored exactly is enough (see ``NEAR_SEARCH_K``).
        if search_k < 0:
            search_k = max(NEAR_SEARCH_K, 4 * k)
        candidates = self._annoy.get_nns_by_item(position, max(k * 2, 32), search_k=search_k)
        return self._rerank(candidates, np.asarray(self.vectors[position]), k)

    def unload(self) -> None:
        self._annoy.unload()
        self.vectors = None


def _build_annoy(vectors: np.ndarray, projection: np.ndarray | None, trees: int, seed: int) -> AnnoyIndex:
    """The Annoy trees over ``vectors`` (projected first when ``projection`` is given)."""
    indexed = vectors if projection is None else project(vectors, projection)
    annoy = AnnoyIndex(indexed.shape[1], "angular")
    annoy.set_seed(seed)
    for position, vector in enumerate(indexed):
        annoy.add_item(position, vector)
    del indexed
    annoy.build(trees, n_jobs=1)
    return annoy


def build_in_memory(
    ids: np.ndarray, vectors: np.ndarray, model_id: str, generation: int, catalog_id: str | None = None,
    trees: int = DEFAULT_TREES, seed: int = 42, project_min_count: int = PROJECT_MIN_COUNT,
) -> VectorIndex:
    """The index ``IndexStore.build`` would write, held in memory only: for a data folder
    that cannot be written (the same trees and seed, so the same results as a saved one)."""
    count = len(ids)
    dim = int(vectors.shape[1]) if count else 0
    projected = dim > PROJECT_ABOVE and count >= project_min_count
    full = np.ascontiguousarray(vectors, dtype=np.float32).reshape(count, dim)
    projection = principal_directions(full, PROJECTED_DIM, seed) if projected else None
    annoy = _build_annoy(full, projection, trees, seed) if count else AnnoyIndex(1, "angular")
    manifest = Manifest(model_id, int(generation), count, dim, trees, PROJECTED_DIM if projected else 0, catalog_id)
    return VectorIndex(annoy, np.asarray(ids, dtype=np.int64), manifest, full, projection)


def principal_directions(vectors: np.ndarray, n: int, seed: int = 42) -> np.ndarray:
    """(dim, n) float32: the top ``n`` eigenvectors of the (uncentred) second moment of a
    sample of the rows, so dot products survive the projection as well as they can."""
    rows = len(vectors)
    if rows > PCA_SAMPLE:
        pick = np.sort(np.random.default_rng(seed).choice(rows, PCA_SAMPLE, replace=False))
        sample = np.asarray(vectors[pick], dtype=np.float32)
    else:
        sample = np.asarray(vectors, dtype=np.float32)
    moment = (sample.T @ sample).astype(np.float64)
    _, eigvecs = np.linalg.eigh(moment)
    return np.ascontiguousarray(eigvecs[:, ::-1][:, :n], dtype=np.float32)


def project(vectors: np.ndarray, projection: np.ndarray, chunk: int = 8192) -> np.ndarray:
    out = np.empty((len(vectors), projection.shape[1]), np.float32)
    for s in range(0, len(vectors), chunk):
        out[s : s + chunk] = np.asarray(vectors[s : s + chunk], dtype=np.float32) @ projection
    return out
