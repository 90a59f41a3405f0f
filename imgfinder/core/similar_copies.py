"""Similar results a user can read: each edited copy folded under the best-ranked result it
is a copy of ("+3 copies"), so the top of the list shows different photos, not the edits
of one (issue #22: 17 of a landmark query's top 20 were edits of one photo).

A copy is what the duplicate search proves (``core.copy_proof``: one exact geometric fit
and agreement over the whole overlap), never only a close copy vector: folding a different
photo under another would hide a result. So a result joins an earlier one only when their
copy vectors are at the duplicates threshold *and* local features prove it (photos too
smooth for keypoints: the 64 px layout's copy test, as the duplicate search decides them). The work is bounded per query: at most
``TRIES`` earlier results are tried for each (the nearest by copy vector), the 64 px
layouts first (no decode), features made on every core and cached as the duplicate
search caches them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

import numpy as np

from .cpus import usable_cores
from .duplicates import layout_gate_rejects, locally_one_picture
from .layout import LayoutVerifier
from .local_check import FeatureStore, LocalCheck

# ``library.SimilarHit`` (a dataclass with ``copies``), not imported: the library imports this.
Hit = TypeVar("Hit")

TRIES = 3  # earlier results tried for each result (nearest copy vector first)


def fold_copies(
    hits: Sequence[Hit], copy_vectors: np.ndarray, proves: Callable[[int, int], bool], threshold: float,
) -> list[Hit]:
    """``hits`` (ranked) with each one proven a copy of an earlier kept one moved into that
    one's ``copies``. ``copy_vectors[n]`` is hit n's L2-normalised copy vector (a zero row:
    unknown, never folded); ``proves(a, b)`` (a < b, positions in ``hits``) is the local proof."""
    heads: list[int] = []
    copies: dict[int, list[int]] = {}
    for n in range(len(hits)):
        if heads and copy_vectors.size:
            sims = copy_vectors[heads] @ copy_vectors[n]
            near = [heads[k] for k in np.argsort(-sims, kind="stable")[:TRIES] if sims[k] >= threshold]
            head = next((h for h in near if proves(h, n)), None)
            if head is not None:
                copies[head].append(n)
                continue
        heads.append(n)
        copies[n] = []
    return [replace(hits[h], copies=tuple(hits[c] for c in copies[h])) for h in heads]  # type: ignore[type-var]


class CopyProver:
    """``proves(a, b)`` for positions in a list of rows: the 16 px cheap filter and the
    64 px layout gate (as the duplicate search asks them), then local features (made ahead
    on every core for the pairs that will be asked). ``known`` keeps the answers by pair of
    contents across queries (the CLI's several queries, the app's searches): a pair is
    decided once."""

    def __init__(self, rows: Sequence, layouts: Sequence[bytes | None], store: FeatureStore | None,
                 workers: int | None = None, known: dict[tuple[str, str], bool] | None = None) -> None:
        self.hashes = [r.hash for r in rows]
        self.check = LocalCheck([r.path for r in rows], [r.id for r in rows], self.hashes, store)
        self.verifier = LayoutVerifier(list(layouts))
        self.workers = workers or usable_cores()
        self.known = known if known is not None else {}

    def _key(self, a: int, b: int) -> tuple[str, str] | None:
        ha, hb = self.hashes[a], self.hashes[b]
        if not (ha and hb):
            return None
        return (ha, hb) if ha <= hb else (hb, ha)

    def _gate_rejects(self, a: int, b: int) -> bool:
        return not self.verifier.plausible(a, b) or layout_gate_rejects(self.verifier, a, b)

    def prepare(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Make the features of the photos of ``pairs`` that pass the gate, on every core."""
        todo = sorted({z for a, b in pairs if self._key(a, b) not in self.known and not self._gate_rejects(a, b)
                       for z in (a, b) if self.check.needs_extraction(z)})
        if todo:
            self.check.extract_many(todo, self.workers)

    def proves(self, a: int, b: int) -> bool:
        key = self._key(a, b)
        if key in self.known:
            return self.known[key]
        found = self._proves(a, b)
        if key is not None:
            self.known[key] = found
        return found

    def _proves(self, a: int, b: int) -> bool:
        return self.verifier.plausible(a, b) and locally_one_picture(self.check, self.verifier, a, b)

    def close(self) -> None:
        self.check.flush()


def candidate_pairs(copy_vectors: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """The pairs (a, b), a < b, ``fold_copies`` is likely to ask about: for each b, its
    ``TRIES`` nearest earlier results at the threshold (their features are made ahead;
    any other pair it asks makes its own)."""
    out: list[tuple[int, int]] = []
    if len(copy_vectors) < 2:
        return out
    sims = copy_vectors @ copy_vectors.T
    for b in range(1, len(copy_vectors)):
        earlier = sims[b, :b]
        for a in np.argsort(-earlier, kind="stable")[:TRIES].tolist():
            if earlier[a] >= threshold:
                out.append((a, b))
    return out
