"""Start the desktop app: ``run_gui`` (what ``imgfinder`` with no command calls).

The window is created and shown before anything loads the model; the embedder factory
is only called in a worker, and the real one loads TensorFlow lazily.

Nothing from Qt is imported at module level: ``run_gui`` first asks
``platform_check`` whether Qt can open a window here (a display, the system libraries
of the platform plugin, a valid ``QT_QPA_PLATFORM``), so that a missing one gives one
line on what to do and exit code 1, not an ImportError or Qt's abort.

``IMGFINDER_QUIT_AFTER_MS=N`` makes the app close its window by itself, the normal way
(settings saved, jobs shut down), once N milliseconds have passed and no job is running or
waiting: how a scripted check starts the desktop app, lets it do what its arguments asked
(index a folder, search for a photo) and ends it, e.g. ``packaging/build.sh`` on a frozen
build. On closing it prints what it did (:func:`session_report`) to stdout.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.embedding import Embedder
from .platform_check import platform_problem

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

APP_ID = "io.github.imgfinder.imgfinder"
"""The freedesktop.org application id: the .desktop file, the AppStream metainfo and the icons' names."""
QUIT_AFTER_ENV_VAR = "IMGFINDER_QUIT_AFTER_MS"


def quit_after_ms(env: dict[str, str] | None = None) -> int | None:
    """``IMGFINDER_QUIT_AFTER_MS`` as milliseconds (None: unset or empty, the app runs until
    closed); ValueError with a message if it is not a whole number >= 0."""
    value = (os.environ if env is None else env).get(QUIT_AFTER_ENV_VAR, "").strip()
    if not value:
        return None
    try:
        ms = int(value)
    except ValueError:
        ms = -1
    if ms < 0:
        raise ValueError(f"{QUIT_AFTER_ENV_VAR} must be a whole number of milliseconds, not {value!r}")
    return ms


def session_report(window: MainWindow) -> str:
    """What the app did, in one line: the library's size, the last indexing, the similar
    search and the status bar (several jobs may have ended in any order)."""
    count = window.library_view.model.rowCount()
    facts = [f"library: {count:,} photo{'' if count == 1 else 's'}"]
    summary = window.last_summary
    if summary is not None:
        facts.append(f"last indexing: {summary.added} added, {summary.updated} updated, {summary.unchanged} unchanged, "
                     f"{summary.removed} removed, {summary.failed} failed")
    if window.similar_view.query_path:
        facts.append(f"similar: {window.similar_view.title.full_text()}")
    facts.append(f"status: {window.status_label.full_text()}")
    return "; ".join(facts)


def close_when_idle(window: MainWindow, after_ms: int) -> None:
    """Close ``window`` once ``after_ms`` have passed and its jobs are done (checked every 100 ms)."""
    from PySide6.QtCore import QTimer

    timer = QTimer(window)
    timer.setInterval(100)

    def check() -> None:
        if window.runner.idle():
            timer.stop()
            print(f"imgfinder: closing by itself ({QUIT_AFTER_ENV_VAR}); {session_report(window)}", flush=True)
            window.close()

    timer.timeout.connect(check)
    QTimer.singleShot(after_ms, timer.start)


def default_factory() -> Embedder:
    from ..embedders import gui_embedder

    return gui_embedder()


def make_app(argv: list[str] | None = None) -> QApplication:
    from PySide6.QtWidgets import QApplication

    from .icons import app_icon

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("imgfinder")
    app.setOrganizationName("imgfinder")
    app.setDesktopFileName(APP_ID)  # matches the window to packaging/<APP_ID>.desktop (Wayland)
    app.setWindowIcon(app_icon())
    return app  # type: ignore[return-value]


def run_gui(
    data_dir: Path | None = None, embedder_factory: Callable[[], Embedder] | None = None,
    paths: Sequence[str | Path] | None = None,
) -> int:
    """Open the window; ``paths`` are handled as if dropped on it (folders are added and
    indexed, the first photo is searched for). Returns the exit code."""
    from ..core.library import default_data_dir

    try:
        quit_after = quit_after_ms()
    except ValueError as exc:
        print(f"imgfinder: error: {exc}", file=sys.stderr)
        return 1
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
    if paths:
        window.open_paths([str(Path(p).expanduser()) for p in paths])
    if quit_after is not None:
        close_when_idle(window, quit_after)
    return app.exec()
