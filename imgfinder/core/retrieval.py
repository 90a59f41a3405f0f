"""Similar search on the retrieval vector.

The retrieval vector is made from the stored descriptor by the embedder (a learned
whitening, ``model.learned_whitening``), so it has an index of its own next to the
copy-vector index that duplicates use; both are rebuilt from the catalog without decoding
a photo. Results are ranked by the score shown: the cosine of each photo's retrieval vector
to the query's. Query expansion (alpha-QE; Radenovic, Tolias and Chum, TPAMI 2019: the
query replaced by a similarity-weighted mean of itself and its best results) is kept for
the benchmarks (``expand=True``) but off: it ranked by another score than the one shown
(scores out of order), and it helped only where it was tuned: grocery shelves, mAP 0.733
against 0.707 without it (``benchmarks/similar_multiview.py``, 2026-12-07), within noise
or worse on landmarks and turntable objects (issue #22's probe).
"""

from __future__ import annotations

import numpy as np

from .ann_index import VectorIndex
from .embedding import l2_normalise

QE_NEIGHBOURS = 2  # results folded into the expanded query
QE_ALPHA = 3.0  # a result weighs its cosine to the query to this power


def expanded_query(index: VectorIndex, query: np.ndarray, ids: np.ndarray, exclude: set[int]) -> np.ndarray:
    """alpha-QE: the query plus its ``QE_NEIGHBOURS`` best results (ids not in ``exclude``),
    each weighted by max(0, cosine)^alpha, L2-normalised."""
    positions = [p for i in ids.tolist() if i not in exclude and (p := index.position_of(i)) is not None]
    positions = positions[:QE_NEIGHBOURS]
    if not positions or index.vectors is None:
        return query
    vectors = np.asarray(index.vectors[positions], dtype=np.float32)
    weights = np.maximum(np.einsum("ij,j->i", vectors, query), 0.0) ** QE_ALPHA
    return l2_normalise(query + np.einsum("i,ij->j", weights, vectors))


def search(
    index: VectorIndex, query: np.ndarray, k: int, exclude: set[int] | None = None, expand: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(catalog ids, scores) of the ``k`` most similar items to the retrieval vector ``query``.

    Ranked by the expanded query when ``expand``; the score is always the cosine of an
    item's retrieval vector to the *query's*, so it reads the same with or without
    expansion. ``exclude``: ids that are the query itself (never results, never expansion).
    """
    exclude = exclude or set()
    query = l2_normalise(np.asarray(query, dtype=np.float32))
    want = k + len(exclude)
    ids, scores = index.query_vector(query, want)
    if expand and len(ids):
        ranked, _ = index.query_vector(expanded_query(index, query, ids, exclude), want)
        if index.vectors is not None:
            positions = [index.position_of(int(i)) for i in ranked]
            ids = ranked
            scores = np.einsum("ij,j->i", np.asarray(index.vectors[positions], dtype=np.float32), query)
    keep = np.array([int(i) not in exclude for i in ids], dtype=bool)
    return ids[keep][:k], np.clip(scores[keep][:k], 0.0, 1.0).astype(np.float32)
