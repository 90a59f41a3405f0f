"""The main window: wires views, actions and background jobs together.

Every slow step (opening the catalog, listing rows, indexing, similar search, duplicate
search, file moves, metadata, images) is submitted to the ``TaskRunner``; this class only
reacts to results on the GUI thread. The embedder comes from an injected factory, so
the window appears before any model (TensorFlow) is loaded and tests use a fake.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QModelIndex, QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolBar,
)

from ..core.embedding import Embedder
from ..core.indexer import IndexSummary
from ..core.thumbnails import ThumbnailCache
from . import dialogs, jobs
from .about import AboutDialog
from .compare_view import CompareDialog
from .details_panel import DetailsPanel
from .duplicate_commands import DuplicateCommands
from .duplicates_view import DuplicatesView
from .file_commands import FileCommands
from .icons import app_icon, icon
from .library_commands import LibraryCommands
from .library_view import LibraryView
from .models import PathRole, RowRole
from .problems_view import ProblemsView
from .search_commands import SearchCommands
from .settings import AppSettings
from .similar_view import SimilarView
from .tabs import TAB_DUPLICATES, TAB_LIBRARY, TAB_PROBLEMS, TAB_SIMILAR  # noqa: F401 - TAB_*: for callers
from .widgets import ElidedLabel, LabelsWhenRoom, PhotoGrid
from .wording import photos, plural
from .workers import TaskRunner, ThumbnailLoader

STAGE_TEXT = {
    "scan": "Looking for photos",
    "index": "Indexing",
    "build index": "Building the similarity index",
    "duplicates": "Comparing photos",
    "verify": "Checking candidate pairs",
}
DETAILS_SHARE = 0.25  # of the window's width, at most, for the details panel


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d} left" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d} left"


class MainWindow(LibraryCommands, SearchCommands, DuplicateCommands, FileCommands, QMainWindow):
    job_done = Signal(str)  # kind; emitted after a job's result was shown (tests wait on it)

    def __init__(self, data_dir: Path, embedder_factory: Callable[[], Embedder], autostart: bool = True) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self.settings = AppSettings(self.data_dir)
        self.engine = jobs.Engine(self.data_dir, embedder_factory)
        self.runner = TaskRunner(self, max_threads=4)
        self.thumbs = ThumbnailLoader(ThumbnailCache(self.data_dir), threads=2, parent=self)
        self.ready = False
        self.indexing = False
        self._deferred: list[Callable[[], None]] = []
        self.finder = None
        self.hidden: set[str] = set()
        self.last_summary: IndexSummary | None = None
        self.compare_dialog: CompareDialog | None = None
        self.preview_dialog: dialogs.PreviewDialog | None = None
        self.about_dialog: AboutDialog | None = None
        self.model_id: str | None = None
        self.duplicates_searched = False  # a search ran, so the Duplicates tab shows its results
        self._changes_since_search = {"added": 0, "changed": 0, "removed": 0}
        self._forgetting: list[str] = []
        self._build_ui()
        self._build_actions()
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.catalog_damaged.connect(self._catalog_damaged)
        self._repair_offered = False
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.progress.connect(self._on_progress)
        self._rows_timer = QTimer(self)
        self._rows_timer.setInterval(1000)
        self._rows_timer.timeout.connect(self.reload_rows)
        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        if autostart:
            QTimer.singleShot(0, self.start)

    # -- UI ----------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.setWindowTitle("imgfinder")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        side = self.settings.thumb_size
        self.library_view = LibraryView(self.thumbs, side, self.settings.sort_key)
        self.similar_view = SimilarView(self.thumbs, side)
        self.duplicates_view = DuplicatesView(self.thumbs, self.settings.threshold)
        self.duplicates_view.set_keep_preference(self.settings.keep_preference)
        self.problems_view = ProblemsView()
        self.details = DetailsPanel(self.thumbs)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.library_view, icon("library"), "Library")
        self.tabs.addTab(self.similar_view, icon("similar"), "Similar")
        self.tabs.addTab(self.duplicates_view, icon("duplicates"), "Duplicates")
        self.tabs.addTab(self.problems_view, icon("problem"), "Problems")
        self.tabs.currentChanged.connect(self._tab_changed)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tabs)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([960, 300])
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        self.setCentralWidget(splitter)
        # Status bar: what runs, how far, how fast, how long; and Cancel.
        self.status_label = ElidedLabel("Starting…", Qt.TextElideMode.ElideRight)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFixedWidth(220)
        self.progress_bar.setVisible(False)
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_jobs)
        bar = self.statusBar()
        bar.addWidget(self.status_label, 1)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)
        # View signals.
        for grid in (self.library_view.grid, self.similar_view.grid):
            grid.selectionModel().currentChanged.connect(lambda *_: self._update_details())
            grid.selectionModel().selectionChanged.connect(lambda *_: self._update_details())
            grid.preview_requested.connect(self.preview_current)
            grid.doubleClicked.connect(lambda _: self.preview_current())
            grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            grid.customContextMenuRequested.connect(lambda pos, g=grid: self._grid_menu(g, pos))
        self.library_view.model.modelReset.connect(self._update_details)
        self.similar_view.model.modelReset.connect(self._update_details)
        self.library_view.sort_changed.connect(self._sort_changed)
        self.library_view.add_folder_requested.connect(self.add_folder_dialog)
        self.library_view.thumb_size_changed.connect(self._thumb_size_changed)
        dv = self.duplicates_view
        dv.tree.selectionModel().currentChanged.connect(lambda *_: self._update_details())
        dv.tree.selectionModel().selectionChanged.connect(lambda *_: self._update_details())
        dv.threshold_changed.connect(self._threshold_changed)
        dv.keep_changed.connect(self._keep_changed)
        dv.find_requested.connect(self.find_duplicates)
        dv.compare_requested.connect(self.compare)
        dv.not_duplicates_requested.connect(self.not_duplicate_pairs)
        dv.trash_requested.connect(self.trash_selection)
        dv.move_requested.connect(self.move_selection)
        dv.link_requested.connect(self.link_selection)
        dv.dates_wanted.connect(self.read_dates)
        dv.undo_requested.connect(self.undo)
        dv.export_requested.connect(self.export_groups)
        self.details.find_similar_requested.connect(self.find_similar)
        self.details.show_in_folder_requested.connect(self.show_in_folder)
        self.problems_view.show_folder_requested.connect(self.show_in_folder)
        self.problems_view.trash_requested.connect(self.trash_problem_files)

    def _action(self, text: str, slot, shortcut=None, icon_name: str | None = None, tip: str = "") -> QAction:
        act = QAction(icon(icon_name) if icon_name else QAction().icon(), text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setToolTip(tip)
            act.setStatusTip(tip)
        act.triggered.connect(lambda checked=False: slot())
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.act_add = self._action("Add folder…", self.add_folder_dialog, K.Open, "folder-add", "Add a photo folder to the library (Ctrl+O)")
        self.act_folders = self._action("Manage folders…", self.manage_folders, None, "folders")
        self.act_rescan = self._action("Rescan folders", self.rescan, "F5", "rescan", "Look for new or changed photos (F5)")
        self.act_similar = self._action("Find similar…", self.find_similar_dialog, K.Find, "similar",
                                        "Find photos similar to the selected one, or pick a photo (Ctrl+F)")
        self.act_duplicates = self._action("Find duplicates", self.find_duplicates, "Ctrl+D", "duplicates",
                                           "Group duplicate and near-duplicate photos (Ctrl+D)")
        self.act_compare = self._action("Compare", lambda: self.duplicates_view._emit_compare(), "Ctrl+K", "compare")
        self.act_trash = self._action("Move selection to trash…", self.trash_selection, K.Delete, "trash")
        self.act_move = self._action("Move selection to folder…", self.move_selection, "Ctrl+M", "move")
        self.act_link = self._action("Replace selection with hard links…", self.link_selection, "Ctrl+L", "link",
                                     "Replace the selected byte-identical copies by hard links to the copy kept")
        self.act_undo = self._action("Undo last move", self.undo, K.Undo, "undo", "Put back the last photos moved (Ctrl+Z)")
        self.act_paste = self._action("Paste photo", self.paste, K.Paste, None)
        self.act_export = self._action("Export groups…", self.export_groups, "Ctrl+E", "export")
        self.act_preview = self._action("Preview", self.preview_current, "Space", None)
        self.act_cancel = self._action("Cancel", self.cancel_jobs, None, "cancel")
        self.act_quit = self._action("Quit", self.close, K.Quit, None)
        self.act_about = self._action("About imgfinder", self.show_about, None, None,
                                      "Version, model, licences and where the library is stored")
        menus = self.menuBar()
        m = menus.addMenu("&File")
        for a in (self.act_add, self.act_folders, self.act_rescan, None, self.act_export, None, self.act_quit):
            m.addSeparator() if a is None else m.addAction(a)
        m = menus.addMenu("&Edit")
        for a in (self.act_undo, None, self.act_paste, None, self.act_trash, self.act_move, self.act_link):
            m.addSeparator() if a is None else m.addAction(a)
        m = menus.addMenu("F&ind")
        for a in (self.act_similar, self.act_duplicates, self.act_compare, None, self.act_cancel):
            m.addSeparator() if a is None else m.addAction(a)
        m = menus.addMenu("&View")
        for n, name in enumerate(("Library", "Similar", "Duplicates", "Problems")):
            a = self._action(name, lambda n=n: self.tabs.setCurrentIndex(n), f"Ctrl+{n + 1}")
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.act_preview)
        m = menus.addMenu("&Help")
        m.addAction(self.act_about)
        tb = QToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setIconSize(QSize(20, 20))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.act_add, self.act_rescan, None, self.act_similar, self.act_duplicates, None, self.act_undo):
            tb.addSeparator() if a is None else tb.addAction(a)
        self.addToolBar(tb)
        self.toolbar_fit = LabelsWhenRoom(tb, keep_longest=[self.act_add, self.act_duplicates])
        self.act_undo.setEnabled(True)

    # -- startup and shutdown -------------------------------------------------------------------
    def start(self) -> None:
        """Open the catalog in a worker; the window is already on screen."""
        self._status("Opening the library…")
        self.runner.submit("open", self.engine.open)

    def when_ready(self, fn: Callable[[], None]) -> None:
        if self.ready:
            fn()
        else:
            self._deferred.append(fn)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.set_geometry(self.saveGeometry(), self.saveState())
        self.settings.thumb_size = self.library_view.size_slider.value()
        self.settings.threshold = self.duplicates_view.threshold()
        self.settings.sort_key = self.library_view.sort_key()
        self.settings.sync()
        self._rows_timer.stop()
        for dlg in (self.compare_dialog, self.preview_dialog, self.about_dialog):
            if dlg is not None:
                dlg.close()
        self.runner.shutdown()
        self.thumbs.shutdown()
        self.engine.close()
        super().closeEvent(event)

    # -- job results ------------------------------------------------------------------------------
    @Slot(str, object)
    def _on_finished(self, kind: str, result: object) -> None:
        handler = getattr(self, f"_done_{kind}", None)
        if handler is not None:
            handler(result)
        self.job_done.emit(kind)

    @Slot(str, str)
    def _on_failed(self, kind: str, message: str) -> None:
        if kind == "similar":
            self.similar_view.set_error(self._similar_path or "", message)
        if kind in ("index", "duplicates"):
            self._end_progress()
        if kind == "duplicates":
            self.duplicates_view.search_stopped(f"The search failed: {message}")
        if kind == "index":
            self.indexing = False
            self._rows_timer.stop()
        if kind == "open" and not self._repair_offered:
            QMessageBox.critical(self, "Cannot open the library", message)
        self._status(f"{kind} failed: {message}")
        self.job_done.emit(kind)

    @Slot(str)
    def _on_cancelled(self, kind: str) -> None:
        if kind in ("index", "duplicates"):
            self._end_progress()
            self._status(f"{'Indexing' if kind == 'index' else 'Duplicate search'} cancelled")
        if kind == "duplicates" and not self.runner.busy("duplicates"):
            self.duplicates_view.search_stopped("The search was cancelled")
        if kind == "index":
            self.indexing = False
            self._rows_timer.stop()
            self.reload_rows()
        self.job_done.emit(kind)

    @Slot(str, object)
    def _on_progress(self, kind: str, info: jobs.ProgressInfo) -> None:
        if kind not in ("index", "duplicates"):
            return
        self.progress_bar.setVisible(True)
        self.cancel_button.setVisible(True)
        if info.total:
            self.progress_bar.setRange(0, info.total)
            self.progress_bar.setValue(info.done)
        else:
            self.progress_bar.setRange(0, 0)
        text = STAGE_TEXT.get(info.stage, info.stage)
        if info.stage == "scan":
            text += f"… {info.done:,} found" if info.done else "…"
        elif info.stage in ("index", "duplicates", "verify") and info.total:
            text += f" {info.done:,} / {plural(info.total, 'pair' if info.stage == 'verify' else 'photo')}"
            if info.done and info.stage == "index":
                text += f" · {info.rate:.1f} photos/s · {_fmt_eta(info.eta)}"
        else:
            text += "…"
        self._status(text)

    def _end_progress(self) -> None:
        self.progress_bar.setVisible(False)
        self.cancel_button.setVisible(False)

    def _status(self, text: str) -> None:
        self.status_label.set_full_text(text)

    def _done_open(self, count: int) -> None:
        self.ready = True
        self._status(f"{photos(count)} in the library" if count else "Add a photo folder to start (Ctrl+O)")
        recovery = self.engine.recovery
        if recovery:
            settled = len(recovery.finished) + len(recovery.rolled_back)
            self._status(f"An interrupted clean-up was settled: {photos(settled)} back in place or in the undo log"
                         " (Undo puts them back)")
        self.reload_rows()
        self.reload_problems()
        if self.settings.folders:
            self.start_indexing()
        self.runner.submit("warmup", self.engine.warm_up)
        deferred, self._deferred = self._deferred, []
        for fn in deferred:
            fn()

    @Slot(str)
    def _catalog_damaged(self, message: str) -> None:
        """Offer once to rebuild a damaged catalog; the rebuild runs in a worker."""
        if self._repair_offered:
            return
        self._repair_offered = True
        self.ready = False
        if dialogs.ask_rebuild_catalog(self, message):
            self._status("Rebuilding the catalog…")
            self.runner.submit("repair", self.engine.repair)
        else:
            self._status("The catalog is damaged: restart imgfinder to rebuild it (or run 'imgfinder repair')")

    def _done_repair(self, result) -> None:
        report, count = result
        self._repair_offered = False
        self._done_open(count)
        if report.damaged and not self.indexing:
            kept = report.kept[0].name if report.kept else ""
            self._status(f"New catalog made (the damaged one is kept as {kept}): add your photo folders again (Ctrl+O)")

    def _done_warmup(self, model_id: str) -> None:
        self.model_id = model_id or self.model_id

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """The details panel takes at most DETAILS_SHARE of a narrow window (300 px of a
        900 px one left the duplicates table its Size and Folder behind a scroll bar)."""
        super().resizeEvent(event)
        self._cap_details()

    def _cap_details(self) -> None:
        sizes = self.splitter.sizes()
        if len(sizes) == 2 and sizes[1] > 0:
            total = sum(sizes)
            cap = max(self.details.minimumWidth(), int(total * DETAILS_SHARE))
            if sizes[1] > cap:
                self.splitter.setSizes([total - cap, cap])

    def _tab_changed(self, index: int) -> None:
        # The Problems tab lists files that could not be read: no photo to show details of,
        # and its reasons want the width.
        self.details.setVisible(index != TAB_PROBLEMS)
        QTimer.singleShot(0, self._cap_details)  # shown again at the width it had in a larger window
        self._update_details()
        if index == TAB_DUPLICATES and self.duplicates_view.is_stale() and not self.runner.busy("duplicates"):
            self.find_duplicates()  # the user comes back to results the library outgrew

    # -- details, preview ---------------------------------------------------------------------------
    @staticmethod
    def _selected_index(grid: PhotoGrid) -> QModelIndex:
        """The current item if it is selected, else the first selected one, else none: what
        the user sees highlighted (a current item the user deselected does not count)."""
        selection = grid.selectionModel()
        current = grid.currentIndex()
        if current.isValid() and selection.isSelected(current):
            return current
        chosen = selection.selectedIndexes()
        return min(chosen, key=lambda ix: ix.row()) if chosen else QModelIndex()

    def current_path(self) -> str | None:
        tab = self.tabs.currentIndex()
        if tab == TAB_LIBRARY:
            return self._selected_index(self.library_view.grid).data(PathRole)
        if tab == TAB_SIMILAR:
            return self._selected_index(self.similar_view.grid).data(PathRole)
        if tab == TAB_DUPLICATES:
            return self.duplicates_view.current_path()
        return None

    def _update_details(self) -> None:
        tab = self.tabs.currentIndex()
        row = None
        if tab == TAB_LIBRARY:
            row = self._selected_index(self.library_view.grid).data(RowRole)
        elif tab == TAB_SIMILAR:
            row = self._selected_index(self.similar_view.grid).data(RowRole)
        elif tab == TAB_DUPLICATES:
            pair = None
            path = self.duplicates_view.current_path()
            if path:
                pair = next((m for g in self.duplicates_view.groups for m in g.members if m.row.path == path), None)
            row = pair.row if pair else None
        if row is not None and row.path == self.details.path:
            return
        self.details.show_row(row)
        if row is not None:
            path = row.path
            self.runner.submit("details", lambda ctx: jobs.details(ctx, path))

    def _done_details(self, info) -> None:
        self.details.show_info(info)

    def preview_current(self) -> None:
        path = self.current_path()
        if not path:
            return
        if self.preview_dialog is not None:
            self.preview_dialog.close()
        self.preview_dialog = dialogs.PreviewDialog(path, self)
        self.preview_dialog.show()
        self.runner.submit("preview", lambda ctx: jobs.preview(ctx, path))

    def _done_preview(self, result) -> None:
        path, image, error = result
        if self.preview_dialog is not None and self.preview_dialog.windowTitle() == path:
            self.preview_dialog.set_image(image, error)

    def _grid_menu(self, grid: PhotoGrid, pos) -> None:
        path = grid.indexAt(pos).data(PathRole)
        if not path:
            return
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addAction(icon("similar"), "Find similar", lambda: self.find_similar(path))
        menu.addAction("Preview", self.preview_current)
        menu.addAction("Show in folder", lambda: self.show_in_folder(path))
        menu.addSeparator()
        menu.addAction(icon("trash"), "Move to trash…", self.trash_selection)
        menu.popup(grid.viewport().mapToGlobal(pos))  # no nested event loop: work results keep arriving

    # -- help ----------------------------------------------------------------------------------------
    def show_about(self) -> None:
        """The About box (not modal): version, model, licences and the data folder."""
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(self.data_dir, self)
            self.about_dialog.open_folder_requested.connect(
                lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.data_dir))))
        self.about_dialog.set_model_id(self.model_id)
        self.about_dialog.show()
        self.about_dialog.raise_()
        if self.model_id is None:  # reading it hashes the weight files: a worker's job
            self.when_ready(lambda: self.runner.submit("about", lambda ctx: self.engine.model_id()))

    def _done_about(self, model_id: str) -> None:
        self.model_id = model_id
        if self.about_dialog is not None:
            self.about_dialog.set_model_id(model_id)
