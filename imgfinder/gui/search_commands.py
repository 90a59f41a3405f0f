"""The main window's searches: find similar (a file, a dropped or pasted photo), and what
dropping folders or photos on the window does. A part of ``MainWindow`` (one of its bases),
kept apart from the window's layout."""

from __future__ import annotations

import os

from PySide6.QtGui import (
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
)
from PySide6.QtWidgets import (
    QFileDialog,
)

from ..core.formats import IMAGE_EXTENSIONS
from . import jobs
from .tabs import TAB_LIBRARY, TAB_SIMILAR
from .wording import plural

IMAGE_FILTER = f"Photos ({' '.join('*' + ext for ext in sorted(IMAGE_EXTENSIONS))});;All files (*)"


class SearchCommands:
    """Methods of ``MainWindow``: they use its widgets, engine, runner and settings."""

    # -- similar -------------------------------------------------------------------------------------
    _similar_path: str | None = None

    def find_similar_dialog(self) -> None:
        path = self.current_path() if self.tabs.currentIndex() in (TAB_LIBRARY, TAB_SIMILAR) else None
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Find photos similar to…", "", IMAGE_FILTER)
        if path:
            self.find_similar(path)

    def find_similar(self, path: str, k: int = 60) -> None:
        path = os.path.abspath(path)
        self._similar_path = path
        self.tabs.setCurrentIndex(TAB_SIMILAR)
        self.similar_view.set_searching(path)
        if self.indexing:
            self._status("Finding similar photos after the current indexing step…")

        def go() -> None:
            self.runner.submit("similar", lambda ctx: self.engine.similar(ctx, path, k))

        self.when_ready(go)

    def _done_similar(self, result) -> None:
        path, hits = result
        self.similar_view.set_results(path, hits)
        self._status(f"{plural(len(hits), 'similar photo')}")

    # -- drop and paste --------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        elif event.mimeData().hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()
        elif mime.hasImage():
            self._search_image(mime.imageData())
            event.acceptProposedAction()

    def open_paths(self, paths: list[str]) -> None:
        """Folders are added to the library; the first photo is searched for."""
        folders = [p for p in paths if os.path.isdir(p)]
        files = [p for p in paths if os.path.isfile(p)]
        if folders:
            self.add_folders(folders)
            self.tabs.setCurrentIndex(TAB_LIBRARY)
        if files:
            self.find_similar(files[0])

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return
        if mime.hasUrls():
            self.open_paths([u.toLocalFile() for u in mime.urls() if u.isLocalFile()])
        elif mime.hasImage():
            self._search_image(mime.imageData())

    def _search_image(self, image) -> None:
        folder = self.data_dir / "pasted"
        self.runner.submit("paste", lambda ctx: jobs.save_pasted(ctx, image, folder))

    def _done_paste(self, path: str) -> None:
        self.find_similar(path)
