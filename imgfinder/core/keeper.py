"""Which file of a group of copies is the original: the one kept by default.

"Most pixels" is no evidence of being the source: a bordered copy has more pixels and no
more picture, an upscaled one more pixels and no more detail. The ranking asks, in this
order (each question only decides between files the ones before left equal):

1. a file in a reference folder (by real path) is always kept;
2. the ``KeepPreference`` for a RAW + JPEG pair, when the user chose one;
3. colour over greyscale (a greyscale copy lost the colour);
4. no flat frame (a border or letterbox adds no picture);
5. the file that holds the others' whole picture (``copy_proof.Proof.covers_*``, frames
   aside): a crop holds less;
6. real resolution: more pixels of picture, unless the larger file was saved far more
   coarsely than the smaller one (``_real_resolution``: then it is an upscale of it);
7. not clearly blurred next to the others (``sharpness``);
8. JPEG quality (the finer quantisation; a lossless file ties with the best), where the
   pixels agree: a file re-saved finely from a coarser one still shows its 8 x 8
   blocking (``jpeg_quality``) and counts as coarse as it (``_inherited_coarseness``);
9. EXIF camera facts (edit tools often drop them);
10. the oldest file, then the largest, then a real file before a symlink, then by path.

``benchmarks/copies_hard.py`` measures how often the original is kept, per edit kind.
Pure numpy, Pillow and OpenCV; no Qt.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .catalog import FileRow
from .copy_proof import Proof
from .file_actions import is_under
from .formats import is_raw_name
from .jpeg_quality import jpeg_coarseness
from .keypoints import LocalFeatures

GREYSCALE_CHROMA = 2.0  # as ``duplicates.GREYSCALE_CHROMA``
HOLDS = 0.95  # share of another file's picture inside this one for "holds its picture"
CROPPED = 0.97  # ... and less than this share of the other's: it is a crop of the other
LARGER = 1.15  # linear size ratio from which one file has "more pixels" than another
# A larger file saved with JPEG quantisation this many times coarser than a smaller file
# holding the same picture is taken for an upscale of it (see ``_real_resolution``).
COARSER = 2.0
BLURRED = 0.6  # sharpness this far below the sharpest file's: clearly blurred ...
BLOCKY = 1.5  # ... among files quantised at most this much more coarsely than it
# A file with finer JPEG tables than another but at least this share of its pixel
# blocking (``jpeg_quality.blockiness``) was re-saved from it (or from what it was saved
# from): it counts as coarse as the other. On the 23 shared photos
# (``benchmarks/keeper_blocking.py``) re-saves at quality 90 kept 0.56-1.15 of the
# blocking (a mirror or a turn shifts the grid: the lower ones), originals at quality 95
# had 0.01-0.90 of their coarse copies' (95 % <= 0.36; the 0.90 is a tie, decided by
# what comes next). Checked, not fitted, on 20 heldout photos: 144 of 180 re-saves
# called re-saved (the rest too faintly blocked to tell), 0 of 40 finer originals.
INHERITED = 0.5
MIN_BLOCKING = 0.15  # ... when the coarser file shows this much blocking at all


def has_exif(path: str) -> bool:
    from .metadata import read_metadata

    try:
        m = read_metadata(path)
    except Exception:  # noqa: BLE001
        return False
    return bool(m.date_taken or m.camera)


def picture_box(features: LocalFeatures | None) -> tuple[float, bool]:
    """(share of the photo's pixels inside a flat frame, has it a frame), by its small
    check picture (``layout.content_box``); (1.0, False) when not known."""
    from .layout import content_box

    if features is None:
        return 1.0, False
    top, bottom, left, right = content_box(features.check.astype(np.float32))
    h, w = features.check.shape
    return (bottom - top) * (right - left) / max(1, h * w), (top, bottom, left, right) != (0, h, 0, w)


@dataclass
class KeeperFacts:
    """What the ranking knows about one file of a group (tests build these by hand)."""

    row: FileRow
    reference: bool = False
    wrong_kind: bool = False
    grey: bool = False
    holds: int = 1  # 0: a crop of another file of the group (it holds less of the picture)
    framed: bool = False
    real_pixels: float = 0.0
    resolution_rank: int = 0  # 0: the most real pixels (files within LARGER of each other tie)
    blurred: bool = False
    coarseness: float = 0.0
    lossless: bool = False  # no JPEG tables of its own: its coarseness is the finest JPEG's
    exif: bool = False

    def before_quality(self) -> tuple:
        """The questions asked before JPEG quality (1-7 of the module's docstring)."""
        return (not self.reference, self.wrong_kind, self.grey, self.framed, -self.holds,
                self.resolution_rank, self.blurred)

    def key(self) -> tuple:
        r = self.row
        return self.before_quality() + (self.coarseness, not self.exif, r.mtime_ns, -r.size,
                                        os.path.islink(r.path), r.path)


def rank_group(
    indices: Sequence[int], rows: Sequence[FileRow], proof: Callable[[int, int], Proof | None] | None,
    chroma: Callable[[int], float | None], reference: Sequence[str] = (), prefer: str = "best",
    features: Callable[[int], LocalFeatures | None] | None = None,
    fallback: Callable[[int, int], Proof | None] | None = None,
    blocking: Callable[[Sequence[int]], Sequence[float | None]] | None = None,
) -> list[int]:
    """``indices`` ordered original first (see the module's docstring). ``proof(i, j)``:
    the proof for a pair if one is known (None: not proven), ``fallback(i, j)`` one made
    for a file with none; ``features(i)``: file i's local features, whose small picture
    shows a flat frame; ``blocking(files)``: their ``jpeg_quality.blockiness`` (asked only
    of files tied up to JPEG quality)."""
    if len(indices) < 2:
        return list(indices)
    facts = group_facts(indices, rows, proof, chroma, reference, prefer, features, fallback, blocking)
    return sorted(indices, key=lambda i: facts[i].key())


def group_facts(
    indices: Sequence[int], rows: Sequence[FileRow], proof: Callable[[int, int], Proof | None] | None,
    chroma: Callable[[int], float | None], reference: Sequence[str] = (), prefer: str = "best",
    features: Callable[[int], LocalFeatures | None] | None = None,
    fallback: Callable[[int, int], Proof | None] | None = None,
    blocking: Callable[[Sequence[int]], Sequence[float | None]] | None = None,
) -> dict[int, KeeperFacts]:
    """What ``rank_group`` ranks by, per file (also what a user may be shown)."""
    facts = {i: KeeperFacts(rows[i]) for i in indices}
    chromas = {i: chroma(i) for i in indices}
    colour_exists = any(c is None or c > GREYSCALE_CHROMA for c in chromas.values())
    for i in indices:
        f = facts[i]
        f.reference = is_under(rows[i].path, reference)
        f.wrong_kind = (prefer == "raw" and not is_raw_name(rows[i].path)) or (
            prefer == "jpeg" and is_raw_name(rows[i].path))
        c = chromas[i]
        f.grey = colour_exists and c is not None and c <= GREYSCALE_CHROMA
        share, f.framed = picture_box(features(i) if features is not None else None)
        # Pixels of picture: a frame's are none.
        f.real_pixels = float((rows[i].width or 0) * (rows[i].height or 0)) * share
        f.coarseness = jpeg_coarseness(rows[i].path) or 0.0
        f.lossless = not f.coarseness
        f.exif = has_exif(rows[i].path)
    lossless_or_best = min((f.coarseness for f in facts.values() if f.coarseness), default=0.0)
    for f in facts.values():
        if not f.coarseness:
            f.coarseness = lossless_or_best  # a lossless file ties with the finest JPEG
    if proof is not None:
        # "Holds the others' picture": a file is a crop when a proven partner holds all of
        # its picture while it holds clearly less of the partner's (the grouping proved a
        # tree of pairs, each copy with the photo it joined through; a file with no proven
        # pair is proven against the group's first file). A framed copy ranks below the
        # original before this (a frame found a little narrow would make the original
        # look like a crop of its letterboxed copy).
        for i in indices:
            partners = [(j, proof(i, j)) for j in indices if j != i]
            proven = [(j, p) for j, p in partners if p is not None and p.fit is not None and p.blocks]
            if not proven and fallback is not None:
                j = indices[0] if indices[0] != i else indices[1]
                p = fallback(i, j)
                proven = [(j, p)] if p is not None and p.fit is not None and p.blocks else []
            crop = any(p.covers_a >= HOLDS and p.covers_b < CROPPED and not p.frame_b for _, p in proven)
            facts[i].holds = 0 if crop else 1
            if any(p.frame_a for _, p in proven):
                facts[i].framed = True  # a frame the content box missed, seen through the fit
                facts[i].real_pixels = min(facts[i].real_pixels, min(
                    float((rows[j].width or 0) * (rows[j].height or 0)) for j, p in proven if p.frame_a) or
                    facts[i].real_pixels)
        _real_resolution(indices, rows, facts)
    _blur(indices, facts, features)
    _resolution_ranks(facts)
    if blocking is not None:
        _inherited_coarseness(indices, facts, blocking)
    return facts


def _inherited_coarseness(indices: Sequence[int], facts: dict[int, KeeperFacts],
                          blocking: Callable[[Sequence[int]], Sequence[float | None]]) -> None:
    """Among the files the questions before JPEG quality leave tied for first, one with
    finer tables than another but nearly its pixel blocking (``INHERITED``) counts as
    coarse as that one: saving a picture again finely adds no detail. Coarsest first, so
    a re-save of a re-save inherits too."""
    first = min(facts[i].before_quality() for i in indices)
    tied = [i for i in indices if facts[i].before_quality() == first]
    if len({facts[i].coarseness for i in tied}) < 2:
        return
    seen = dict(zip(tied, blocking(tied)))
    for j in sorted(tied, key=lambda i: -facts[i].coarseness):
        bj = seen[j]
        if bj is None or bj < MIN_BLOCKING:
            continue
        for i in tied:
            bi = seen[i]
            if bi is not None and facts[i].coarseness < facts[j].coarseness and bi >= INHERITED * bj:
                facts[i].coarseness = facts[j].coarseness
    # A lossless file still ties with the finest JPEG as it now counts (its own blocking may
    # have raised it further): a JPEG original whose own fine blocking reads as inherited
    # from a slightly coarser copy is not beaten by a lossless copy for that alone (4 of 85
    # groups of benchmarks/copies_hard.py kept the PNG copy before this).
    finest = min((facts[i].coarseness for i in tied if not facts[i].lossless), default=None)
    if finest is not None:
        for i in tied:
            if facts[i].lossless:
                facts[i].coarseness = max(facts[i].coarseness, finest)


def _resolution_ranks(facts: dict[int, KeeperFacts]) -> None:
    """Rank files by real pixels, those within LARGER (linear) of the rank's largest tied."""
    rank, top = -1, None
    for f in sorted(facts.values(), key=lambda f: -f.real_pixels):
        if top is None or f.real_pixels * LARGER ** 2 < top:
            rank, top = rank + 1, f.real_pixels
        f.resolution_rank = rank


def _real_resolution(indices: Sequence[int], rows: Sequence[FileRow], facts: dict[int, KeeperFacts]) -> None:
    """A file with more pixels than the next smaller one that holds as much picture keeps
    its pixel count only if it was not saved far more coarsely (a JPEG quantised at least
    COARSER times coarser): such a file is taken for an upscale of the smaller one and
    counts as its size, ranked below it. Why not a test of the pixels themselves: the
    energy above the smaller file's resolution did not tell upscales from originals (26
    photos: upscales at JPEG 92 had 0.14-0.28 of the octave below, soft originals from
    0.18), so an upscale saved as finely as its source is not told apart."""
    best = max(f.holds for f in facts.values())
    full = sorted((i for i in indices if facts[i].holds == best), key=lambda i: facts[i].real_pixels)
    for k in range(1, len(full)):  # smallest first: each compared with the one below it, as corrected
        i, smaller = full[k], full[k - 1]
        if not facts[smaller].real_pixels:
            continue
        factor = (facts[i].real_pixels / facts[smaller].real_pixels) ** 0.5
        if factor < LARGER:
            continue
        ci, cs = jpeg_coarseness(rows[i].path), jpeg_coarseness(rows[smaller].path)
        if ci is not None and cs is not None and ci >= COARSER * cs:
            facts[i].real_pixels = facts[smaller].real_pixels
            facts[i].blurred = True


def _blur(indices: Sequence[int], facts: dict[int, KeeperFacts],
          features: Callable[[int], LocalFeatures | None] | None) -> None:
    """Of files with about the same pixels, one clearly less sharp than the sharpest that
    is compressed no more coarsely (JPEG blocking adds "detail") is blurred
    (``LocalFeatures.sharpness``, measured when its features were made). Files already
    taken for upscales are left out: they were measured at another scale."""
    if features is None:
        return
    candidates = [i for i in indices if not facts[i].blurred]
    if len(candidates) < 2:
        return
    top = max(facts[i].real_pixels for i in candidates)
    alike = [i for i in candidates if facts[i].real_pixels >= top / LARGER ** 2]
    sharp = {}
    for i in alike:
        f = features(i)
        if f is not None and f.sharpness > 0:
            sharp[i] = f.sharpness
    for i, s in sharp.items():
        references = [t for j, t in sharp.items()
                      if j != i and facts[j].coarseness <= BLOCKY * max(facts[i].coarseness, 1.0)]
        if references and s < BLURRED * max(references):
            facts[i].blurred = True
