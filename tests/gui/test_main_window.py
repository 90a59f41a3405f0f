"""End-to-end GUI tests on real photos (fake embedder): index, drop, duplicates, trash
and undo, cancel and resume, and no blocking work on the GUI thread."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from gui_helpers import index_and_wait
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from imgfinder.gui.main_window import TAB_DUPLICATES, TAB_SIMILAR

pytestmark = [pytest.mark.timeout(120), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def drop_files(window, paths: list[Path]) -> None:
    """What the file manager does: drag enter (accepted), then drop, with file URLs."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted()


def grid_paths(model) -> list[str]:
    return [model.row_at(i).path for i in range(model.rowCount())]


def test_index_drop_similar_duplicates_trash_undo(qtbot, make_window, gui_photos: Path, tmp_path: Path) -> None:
    window = make_window()
    index_and_wait(qtbot, window, gui_photos)
    paths = grid_paths(window.library_view.model)
    assert len(paths) == 15  # 12 + exact copy + resized + cropped; the broken file is not in the grid
    qtbot.waitUntil(lambda: window.problems_view.count() == 1, timeout=5000)
    assert "broken.jpg" in window.problems_view.table.item(0, 0).text()

    # Drop a photo from "the file manager": ranked similar photos with percentages.
    query = gui_photos / "sub" / "second_small.jpg"
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "similar"):
        drop_files(window, [query])
    assert window.tabs.currentIndex() == TAB_SIMILAR
    model = window.similar_view.model
    assert model.rowCount() > 3
    first = model.row_at(0).path
    scores = [model.index(i, 0).data(Qt.ItemDataRole.UserRole + 3) for i in range(model.rowCount())]
    assert Path(first).name == sorted(gui_photos.glob("*.jpg"))[1].name or first.endswith(Path(first).name)
    assert scores[0] > 0.98 and scores == sorted(scores, reverse=True)
    assert str(query) not in grid_paths(model)
    assert "%" in window.similar_view.title.full_text()

    # Find duplicates: the exact copy and the resized and cropped copies group with their originals.
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
        window.act_duplicates.trigger()
    assert window.tabs.currentIndex() == TAB_DUPLICATES
    dv = window.duplicates_view
    names = sorted(sorted(Path(m.row.path).name for m in g.members) for g in dv.groups)
    assert sorted(["copy_of_first.jpg", paths_name(gui_photos, 0)]) in names
    assert any("second_small.jpg" in n for n in names)
    exact = [g for g in dv.groups if g.all_exact]
    assert len(exact) == 1
    for g in dv.groups:  # the keeper is the best copy (resolution, then size)
        assert (g.keeper.row.width or 0) * (g.keeper.row.height or 0) >= max((m.row.width or 0) * (m.row.height or 0) for m in g.members)

    # The slider regroups without re-embedding: 100% keeps only exact copies.
    embedder = window.engine.lib.embedder
    calls = embedder.calls
    with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "regroup"):
        dv.slider.setValue(1000)
    assert all(g.all_exact for g in dv.groups) and len(dv.groups) == 1
    with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "regroup"):
        dv.slider.setValue(900)
    assert len(dv.groups) >= 2 and embedder.calls == calls

    # Select all but the best, trash (confirmed with count and bytes), check the disk, undo.
    dv.select_all_but_best()
    chosen = dv.checked_paths()
    assert chosen and not any(g.keeper.row.path in chosen for g in dv.groups)
    total = sum(os.path.getsize(p) for p in chosen)
    with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "files"):
        window.act_trash.trigger()
    assert window.confirmations[-1] == ("Move to trash", len(chosen), total, None)
    trash = tmp_path / "xdg" / "Trash"
    assert all(not os.path.exists(p) for p in chosen)
    assert sorted(p.name for p in (trash / "files").iterdir()) == sorted(Path(p).name for p in chosen)
    qtbot.waitUntil(lambda: not window.runner.busy("regroup") and not window.runner.busy("rows"), timeout=5000)
    assert not any(m.row.path in chosen for g in dv.groups for m in g.members)
    qtbot.waitUntil(lambda: len(grid_paths(window.library_view.model)) == 15 - len(chosen), timeout=5000)
    with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "files"):
        window.act_undo.trigger()
    assert all(os.path.exists(p) for p in chosen) and not list((trash / "files").iterdir())
    qtbot.waitUntil(lambda: len(grid_paths(window.library_view.model)) == 15, timeout=5000)


def test_drop_folder_indexes_it_and_find_similar_on_a_grid_item(qtbot, make_window, gui_photos: Path) -> None:
    window = make_window()
    with qtbot.waitSignal(window.job_done, timeout=60_000, check_params_cb=lambda k: k == "index"):
        drop_files(window, [gui_photos])
    assert window.settings.folders == [str(gui_photos)]
    qtbot.waitUntil(lambda: window.library_view.model.rowCount() == 15, timeout=10_000)
    grid = window.library_view.grid
    grid.setCurrentIndex(window.library_view.model.index(3, 0))
    chosen = window.library_view.model.row_at(3).path
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "similar"):
        window.act_similar.trigger()  # Ctrl+F on the selected photo
    assert window.similar_view.query_path == chosen
    assert chosen not in grid_paths(window.similar_view.model)
    assert window.similar_view.model.rowCount() > 0


def test_removing_a_folder_forgets_its_photos(qtbot, make_window, gui_photos: Path) -> None:
    window = make_window()
    before = sorted(gui_photos.iterdir())
    with qtbot.waitSignal(window.job_done, timeout=60_000, check_params_cb=lambda k: k == "index"):
        drop_files(window, [gui_photos])
    qtbot.waitUntil(lambda: window.library_view.model.rowCount() == 15, timeout=10_000)
    window.settings.folders = []  # what Manage folders does when the folder is removed
    with qtbot.waitSignal(window.job_done, timeout=60_000, check_params_cb=lambda k: k == "index"):
        window.start_indexing(forget=[str(gui_photos)])
    qtbot.waitUntil(lambda: window.library_view.model.rowCount() == 0, timeout=10_000)
    assert window.engine.lib.catalog.count() == 0
    assert sorted(gui_photos.iterdir()) == before  # the photos themselves stay


def paths_name(folder: Path, i: int) -> str:
    return sorted(p.name for p in folder.glob("*.jpg") if not p.name.startswith(("copy_", "broken")))[i]


def test_reference_folder_is_never_selected_nor_moved(qtbot, make_window, gui_photos: Path) -> None:
    window = make_window()
    window.settings.reference_folders = [str(gui_photos / "sub")]
    index_and_wait(qtbot, window, gui_photos)
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
        window.find_duplicates()
    dv = window.duplicates_view
    dv.select_all_but_best()
    assert not any(p.startswith(str(gui_photos / "sub")) for p in dv.checked_paths())
    assert any(m.row.path.startswith(str(gui_photos / "sub")) for g in dv.groups for m in g.members)


def test_not_duplicates_is_remembered(qtbot, make_window, gui_photos: Path, tmp_path: Path) -> None:
    window = make_window()
    index_and_wait(qtbot, window, gui_photos)
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
        window.find_duplicates()
    dv = window.duplicates_view
    group = next(g for g in dv.groups if not g.all_exact and len(g.members) == 2)
    pair = {m.row.path for m in group.members}
    with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "regroup"):
        window.not_duplicates(group.members[0], group.members[1])
    assert pair not in [{m.row.path for m in g.members} for g in dv.groups]
    window.close()
    again = make_window(data_dir=tmp_path / "data")
    with qtbot.waitSignal(again.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
        again.find_duplicates()
    assert pair not in [{m.row.path for m in g.members} for g in again.duplicates_view.groups]


class SlowEmbedder:
    """The fake embedder, slowed down so a test can cancel half way."""

    def __init__(self, inner, delay: float = 0.15) -> None:
        self._inner = inner
        self.model_id, self.input_size, self.dim = "fake-v1", 64, 192
        self.delay = delay

    def embed(self, images):
        time.sleep(self.delay)
        return self._inner.embed(images)


def test_cancel_indexing_half_way_and_resume(qtbot, make_window, gui_photos: Path, fake_embedder) -> None:
    window = make_window(SlowEmbedder(fake_embedder))
    window.settings.folders = [str(gui_photos)]
    orig = window.engine.index
    window.engine.index = lambda ctx, roots: _small_batches(window, ctx, roots)
    with qtbot.waitSignal(window.job_done, timeout=30_000, check_params_cb=lambda k: k == "index"):
        window.start_indexing()
        qtbot.waitUntil(lambda: window.engine.library.catalog.count() >= 2, timeout=20_000)
        assert window.cancel_button.isVisible()
        window.cancel_button.click()
    assert window.last_summary is None or window.last_summary.cancelled
    qtbot.waitUntil(lambda: not window.runner.busy("rows"), timeout=5000)
    done = window.engine.library.catalog.count()
    assert 2 <= done < 16
    assert 0 < window.library_view.model.rowCount() < 15
    window.engine.index = orig
    with qtbot.waitSignal(window.job_done, timeout=60_000, check_params_cb=lambda k: k == "index"):
        window.act_rescan.trigger()
    # A row whose facts were committed but not its vectors (cancelled in between) is resumed.
    summary = window.last_summary
    assert summary.unchanged + summary.resumed >= done - 1 and not summary.cancelled
    qtbot.waitUntil(lambda: window.library_view.model.rowCount() == 15, timeout=10_000)


def test_close_while_indexing_shuts_down_cleanly(qtbot, make_window, gui_photos: Path, fake_embedder) -> None:
    window = make_window(SlowEmbedder(fake_embedder, delay=0.3))
    window.settings.folders = [str(gui_photos)]
    window.engine.index = lambda ctx, roots: _small_batches(window, ctx, roots)
    window.start_indexing()
    qtbot.waitUntil(lambda: window.engine.library.catalog.count() >= 2, timeout=20_000)
    started = time.perf_counter()
    window.close()  # cancels, waits for the workers, closes the catalog
    assert time.perf_counter() - started < 5
    assert window.runner.pool.activeThreadCount() == 0 and window.thumbs.pool.activeThreadCount() == 0
    assert window.engine.library is None


def _small_batches(window, ctx, roots):
    from imgfinder.gui.jobs import ProgressInfo

    engine = window.engine
    with engine.lock:
        ix = engine.lib.indexer(batch_size=2, workers=1)
        for p in ix.run(list(roots), ctx.cancel):
            ctx.report(ProgressInfo.of(p), stage=p.stage, force=True)
        return ix.summary


def test_reopen_shows_library_from_catalog_and_settings_persist(qtbot, make_window, gui_photos: Path, tmp_path: Path) -> None:
    window = make_window()
    index_and_wait(qtbot, window, gui_photos)
    window.library_view.size_slider.setValue(120)
    window.duplicates_view.slider.setValue(950)
    window.resize(700, 500)  # fits the offscreen platform's 800x600 screen
    window.close()
    again = make_window(data_dir=tmp_path / "data")
    qtbot.waitUntil(lambda: again.library_view.model.rowCount() == 15, timeout=10_000)
    assert again.library_view.size_slider.value() == 120
    assert again.duplicates_view.threshold() == pytest.approx(0.95)
    assert again.settings.folders == [str(gui_photos)]
    assert abs(again.width() - 700) < 40  # restored (not the 1280 default); window frames differ per platform


# Work that may block: file reading and decoding, the catalog, the index, the model, grouping.
HEAVY_MODULES = ("decoder", "thumbnails", "catalog", "ann_index", "library", "indexer", "layout", "grouping",
                 "duplicates", "file_actions", "scanner", "retrieval", "embedders", "model",
                 # what the catalog and the file actions were split into (issue #24)
                 "catalog_journal", "catalog_repair", "catalog_rows", "recovery", "file_steps", "freedesktop_trash",
                 "keypoints", "copy_proof", "alignment", "local_check", "feature_cache", "file_reading", "model_pixels",
                 "layout_search", "layout_prefilter", "layout_signature", "image_ops", "index_files", "vector_search")
HEAVY_C_MODULES = ("sqlite3", "annoy", "_sqlite3")
# String work on paths and sums over groups already found: no disk, no model.
PURE_HELPERS = {"core/file_action_types:is_under", "core/duplicates:removable_copies"}


def heavy_calls_on_this_thread():
    """Record every call into blocking code made by the calling (GUI) thread: Python functions
    of imgfinder's core, embedders and model, Pillow decoding, and C calls into sqlite3 or Annoy."""

    core = str(Path(__import__("imgfinder").__file__).parent)
    seen: list[str] = []

    def profile(frame, event, arg):
        if event == "call":
            f = frame.f_code.co_filename
            if f.startswith(core):
                rel = Path(f).relative_to(core).with_suffix("").parts
                if rel[0] in ("core", "model") and rel[-1] in HEAVY_MODULES + ("file_action_types",) or rel[0] in ("embedders", "model"):
                    seen.append(f"{'/'.join(rel)}:{frame.f_code.co_name}")
            elif "/PIL/" in f and frame.f_code.co_name in ("open", "load", "decode", "draft", "convert"):
                seen.append(f"PIL:{frame.f_code.co_name}")
        elif event == "c_call" and (getattr(arg, "__module__", None) or "").split(".")[0] in HEAVY_C_MODULES:
            seen.append(f"{arg.__module__}:{arg.__name__}")

    return seen, profile


def test_the_gui_thread_never_reads_decodes_queries_or_embeds(qtbot, make_window, gui_photos: Path) -> None:
    """Index, find similar, find duplicates, regroup, details and compare: every call into
    decoding, the catalog, the index, grouping or the model happens on a worker thread. This
    is what keeps the window responsive (the latency itself is measured by
    benchmarks/gui_latency.py, not asserted here: timings depend on the machine)."""
    import sys

    window = make_window()
    seen, profile = heavy_calls_on_this_thread()
    sys.setprofile(profile)  # the GUI (main) thread only
    try:
        index_and_wait(qtbot, window, gui_photos)
        qtbot.waitUntil(lambda: window.library_view.model.rowCount() == 15, timeout=10_000)
        grid = window.library_view.grid
        grid.setCurrentIndex(window.library_view.model.index(2, 0))
        with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "similar"):
            window.act_similar.trigger()
        with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
            window.act_duplicates.trigger()
        with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "regroup"):
            window.duplicates_view.slider.setValue(900)
        qtbot.wait(300)  # thumbnails and details keep loading
    finally:
        sys.setprofile(None)
    assert set(seen) <= PURE_HELPERS, sorted(set(seen) - PURE_HELPERS)
    assert seen, "the profile hook saw nothing: it is not measuring"




def test_reopened_library_counts_photos_not_unreadable_files(qtbot, make_window, gui_photos: Path,
                                                             tmp_path: Path, fake_embedder) -> None:
    """The status after opening says how many photos there are: the broken file among
    the 16 indexed is a problem (Problems tab), not a photo."""
    from imgfinder.cli import main

    data = tmp_path / "indexed"
    assert main(["index", str(gui_photos), "--data-dir", str(data), "-q"], embedder_factory=lambda: fake_embedder) == 2
    window = make_window(data_dir=data)
    assert window.status_label.full_text() == "15 photos in the library"
    assert window.engine.lib.catalog.count() == 16


@pytest.mark.parametrize("keep_folders", [True, False])
def test_move_to_a_folder_can_keep_the_folders(qtbot, make_window, gui_photos: Path, tmp_path: Path, monkeypatch,
                                                keep_folders: bool) -> None:
    """Issue #23: the app's move offers what ``--move-to DIR --keep-folders`` does."""
    from imgfinder.gui import dialogs

    window = make_window()
    index_and_wait(qtbot, window, gui_photos)
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
        window.find_duplicates()
    dv = window.duplicates_view
    dv.select_all_but_best()
    chosen = dv.checked_paths()
    assert any("/sub/" in p for p in chosen) and any("/sub/" not in p for p in chosen)
    target = tmp_path / "review"
    monkeypatch.setattr(dialogs, "choose_folder", lambda parent, title: str(target))
    window.move_answer["keep_folders"] = keep_folders
    with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "files"):
        window.act_move.trigger()
    assert window.move_answer["below"] == str(gui_photos)
    assert all(not os.path.exists(p) for p in chosen)
    landed = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    want = sorted(os.path.relpath(p, gui_photos) if keep_folders else os.path.basename(p) for p in chosen)
    assert landed == want
    with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "files"):
        window.act_undo.trigger()
    assert all(os.path.exists(p) for p in chosen)


def test_the_move_question_has_a_keep_folders_box(qtbot, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    from imgfinder.gui import dialogs

    box, keep = dialogs.move_box(None, 3, 2048, "/tmp/review", "/home/me/Pictures")
    assert "Move 3 photos (2.0 KB) to /tmp/review?" == box.text()
    assert "/home/me/Pictures" in keep.text() and not keep.isChecked()
    answers = iter([(True, QMessageBox.StandardButton.Ok), (False, QMessageBox.StandardButton.Ok),
                    (True, QMessageBox.StandardButton.Cancel)])

    def answer(box):
        tick, button = next(answers)
        box.checkBox().setChecked(tick)
        return button

    monkeypatch.setattr(QMessageBox, "exec", answer)
    assert dialogs.confirm_move(None, 3, 1, "/tmp/r", "/p") is True
    assert dialogs.confirm_move(None, 3, 1, "/tmp/r", "/p") is False
    assert dialogs.confirm_move(None, 3, 1, "/tmp/r", "/p") is None


def test_on_windows_the_trash_is_the_recycle_bin_and_the_app_says_what_undo_cannot(
        qtbot, make_window, gui_photos: Path, tmp_path: Path, monkeypatch) -> None:
    """Issue #23, with the platform faked: the system's trash through send2trash, and the
    question, the status line and undo say plainly that undo cannot take photos back."""
    import shutil

    from PySide6.QtWidgets import QMessageBox

    from imgfinder.core import system_trash

    bin_dir = tmp_path / "RecycleBin"
    bin_dir.mkdir()
    sent: list[str] = []

    def fake_send(path: str) -> None:
        sent.append(path)
        shutil.move(path, bin_dir / f"$R{len(sent)}.jpg")

    monkeypatch.setattr(system_trash, "current", lambda: "win32")
    monkeypatch.setattr(system_trash, "default_sender", lambda: fake_send)
    window = make_window()
    index_and_wait(qtbot, window, gui_photos)
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
        window.find_duplicates()
    window.duplicates_view.select_all_but_best()
    chosen = window.duplicates_view.checked_paths()
    said = []  # the status line as each file job ends (a regroup that follows says its own)
    window.job_done.connect(lambda kind: said.append(window.status_label.full_text()) if kind == "files" else None)
    with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "files"):
        window.act_trash.trigger()
    assert sorted(sent) == sorted(chosen) and not (tmp_path / "xdg" / "Trash").exists()
    assert "Recycle Bin" in said[-1] and "restore them from there" in said[-1]
    shown = []
    monkeypatch.setattr(QMessageBox, "information", staticmethod(lambda parent, title, text: shown.append((title, text))))
    with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "files"):
        window.act_undo.trigger()
    assert shown and shown[0][0] == "Restore from the Recycle Bin"
    assert "Restore the selected items" in shown[0][1]
    assert "restore them from there" in said[-1]


def test_the_trash_question_on_windows_and_macos_says_undo_cannot(qtbot, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    from imgfinder.core import system_trash
    from imgfinder.gui import dialogs

    texts = []

    def answer(box):
        texts.append((box.text(), box.informativeText()))
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "exec", answer)
    for platform in ("win32", "darwin", "linux"):
        monkeypatch.setattr(system_trash, "current", lambda p=platform: p)
        assert dialogs.confirm_file_action(None, "Move to trash", 2, 10) is False
    assert "to the Recycle Bin?" in texts[0][0] and "cannot put them back" in texts[0][1]
    assert "to the Trash?" in texts[1][0] and "Put Back" in texts[1][1]
    assert "to the trash?" in texts[2][0] and "Ctrl+Z" in texts[2][1]


def test_link_replaces_the_exact_copy_by_a_hard_link_and_undo_takes_it_back(
        qtbot, make_window, gui_photos: Path, tmp_path: Path) -> None:
    """Issue #23: "Link…" in the Duplicates tab (and Edit ▸ Replace selection with hard links)."""
    window = make_window()
    index_and_wait(qtbot, window, gui_photos)
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
        window.find_duplicates()
    window.tabs.setCurrentIndex(TAB_DUPLICATES)
    dv = window.duplicates_view
    dv.select_all_but_best()
    chosen = dv.checked_paths()
    exact = [p for p in chosen if p.endswith("copy_of_first.jpg")]
    assert exact and len(chosen) > len(exact)
    before = {p: Path(p).read_bytes() for p in chosen}
    keeper = next(g.keeper.row.path for g in dv.groups for m in g.members if m.row.path == exact[0])
    assert dv.act_link.isEnabled()
    with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "files"):
        dv.act_link.trigger()
    verb, count, total, different = window.confirmations[-1]
    assert (verb, count, different) == ("Replace with links", 1, len(chosen) - 1)
    assert os.path.samefile(exact[0], keeper)
    assert all(Path(p).read_bytes() == before[p] for p in chosen)  # every path holds what it held
    assert all(os.stat(p).st_nlink == 1 for p in chosen if p not in exact)  # the edited copies stay themselves
    with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "files"):
        window.act_undo.trigger()
    assert os.stat(exact[0]).st_nlink == 1 and Path(exact[0]).read_bytes() == before[exact[0]]


def test_the_link_question_says_what_happens_to_the_copies(qtbot, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    from imgfinder.gui import dialogs

    seen = []

    def answer(box):
        seen.append((box.text(), box.informativeText(), box.button(QMessageBox.StandardButton.Ok).text()))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "exec", answer)
    assert dialogs.confirm_links(None, 2, 4096, 1) is True
    text, info, button = seen[0]
    assert text == "Replace 2 photos (4.1 KB) with hard links to the copies kept?" and button == "Replace with links"
    assert "trash" in info and "Undo" in info and "1 photo selected is not byte-identical" in info


def test_similar_folds_edited_copies_and_shows_them_in_place(qtbot, make_window, gui_photos: Path, tmp_path: Path,
                                                              photo_paths: list[Path]) -> None:
    """A result's proven copies are folded under it ("+1 copy"); "Show edited copies" lists
    them right after it; a moved result leaves its copies as results of their own."""
    from conftest import small_copy

    from imgfinder.gui.models import BadgeRole

    window = make_window()
    index_and_wait(qtbot, window, gui_photos)
    third = photo_paths[2].name
    query = small_copy(gui_photos / third, tmp_path / "outside" / "query.jpg", max_side=240, quality=75)
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "similar"):
        drop_files(window, [query])
    view, model = window.similar_view, window.similar_view.model
    head = view.hits[0]
    assert {Path(head.row.path).name, *(Path(c.row.path).name for c in head.copies)} == {third, "third_cropped.jpg"}
    assert view.show_copies.isVisible() and not view.show_copies.isChecked()
    folded = model.rowCount()
    assert model.index(0, 0).data(BadgeRole) == "+1 copy"
    assert "edited copy of this photo" in model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    total = sum(len(h.copies) for h in view.hits)  # the resized second photo folds under its original too
    assert f"(and {total} edited {'copy' if total == 1 else 'copies'} of them)" in view.title.full_text()
    assert head.copies[0].row.path not in grid_paths(model)

    qtbot.mouseClick(view.show_copies, Qt.MouseButton.LeftButton)
    assert view.show_copies.isChecked() and model.rowCount() == folded + total
    assert model.row_at(1).path == head.copies[0].row.path and model.index(1, 0).data(BadgeRole) == "copy"
    assert f"an edited copy of {Path(head.row.path).name}" in model.index(1, 0).data(Qt.ItemDataRole.ToolTipRole)
    qtbot.mouseClick(view.show_copies, Qt.MouseButton.LeftButton)
    assert model.rowCount() == folded

    view.remove_paths({head.row.path})  # what a move to the trash does to the results
    assert model.row_at(0).path == head.copies[0].row.path and model.index(0, 0).data(BadgeRole) is None
    assert head.row.path not in grid_paths(model)
    assert view.show_copies.isVisible() == (total > 1)
