"""Start the desktop app: ``run_gui`` (what ``imgfinder`` with no command calls).

The window is created and shown before anything loads the model; the embedder factory
is only called in a worker, and the real one loads TensorFlow lazily.

Nothing from Qt is imported at module level: ``run_gui`` first asks
``platform_check`` whether Qt can open a window here (a display, the system libraries
of the platform plugin, a valid ``QT_QPA_PLATFORM``), so that a missing one gives one
line on what to do and exit code 1, not an ImportError or Qt's abort.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.embedding import Embedder
from .platform_check import platform_problem

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication


def default_factory() -> Embedder:
    from ..embedders import gui_embedder

    return gui_embedder()


def make_app(argv: list[str] | None = None) -> QApplication:
    from PySide6.QtWidgets import QApplication

    from .icons import app_icon

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("imgfinder")
    app.setOrganizationName("imgfinder")
    app.setDesktopFileName("imgfinder")
    app.setWindowIcon(app_icon())
    return app  # type: ignore[return-value]


def run_gui(data_dir: Path | None = None, embedder_factory: Callable[[], Embedder] | None = None) -> int:
    from ..core.library import default_data_dir

    try:
        problem = platform_problem()
    except Exception:  # noqa: BLE001 - a check that breaks must never keep the app from starting
        problem = None
    if problem:
        print(f"imgfinder: error: {problem}", file=sys.stderr)
        return 1
    from .qtcompat import pyside_refcount_bug

    problem = pyside_refcount_bug()
    if problem:
        print(f"imgfinder: error: {problem}", file=sys.stderr)
        return 1
    from .main_window import MainWindow

    app = make_app()
    window = MainWindow(Path(data_dir) if data_dir else default_data_dir(), embedder_factory or default_factory)
    window.show()
    return app.exec()
