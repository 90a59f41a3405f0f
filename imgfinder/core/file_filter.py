"""Leave photos out by name pattern or size: the CLI's ``--exclude`` and ``--min-size``.

One ``FileFilter`` answers "is this photo left out, and why?" for the scanner (a left-out
file is counted in the scan's ``skipped``, by reason, and never indexed), for duplicate
search (left-out photos are in no group, so they are never kept nor moved) and for
similar search (never a result).

A pattern is a shell glob (``*``, ``?``, ``[abc]``; ``*`` also matches ``/``), matched
without regard to case against the file's name and full path, and the name and full path
of each folder above it: ``*.png`` leaves out every PNG, ``thumbnails`` or
``*/thumbnails/*`` everything below a folder called thumbnails, ``/media/usb/old``
everything below that folder (a path that is not absolute is taken from the current
folder, unless it starts with a wildcard).

Sizes are read the way the app prints them, in decimal units (``100k`` = 100,000 bytes,
``2MB`` = 2,000,000), or in binary units when they say so (``1KiB`` = 1024).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

EXCLUDED = "excluded"  # SKIP_REASONS keys (core.skip_reasons)
TOO_SMALL = "too_small"

_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3, "t": 1000**4, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``"100k"`` -> 100000, ``"1.5M"`` -> 1500000, ``"2MB"``, ``"1KiB"`` -> 1024, ``"5000"``
    -> 5000 bytes. ValueError (with the reason) for anything else."""
    found = _SIZE.fullmatch(text)
    unit = found.group(2).lower() if found else None
    if found is None or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (give e.g. 500000, 100k, 1.5M or 2MB)")
    value = float(found.group(1)) * _UNITS[unit]
    if value != int(value) and unit in ("", "b"):
        raise ValueError(f"not a whole number of bytes: {text!r}")
    return int(round(value))


def _pattern(text: str) -> str:
    """A pattern as it is matched: ``~`` expanded; one naming a path (it holds a ``/``)
    normalised, and taken from the current folder unless it starts with ``/`` or a wildcard."""
    text = os.path.expanduser(text)
    if os.sep in text or (os.altsep and os.altsep in text):
        if not (os.path.isabs(text) or text[0] in "*?["):
            text = os.path.abspath(text)
        text = os.path.normpath(text)
    return text


@dataclass
class FileFilter:
    """``excludes``: glob patterns; ``min_size``: bytes (files smaller are left out)."""

    excludes: Sequence[str] = ()
    min_size: int = 0
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False)
    _folders: dict[str, bool] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        patterns = [_pattern(p) for p in self.excludes if p]
        if patterns:
            # fnmatch.translate gives a regex matching the whole text; one alternation for all.
            self._regex = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns), re.IGNORECASE)

    def __bool__(self) -> bool:
        return self._regex is not None or self.min_size > 0

    def _matches(self, text: str) -> bool:
        assert self._regex is not None
        return self._regex.match(text) is not None

    def _folder_excluded(self, folder: str) -> bool:
        """Does a pattern match ``folder`` or a folder above it? (cached: many photos share one)"""
        known = self._folders.get(folder)
        if known is None:
            parent = os.path.dirname(folder)
            known = (self._matches(folder) or self._matches(os.path.basename(folder))
                     or (parent != folder and self._folder_excluded(parent)))
            if len(self._folders) > 100_000:
                self._folders.clear()
            self._folders[folder] = known
        return known

    def excluded(self, path: str) -> bool:
        """Does an exclude pattern match the photo at ``path`` (absolute)?"""
        if self._regex is None:
            return False
        return (self._matches(os.path.basename(path)) or self._matches(path)
                or self._folder_excluded(os.path.dirname(path)))

    def reason(self, path: str, size: int | None) -> str | None:
        """Why the photo at ``path`` of ``size`` bytes is left out (``EXCLUDED`` or
        ``TOO_SMALL``), or None if it is not."""
        if self.excluded(path):
            return EXCLUDED
        if self.min_size and size is not None and size < self.min_size:
            return TOO_SMALL
        return None

    __call__ = reason
