"""The Annoy nearest-neighbour index over the catalog's embeddings.

Long vectors (the model's 1280 dimensions) are indexed by their projection on the
top ``PROJECTED_DIM`` principal directions: Annoy's trees split far better and each
distance costs a tenth, so it can afford to look at many more candidates. The best
``RERANK`` candidates are then re-scored exactly against the full vectors (a memory-mapped
sidecar), so the scores returned are exact cosines. Measured on 100,000 synthetic
1280-d embeddings (``benchmarks/scale.py``): plain Annoy reached recall@10 0.87 in 8 ms;
projected to 128-d with 64 trees, search_k 40,000 and 500 re-ranked, 0.95 in 4.8 ms.
Fewer trees did as well at the same search_k (recall is set by search_k here); 64 is the
setting the near-duplicate search (``NEAR_SEARCH_K``, few candidates) was validated with.

Annoy item numbers are dense positions 0..N-1; a sidecar array maps them back to catalog
ids, so deleted rows never leave phantom zero vectors in the index. Files are written
under temporary names and ``os.replace``d, then a small JSON manifest that names the
catalog generation and model they were built from is replaced last: a crash at any point
leaves either the old index or a manifest that no longer matches, which triggers a rebuild.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

DEFAULT_TREES = 64
MANIFEST_VERSION = 2
PROJECT_ABOVE = 128  # vectors longer than this are indexed by a projection...
PROJECTED_DIM = 128  # ...on this many principal directions
PROJECT_MIN_COUNT = 5000  # below this the trees are cheap anyway: index the vectors as they are
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


@dataclass(frozen=True)
class Manifest:
    model_id: str
    generation: int
    count: int
    dim: int
    trees: int
    projected_dim: int = 0  # 0: Annoy holds the vectors themselves


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

    def query_vector(self, vector: np.ndarray, k: int, search_k: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """(catalog ids, cosine scores) of the ``k`` nearest items, best first.

        ``search_k=-1`` uses :func:`default_search_k`.
        """
        if len(self.ids) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
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


class IndexStore:
    """Where an index lives on disk, and how it is built, validated and loaded."""

    def __init__(self, directory: str | os.PathLike[str], name: str = "embeddings") -> None:
        self.directory = Path(directory)
        self.ann_path = self.directory / f"{name}.ann"
        self.ids_path = self.directory / f"{name}.ids.npy"
        self.manifest_path = self.directory / f"{name}.json"
        self.vectors_path = self.directory / f"{name}.vectors.npy"
        self.projection_path = self.directory / f"{name}.projection.npy"

    def manifest(self) -> Manifest | None:
        try:
            data = json.loads(self.manifest_path.read_text())
            if data.get("version") != MANIFEST_VERSION:
                return None
            return Manifest(data["model_id"], int(data["generation"]), int(data["count"]), int(data["dim"]),
                            int(data["trees"]), int(data.get("projected_dim", 0)))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def is_current(self, model_id: str, generation: int) -> bool:
        m = self.manifest()
        return (
            m is not None
            and m.model_id == model_id
            and m.generation == generation
            and self.ann_path.exists()
            and self.ids_path.exists()
            and self.vectors_path.exists()
            and (m.projected_dim == 0 or self.projection_path.exists())
        )

    def build(
        self,
        ids: np.ndarray,
        vectors: np.ndarray,
        model_id: str,
        generation: int,
        trees: int = DEFAULT_TREES,
        seed: int = 42,
        project_min_count: int = PROJECT_MIN_COUNT,
    ) -> None:
        """Build from (ids, vectors) and atomically replace whatever was on disk."""
        self.directory.mkdir(parents=True, exist_ok=True)
        count = len(ids)
        dim = int(vectors.shape[1]) if count else 0
        tmp = {p: p.with_name(p.name + ".tmp") for p in
               (self.ann_path, self.ids_path, self.vectors_path, self.projection_path, self.manifest_path)}
        projection = None
        if dim > PROJECT_ABOVE and count >= project_min_count:
            projection = principal_directions(vectors, PROJECTED_DIM, seed)
        if count:
            indexed = vectors if projection is None else project(vectors, projection)
            annoy = AnnoyIndex(indexed.shape[1], "angular")
            annoy.set_seed(seed)
            for position, vector in enumerate(indexed):
                annoy.add_item(position, vector)
            del indexed
            annoy.build(trees, n_jobs=1)
            annoy.save(os.fspath(tmp[self.ann_path]))
            annoy.unload()
        else:
            tmp[self.ann_path].write_bytes(b"")
        with open(tmp[self.ids_path], "wb") as handle:
            np.save(handle, np.asarray(ids, dtype=np.int64))
        with open(tmp[self.vectors_path], "wb") as handle:
            np.save(handle, np.ascontiguousarray(vectors, dtype=np.float32).reshape(count, dim))
        if projection is not None:
            with open(tmp[self.projection_path], "wb") as handle:
                np.save(handle, projection)
        manifest = {
            "version": MANIFEST_VERSION, "model_id": model_id, "generation": generation,
            "count": count, "dim": dim, "trees": trees,
            "projected_dim": 0 if projection is None else int(projection.shape[1]),
        }
        tmp[self.manifest_path].write_text(json.dumps(manifest))
        # A stale manifest must never describe a half-replaced index: drop it first.
        self.manifest_path.unlink(missing_ok=True)
        for final in (self.ann_path, self.ids_path, self.vectors_path):
            os.replace(tmp[final], final)
        if projection is not None:
            os.replace(tmp[self.projection_path], self.projection_path)
        else:
            self.projection_path.unlink(missing_ok=True)
        os.replace(tmp[self.manifest_path], self.manifest_path)

    def load(self) -> VectorIndex | None:
        """Memory-map the index, or None when it is missing or inconsistent."""
        m = self.manifest()
        if m is None:
            return None
        try:
            ids = np.load(self.ids_path)
            # A plain ndarray over the map: np.memmap's indexing costs ~30 us a call in Python.
            vectors = (np.load(self.vectors_path, mmap_mode="r").view(np.ndarray) if m.count
                       else np.zeros((0, m.dim), np.float32))
            projection = np.load(self.projection_path) if m.projected_dim else None
        except (OSError, ValueError):
            return None
        if len(ids) != m.count or vectors.shape != (m.count, m.dim):
            return None
        if projection is not None and projection.shape != (m.dim, m.projected_dim):
            return None
        annoy = AnnoyIndex(max(m.projected_dim or m.dim, 1), "angular")
        if m.count:
            try:
                annoy.load(os.fspath(self.ann_path), prefault=False)
            except OSError:
                return None
            if annoy.get_n_items() != m.count:
                annoy.unload()
                return None
        return VectorIndex(annoy, ids, m, vectors, projection)


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
