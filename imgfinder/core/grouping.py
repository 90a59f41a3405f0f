"""Turn similar pairs into duplicate groups without chaining unrelated photos together.

Single-linkage grouping (connected components of the "similar" graph) lets A~B, B~C,
C~D put A and D in one group although they share nothing: bursts and gradual edits
chain whole folders together. We use complete linkage instead: pairs are merged
strongest first, and two groups join only if *every* cross pair passes (above the
threshold on the exact vectors, or, with the pixel check, checked pixel by pixel and
above a lower cross floor: see below). Every group is therefore a clique: each member is
a duplicate of each other member, which is what a user expects when told "these are the
same photo". Only candidate pairs from a k-nearest-neighbour search are considered, so
no N-by-N matrix is ever built.

When every cross pair is also checked pixel by pixel (``same_picture``), the vectors
need not carry the whole clique: a member joins through one pair at the threshold, and
its other pairs need only ``cross_floor`` (``GROUP_PAIR_SLACK`` below the threshold)
besides passing the check. Why: two *heavy* edits of one photo (a greyscale copy and a
bordered one) are each close to the original but farther from each other (cosine 0.72
on held-out photos), and full complete linkage then split the photo's copies into two
groups, which cost most of the copy-detection recall (``benchmarks/quality.py``). The
layout check, not the vector, is what tells a copy from another shot.

The check has two strengths (``core.layout``, ``core.group_kind``): every cross pair of a
merge must line up (``same_picture``: the layout), and one of them must also line up in
the fine detail (``link``). Why not the fine detail for every pair: a brightened copy
whose highlights burn out lines up in detail with the original (0.81) but not with an
80 % crop of it (0.71-0.75), and demanding both split the copies of one photo. Another
shot of the same scene cannot join this way: its detail lines up with no member.

A merge may also need the pixel-layout check (``core.layout``, milliseconds a pair).
Its cost is bounded per photo, whatever the embedding says: a cheap filter comes first,
and a photo that failed a few checks (or many filters) is not examined again, so an
embedding that calls a whole library alike cannot make the grouping quadratic.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from .knn import PairArrays
from .progress import CancelToken, Progress

Pair = tuple[int, int, float]

# A photo whose layout check failed this many times (against photos more similar to it
# than any later candidate) is not checked again: its remaining candidates are rejected.
# Why: in a uniform library (one product shot 30 times, a burst) nearly every pair is
# above the threshold, and checking them all is quadratic. A real copy is almost always
# among a photo's first few candidates, so the bound costs next to no recall.
# A photo already in a group is exempt: it has shown it has copies, and its checks are
# bounded by its candidates (at most 4 k) and its group's size. Why: two shots of one
# scene, each with many copies (a burst, the quality benchmark's two halves of one photo),
# spent a copy's budget on the other shot's copies before the copy could join its own
# group, and split one photo's copies into two groups.
MAX_FAILED_CHECKS_PER_PHOTO = 4
# The same bound, looser, for pairs the cheap layout filter rejects (~0.2 ms each): after
# this many, a photo's weaker candidates are rejected unexamined. Why: an embedding that
# calls a whole library alike (300 shots of grocery shelves) makes every pair a
# candidate, and even a cheap look at all of them is quadratic.
MAX_FILTERED_PER_PHOTO = 16
# With the layout check on every pair, the other pairs of a group may be this far below
# the threshold (see the module's docstring). 0.2: the lowest cosine between two edits of
# one held-out photo was 0.72 at the 0.85 threshold; unrelated photos have a median of 0.6.
GROUP_PAIR_SLACK = 0.2
# With proofs asked of the merging pair only (``every_pair``): how many pairs two groups
# (or a photo and a group) are tried through before they are taken for different pictures.
TRIES_PER_GROUP = 3
PROGRESS_SECONDS = 0.1  # at most ~10 progress reports a second
PREFETCH = 4096  # pairs the cheap filter is asked about at once (``plausible_many``)


@dataclass
class VerificationStats:
    """What verifying the pairs of one grouping cost (for benchmarks and the curious)."""

    considered: int = 0  # candidate pairs at or above the threshold
    filtered: int = 0  # pairs the cheap filter rejected
    checked: int = 0  # full layout checks run
    failed: int = 0  # of which said "not the same picture"
    skipped: int = 0  # pairs rejected unexamined: a photo's budget was spent
    asked_ahead: int = 0  # pairs the cheap filter was asked about in batches (``plausible_many``)
    checked_ahead: int = 0  # full checks computed ahead in worker processes (``match_ahead``)
    worker_peak_mb: float = 0.0  # the check workers' peak memory, summed (``core.parallel_checks``)
    checks_per_row: Counter[int] = field(default_factory=Counter)


class _PairVerifier:
    """Asks the cheap filter, then the bounded full check, once per pair per grouping."""

    def __init__(
        self, same_picture: Callable[[int, int], bool], plausible: Callable[[int, int], bool] | None,
        max_failed: int, stats: VerificationStats, cancel: CancelToken | None = None,
        max_filtered: int = MAX_FILTERED_PER_PHOTO,
    ) -> None:
        self.same_picture = same_picture
        self.cancel = cancel
        self.plausible = plausible
        self.max_failed = max_failed
        self.stats = stats
        self.max_filtered = max_filtered
        self.failed: Counter[int] = Counter()  # full checks that failed, per row
        self.filtered: Counter[int] = Counter()  # pairs the cheap filter rejected, per row
        self.answers: dict[tuple[int, int], bool] = {}
        self.cheap: dict[tuple[int, int], bool] = {}
        # The cheap filter's answers computed ahead, in batches (``prefetch``): used, and
        # counted, only when the pair is asked about, so the budgets work as without them.
        self.ahead: dict[tuple[int, int], bool] = {}
        self.spent: set[int] = set()  # photos whose budget is spent (``exhausted``)
        self.grouped: set[int] = set()  # photos in a group: exempt from the budgets (``note_grouped``)

    def forgive(self, x: int) -> None:
        """Take back one failed check of photo x (a further try to join the same group)."""
        if self.failed[x] > 0:
            self.failed[x] -= 1
            if self.failed[x] < self.max_failed and self.filtered[x] < self.max_filtered:
                self.spent.discard(x)

    def note_grouped(self, members: list[int]) -> None:
        self.grouped.update(members)
        self.spent.difference_update(members)

    def _count(self, counter: Counter[int], x: int, y: int) -> None:
        counter.update(z for z in (x, y) if z not in self.grouped)

    def exhausted(self, x: int, y: int) -> bool:
        """Has either photo spent a budget (then the pair is rejected unexamined)?"""
        failed, filtered, grouped = self.failed, self.filtered, self.grouped
        return any(z not in grouped and (failed[z] >= self.max_failed or filtered[z] >= self.max_filtered)
                   for z in (x, y))

    def _note_spent(self, x: int, y: int) -> None:
        for z in (x, y):
            if z not in self.grouped and (self.failed[z] >= self.max_failed or self.filtered[z] >= self.max_filtered):
                self.spent.add(z)

    def prefetch_checks(self, first: list[int], second: list[int], match_ahead: Callable) -> Callable[[], int] | None:
        """Have ``match_ahead(first, second)`` start the full checks of these pairs
        (worker processes), leaving out pairs the cheap filter rejected, pairs already
        answered and pairs of a photo whose budget is spent (they would not be checked);
        returns the function that waits for them (None: nothing to check)."""
        spent, cheap, ahead, answers = self.spent, self.cheap, self.ahead, self.answers
        a, b = [], []
        for x, y in zip(first, second):
            if x in spent or y in spent:
                continue
            key = (x, y) if x < y else (y, x)
            if key in answers or cheap.get(key, ahead.get(key, True)) is False:
                continue
            a.append(x)
            b.append(y)
        return match_ahead(a, b) if a else None

    def prefetch(self, first: list[int], second: list[int], plausible_many: Callable) -> None:
        """Ask the cheap filter about these pairs at once (``plausible_many(first,
        second)`` -> bools), leaving out pairs already answered or of a photo whose
        budget is spent (they would be rejected unexamined anyway: budgets only grow)."""
        spent, cheap, ahead = self.spent, self.cheap, self.ahead
        keys = []
        for x, y in zip(first, second):
            if x in spent or y in spent:
                continue
            key = (x, y) if x < y else (y, x)
            if key not in cheap and key not in ahead:
                keys.append(key)
        if keys:
            self.stats.asked_ahead += len(keys)
            a, b = zip(*keys)
            ahead.update(zip(keys, np.asarray(plausible_many(np.asarray(a), np.asarray(b)), dtype=bool).tolist()))

    def passes_filter(self, x: int, y: int) -> bool:
        key = (x, y) if x < y else (y, x)
        found = self.cheap.get(key)
        if found is None:
            if self.plausible is None:
                found = True
            elif self.exhausted(x, y):
                self.stats.skipped += 1
                found = False
            else:
                found = self.ahead.pop(key, None)
                if found is None:
                    found = bool(self.plausible(x, y))
                if not found:
                    self.stats.filtered += 1
                    self._count(self.filtered, x, y)
                    self._note_spent(x, y)
            self.cheap[key] = found
        return found

    def verify(self, x: int, y: int) -> bool:
        key = (x, y) if x < y else (y, x)
        found = self.answers.get(key)
        if found is not None:
            return found
        if not self.passes_filter(x, y):
            found = False
        elif self.exhausted(x, y):
            self.stats.skipped += 1
            found = False
        else:
            if self.cancel is not None:  # a big merge can ask for many checks
                self.cancel.raise_if_cancelled()
            found = bool(self.same_picture(x, y))
            self.stats.checked += 1
            self.stats.checks_per_row.update((x, y))
            if not found:
                self.stats.failed += 1
                self._count(self.failed, x, y)
                self._note_spent(x, y)
        self.answers[key] = found
        return found

    def linked(self, group_a: list[int], group_b: list[int], link: Callable[[int, int], bool]) -> bool:
        """Does some cross pair (already verified) pass the stricter ``link`` test? A
        single pair that fails it counts as a failed check for both photos' budgets."""
        if any(link(x, y) for x in group_a for y in group_b):
            return True
        if len(group_a) == 1 and len(group_b) == 1:
            x, y = group_a[0], group_b[0]
            self.stats.failed += 1
            self._count(self.failed, x, y)
            self._note_spent(x, y)
        return False

    def all_verify(self, group_a: list[int], group_b: list[int]) -> bool:
        """Every cross pair passes: known answers and the cheap filter first, so a merge
        that one pair already forbids costs no full check."""
        if len(group_a) == 1 and len(group_b) == 1:
            return self.verify(group_a[0], group_b[0])
        cross = [(x, y) for x in group_a for y in group_b]
        answers = self.answers
        if any(answers.get((x, y) if x < y else (y, x)) is False for x, y in cross):
            return False
        if not all(self.passes_filter(x, y) for x, y in cross):
            return False
        return all(self.verify(x, y) for x, y in cross)


def iter_complete_linkage_groups(
    vectors: np.ndarray,
    pairs: Iterable[Pair],
    threshold: float,
    cannot_link: Callable[[Sequence[int], Sequence[int]], bool] | None = None,
    same_picture: Callable[[int, int], bool] | None = None,
    *,
    plausible: Callable[[int, int], bool] | None = None,
    plausible_many: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    max_failed: int = MAX_FAILED_CHECKS_PER_PHOTO,
    max_filtered: int = MAX_FILTERED_PER_PHOTO,
    stats: VerificationStats | None = None,
    cancel: CancelToken | None = None,
    cross_floor: float | None = None,
    link: Callable[[int, int], bool] | None = None,
    greyscale: np.ndarray | None = None,
    grey_slack: float = 0.0,
    match_ahead: Callable[[list[int], list[int]], Callable[[], int] | None] | None = None,
    every_pair: Callable[[int, int], bool] | None = None,
    confirm_merge: Callable[[Sequence[int], Sequence[int], int, int], bool] | None = None,
) -> Iterator[Progress | list[list[int]]]:
    """``complete_linkage_groups`` as a generator: yields ``Progress("verify", pairs
    done, pairs at or above the threshold)`` while it works (the layout checks can take
    a while), honours ``cancel``, and yields the groups last.

    ``plausible_many(first, second)``, if given, answers ``plausible`` for arrays of
    pairs at once: the filter is then asked ahead, ``PREFETCH`` pairs at a time in the
    order the merges will ask, for the pairs of photos whose budget is not spent yet.

    ``cross_floor``: the cosine every cross pair of a merge needs (default: ``threshold``
    without ``same_picture``, ``threshold - GROUP_PAIR_SLACK`` with it). ``link``: the
    stricter test one cross pair of a merge must pass besides ``same_picture`` (asked
    after it, so its answers may come from the same cached match). ``greyscale`` (a bool
    per row) and ``grey_slack``: a pair of a greyscale and a colour photo counts
    ``grey_slack`` higher, everywhere the threshold or the cross floor is asked (a
    greyscale copy lost the colour the vectors partly rest on; see ``core.duplicates``).
    ``match_ahead(first, second)``, with ``plausible_many``: starts the full checks of the
    prefetched pairs that passed the filter (``core.parallel_checks``) and returns the
    function that waits for them; the next batch's checks run while this one is merged.
    The decisions are the same, made from its answers.

    ``every_pair``: when given, ``same_picture`` is a *proof* (local features: one exact
    fit and agreement everywhere, ``core.copy_proof``) and is asked of the merging pair
    only, while ``every_pair`` (a cheap veto: the camera says two exposures) is asked of
    every cross pair, and every cross pair still needs ``cross_floor``. Why not the proof
    of every pair: a copy of a copy is proven through either, and two heavy edits of one
    photo (a blurred copy and a 60 % crop) need not prove each other to be one picture
    (what breaks a group of proven pairs is a false proof, not a missing one), while
    proving every pair cost n (n - 1) / 2 proofs for a photo with n copies.
    ``confirm_merge(group_a, group_b, i, j)``, with ``every_pair``: asked last, once the
    merging pair (i, j) passed ``same_picture``; False keeps the groups apart (the caller
    asks more of a merge whose pair was decided on weaker evidence)."""
    if cross_floor is None:
        cross_floor = threshold if same_picture is None else threshold - GROUP_PAIR_SLACK
    cross_floor = min(cross_floor, threshold)
    stats = stats if stats is not None else VerificationStats()
    pairs = PairArrays.from_pairs(pairs)
    grey = greyscale if greyscale is not None and grey_slack else None
    score = pairs.s if grey is None else pairs.s + grey_slack * (grey[pairs.i] != grey[pairs.j])
    keep = score >= threshold
    live = pairs.take(keep)
    order = np.argsort(-score[keep], kind="stable")  # strongest first (ties: as given)
    live_i, live_j = live.i[order].tolist(), live.j[order].tolist()
    stats.considered = len(live_i)
    progress = Progress("verify", 0, len(live_i))
    yield progress
    verifier = None
    if same_picture is not None:
        verifier = _PairVerifier(same_picture, plausible, max_failed, stats, cancel, max_filtered)
    ahead = verifier is not None and plausible is not None and plausible_many is not None
    last_report = time.monotonic()
    owner: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    tries: dict[tuple[int, int], int] = {}  # (group, group) -> merges tried through a pair (``every_pair``)
    pending: Callable[[], int] | None = None  # the full checks of the next batch, under way

    def ask_ahead(start: int) -> Callable[[], int] | None:
        batch_i, batch_j = live_i[start : start + PREFETCH], live_j[start : start + PREFETCH]
        verifier.prefetch(batch_i, batch_j, plausible_many)
        return verifier.prefetch_checks(batch_i, batch_j, match_ahead) if match_ahead is not None else None

    for n, (i, j) in enumerate(zip(live_i, live_j)):
        if ahead and n % PREFETCH == 0:
            # With workers, the checks of batch k + 1 run while batch k is merged here.
            if n == 0 or match_ahead is None:
                pending = ask_ahead(n)
            if pending is not None:
                stats.checked_ahead += pending()
                pending = None
            if match_ahead is not None and n + PREFETCH < len(live_i):
                pending = ask_ahead(n + PREFETCH)
        now = time.monotonic()
        if now - last_report >= PROGRESS_SECONDS:
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress.done = n
            yield progress
            last_report = now
        a = owner.get(i, i)
        b = owner.get(j, j)
        if a == b:
            continue
        group_a = members.get(a, [a])
        group_b = members.get(b, [b])
        if len(group_a) > 1 or len(group_b) > 1:
            cross = np.einsum("ij,kj->ik", vectors[group_a], vectors[group_b])
            if grey is not None:
                cross = cross + grey_slack * (grey[group_a][:, None] != grey[group_b][None, :])
            if float(cross.min()) < cross_floor:
                continue
        elif verifier is not None and verifier.exhausted(a, b):  # the common case, kept cheap
            stats.skipped += 1
            continue
        if cannot_link is not None and cannot_link(group_a, group_b):
            continue
        # Last: the layout check costs milliseconds a pair, the vetoes above microseconds.
        if every_pair is not None:
            if not all(every_pair(x, y) for x in group_a for y in group_b):
                continue
            if verifier is not None:
                # A photo may join a group through any of its members, but tries at most
                # TRIES_PER_GROUP of them, and only its first failure against a group
                # counts against its budget (a group's members are one picture).
                key = (min(a, b), max(a, b))
                tries[key] = tries.get(key, 0) + 1
                if tries[key] > TRIES_PER_GROUP:
                    stats.skipped += 1
                    continue
                known = ((i, j) if i < j else (j, i)) in verifier.answers
                if not verifier.verify(i, j):
                    if tries[key] > 1 and not known:
                        for z in (i, j):
                            verifier.forgive(z)
                    continue
                if confirm_merge is not None and not confirm_merge(group_a, group_b, i, j):
                    continue
        elif verifier is not None and not verifier.all_verify(group_a, group_b):
            continue
        if verifier is not None and link is not None and not verifier.linked(group_a, group_b, link):
            continue
        if len(group_a) < len(group_b):
            a, b, group_a, group_b = b, a, group_b, group_a
        merged = group_a + group_b
        if verifier is not None:
            verifier.note_grouped(merged)
        members[a] = merged
        members.pop(b, None)
        for m in group_b:
            owner[m] = a
        owner[a] = a
    if pending is not None:
        stats.checked_ahead += pending()
    progress.done = len(live_i)
    yield progress
    yield [sorted(g) for g in members.values() if len(g) > 1]


def complete_linkage_groups(
    vectors: np.ndarray,
    pairs: Iterable[Pair],
    threshold: float,
    cannot_link: Callable[[Sequence[int], Sequence[int]], bool] | None = None,
    same_picture: Callable[[int, int], bool] | None = None,
    *,
    plausible: Callable[[int, int], bool] | None = None,
    plausible_many: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    max_failed: int = MAX_FAILED_CHECKS_PER_PHOTO,
    max_filtered: int = MAX_FILTERED_PER_PHOTO,
    stats: VerificationStats | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
    cross_floor: float | None = None,
    link: Callable[[int, int], bool] | None = None,
    greyscale: np.ndarray | None = None,
    grey_slack: float = 0.0,
    match_ahead: Callable[[list[int], list[int]], Callable[[], int] | None] | None = None,
    every_pair: Callable[[int, int], bool] | None = None,
    confirm_merge: Callable[[Sequence[int], Sequence[int], int, int], bool] | None = None,
) -> list[list[int]]:
    """Group row indices of ``vectors`` (L2-normalised) from candidate ``pairs``.

    ``pairs`` are (i, j, cosine); those below ``threshold`` are ignored. ``cannot_link``
    may veto a merge (the user said two photos are not duplicates). ``same_picture``, if
    given, must also accept every cross pair of a merge (the layout verification), so a
    group stays a clique of verified duplicates; ``plausible`` is a cheap filter asked
    first, and a photo with ``max_failed`` failed checks or ``max_filtered`` pairs the
    filter rejected is not examined again (its later, weaker candidates are rejected),
    so verification costs at most a few checks per photo. ``stats`` receives the counts.
    ``cross_floor``, ``link``, ``greyscale``, ``grey_slack``, ``every_pair`` and
    ``confirm_merge``: as in ``iter_complete_linkage_groups``. Returns groups of two or
    more indices.
    """
    for item in iter_complete_linkage_groups(
        vectors, pairs, threshold, cannot_link, same_picture,
        plausible=plausible, plausible_many=plausible_many, max_failed=max_failed, max_filtered=max_filtered,
        stats=stats, cancel=cancel, cross_floor=cross_floor, link=link, greyscale=greyscale, grey_slack=grey_slack,
        match_ahead=match_ahead, every_pair=every_pair, confirm_merge=confirm_merge,
    ):
        if isinstance(item, Progress):
            if progress is not None:
                progress(item)
        else:
            return item
    raise AssertionError("unreachable")


def knn_candidate_pairs(
    vectors: np.ndarray,
    neighbours: Callable[[int, int], np.ndarray],
    floor: float,
    k: int = 16,
    max_k: int = 256,
    rows: Iterable[int] | None = None,
) -> list[Pair]:
    """Candidate pairs (i < j, cosine >= floor) from a k-NN search per row.

    ``neighbours(row, k)`` returns the rows nearest to ``row`` (an Annoy lookup). When
    all k neighbours clear the floor the row may have more, so k is doubled up to
    ``max_k``. Scores are recomputed exactly from ``vectors``.
    """
    pairs: dict[tuple[int, int], float] = {}
    for i in range(len(vectors)) if rows is None else rows:
        want = k
        while True:
            found = neighbours(i, want + 1)
            found = found[found != i]
            if len(found) == 0:
                break
            # einsum, not ``@``: tiny products through threaded BLAS stall on busy cores.
            scores = np.einsum("ij,j->i", vectors[found], vectors[i])
            keep = scores >= floor
            for j, s in zip(found[keep].tolist(), scores[keep].tolist()):
                key = (i, j) if i < j else (j, i)
                pairs[key] = s
            if keep.all() and len(found) >= want and want < max_k:
                want = min(max_k, want * 4)
                continue
            break
    return [(i, j, s) for (i, j), s in pairs.items()]
