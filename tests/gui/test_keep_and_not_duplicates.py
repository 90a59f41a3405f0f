""""Keep this one" makes the highlighted photo its group's keeper (and a regrouping keeps
the choice); "Not duplicates" on a group's title row remembers every pair of the group,
so the group does not re-form in parts; each row says which photo admitted it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gui_helpers import index_and_wait  # noqa: E402


def _library(tmp_path: Path, photo_paths: list[Path]) -> Path:
    """One photo and three edited copies (a group of four), and two other photos."""
    lib = tmp_path / "photos"
    lib.mkdir()
    with Image.open(photo_paths[0]) as im:
        img = im.convert("RGB")
    img.thumbnail((480, 480))
    img.save(lib / "original.jpg", quality=95)
    img.resize((img.width // 2, img.height // 2)).save(lib / "small.jpg", quality=80)
    img.crop((10, 10, img.width - 10, img.height - 10)).save(lib / "cropped.jpg", quality=85)
    img.point(lambda v: min(255, v + 20)).save(lib / "brighter.jpg", quality=85)
    for p in photo_paths[3:5]:
        with Image.open(p) as im:
            other = im.convert("RGB")
        other.thumbnail((320, 320))
        other.save(lib / p.name, quality=90)
    return lib


def _find(qtbot, window) -> None:
    with qtbot.waitSignal(window.job_done, timeout=30_000, check_params_cb=lambda k: k == "duplicates"):
        window.find_duplicates()


def test_keep_this_one_and_not_duplicates_for_a_whole_group(qtbot, make_window, tmp_path: Path, photo_paths) -> None:
    lib = _library(tmp_path, photo_paths)
    window = make_window()
    index_and_wait(qtbot, window, lib)
    _find(qtbot, window)
    dv = window.duplicates_view
    assert len(dv.groups) == 1
    group = dv.groups[0]
    names = [os.path.basename(m.row.path) for m in group.members]
    assert sorted(names) == ["brighter.jpg", "cropped.jpg", "original.jpg", "small.jpg"]
    assert names[0] == "original.jpg"  # the original is the suggested keeper
    # Each row shows the score that admitted it, with the photo it is with.
    for i, m in enumerate(group.members[1:], 1):
        tip = dv.model.item(0, 0).child(i, 1).toolTip()
        assert m.link is not None and os.path.basename(m.link) in tip and "matching detail" in tip

    # "Keep this one" on the small copy: it comes first, ticks follow, a regroup keeps it.
    small = names.index("small.jpg")
    dv.select_member(0, small)
    assert dv.act_keep_this.isEnabled()
    dv.act_keep_this.trigger()
    assert os.path.basename(dv.groups[0].members[0].row.path) == "small.jpg"
    assert dv.model.item(0, 0).child(0, 2).text().startswith("★ Keep")
    dv.act_auto.trigger()
    assert {os.path.basename(p) for p in dv.checked_paths()} == {"original.jpg", "cropped.jpg", "brighter.jpg"}
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "regroup"):
        window._threshold_changed(dv.threshold())
    assert os.path.basename(dv.groups[0].members[0].row.path) == "small.jpg"

    # "Not duplicates" with the group's title row current: every pair is remembered.
    dv.tree.setCurrentIndex(dv.model.item(0, 0).index())
    pairs = dv.not_duplicate_pairs()
    assert len(pairs) == 6
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "regroup"):
        dv.act_not_dup.trigger()
    assert dv.groups == []
    assert len(window.finder.ignored) == 6
    window.close()
    again = make_window(data_dir=tmp_path / "data")
    _find(qtbot, again)
    assert again.duplicates_view.groups == []  # remembered: not one group, not two halves of it
