"""Find groups of duplicate photos: exact copies by content hash, near-duplicates by
k-nearest-neighbour search in the embedding index, each pair confirmed by its pixel
layout (``core.layout``: a copy, not another shot of the same scene), grouped by
complete linkage.

Candidate pairs are computed once at a low ``floor`` and can then be regrouped at any
threshold above it without touching the model or the index (the GUI's slider).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .ann_index import VectorIndex
from .catalog import FileRow
from .formats import is_raw_name
from .group_kind import KIND_COPIES, KIND_EXACT, KIND_RAW_JPEG, KindJudge, group_kind
from .grouping import Pair, VerificationStats, complete_linkage_groups, iter_complete_linkage_groups, knn_candidate_pairs
from .layout import LayoutVerifier
from .progress import CancelToken, Progress

DEFAULT_FLOOR = 0.80
DEFAULT_THRESHOLD = 0.85  # cosine needed to call two photos duplicates (cross-validated)


@dataclass(frozen=True)
class GroupMember:
    row: FileRow
    score: float  # cosine similarity to the suggested keeper (1.0 for exact copies)
    exact: bool  # byte-identical to the keeper


@dataclass(frozen=True)
class DuplicateGroup:
    members: list[GroupMember]  # the suggested copy to keep first
    kind: str  # core.group_kind: "exact", "copies" (one picture, edited), "shots" (a burst), "raw+jpeg"

    @property
    def keeper(self) -> GroupMember:
        return self.members[0]

    @property
    def all_exact(self) -> bool:
        return self.kind == KIND_EXACT


class KeepPreference(str, Enum):
    """Which copy of a group to keep when one is a camera RAW file. A RAW and the camera's
    JPEG of it have the same pixels, so "best pixels" keeps the larger file, the RAW; some
    people keep RAWs (to edit later), others the JPEGs (to save space)."""

    BEST_PIXELS = "best"  # most pixels, then the largest file (as for any copies)
    RAW = "raw"  # a RAW file when the group has one
    JPEG = "jpeg"  # a file that is not RAW when the group has one (JPEG, HEIC ...)


KEEP_LABELS = {KeepPreference.BEST_PIXELS: "Keep best pixels", KeepPreference.RAW: "Keep RAW",
               KeepPreference.JPEG: "Keep JPEG"}


def keep_rank(row: FileRow, prefer: KeepPreference = KeepPreference.BEST_PIXELS) -> tuple:
    """Sort key for 'best copy first': the kind of file ``prefer`` asks for, then most
    pixels, then largest file, then a real file before a symlink, then oldest, then by path.

    A symlink is never kept over the file it points to: the two are one photo, and only
    the real path is offered (``same_file_aliases``); between equal copies a real file is
    kept rather than a link, whose target may go with the copies.
    """
    pixels = (row.width or 0) * (row.height or 0)
    prefer = KeepPreference(prefer)  # "raw" as well as KeepPreference.RAW
    wrong_kind = False
    if prefer is KeepPreference.RAW:
        wrong_kind = not is_raw_name(row.path)
    elif prefer is KeepPreference.JPEG:
        wrong_kind = is_raw_name(row.path)
    return (wrong_kind, -pixels, -row.size, os.path.islink(row.path), row.mtime_ns, row.path)


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)  # follows symlinks: a link and its target give the same id
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if st.st_ino else None


def same_file_aliases(rows: list[FileRow], indices: list[int]) -> dict[int, int]:
    """Among ``indices`` (rows with identical content), paths that are one file on disk.

    The rule: two paths that resolve to the same (device, inode) -- a symlink and its
    target, two symlinks to one file, or hard links -- are one photo, never duplicates of
    each other: trashing one would delete the photo (a hard link) or leave the other
    dangling (a symlink). One path represents the file: a real path before a symlink,
    then by ``keep_rank``. Returns {alias row -> representative row}; the aliases are
    left out of duplicate groups. Only rows with the same content hash are compared, as
    one file always has one content.
    """
    by_file: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i in indices:
        key = _file_id(rows[i].path)
        if key is not None:
            by_file[key].append(i)
    aliases: dict[int, int] = {}
    for same in by_file.values():
        if len(same) > 1:
            keep = min(same, key=lambda i: (os.path.islink(rows[i].path), keep_rank(rows[i])))
            aliases.update((i, keep) for i in same if i != keep)
    return aliases


@dataclass
class DuplicateFinder:
    """Holds the candidate pairs of one library so regrouping is instant."""

    rows: list[FileRow]  # aligned with ``vectors``
    vectors: np.ndarray
    ignored: set[tuple[str, str]] = field(default_factory=set)
    layouts: list[bytes | None] | None = None  # aligned with ``rows``; None: no verification
    # Row id -> the date taken stored in the catalog (``Catalog.capture_dates``); the
    # photos of rows not in it have their capture time read from the file when needed.
    dates: dict[int, str | None] | None = None
    keep: KeepPreference = KeepPreference.BEST_PIXELS  # which copy of a group is put first
    _reps: list[int] = field(default_factory=list, init=False)
    _copies: dict[int, list[int]] = field(default_factory=dict, init=False)
    _pairs: list[Pair] = field(default_factory=list, init=False)
    floor: float = DEFAULT_FLOOR

    def __post_init__(self) -> None:
        by_hash: dict[str, list[int]] = defaultdict(list)
        for i, row in enumerate(self.rows):
            by_hash[row.hash or f"row:{row.id}"].append(i)
        self._rep_of = np.empty(len(self.rows), dtype=np.int64)
        for members in by_hash.values():
            # Exact copies: one path per file on disk; the other paths to it are no copies.
            aliases = same_file_aliases(self.rows, members) if len(members) > 1 else {}
            if aliases:
                members = [i for i in members if i not in aliases]
            rep = members[0]
            self._reps.append(rep)
            self._copies[rep] = members
            self._rep_of[members] = rep
            if aliases:
                self._rep_of[list(aliases)] = rep  # neighbours found through an alias count for the file
        self.verifier = LayoutVerifier(self.layouts) if self.layouts is not None else None
        self.stats = VerificationStats()  # of the last grouping

    def compute_candidates(
        self, index: VectorIndex, floor: float = DEFAULT_FLOOR, k: int = 16,
        cancel: CancelToken | None = None,
    ) -> Iterator[Progress]:
        """k-NN search for each distinct photo; yields progress, honours ``cancel``."""
        self.floor = floor
        # Row <-> index position maps as arrays (-1: not in the index): ~100,000 lookups
        # per run, so no per-call dict or object boxing.
        positions = np.array([-1 if (p := index.position_of(r.id)) is None else p for r in self.rows], dtype=np.int64)
        pos_to_row = np.full(len(index) + 1, -1, dtype=np.int64)
        present = positions >= 0
        pos_to_row[positions[present]] = np.flatnonzero(present)
        rep_of = self._rep_of
        empty = np.zeros(0, dtype=np.int64)

        def neighbours(i: int, want: int) -> np.ndarray:
            pos = positions[i]
            if pos < 0:
                return empty
            found = pos_to_row[index.query_position(int(pos), want)]
            found = found[found >= 0]
            # Neighbours that are exact copies collapse onto their representative.
            return np.unique(rep_of[found]) if len(found) else empty

        def first_look(i: int) -> tuple[np.ndarray, np.ndarray]:
            """(representatives, exact cosines) of the k nearest photos to row ``i``."""
            pos = positions[i]
            if pos < 0:
                return empty, empty
            found, scores = index.query_position_scored(int(pos), k + 1)
            rows = pos_to_row[found]
            ok = rows >= 0
            return rep_of[rows[ok]], scores[ok]

        progress = Progress("duplicates", 0, len(self._reps))
        keys: list[np.ndarray] = []
        values: list[np.ndarray] = []
        deeper: list[int] = []  # photos with k neighbours above the floor: may have more
        n_rows = max(1, len(self.rows))
        step = max(1, min(2000, len(self._reps) // 200))
        # Annoy releases the GIL, so the first k-NN query of each photo (with its exact
        # re-scoring) runs in a thread per core, a chunk ahead of the bookkeeping here.
        with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1)), thread_name_prefix="imgfinder-knn") as pool:
            def look_all(rows: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
                return [first_look(i) for i in rows]

            def submit(chunk: list[int]) -> list:
                # A task per 64 photos, not per photo: futures cost ~15 us each.
                return [pool.submit(look_all, chunk[s : s + 64]) for s in range(0, len(chunk), 64)]

            chunks = [self._reps[s : s + step] for s in range(0, len(self._reps), step)]
            ahead = submit(chunks[0]) if chunks else []
            for n, chunk in enumerate(chunks):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                looked = [r for fut in ahead for r in fut.result()]
                if n + 1 < len(chunks):
                    ahead = submit(chunks[n + 1])
                for i, (reps, scores) in zip(chunk, looked):
                    other = reps != i
                    reps, scores = reps[other], scores[other]
                    keep = scores >= floor
                    if len(reps) >= k and keep.all():
                        deeper.append(i)
                    if keep.any():
                        j = reps[keep]
                        keys.append(np.minimum(i, j) * n_rows + np.maximum(i, j))
                        values.append(scores[keep])
                progress.done += len(chunk)
                if progress.done < progress.total:  # "finished" is reported once, below
                    yield progress
        pairs: dict[tuple[int, int], float] = {}
        if keys:
            all_keys, first = np.unique(np.concatenate(keys), return_index=True)
            all_scores = np.concatenate(values)[first]
            pairs = {(int(a // n_rows), int(a % n_rows)): float(v) for a, v in zip(all_keys.tolist(), all_scores.tolist())}
        # Big clusters: grow k for the few photos whose k nearest were all above the floor.
        # (They already had their k: start at 4k, as the search would grow to anyway.)
        for i, j, s in knn_candidate_pairs(self.vectors, neighbours, floor, k=4 * k, rows=deeper):
            pairs[(i, j)] = s
        self._pairs = [(i, j, s) for (i, j), s in pairs.items()]
        progress.done = len(self._reps)
        yield progress

    def groups(self, threshold: float, shots: bool = True) -> list[DuplicateGroup]:
        """Duplicate groups at ``threshold`` (>= the floor the candidates were made at).

        Copies first (every pair one picture: ``KindJudge.copy_pair``); then, with
        ``shots``, a second complete-linkage pass over the candidate pairs of photos in no
        group yet, where every pair must be two exposures of one moment
        (``KindJudge.shots_pair``): those groups have kind "shots".
        """
        for item in self.iter_groups(threshold, shots=shots):
            if isinstance(item, list):
                return item
        raise AssertionError("unreachable")

    def iter_groups(
        self, threshold: float, cancel: CancelToken | None = None, shots: bool = True,
    ) -> Iterator[Progress | list[DuplicateGroup]]:
        """Like ``groups`` as a generator: yields ``Progress("verify", ...)`` while pairs
        are verified (it can take seconds), honours ``cancel``, then yields the groups.
        The verification's counts are left in ``self.stats``."""
        if threshold < self.floor:
            raise ValueError(f"threshold {threshold} is below the candidate floor {self.floor}")
        hashes = [r.hash for r in self.rows]
        ignored = self.ignored

        def cannot_link(a: list[int], b: list[int]) -> bool:
            if not ignored:
                return False
            return any(tuple(sorted((hashes[x] or "", hashes[y] or ""))) in ignored for x in a for y in b)

        verifier = self.verifier
        judge = self._judge()

        def same_picture(i: int, j: int) -> bool:
            # The verifier first, then the stricter copy check of the kinds (cached match).
            return (verifier is None or verifier.same_picture(i, j)) and judge.copy_pair(i, j)

        plausible = verifier.plausible if verifier is not None else None
        self.stats = VerificationStats()
        clusters: list[list[int]] = []
        for item in iter_complete_linkage_groups(
            self.vectors, self._pairs, threshold, cannot_link, same_picture,
            plausible=plausible, stats=self.stats, cancel=cancel,
        ):
            if isinstance(item, Progress):
                yield item
            else:
                clusters = item
        grouped_reps = {rep for c in clusters for rep in c}
        # Byte-identical copies form a group even when nothing else is similar to them.
        clusters += [[rep] for rep in self._reps if rep not in grouped_reps and len(self._copies[rep]) > 1]
        result = [self._make_group([i for rep in c for i in self._copies[rep]]) for c in clusters]
        if shots:  # second pass: photos in no group yet, every pair two exposures of one moment
            grouped_reps.update(rep for c in clusters for rep in c)
            rest = [p for p in self._pairs if p[0] not in grouped_reps and p[1] not in grouped_reps]
            for c in complete_linkage_groups(self.vectors, rest, threshold, cannot_link, judge.shots_pair):
                result.append(self._make_group(c, shots=True))
        result.sort(key=lambda g: (-len(g.members), g.keeper.row.path))
        yield result

    def _judge(self) -> KindJudge:
        """Pair questions for the kinds; capture times are read once per finder."""
        judge = getattr(self, "_kind_judge", None)
        if judge is None:
            verifier = self.verifier
            dates = self.dates or {}
            stored = {i: dates[r.id] for i, r in enumerate(self.rows) if r.id in dates}
            judge = KindJudge([r.path for r in self.rows], verifier.match if verifier is not None else None, stored)
            self._kind_judge = judge
        return judge

    def _make_group(self, indices: list[int], shots: bool = False) -> DuplicateGroup:
        ordered = sorted(indices, key=lambda i: keep_rank(self.rows[i], self.keep))
        best = ordered[0]
        scores = np.einsum("ij,j->i", self.vectors[ordered], self.vectors[best])
        best_hash = self.rows[best].hash
        twins = sum(1 for i in ordered if best_hash is not None and self.rows[i].hash == best_hash)
        members = []
        for i, s in zip(ordered, scores.tolist()):
            # The keeper counts as an exact copy only when it has a byte-identical twin.
            exact = best_hash is not None and self.rows[i].hash == best_hash and twins > 1
            members.append(GroupMember(self.rows[i], 1.0 if exact else float(min(max(s, 0.0), 1.0)), exact))
        kind = group_kind([self.rows[i].hash for i in ordered], shots)
        if kind == KIND_COPIES and self._judge().one_shot_raw_and_jpeg(ordered):
            kind = KIND_RAW_JPEG
        return DuplicateGroup(members, kind)
