"""Helpers shared by the GUI tests."""

from __future__ import annotations

from pathlib import Path


def index_and_wait(qtbot, window, folder: Path) -> None:
    """Add ``folder`` to the window's library and wait until it is indexed and listed."""
    with qtbot.waitSignal(window.job_done, timeout=60_000, check_params_cb=lambda k: k == "index"):
        window.add_folders([str(folder)])
    qtbot.waitUntil(lambda: not window.runner.busy("rows") and not window.indexing, timeout=10_000)
