"""Counts in words: ``plural(1, "photo")`` is "1 photo", ``plural(2, "copy", "copies")``
is "2 copies". Every count the GUI shows goes through here."""

from __future__ import annotations


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``n`` with thousands separators and the noun in the right number."""
    word = singular if n == 1 else (plural_form if plural_form is not None else singular + "s")
    return f"{n:,} {word}"


def photos(n: int) -> str:
    return plural(n, "photo")
