"""Grid labels keep the part of a name that tells it apart from its neighbours."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication

from imgfinder.core.catalog import FileRow
from imgfinder.gui.delegates import elide_name
from imgfinder.gui.models import DistinctRole, PhotoListModel, distinct_starts


def test_distinct_starts_find_where_a_name_differs_from_its_closest_neighbour() -> None:
    d = distinct_starts(["IMG_20230101_142233.jpg", "IMG_20230101_142234.jpg", "beach.jpg", "beach (1).jpg"])
    assert d["IMG_20230101_142233.jpg"] == 18 and d["IMG_20230101_142234.jpg"] == 18
    assert d["beach.jpg"] == 5 and d["beach (1).jpg"] == 5
    assert distinct_starts(["only.jpg"]) == {"only.jpg": 0}


def test_a_narrow_label_keeps_the_digits_two_bursts_differ_by(qtbot) -> None:
    fm = QFontMetrics(QApplication.font())
    names = ["Rome day two burst 033 - edited for the print shop.jpg", "Rome day two burst 034 - edited for the print shop.jpg"]
    d = distinct_starts(names)
    width = fm.horizontalAdvance("Rome day two burst…")
    shown = [elide_name(fm, n, d[n], width) for n in names]
    assert shown[0] != shown[1], shown
    assert all(fm.horizontalAdvance(s) <= width for s in shown)
    assert "33" in shown[0] and "34" in shown[1]
    # a middle cut (what Qt does) would show both the same
    from PySide6.QtCore import Qt
    assert len({fm.elidedText(n, Qt.TextElideMode.ElideMiddle, width) for n in names}) == 1
    assert elide_name(fm, "short.jpg", 0, 500) == "short.jpg"


def test_the_model_gives_each_row_its_distinct_start(qtbot) -> None:
    model = PhotoListModel()
    rows = [FileRow(i, f"/p/IMG_00{i}.jpg", 1, 1, None, 1, 1, None) for i in (10, 11, 20)]
    model.set_rows(rows)
    assert [model.index(i, 0).data(DistinctRole) for i in range(3)] == [7, 7, 6]
    model.set_rows(rows[:1])  # recomputed for the new rows
    assert model.index(0, 0).data(DistinctRole) == 0
