"""Start the desktop app: ``run_gui`` (what ``imgfinder`` with no command calls).

The window is created and shown before anything loads the model; the embedder factory
is only called in a worker, and the real one loads TensorFlow lazily.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QApplication

from ..core.embedding import Embedder
from .icons import app_icon
from .main_window import MainWindow


def default_factory() -> Embedder:
    from ..embedders import gui_embedder

    return gui_embedder()


def make_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("imgfinder")
    app.setOrganizationName("imgfinder")
    app.setDesktopFileName("imgfinder")
    app.setWindowIcon(app_icon())
    return app  # type: ignore[return-value]


def run_gui(data_dir: Path | None = None, embedder_factory: Callable[[], Embedder] | None = None) -> int:
    from ..core.library import default_data_dir
    from .qtcompat import pyside_refcount_bug

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    ):
        print("imgfinder: error: no display to open the window on (DISPLAY is not set); "
              "use the command line ('imgfinder --help') or run it under a desktop session", file=sys.stderr)
        return 1
    problem = pyside_refcount_bug()
    if problem:
        print(f"imgfinder: error: {problem}", file=sys.stderr)
        return 1
    app = make_app()
    window = MainWindow(Path(data_dir) if data_dir else default_data_dir(), embedder_factory or default_factory)
    window.show()
    return app.exec()
