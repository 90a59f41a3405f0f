"""The error every reader of a photo raises when a file cannot be turned into pixels.

Its own module so the format readers (``formats``, ``raw``) and the decoder built on them
can all raise it without importing each other."""

from __future__ import annotations


class DecodeError(Exception):
    """A file could not be turned into pixels; ``reason`` is shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
