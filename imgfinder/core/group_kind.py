"""What kind of duplicate group is this: exact copies, edited copies, or burst shots?

* ``exact``: every member has the same bytes (content hash).
* ``copies``: one photo, edited (resized, re-compressed, cropped, turned, recoloured):
  each member joined through a pair proven by matching detail (``core.copy_proof``), and
  nothing says two of them are two exposures. (With layouts only, ``local=False``: every
  pair lines up in ``core.layout``'s verifier and every member lines up *to the fine
  detail* with a member it joined; ``core.grouping`` explains why.)
* ``shots``: different exposures of one moment (a burst, a bracketed series): the
  smoothed layout lines up at the same framing, the fine detail does not, and the EXIF
  capture times are a few seconds apart at most.
* ``raw+jpeg``: copies that are one shot saved by the camera twice, as a RAW file and as
  a JPEG (or HEIC): a group of copies holding a RAW and another file, all with one name
  but the extension (IMG_0001.CR2, IMG_0001.JPG), or all with one capture time and one
  camera (files renamed on import). Their pixels line up like any copies' (the RAW is read
  from its embedded preview: ``core.raw``); the kind tells people why the "copy" is 10
  times larger, and ``duplicates.KeepPreference`` which of the two to keep.

Photos that are only alike (two shots of one product minutes apart) are neither and
never form a group.

Why these numbers (``benchmarks/group_kinds.py`` and the notes in the module's
constants): on 3,289 edited copies (the quality benchmark's 17 edits and random edit
chains, of 23 wallpapers and 120 grocery photos) the detail score of a copy was >= 0.85
for all 2,431 benchmark edits and for 3,272 of the 3,283 pairs that pass the layout
verifier; on all 10,126 pairs of different shots of one product in
``shared/multiview/grocery`` (hand-held, some a second apart) it never exceeded 0.80,
although 22 of those pairs pass the verifier's looser 0.65. The bound is 0.80, not 0.85:
a 90 % crop of a smooth dune photo (the end-to-end test) scores 0.843. The smoothed layout alone
cannot tell a burst from a shot taken minutes later from the same spot (in the grocery
set, pairs with a smoothed NCC >= 0.9 are as common between photos more than ten frames
apart as between neighbours), so ``shots`` needs capture times, and a photo without
an EXIF date is never called a shot.

Pure Python and numpy, no Qt.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .formats import format_of_name, is_raw_name
from .layout import Match
from .metadata import read_metadata

KIND_EXACT = "exact"
KIND_COPIES = "copies"
KIND_SHOTS = "shots"
KIND_RAW_JPEG = "raw+jpeg"
KINDS = (KIND_EXACT, KIND_COPIES, KIND_SHOTS, KIND_RAW_JPEG)
LABELS = {KIND_EXACT: "Exact copies", KIND_COPIES: "Edited copies", KIND_SHOTS: "Burst shots",
          KIND_RAW_JPEG: "RAW + JPEG"}
MEMBER_LABELS = {KIND_EXACT: "exact copy", KIND_COPIES: "edited copy", KIND_SHOTS: "other shot",
                 KIND_RAW_JPEG: "same shot"}

# A copy's fine detail lines up (band-pass NCC at the best alignment): stricter than the
# verifier's 0.65, which 22 pairs of different hand-held shots pass (best 0.80).
COPY_DETAIL_MIN = 0.80
COPY_LAYOUT_MIN = 0.85  # smoothed NCC, as the verifier
# Two exposures of one moment: the smoothed pictures line up at nearly the same framing
# (no big crop, no turn) ...
SHOTS_LAYOUT_MIN = 0.85
SHOTS_SCALE_MIN = 0.9
# ... and the camera says they were taken at most this many seconds apart.
SHOTS_SECONDS = 5.0


def is_copy_match(m: Match | None) -> bool:
    """Does the layout say "one picture, edited"? (None: no signature: the embedding's word.)"""
    return m is None or (m.score >= COPY_DETAIL_MIN and m.coarse >= COPY_LAYOUT_MIN)


def is_shots_match(m: Match | None) -> bool:
    """Does the layout fit two exposures of one moment (same framing, same orientation)?"""
    return (
        m is not None and m.coarse >= SHOTS_LAYOUT_MIN and m.scale >= SHOTS_SCALE_MIN
        and m.dihedral == 0
    )


def within_moment(a: float | None, b: float | None) -> bool:
    """Both capture times known and at most SHOTS_SECONDS apart."""
    return a is not None and b is not None and abs(a - b) <= SHOTS_SECONDS


def two_exposures(a: float | None, b: float | None) -> bool:
    """Capture times that prove two exposures of one moment: known, different, close."""
    return within_moment(a, b) and a != b


def parse_taken(text: str | None) -> float | None:
    """"YYYY-MM-DD HH:MM:SS" (``PhotoInfo.date_taken``) -> seconds (naive, comparable)."""
    if not text or len(text) < 19:
        return None
    try:
        return time.mktime(time.strptime(text[:19], "%Y-%m-%d %H:%M:%S"))
    except (ValueError, OverflowError):
        return None


def capture_time(path: str) -> float | None:
    """EXIF date taken of ``path`` in seconds (a header read), None when it has none."""
    return parse_taken(read_metadata(path).date_taken)


@dataclass
class KindJudge:
    """Answers the pair questions of the grouping from the verifier's matches and the
    photos' capture times (each found once, lazily, only for photos a question needs).

    ``match(i, j)`` is ``LayoutVerifier.match`` (or None when there are no layouts);
    ``paths[i]`` is row i's file; ``dates`` holds the date taken the catalog stored for
    row i when it was indexed (None: the photo has none). A row missing from ``dates``
    (indexed before the catalog kept EXIF facts) has its file's header read instead.
    """

    paths: Sequence[str]
    match: object = None  # Callable[[int, int], Match | None] | None
    dates: Mapping[int, str | None] | None = None
    _times: dict[int, float | None] | None = None
    _cameras: dict[int, str | None] | None = None

    def time_of(self, i: int) -> float | None:
        if self._times is None:
            self._times = {}
        if i not in self._times:
            if self.dates is not None and i in self.dates:
                self._times[i] = parse_taken(self.dates[i])
            else:
                self._times[i] = capture_time(self.paths[i])
        return self._times[i]

    def _match(self, i: int, j: int) -> Match | None:
        return self.match(i, j) if self.match is not None else None

    def not_two_exposures(self, i: int, j: int) -> bool:
        """Nothing in the EXIF says i and j are two exposures (asked of every pair of a
        copies group, with the layout check; ``copy_pair`` of one pair at least)."""
        return not two_exposures(self.time_of(i), self.time_of(j))

    def copy_pair(self, i: int, j: int) -> bool:
        """i and j are one picture: the fine detail lines up and the camera does not say
        they are two exposures (a still burst on a tripod lines up too)."""
        if not is_copy_match(self._match(i, j)):
            return False
        return not two_exposures(self.time_of(i), self.time_of(j))

    def camera_of(self, i: int) -> str | None:
        """The camera (EXIF make and model) of row i's photo, read once."""
        if self._cameras is None:
            self._cameras = {}
        if i not in self._cameras:
            self._cameras[i] = read_metadata(self.paths[i]).camera
        return self._cameras[i]

    def one_shot_raw_and_jpeg(self, rows: Sequence[int]) -> bool:
        """Are these copies one shot the camera saved as RAW and as JPEG (``KIND_RAW_JPEG``)?
        One name but the extension, or else one capture time and one camera."""
        paths = [self.paths[i] for i in rows]
        if not mixes_raw_and_other(paths):
            return False
        if same_name_but_extension(paths):
            return True
        times = {self.time_of(i) for i in rows}
        if None in times or len(times) != 1:
            return False
        cameras = {self.camera_of(i) for i in rows}
        return None not in cameras and len(cameras) == 1

    def shots_pair(self, i: int, j: int) -> bool:
        """i and j are two exposures of one moment: taken seconds apart (EXIF, both) and
        the same framing, and not copies of one picture."""
        if not within_moment(self.time_of(i), self.time_of(j)):
            return False
        m = self._match(i, j)
        if not is_shots_match(m):
            return False
        # Copies with the same date are copies (pass 1 groups them), not shots.
        return not (is_copy_match(m) and not two_exposures(self.time_of(i), self.time_of(j)))


def member_label(kind: str, path: str, exact: bool = False) -> str:
    """What a member of a group of ``kind`` is, in words: in a RAW + JPEG pair, "RAW of the
    pair" or "JPEG of the pair" (or HEIC ...), else ``MEMBER_LABELS``."""
    if exact:
        return MEMBER_LABELS[KIND_EXACT]
    if kind == KIND_RAW_JPEG:
        fmt = format_of_name(path)
        return f"{'RAW' if is_raw_name(path) else (fmt.name if fmt else 'copy')} of the pair"
    return MEMBER_LABELS.get(kind, "near-duplicate")


def mixes_raw_and_other(paths: Sequence[str]) -> bool:
    """At least one RAW file and one that is not."""
    raw = [is_raw_name(p) for p in paths]
    return any(raw) and not all(raw)


def same_name_but_extension(paths: Sequence[str]) -> bool:
    """IMG_0001.CR2 and IMG_0001.JPG (case aside): how a camera names the two files of a shot."""
    return len({os.path.splitext(os.path.basename(p))[0].casefold() for p in paths}) == 1


def kind_after_removal(kind: str, hashes: Sequence[str | None], paths: Sequence[str]) -> str:
    """The kind of a group once some members are gone (moved or trashed): shots stay
    shots, a RAW + JPEG pair stays one while it holds a RAW and another file."""
    if kind == KIND_SHOTS:
        return kind
    base = group_kind(hashes)
    if kind == KIND_RAW_JPEG and base == KIND_COPIES and mixes_raw_and_other(paths):
        return KIND_RAW_JPEG
    return base


def group_kind(hashes: Sequence[str | None], shots: bool = False) -> str:
    """The kind of a group of files with these content hashes."""
    if shots:
        return KIND_SHOTS
    if hashes and hashes[0] is not None and all(h == hashes[0] for h in hashes):
        return KIND_EXACT
    return KIND_COPIES
