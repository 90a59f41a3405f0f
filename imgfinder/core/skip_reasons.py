"""Why files were left out of a scan on purpose, and how to say it in one line.

Kept apart from the scanner so a front end can word a summary without importing the
scanning code.
"""

from __future__ import annotations

# What ``scan`` counts in ``skipped`` (key -> what it means); folders are counted as
# folders (what is inside them is not walked).
SKIP_REASONS = {
    "hidden_folder": "hidden folders (name starting with '.'), not walked",
    "system_folder": "system, cache and trash folders, not walked",
    "appledouble": "macOS AppleDouble files ('._' + name), not photos",
    "not_a_photo": "files whose extension is not a photo's",
    "same_file": "another path (symlink or hard link) to a photo already found",
    "excluded": "photos matching an --exclude pattern",
    "too_small": "photos smaller than --min-size",
}

# The same, as short count nouns for one line of text (singular, plural).
_SKIP_NOUNS = {
    "hidden_folder": ("hidden folder", "hidden folders"),
    "system_folder": ("system folder", "system folders"),
    "appledouble": ("AppleDouble file", "AppleDouble files"),
    "not_a_photo": ("file that is not a photo", "files that are not photos"),
    "same_file": ("second path to a photo", "second paths to photos"),
    "excluded": ("excluded photo", "excluded photos"),
    "too_small": ("photo below the minimum size", "photos below the minimum size"),
}


def describe_skipped(skipped: dict[str, int]) -> str:
    """E.g. "left out 2 hidden folders, 1 AppleDouble file" ('' if nothing was), so a
    summary adds up to what is on disk."""
    parts = []
    for key, n in sorted(skipped.items(), key=lambda kv: list(_SKIP_NOUNS).index(kv[0]) if kv[0] in _SKIP_NOUNS else 99):
        if n:
            one, many = _SKIP_NOUNS.get(key, (key, key))
            parts.append(f"{n:,} {one if n == 1 else many}")
    return "left out " + ", ".join(parts) if parts else ""
