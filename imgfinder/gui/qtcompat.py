"""Detect a PySide6 build that corrupts reference counts, before it crashes the app.

PySide6 6.12.0 on Python < 3.12 drops a reference to ``None`` on every call of a Qt
method returning void (and to ``True`` on every ``Signal.emit``). ``None`` and ``True``
are only immortal from Python 3.12, so on 3.11 the interpreter aborts a few minutes
into normal use ("none_dealloc: deallocating None") - typically while painting the grid.
``pyside_refcount_bug`` finds out in microseconds so the app can refuse to start with
a clear message instead of crashing later, and the test suite can say why it would fail.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QRect, __version__ as QT_VERSION  # noqa: N811

import PySide6


def pyside_refcount_bug(samples: int = 16) -> str | None:
    """A description of the bug if this PySide has it, else None."""
    rect = QRect(0, 0, 4, 4)
    before = sys.getrefcount(None)
    for _ in range(samples):
        rect.translate(1, 1)  # returns void
    lost = before - sys.getrefcount(None)
    if lost < samples // 2:
        return None
    return (
        f"PySide6 {PySide6.__version__} (Qt {QT_VERSION}) loses a reference to None on every Qt call "
        f"on Python {sys.version_info.major}.{sys.version_info.minor}, which crashes the app. Install "
        "another version, e.g.: pip install 'PySide6-Essentials>=6.6,<6.12'"
    )
