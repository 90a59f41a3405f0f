"""Find groups of duplicate photos: exact copies by content hash, near-duplicates by
k-nearest-neighbour search over the copy vectors, each merge proven by matching detail
(``core.copy_proof``: one exact geometric fit and agreement over the whole overlap, so a
copy, not another shot of the same scene or the other side of a symmetric object), and
the original put first (``core.keeper``). Without layouts (tests), no verification; with
``local=False``, every pair's 64 px layout is checked instead (``core.layout``).

Candidate pairs are computed once at a low ``floor`` and can then be regrouped at any
threshold above it without touching the model or the index (the GUI's slider).
"""

from __future__ import annotations

import fnmatch
import functools
import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .ann_index import VectorIndex
from .catalog import FileRow
from .formats import is_raw_name
from .group_kind import KIND_COPIES, KIND_EXACT, KIND_RAW_JPEG, KIND_SHOTS, KindJudge, group_kind
from .grouping import Pair, VerificationStats, complete_linkage_groups, iter_complete_linkage_groups
from .knn import PairArrays, iter_near_pairs
from .file_actions import is_under
from .keeper import has_exif, rank_group
from .layout import LayoutVerifier
from .local_check import FeatureStore, LocalCheck
from .cpus import usable_cores
from .parallel_checks import PARALLEL_MIN, CheckPool
from .progress import CancelToken, Progress

DEFAULT_FLOOR = 0.75  # candidate pairs are kept down to here: the lowest threshold, and room for GREY_PAIR_SLACK
# The cosine from which a pair is examined for copies. With copies proven by local features
# (``copy_proof``), the floor rather than 0.85 finds the heavy crops (60 % crops of 30
# photos: 30 found at 0.75, 29 at 0.80, 24 at 0.85) for about a third more time on a
# library without copies (781 grocery shots: 7.8 s at 0.75, 5.8 s at 0.85, index 8.4 s)
# and no false group (benchmarks/copies_hard.py).
DEFAULT_THRESHOLD = 0.75
# A greyscale photo (``decoder.chroma`` at most GREYSCALE_CHROMA) and a colour one are
# compared this much more leniently: a greyscale copy lost the colour that the copy
# vector partly rests on (held-out greyscale copies reach only 0.79 with their original,
# other edits >= 0.85), and the pixel check, which sees grey levels only, still decides.
GREY_PAIR_SLACK = 0.1
GREYSCALE_CHROMA = 2.0
# The loose layout gate before local features (``_locally_copies``): the smoothed 64 px
# layouts of 855 edited copies lined up at >= 0.837 (fit sets) and >= 0.909 (heldout,
# checked only); a quarter of the other grocery shots that reach a check stay below 0.75.
# Keypoints both photos of a cross pair need for its failed proof to count against a merge
# the layout decided (``_merge_confirmed``): a smooth wallpaper's bordered, letterboxed or
# watermarked copies have 40-90 keypoints, most on the edit, and fail proofs to each other
# (benchmarks/copies_hard.py: a 10 % border copy of plasma_Grey, 53 keypoints, was kept
# apart with the plain 30); the two different photos the rule exists for had 361 and 500.
WEAK_MERGE_KEYPOINTS = 150
LAYOUT_GATE = 0.75


def layout_gate_rejects(verifier: LayoutVerifier | None, i: int, j: int) -> bool:
    """The stored 64 px layouts first (3 ms, no decoding): a pair whose smoothed
    pictures do not line up even loosely is no copy, and its photos need no features
    for it (copies: smoothed NCC >= 0.84, other shots: median 0.79)."""
    if verifier is None:
        return False
    m = verifier.match(i, j)
    return m is not None and not m.flat and m.coarse < LAYOUT_GATE


def locally_one_picture(check: LocalCheck, verifier: LayoutVerifier | None, i: int, j: int) -> bool:
    """Local features prove rows i and j one picture (the layout gate first). Photos too
    smooth for keypoints (a gradient, a night sky: ``copy_proof.feature_poor``) have
    nothing to prove with; for them the layout's copy test decides, as before local
    features. The duplicate search's pair decision, and similar's (``core.similar_copies``)."""
    from .copy_proof import feature_poor
    from .group_kind import is_copy_match

    if not check.has_proof(i, j) and layout_gate_rejects(verifier, i, j):
        return False
    fa, fb = check.features(i), check.features(j)
    if fa is None or fb is None:
        return False
    if feature_poor(fa, fb):
        return verifier is not None and verifier.same_picture(i, j) and is_copy_match(verifier.match(i, j))
    return check.copies(i, j)


@dataclass(frozen=True)
class GroupMember:
    row: FileRow
    # The score that admitted it: its highest cosine with another member of the group
    # (``link``), 1.0 for an exact copy. Every member joined through one pair at or above
    # the threshold, so the score a user sees is never below the slider.
    score: float
    exact: bool  # byte-identical to another file of the group (``link``)
    link: str | None = None  # path of the member that score is with


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


def removable_copies(groups: Sequence[DuplicateGroup]) -> tuple[int, int]:
    """(copies a clean-up would remove, their bytes): every file but the keeper of each
    group that is not burst shots (shots are different photos, never removed for a user
    without asking). What every duplicates summary calls "to reclaim"."""
    count = size = 0
    for group in groups:  # plain loops: the GUI thread calls this, and it stays one frame
        if group.kind != KIND_SHOTS:
            for member in group.members[1:]:
                count += 1
                size += member.row.size
    return count, size


class KeepPreference(str, Enum):
    """Which copy of a group to keep. By default the original, by the evidence of
    ``core.keeper`` (colour, whole picture, no frame, real resolution, quality, EXIF);
    a user may rather keep a RAW or a JPEG of a RAW + JPEG pair (one shot saved twice), the
    oldest file, the largest file, or one with EXIF camera facts. The evidence decides
    between files the chosen rule leaves equal, and a reference folder's file always wins."""

    BEST_PIXELS = "best"  # the original (the evidence of core.keeper)
    RAW = "raw"  # a RAW file when the group has one
    JPEG = "jpeg"  # a file that is not RAW when the group has one (JPEG, HEIC ...)
    OLDEST = "oldest"  # the file modified longest ago
    LARGEST = "largest"  # the largest file
    EXIF = "exif"  # a file with EXIF camera facts (date taken or camera)


KEEP_LABELS = {KeepPreference.BEST_PIXELS: "Keep original", KeepPreference.RAW: "Keep RAW",
               KeepPreference.JPEG: "Keep JPEG", KeepPreference.OLDEST: "Keep oldest",
               KeepPreference.LARGEST: "Keep largest", KeepPreference.EXIF: "Keep with EXIF"}


def rule_key(row: FileRow, prefer: KeepPreference, prefer_folders: Sequence[str] = (),
             prefer_pattern: str | None = None) -> tuple:
    """Sort key of the user's keep rules (lower first): a preferred folder's file, then one
    whose path matches ``prefer_pattern`` (a shell pattern, case-insensitive), then the
    ``prefer`` rule; 0 where a rule says nothing, so the evidence decides."""
    folder = not is_under(row.path, prefer_folders) if prefer_folders else False
    pattern = (not fnmatch.fnmatch(row.path.casefold(), prefer_pattern.casefold())) if prefer_pattern else False
    if prefer is KeepPreference.RAW:
        rule: object = not is_raw_name(row.path)
    elif prefer is KeepPreference.JPEG:
        rule = is_raw_name(row.path)
    elif prefer is KeepPreference.OLDEST:
        rule = row.mtime_ns
    elif prefer is KeepPreference.LARGEST:
        rule = -row.size
    elif prefer is KeepPreference.EXIF:
        rule = not has_exif(row.path)
    else:
        rule = 0
    return (folder, pattern, rule)


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
    # Row id -> ``decoder.chroma`` (``Catalog.chromas``); a row not in it is taken for colour.
    chromas: dict[int, float] | None = None
    keep: KeepPreference = KeepPreference.BEST_PIXELS  # which copy of a group is put first
    # Reference folders: their files are always a group's keeper (``core.keeper``).
    reference: list[str] = field(default_factory=list)
    # The user's keep rules besides ``keep`` (``rule_key``): files in these folders, or
    # whose path matches this pattern, are kept first (after reference folders).
    prefer_folders: list[str] = field(default_factory=list)
    prefer_pattern: str | None = None
    # Copies are proven by local features (``core.copy_proof``), cached in ``features``
    # (the catalog); False: by the 64 px layout alone (tests of the older evidence);
    # None: local features whenever there are layouts (no layouts: no verification).
    local: bool | None = None
    features: FeatureStore | None = None
    _reps: list[int] = field(default_factory=list, init=False)
    _copies: dict[int, list[int]] = field(default_factory=dict, init=False)
    _pairs: PairArrays | list[Pair] = field(default_factory=PairArrays.empty, init=False)
    floor: float = DEFAULT_FLOOR
    # Processes for the full layout checks of a big grouping (``core.parallel_checks``);
    # 1: none (everything in this process).
    workers: int = field(default_factory=usable_cores)

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
        self.local_check = LocalCheck([r.path for r in self.rows], [r.id for r in self.rows],
                                      [r.hash for r in self.rows], self.features) \
            if (self.local if self.local is not None else self.layouts is not None) else None
        chromas = self.chromas or {}
        self.greyscale = np.array([chromas.get(r.id, GREYSCALE_CHROMA + 1) <= GREYSCALE_CHROMA for r in self.rows],
                                  dtype=bool)
        self.stats = VerificationStats()  # of the last grouping

    def compute_candidates(
        self, index: VectorIndex | None = None, floor: float = DEFAULT_FLOOR, k: int = 16,
        cancel: CancelToken | None = None,
    ) -> Iterator[Progress]:
        """The candidate pairs: each distinct photo's nearest photos at or above ``floor``,
        at most ``4 k`` of them (``core.knn``: blocked matrix products on the copy
        vectors, exact up to ``knn.EXACT_MAX`` photos); yields progress, honours ``cancel``.

        ``index`` (the copy index) only says which photos are searched: a photo it does
        not hold is left out, as a k-NN query through it would leave it out. Why not its
        Annoy trees: one query per photo costs ~1 ms (100,000 photos: ~100 s on 2 cores),
        the products a few seconds. Why at most 4 k: a dense library has hundreds of
        photos above the floor around each photo, and copies are among the nearest few.
        """
        self.floor = floor
        reps = np.asarray(self._reps, dtype=np.int64)
        if index is not None:
            reps = reps[[index.position_of(self.rows[i].id) is not None for i in reps.tolist()]] if len(reps) else reps
        progress = Progress("duplicates", 0, len(reps))
        steps = iter_near_pairs(self.vectors[reps], floor, max_per_row=4 * k)
        found = PairArrays.empty()
        while True:
            if cancel is not None:
                cancel.raise_if_cancelled()
            try:
                done = next(steps)
            except StopIteration as end:
                found = end.value
                break
            progress.done = done
            if progress.done < progress.total:  # "finished" is reported once, below
                yield progress
        a, b = reps[found.i], reps[found.j]  # positions among the searched photos -> rows
        self._pairs = PairArrays(np.minimum(a, b), np.maximum(a, b), found.s)
        progress.done = len(reps)
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

        local = self.local_check

        def same_picture(i: int, j: int) -> bool:
            # With local features: the pair that merges two groups is one picture (one
            # exact fit and agreement over the whole overlap, ``copy_proof``), and no
            # cross pair is two exposures by the camera (``every_pair``, in the
            # grouping); else every pair's layout lines up and the camera does not say
            # "two exposures".
            if not judge.not_two_exposures(i, j):
                return False
            if local is not None:
                return self._locally_copies(i, j)
            return verifier is None or verifier.same_picture(i, j)

        link = (lambda i, j: True) if local is not None else judge.copy_pair

        plausible = verifier.plausible if verifier is not None else None
        plausible_many = verifier.plausible_many if verifier is not None else None
        self.stats = VerificationStats()
        clusters: list[list[int]] = []
        pool = self._check_pool(threshold)
        # Start the checks of a batch in the workers; returns the function that waits for them.
        match_ahead = functools.partial(pool.submit, verifier, cancel=cancel) \
            if pool is not None and verifier is not None else None
        if local is not None and verifier is not None and self.workers >= 2:
            match_ahead = functools.partial(self._features_ahead, pool=pool, cancel=cancel)
        try:
            for item in iter_complete_linkage_groups(
                self.vectors, self._pairs, threshold, cannot_link, same_picture,
                plausible=plausible, plausible_many=plausible_many, stats=self.stats, cancel=cancel,
                link=link, greyscale=self.greyscale, grey_slack=GREY_PAIR_SLACK,
                match_ahead=match_ahead, every_pair=judge.not_two_exposures if local is not None else None,
                confirm_merge=self._merge_confirmed if local is not None else None,
            ):
                if isinstance(item, Progress):
                    yield item
                else:
                    clusters = item
        finally:
            if pool is not None:
                pool.close()
                self.stats.worker_peak_mb = sum(pool.peak_mb.values())
            if local is not None:
                local.flush()
        grouped_reps = {rep for c in clusters for rep in c}
        # Byte-identical copies form a group even when nothing else is similar to them.
        clusters += [[rep] for rep in self._reps if rep not in grouped_reps and len(self._copies[rep]) > 1]
        result = [self._make_group([i for rep in c for i in self._copies[rep]]) for c in clusters]
        if shots:  # second pass: photos in no group yet, every pair two exposures of one moment
            grouped_reps.update(rep for c in clusters for rep in c)
            pairs = PairArrays.from_pairs(self._pairs)
            grouped = np.zeros(len(self.rows), dtype=bool)
            grouped[list(grouped_reps)] = True
            rest = pairs.take(~(grouped[pairs.i] | grouped[pairs.j]))
            for c in complete_linkage_groups(self.vectors, rest, threshold, cannot_link, judge.shots_pair):
                result.append(self._make_group(c, shots=True))
        result.sort(key=lambda g: (-len(g.members), g.keeper.row.path))
        yield result

    def _locally_copies(self, i: int, j: int) -> bool:
        return locally_one_picture(self.local_check, self.verifier, i, j)

    def _merge_confirmed(self, group_a: Sequence[int], group_b: Sequence[int], i: int, j: int) -> bool:
        """A merge through a pair the layout decided (one photo too smooth for keypoints,
        ``_locally_copies``) rests on the weak evidence local features replaced: when the
        two groups hold detailed photos on both sides (``WEAK_MERGE_KEYPOINTS``), one such
        cross pair must prove one picture too. Without it, a smooth photo whose layout resembles two different
        detailed photos joined them into one "copies" group, though their own features
        have no fit (``benchmarks/scale_real.py`` found such a group at 2,000 photos).
        One proven pair is enough, as for any merge (two heavy edits of one photo need
        not prove each other); a merge through a proven pair needs nothing more."""
        from .copy_proof import feature_poor

        check = self.local_check
        fi, fj = check.features(i), check.features(j)
        if fi is None or fj is None or not feature_poor(fi, fj):
            return True
        detailed = 0
        for x in group_a:
            for y in group_b:
                if {x, y} == {i, j}:
                    continue
                fx, fy = check.features(x), check.features(y)
                if fx is None or fy is None or min(fx.count, fy.count) < WEAK_MERGE_KEYPOINTS:
                    continue
                if check.copies(x, y):
                    return True
                detailed += 1
        return detailed == 0

    def _layout_rejects(self, i: int, j: int) -> bool:
        return layout_gate_rejects(self.verifier, i, j)

    def _features_ahead(self, first: list[int], second: list[int], pool: CheckPool | None = None,
                        cancel: CancelToken | None = None) -> Callable[[], int] | None:
        """The grouping's look-ahead (``match_ahead``) with local features: returns the
        function that finds, on every core (``LocalCheck.extract_many``), the features of
        the coming pairs' photos that pass the layout gate and have none yet (None: no
        pair left to prove). With ``pool``, the gate's layout matches of these pairs start
        now in its worker processes, so they are computed while the grouping merges the
        current batch (at 100,000 photos the gate, serial, was most of a warm search:
        ``benchmarks/scale_real.py``); the matches are deterministic, so the decisions are
        the ones the gate would make here."""
        check = self.local_check
        pairs = [(i, j) for i, j in zip(first, second) if not check.has_proof(i, j)]
        if not pairs:
            return None
        gates = pool.submit(self.verifier, [i for i, _ in pairs], [j for _, j in pairs], cancel=cancel) \
            if pool is not None else None

        def run() -> int:
            if gates is not None:
                gates()
            todo: list[int] = []
            seen: set[int] = set()
            for i, j in pairs:
                if check.has_proof(i, j) or self._layout_rejects(i, j):
                    continue
                for z in (i, j):
                    if z not in seen:
                        seen.add(z)
                        if check.needs_extraction(z):
                            todo.append(z)
            return check.extract_many(todo, self.workers, cancel) if todo else 0

        return run

    def _check_pool(self, threshold: float) -> CheckPool | None:
        """Worker processes for the full checks when the grouping has many pairs to check
        and more than one core (``core.parallel_checks``); None otherwise."""
        if self.verifier is None or self.workers < 2:
            return None
        live = int(np.count_nonzero(PairArrays.from_pairs(self._pairs).s >= threshold))
        return CheckPool(self.workers) if live >= PARALLEL_MIN else None

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
        ordered = self._keeper_order(indices, shots)
        vecs = self.vectors[ordered]
        sims = vecs @ vecs.T
        np.fill_diagonal(sims, -np.inf)
        hashes = [self.rows[i].hash for i in ordered]
        members = []
        for k, i in enumerate(ordered):
            # Byte-identical to another file of the group: an exact copy (of the first such).
            twin = next((t for t, h in enumerate(hashes) if t != k and h is not None and h == hashes[k]), None)
            if twin is not None:
                members.append(GroupMember(self.rows[i], 1.0, True, self.rows[ordered[twin]].path))
                continue
            # Else the score that admitted it: its strongest pair in the group (every member
            # joined through a pair at the threshold), and through which photo.
            j = int(np.argmax(sims[k])) if len(ordered) > 1 else k
            score = float(min(max(sims[k, j], 0.0), 1.0)) if j != k else 1.0
            members.append(GroupMember(self.rows[i], score, False, self.rows[ordered[j]].path if j != k else None))
        kind = group_kind([self.rows[i].hash for i in ordered], shots)
        if kind == KIND_COPIES and self._judge().one_shot_raw_and_jpeg(ordered):
            kind = KIND_RAW_JPEG
        return DuplicateGroup(members, kind)

    def _keeper_order(self, indices: list[int], shots: bool) -> list[int]:
        """The group's files, the one to keep first: a reference folder's file always;
        then the user's keep rules (``rule_key``); between files those leave equal, among
        copies the evidence of being the original (``core.keeper``), among exact copies
        and shots the older rule (``keep_rank``)."""
        rows = self.rows
        hashes = {rows[i].hash for i in indices}
        if shots or len(hashes) == 1 or self.local_check is None:
            base = sorted(indices, key=lambda i: keep_rank(rows[i]))
        else:
            # Byte-identical files are one picture: rank one of each content, then put
            # its twins (by the older rule) right after it.
            by_hash: dict[str | None, list[int]] = defaultdict(list)
            for i in sorted(indices, key=lambda i: (not is_under(rows[i].path, self.reference), keep_rank(rows[i]))):
                by_hash[rows[i].hash or f"row:{i}"].append(i)
            heads = [m[0] for m in by_hash.values()]
            chromas = self.chromas or {}
            order = rank_group(heads, rows, self.local_check.known_proof, lambda i: chromas.get(rows[i].id),
                               features=self.local_check.features, fallback=self.local_check.proof,
                               blocking=functools.partial(self.local_check.blocking, workers=self.workers))
            base = [i for h in order for i in by_hash[rows[h].hash or f"row:{h}"]]
        keep = KeepPreference(self.keep)
        return sorted(base, key=lambda i: (not is_under(rows[i].path, self.reference),
                                           rule_key(rows[i], keep, self.prefer_folders, self.prefer_pattern)))
