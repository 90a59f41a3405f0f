"""Walk every control a user can reach: trigger each menu, toolbar and context-menu entry,
click each button and pick each combo-box entry, with every modal dialog answered at
once, and record every exception a slot raised (pytest-qt's capture, per control).

Modal loops are replaced before the walk (``answer_modals``): file pickers return a
prepared path, message boxes return OK, ``QDialog.exec`` shows the dialog without a
loop and returns Accepted (the walk then clicks its buttons), and opening URLs (the file
manager) is recorded. A context menu that a gesture pops up is taken over by the walk,
which triggers its entries. A watchdog closes any modal loop or popup that still appears
and reports it (``QMenu.exec`` cannot be patched in PySide6, so a menu run with ``exec``
is reported too), so a missed patch fails the test instead of hanging it.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractButton, QApplication, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QInputDialog, QMenu,
    QMessageBox, QTabBar, QToolBar, QToolButton, QWidget, QWidgetAction,
)

CLOSING_TEXTS = ("close", "ok", "cancel", "quit")


class ControlWalk:
    def __init__(self, qtbot, window, monkeypatch, answers: dict[str, str]) -> None:
        self.qtbot = qtbot
        self.window = window
        self.failures: list[str] = []  # "control: exception"
        self.fired: list[str] = []
        self.disabled: list[str] = []
        self.context_menus: list[QMenu] = []
        self.opened_urls: list[str] = []
        self.message_boxes: list[str] = []
        self.unexpected_modals: list[str] = []
        self.walked_windows: list[str] = []
        self.fired_actions: set[int] = set()
        self._current = ""  # the control being fired (named in reports)
        self._walking: list[QWidget] = []  # windows being walked (a gesture inside may not re-enter them)
        self._answer_modals(monkeypatch, answers)
        self._watchdog = QTimer()
        self._watchdog.setInterval(100)
        self._watchdog.timeout.connect(self._close_modals)
        self._watchdog.start()

    # -- modal answers --------------------------------------------------------------------
    def _answer_modals(self, monkeypatch, answers: dict[str, str]) -> None:
        walk = self

        def box(kind):
            def answer(parent, title, text="", *args, **kwargs):
                walk.message_boxes.append(f"{kind}: {title}: {text}")
                return QMessageBox.StandardButton.Ok
            return staticmethod(answer)

        for kind in ("critical", "warning", "information", "question"):
            monkeypatch.setattr(QMessageBox, kind, box(kind))
        monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda parent, title, text: walk.message_boxes.append(title)))
        monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (answers["open"], "")))
        monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: ([answers["open"]], "")))
        monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (answers["save"], "")))
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: answers["folder"]))
        monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("", False)))

        def dialog_exec(self, *args):
            self.show()  # no modal loop: the walk clicks its buttons once the slot returns
            return int(QDialog.DialogCode.Accepted)

        def message_exec(self, *args):
            walk.message_boxes.append(f"exec: {self.windowTitle()}: {self.text()}")
            return int(QMessageBox.StandardButton.Ok)

        monkeypatch.setattr(QDialog, "exec", dialog_exec)
        monkeypatch.setattr(QMessageBox, "exec", message_exec)
        monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: walk.opened_urls.append(url.toString()) or True))

    def _close_modals(self) -> None:
        for w in (QApplication.activeModalWidget(), QApplication.activePopupWidget()):
            if w is not None:
                self.unexpected_modals.append(f"{type(w).__name__} {w.windowTitle()!r} after {self._current!r}")
                w.close()

    def stop(self) -> None:
        self._watchdog.stop()

    # -- firing ----------------------------------------------------------------------------
    def settle(self) -> None:
        self.qtbot.waitUntil(self.window.runner.idle, timeout=60_000)
        self.qtbot.wait(30)
        self.qtbot.waitUntil(self.window.runner.idle, timeout=60_000)

    def fire(self, name: str, fn: Callable[[], object], prepare: Callable[[], object] | None = None) -> None:
        """Run one user gesture, wait for the work it started, and record any exception
        raised in a slot meanwhile; then walk the windows and context menus it opened."""
        if prepare is not None:
            prepare()
        self._current = name
        with self.qtbot.captureExceptions() as exceptions:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - recorded like a slot's exception
                exceptions.append((type(exc), exc, exc.__traceback__))
            popup = QApplication.activePopupWidget()
            if isinstance(popup, QMenu):  # a context menu: the walk picks its entries
                popup.hide()
                self.context_menus.append(popup)
            self.settle()
        self.fired.append(name)
        for _, value, tb in exceptions:
            where = traceback.extract_tb(tb)[-1] if tb else None
            self.failures.append(f"{name}: {type(value).__name__}: {value}"
                                 + (f" ({Path(where.filename).name}:{where.lineno})" if where else ""))
        self._walk_context_menus(prepare)
        self._walk_new_windows(prepare)

    def trigger(self, name: str | Callable[[], str], action: QAction, prepare: Callable[[], object] | None = None) -> None:
        """Trigger ``action`` (after ``prepare``); ``name`` may be a function of the prepared state."""
        if prepare is not None:
            prepare()
        name = name() if callable(name) else name
        if not action.isEnabled():
            self.disabled.append(name)
            return
        self.fired_actions.add(id(action))
        self.fire(name, action.trigger)

    def click(self, name: str, button: QAbstractButton, prepare: Callable[[], object] | None = None) -> None:
        if prepare is not None:
            prepare()
        if not button.isEnabled():
            self.disabled.append(name)
            return
        self.fire(name, button.click)

    # -- what a window shows -----------------------------------------------------------------
    def menu_entries(self, menu: QMenu, path: str):
        for a in menu.actions():
            if a.isSeparator() or not a.isVisible():
                continue
            if a.menu() is not None:
                yield from self.menu_entries(a.menu(), f"{path} ▸ {a.text()}")
            else:
                yield f"{path} ▸ {a.text()}", a

    def menubar_entries(self, window) -> list[tuple[str, QAction]]:
        entries = []
        for top in window.menuBar().actions():
            if top.menu() is not None and top.isVisible():
                entries.extend(self.menu_entries(top.menu(), top.text().replace("&", "")))
        return entries

    def toolbar_entries(self, root: QWidget) -> list[tuple[str, QAction]]:
        entries = []
        for tb in root.findChildren(QToolBar):
            if tb.window() is not root or not tb.isVisibleTo(root):
                continue
            for a in tb.actions():
                if a.isSeparator() or isinstance(a, QWidgetAction) or not a.isVisible():
                    continue
                entries.append((f"{tb.windowTitle() or tb.objectName() or 'toolbar'} ▸ {a.text()}", a))
        return entries

    def buttons(self, root: QWidget) -> list[tuple[str, QAbstractButton]]:
        """Visible buttons that are not a toolbar's (those are its actions) nor Qt's own
        scroll arrows; closing buttons (Close, OK, Cancel) last."""
        found = []
        for b in root.findChildren(QAbstractButton):
            if b.window() is not root or not b.isVisibleTo(root) or isinstance(b.parent(), (QToolBar, QTabBar)):
                continue
            if isinstance(b, QToolButton) and b.defaultAction() is not None:
                continue
            text = b.text().replace("&", "") or b.toolTip() or b.objectName() or type(b).__name__
            found.append((f"{type(root).__name__} button {text!r}", b))
        closing = lambda nb: isinstance(nb[1].parent(), QDialogButtonBox) or nb[1].text().replace("&", "").lower() in CLOSING_TEXTS  # noqa: E731
        return [nb for nb in found if not closing(nb)] + [nb for nb in found if closing(nb)]

    def combos(self, root: QWidget) -> list[tuple[str, QComboBox]]:
        return [(f"{type(root).__name__} combo {c.objectName() or c.toolTip()[:30] or c.currentText()!r}", c)
                for c in root.findChildren(QComboBox) if c.window() is root and c.isVisibleTo(root)]

    def walk_widget(self, root: QWidget, prepare: Callable[[], object] | None = None) -> None:
        """Every toolbar entry, button and combo-box entry shown in ``root`` (after ``prepare``)."""
        if prepare is not None:
            prepare()
        for name, action in self.toolbar_entries(root):
            self.trigger(name, action, prepare)
        for name, button in self.buttons(root):
            self.click(name, button, prepare)
        for name, combo in self.combos(root):
            start = combo.currentIndex()
            for i in range(combo.count()):
                self.fire(f"{name} = {combo.itemText(i)!r}", lambda c=combo, i=i: c.setCurrentIndex(i), prepare)
            combo.setCurrentIndex(start)

    def _walk_new_windows(self, prepare) -> None:
        """Walk each other window the gesture left open (dialogs), then close it."""
        for w in QApplication.topLevelWidgets():
            if w is self.window or isinstance(w, QMenu) or not w.isVisible() or any(w is s for s in self._walking):
                continue
            self._walking.append(w)
            try:
                self.walked_windows.append(f"{type(w).__name__} {w.windowTitle()!r}")
                self.walk_widget(w)
            finally:
                self._walking.remove(w)
            if w.isVisible():
                w.close()

    def _walk_context_menus(self, prepare) -> None:
        while self.context_menus:
            menu = self.context_menus.pop(0)
            for name, action in list(self.menu_entries(menu, "context menu")):
                self.trigger(name, action, prepare)
            menu.close()
