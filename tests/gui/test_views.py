"""Views in detail: layout at 1280x720 with long paths, compare view, export, placeholders
for unreadable files, and that pixmaps are only made on the GUI thread."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import pytest
from gui_helpers import index_and_wait
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QToolBar

from imgfinder.core.catalog import FileRow
from imgfinder.gui.workers import ThumbnailLoader

pytestmark = [pytest.mark.timeout(120), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_layout_fits_1280x720_with_long_paths(qtbot, make_window, photo_paths, tmp_path: Path) -> None:
    from conftest import small_copy

    deep = tmp_path / "photos" / ("a very long folder name " * 6).strip() / ("and another one " * 6).strip()
    photo = small_copy(photo_paths[0], deep / (("a photo with an absurdly long file name " * 4).strip() + ".jpg"))
    window = make_window()
    window.resize(1280, 720)
    index_and_wait(qtbot, window, tmp_path / "photos")
    window.library_view.grid.setCurrentIndex(window.library_view.model.index(0, 0))
    qtbot.waitUntil(lambda: window.details.path == str(photo), timeout=5000)
    window.status_label.set_full_text(f"Indexing {photo} " * 3)
    qtbot.wait(50)
    assert window.minimumSizeHint().width() <= 1280 and window.minimumSizeHint().height() <= 720
    assert window.width() <= 1280 and window.height() <= 720
    assert window.details.width() < 450
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "similar"):
        window.find_similar(str(photo))
    assert window.width() <= 1280



def test_a_narrow_window_keeps_every_toolbar_button_on_screen(qtbot, make_window) -> None:
    """Labels give way before buttons: at 900 px the Duplicates tab's Trash, Move, Undo and
    Export used to hide behind the toolbar's overflow arrow."""
    window = make_window()
    window.tabs.setCurrentWidget(window.duplicates_view)
    dv = window.duplicates_view
    bars = [(window.findChild(QToolBar, "mainToolbar"), window.toolbar_fit), (dv.toolbar, dv.toolbar_fit)]
    every = {id(bar): [a for a in bar.actions() if not a.isSeparator()] for bar, _ in bars}

    def all_on_screen(bar) -> bool:
        return all(bar.widgetForAction(a).isVisible() for a in every[id(bar)])

    window.resize(1400, 800)
    qtbot.waitUntil(lambda: all(all_on_screen(bar) for bar, _ in bars), timeout=5000)
    assert "Trash…" in dv.toolbar_fit.labelled() and "Export…" in dv.toolbar_fit.labelled()
    wide = {id(bar): fit.labelled() for bar, fit in bars}
    assert all(len(wide[id(bar)]) == len([a for a in every[id(bar)] if not a.icon().isNull()]) for bar, _ in bars)

    for width in (900, 760):
        window.resize(width, 700)
        qtbot.waitUntil(lambda: window.width() <= max(width, window.minimumSizeHint().width()), timeout=5000)
        qtbot.wait(50)
        for bar, fit in bars:
            assert all_on_screen(bar), (width, bar.objectName(), fit.labelled())
    labelled = dv.toolbar_fit.labelled()
    assert len(labelled) < len(wide[id(dv.toolbar)])  # some labels went ...
    assert "Trash…" in labelled or labelled == []  # ... the destructive action's last
    window.resize(1400, 800)
    qtbot.waitUntil(lambda: dv.toolbar_fit.labelled() == wide[id(dv.toolbar)], timeout=5000)

def test_compare_view_and_export(qtbot, make_window, gui_photos: Path, tmp_path: Path) -> None:
    window = make_window()
    index_and_wait(qtbot, window, gui_photos)
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
        window.find_duplicates()
    dv = window.duplicates_view
    near = next(i for i, g in enumerate(dv.groups) if not g.all_exact)
    dv.select_member(near, 1)
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "compare"):
        window.act_compare.trigger()
    dlg = window.compare_dialog
    assert dlg is not None and dlg.isVisible()
    assert all(not v.item.pixmap().isNull() for v in dlg.views)
    rows = {dlg.table.item(r, 0).text(): r for r in range(dlg.table.rowCount())}
    dims = rows["Dimensions"]
    assert dlg.table.item(dims, 1).text() != dlg.table.item(dims, 2).text()
    assert dlg.table.item(dims, 1).background().color().alpha() > 0  # the difference is highlighted
    dlg.zoom_to(2.0)
    dlg.views[0].horizontalScrollBar().setValue(dlg.views[0].horizontalScrollBar().maximum())
    want = dlg.alignment.map(*dlg.views[0].centre())  # the same picture point under both (synced pan)
    got = dlg.views[1].centre()
    assert abs(got[0] - want[0]) < 3 and abs(got[1] - want[1]) < 3, (got, want)
    dlg.diff_box.setChecked(True)
    assert dlg.views[0].overlay.isVisible()
    dlg.close()
    for name in ("groups.csv", "groups.json"):
        with qtbot.waitSignal(window.job_done, timeout=10_000, check_params_cb=lambda k: k == "export"):
            window.export_to(str(tmp_path / name))
    data = json.loads((tmp_path / "groups.json").read_text())
    assert len(data["groups"]) == len(dv.groups) and data["groups"][0]["files"][0]["keep"] is True
    assert any("broken.jpg" in p["path"] for p in data["problems"])
    rows = list(csv.DictReader((tmp_path / "groups.csv").open()))
    assert len(rows) == sum(len(g.members) for g in dv.groups)


@pytest.fixture
def pixmap_threads(monkeypatch) -> list[bool]:
    """Records, for every QPixmap made from a QImage, whether the GUI thread made it."""
    made_on: list[bool] = []
    real = QPixmap.fromImage

    def spy(image, *a):
        made_on.append(threading.current_thread() is threading.main_thread())
        return real(image, *a)

    monkeypatch.setattr(QPixmap, "fromImage", staticmethod(spy))
    return made_on


def test_missing_files_get_a_placeholder_and_pixmaps_are_made_on_the_gui_thread(qtbot, make_window, tmp_path, pixmap_threads) -> None:
    window = make_window()
    made_on = pixmap_threads
    rows = [FileRow(i, str(tmp_path / f"missing{i}.jpg"), 1000, 1, None, 10, 10, None) for i in range(50)]
    window.library_view.model.set_rows(rows)
    window.library_view.grid.viewport().repaint()
    qtbot.waitUntil(lambda: window.thumbs.pixmap(rows[0].path, 256) is ThumbnailLoader.FAILED, timeout=5000)
    assert "not found" in window.thumbs.failure(rows[0].path, 256)
    window.library_view.grid.viewport().repaint()  # paints placeholders, no crash


def test_thumbnails_loaded_off_thread_become_pixmaps_on_gui_thread(qtbot, make_window, gui_photos, pixmap_threads) -> None:
    made_on = pixmap_threads
    window = make_window()
    index_and_wait(qtbot, window, gui_photos)
    window.library_view.grid.viewport().repaint()
    qtbot.waitUntil(lambda: len(made_on) >= 5, timeout=10_000)
    assert all(made_on)
