"""The installed PySide6 must not corrupt reference counts (6.12.0 on Python 3.11 does,
and then the app aborts after a few thousand Qt calls)."""

import sys

import pytest
from PySide6.QtCore import QObject, QRect, Signal

from imgfinder.gui.qtcompat import pyside_refcount_bug

pytestmark = pytest.mark.timeout(60)


class _Source(QObject):
    value = Signal(int)


def test_installed_pyside_keeps_refcounts(qapp) -> None:
    assert pyside_refcount_bug() is None, pyside_refcount_bug()
    src = _Source()
    got = []
    src.value.connect(got.append)
    before_true, before_none = sys.getrefcount(True), sys.getrefcount(None)
    rect = QRect()
    for i in range(2000):
        src.value.emit(i)
        rect.translate(1, 1)
    assert len(got) == 2000
    assert abs(sys.getrefcount(True) - before_true) < 50 and abs(sys.getrefcount(None) - before_none) < 50
