"""Issue #23: a duplicate group at a glance (its photos side by side, the copy kept marked,
resolution, size, date and folder under each), driven by the keyboard."""

from __future__ import annotations

from pathlib import Path

from gui_helpers import index_and_wait
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtTest import QTest

from imgfinder.gui.main_window import TAB_DUPLICATES


def _found(qtbot, window) -> None:
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
        window.find_duplicates()
    window.tabs.setCurrentIndex(TAB_DUPLICATES)


def test_the_highlighted_group_is_shown_side_by_side_with_its_facts(qtbot, make_window, gui_photos: Path) -> None:
    window = make_window()
    window.resize(1280, 800)
    index_and_wait(qtbot, window, gui_photos)
    _found(qtbot, window)
    dv = window.duplicates_view
    glance = dv.glance
    assert glance.isVisible() and glance.group_number == 0  # the first group, before any click
    n = next(i for i, g in enumerate(dv.groups) if len(g.members) >= 2 and not g.all_exact)
    dv.select_member(n, 1)
    group = dv.groups[n]
    assert glance.group_number == n and [c.path for c in glance.cards] == [m.row.path for m in group.members]
    keeper, copy = glance.cards[0], glance.cards[1]
    assert keeper.badge.full_text().startswith("★ Keep") and not copy.badge.full_text().startswith("★")
    assert copy.current and not keeper.current
    m = group.members[1]
    assert copy.size_line.full_text().startswith(f"{m.row.width} × {m.row.height} · ")
    assert copy.folder_line.full_text() == m.row.path
    qtbot.waitUntil(lambda: copy.date != "", timeout=10_000)
    assert copy.date.startswith(("taken ", "file date ")) and copy.date_line.full_text() == copy.date
    qtbot.waitUntil(lambda: all(isinstance(c._pixmap, QPixmap) for c in glance.cards), timeout=10_000)
    assert all(c.picture.width() >= 96 for c in glance.cards)
    assert glance.title.full_text().startswith(f"Group {n + 1} of {len(dv.groups)}")
    # A click on a photo highlights its row; a double-click compares it with the copy kept.
    QTest.mouseClick(keeper, Qt.MouseButton.LeftButton)
    assert dv._position() == (n, 0) and keeper.current
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "compare"):
        QTest.mouseDClick(copy, Qt.MouseButton.LeftButton)
    assert window.compare_dialog is not None and window.compare_dialog.members[1].row.path == m.row.path
    window.compare_dialog.close()


def test_keys_next_previous_tick_keep_and_not_duplicates(qtbot, make_window, gui_photos: Path) -> None:
    window = make_window()
    window.resize(1280, 800)
    index_and_wait(qtbot, window, gui_photos)
    _found(qtbot, window)
    dv = window.duplicates_view
    assert len(dv.groups) >= 2
    dv.select_member(0, 1)
    dv.tree.setFocus()
    QTest.keyClick(dv.tree, Qt.Key.Key_N)
    assert dv._position() == (1, 1) and dv.glance.group_number == 1
    QTest.keyClick(dv.tree, Qt.Key.Key_P)
    assert dv._position() == (0, 1)
    dv.glance.next_button.click()
    assert dv._position()[0] == 1
    dv.glance.prev_button.click()
    assert dv._position()[0] == 0
    # X ticks the highlighted copy (and the glance says so); again, unticks it.
    path = dv.groups[0].members[1].row.path
    QTest.keyClick(dv.tree, Qt.Key.Key_X)
    assert dv.checked_paths() == [path] and dv.glance.cards[1].badge.full_text().startswith("✓ ")
    QTest.keyClick(dv.tree, Qt.Key.Key_X)
    assert dv.checked_paths() == [] and not dv.glance.cards[1].badge.full_text().startswith("✓")
    # K keeps the highlighted photo instead; the glance shows it first, marked.
    QTest.keyClick(dv.tree, Qt.Key.Key_K)
    assert dv.groups[0].keeper.row.path == path
    assert dv.glance.cards[0].path == path and dv.glance.cards[0].badge.full_text().startswith("★ Keep")
    # D: not duplicates, for the highlighted photo and the rest of its group.
    n = next(i for i, g in enumerate(dv.groups) if not g.all_exact)
    dv.select_member(n, 1)
    apart = dv.groups[n].members[1].row.path
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "regroup"):
        QTest.keyClick(dv.tree, Qt.Key.Key_D)
    assert apart not in {m.row.path for g in dv.groups for m in g.members}


def test_the_keys_do_nothing_on_other_tabs(qtbot, make_window, gui_photos: Path) -> None:
    window = make_window()
    index_and_wait(qtbot, window, gui_photos)
    _found(qtbot, window)
    dv = window.duplicates_view
    dv.select_member(0, 1)
    window.tabs.setCurrentIndex(0)
    window.library_view.grid.setFocus()
    QTest.keyClick(window.library_view.grid, Qt.Key.Key_X)
    assert dv.checked_paths() == []
