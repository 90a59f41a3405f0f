"""The duplicates tab says what kind each group is and filters by kind; burst shots are
shown as shots and are not ticked by "Select all but best" unless shown alone."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QModelIndex

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from burst_scenes import burst_library  # noqa: E402
from gui_helpers import index_and_wait  # noqa: E402


def _stems(group) -> set[str]:
    return {Path(m.row.path).stem for m in group.members}


def test_kind_labels_and_filter(qtbot, make_window, tmp_path: Path) -> None:
    files = burst_library(tmp_path / "bursts")
    window = make_window()
    index_and_wait(qtbot, window, files["s1_shot1"].parent)
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
        window.act_duplicates.trigger()
    dv = window.duplicates_view
    kinds = sorted(g.kind for g in dv.groups)
    assert kinds == ["copies", "exact", "shots", "shots"]
    burst = next(n for n, g in enumerate(dv.groups) if _stems(g) == {"s2_shot1", "s2_shot2", "s2_shot3"})
    copies = next(n for n, g in enumerate(dv.groups) if g.kind == "copies")
    exact = next(n for n, g in enumerate(dv.groups) if g.kind == "exact")
    assert "s1_shot2" not in _stems(dv.groups[copies])

    # Readable labels in the group headers and the members' kind column.
    header = lambda n: dv.model.item(n, 0).text()  # noqa: E731
    assert "Burst shots" in header(burst) and "not copies" in header(burst)
    assert "Edited copies" in header(copies) and "Exact copies" in header(exact)
    assert dv.model.item(burst, 0).child(1, 2).text() == "other shot"
    assert dv.model.item(copies, 0).child(1, 2).text() == "edited copy"
    assert "2 bursts" in dv.summary.text()

    visible = lambda: {n for n in range(dv.model.rowCount()) if not dv.tree.isRowHidden(n, QModelIndex())}  # noqa: E731
    combo = dv.kind_filter
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "All kinds (4)", "Exact copies (1)", "Edited copies (1)", "Burst shots (2)", "RAW + JPEG (0)"]
    assert visible() == {0, 1, 2, 3}

    # "Select all but best" with every kind shown ticks copies, never burst shots.
    dv.act_auto.trigger()
    ticked = {Path(p).stem for p in dv.checked_paths()}
    assert ticked == {"s1_copy", "s6_exact"} or ticked == {"s1_copy", "s6_photo"}

    # The filter, as a user picks it in the combo box.
    combo.setCurrentIndex(3)  # Burst shots
    assert visible() == {n for n, g in enumerate(dv.groups) if g.kind == "shots"}
    assert dv.checked_paths() == []  # what is hidden is never trashed
    assert not dv.act_trash.isEnabled()
    dv.act_auto.trigger()  # shown alone, shots can be ticked on purpose
    assert len(dv.checked_paths()) == 3 and all(Path(p).stem[:2] in ("s2", "s3") for p in dv.checked_paths())
    dv.act_clear.trigger()
    assert dv.checked_paths() == []

    combo.setCurrentIndex(1)  # Exact copies
    assert visible() == {exact}
    combo.setCurrentIndex(2)  # Edited copies
    assert visible() == {copies}
    dv.set_kind_filter(None)
    assert combo.currentIndex() == 0 and visible() == {0, 1, 2, 3}
    dv.set_kind_filter("shots")
    assert combo.currentIndex() == 3
