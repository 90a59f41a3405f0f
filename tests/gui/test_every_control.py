"""Every control a user can see does its job without an exception: each menu entry, each
toolbar entry (the main window's and the Duplicates tab's), each context-menu entry,
each button and combo-box entry of every tab, panel and dialog, and each keyboard
shortcut. Modal dialogs are answered at once (see control_walk.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from imgfinder.core.duplicates import KEEP_LABELS
from control_walk import ControlWalk
from gui_helpers import index_and_wait
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolBar, QToolButton

from imgfinder.gui.main_window import TAB_DUPLICATES, TAB_LIBRARY, TAB_PROBLEMS, TAB_SIMILAR

pytestmark = [pytest.mark.timeout(400), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _right_click_first(grid) -> None:
    """What a right click on the grid's first photo does."""
    grid.customContextMenuRequested.emit(grid.visualRect(grid.model().index(0, 0)).center())


def _check(walk: ControlWalk, window) -> None:
    assert not walk.failures, "controls raised:\n" + "\n".join(walk.failures)
    assert not walk.unexpected_modals, walk.unexpected_modals
    for ext in window.findChildren(QToolButton, "qt_toolbar_ext_button"):
        assert not ext.isVisible(), "a toolbar overflows: some of its entries are out of sight"


def test_every_control_of_the_empty_first_window(qtbot, make_window, monkeypatch, gui_photos: Path, tmp_path: Path) -> None:
    """A new user's first clicks: nothing indexed yet; "Add folder…" picks the photo folder."""
    window = make_window()
    window.resize(1280, 800)
    answers = {"open": str(gui_photos / "sub" / "second_small.jpg"), "save": str(tmp_path / "export.csv"),
               "folder": str(gui_photos)}
    walk = ControlWalk(qtbot, window, monkeypatch, answers)
    try:
        for tab in (TAB_LIBRARY, TAB_SIMILAR, TAB_DUPLICATES, TAB_PROBLEMS):
            walk.walk_widget(window, lambda tab=tab: window.tabs.setCurrentIndex(tab))
        entries = [(n, a) for n, a in walk.menubar_entries(window) if a is not window.act_quit]
        for name, action in entries:
            walk.trigger(name, action)
        walk.fire("File ▸ Quit", window.act_quit.trigger)
    finally:
        walk.stop()
    _check(walk, window)
    assert not window.isVisible()
    assert len(walk.fired) > 30


def test_every_control_with_a_library(qtbot, make_window, monkeypatch, gui_photos: Path, tmp_path: Path) -> None:
    """Every menu entry once per tab (they act on that tab's selection), every toolbar
    entry, button and combo entry of each tab and of the details panel, the grids'
    context menus, and every dialog they open (compare, preview, folders, about)."""
    window = make_window()
    window.resize(1280, 800)  # every toolbar entry in sight at this width (checked at the end)
    index_and_wait(qtbot, window, gui_photos)
    moved = tmp_path / "moved"
    moved.mkdir()
    answers = {"open": str(gui_photos / "sub" / "second_small.jpg"), "save": str(tmp_path / "export.csv"),
               "folder": str(moved)}
    walk = ControlWalk(qtbot, window, monkeypatch, answers)
    dv, library, similar = window.duplicates_view, window.library_view, window.similar_view

    def on_library() -> None:
        window.tabs.setCurrentIndex(TAB_LIBRARY)
        library.grid.setCurrentIndex(library.model.index(0, 0))

    def on_similar() -> None:
        window.tabs.setCurrentIndex(TAB_SIMILAR)
        if similar.model.rowCount() == 0:
            window.find_similar(answers["open"])
            walk.settle()
        similar.grid.setCurrentIndex(similar.model.index(0, 0))

    def on_duplicates() -> None:
        window.tabs.setCurrentIndex(TAB_DUPLICATES)
        if not dv.groups:  # an earlier control trashed or moved the copies: put them back
            window.undo()
            walk.settle()
            window.find_duplicates()
            walk.settle()
        if not dv.checked_members():
            dv.select_all_but_best()
        dv.select_member(0, 1)

    def on_problems() -> None:
        window.tabs.setCurrentIndex(TAB_PROBLEMS)
        problems = window.problems_view
        if problems.count() == 0:  # the broken photo was trashed from here: put it back
            window.undo()
            walk.settle()
            window.reload_problems()
            walk.settle()
        if problems.count():
            problems.table.selectRow(0)

    try:
        menu = [(n, a) for n, a in walk.menubar_entries(window) if a is not window.act_quit]
        for prepare in (on_duplicates, on_library, on_similar, on_problems):
            walk.walk_widget(window, prepare)
            for name, action in menu:
                walk.trigger(lambda name=name: f"{name} (on {window.tabs.tabText(window.tabs.currentIndex())})",
                             action, prepare)
        walk.fire("right click in the library", lambda: _right_click_first(library.grid), on_library)
        walk.fire("right click in the similar results", lambda: _right_click_first(similar.grid), on_similar)
        walk.fire("File ▸ Quit", window.act_quit.trigger)
    finally:
        walk.stop()
    _check(walk, window)
    # Every control had something to act on at least once (the details panel's buttons
    # have no photo on the Problems tab; every menu entry is checked on each tab).
    never = sorted(set(walk.disabled) - set(walk.fired))
    assert not never, f"controls with nothing to act on when their turn came: {never}"
    print(f"\n{len(walk.fired)} gestures, {len(walk.walked_windows)} dialogs walked")
    for tb in window.findChildren(QToolBar):  # every toolbar entry was used
        missed = [a.text() for a in tb.actions() if a.text() and id(a) not in walk.fired_actions]
        assert not missed, f"{tb.objectName()}: {missed}"
    walked = " ".join(walk.walked_windows)
    for dialog in ("CompareDialog", "PreviewDialog", "FoldersDialog", "AboutDialog"):
        assert dialog in walked, walk.walked_windows
    assert sum("context menu" in name for name in walk.fired) >= 8
    for choice in KEEP_LABELS.values():  # the duplicates view's "Keep" choice
        assert f"MainWindow combo 'keepPreference' = {choice!r}" in walk.fired, choice
    assert walk.opened_urls  # "Show in folder" asks the file manager
    assert not window.isVisible()


def test_every_shortcut_reaches_its_action(qtbot, make_window) -> None:
    """Each key a menu shows triggers its entry, and no key means two things."""
    window = make_window()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    actions = [a for a in window.findChildren(QAction) if a.shortcuts()]
    assert len(actions) >= 15
    keys = Counter(s.toString() for a in actions for s in a.shortcuts())
    assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1]
    hits: list[QAction] = []
    for a in actions:  # the keys are under test here, not what the entries do
        a.triggered.disconnect()
        a.triggered.connect(lambda *_, a=a: hits.append(a))
    missed = []
    dv = window.duplicates_view
    # The Duplicates tab's own keys (N, P, K, X, D) work where its table has the focus, and
    # nowhere else: a letter typed on another tab must never tick or keep a photo.
    tab_keys = {a for a in actions if a.shortcutContext() == Qt.ShortcutContext.WidgetWithChildrenShortcut}
    assert {a.shortcut().toString() for a in tab_keys} == {"N", "P", "K", "X", "D"}
    for tab, focus in ((0, window.library_view.grid), (2, dv.tree)):
        window.tabs.setCurrentIndex(tab)
        for a in actions:
            for seq in a.shortcuts():
                hits.clear()
                focus.setFocus()
                if focus is dv.tree:
                    qtbot.waitUntil(focus.hasFocus, timeout=2000)
                QTest.keySequence(QApplication.focusWidget() or window, seq)
                # (K and D need a group, which this empty library has not: test_group_glance.py
                # presses them with groups shown.)
                want = [a] if (a not in tab_keys or focus is dv.tree) and a.isEnabled() else []
                if hits != want:
                    missed.append(f"{seq.toString()} → {[h.text() for h in hits]} instead of {want and a.text()!r} "
                                  f"(focus in {focus.objectName()})")
    assert not missed, missed


def test_the_walk_catches_what_a_slot_raises(qtbot, make_window, monkeypatch, tmp_path: Path) -> None:
    """The capture is live: a control whose slot raises (as the Duplicates toolbar's did with
    a Signal handed to addAction) is reported by name."""
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QPushButton

    class Source(QObject):
        requested = Signal()

    window = make_window()
    walk = ControlWalk(qtbot, window, monkeypatch, {"open": "", "save": "", "folder": str(tmp_path)})
    source = Source()
    toolbar = QToolBar()
    broken = toolbar.addAction("Broken", source.requested)  # the bug: the Signal, not its emit
    fixed = toolbar.addAction("Fixed", source.requested.emit)
    button = QPushButton("Raises")
    button.clicked.connect(lambda: 1 / 0)
    try:
        walk.trigger("Broken", broken)
        walk.trigger("Fixed", fixed)
        walk.click("Raises", button)
    finally:
        walk.stop()
    assert [f.split(":")[0] for f in walk.failures] == ["Broken", "Raises"], walk.failures
    assert "not callable" in walk.failures[0] and "ZeroDivisionError" in walk.failures[1]
