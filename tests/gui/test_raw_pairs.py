"""RAW files in the desktop app: a RAW and the camera's JPEG of it are shown as a
"RAW + JPEG" group, and the "Keep" choice of the duplicates view (best pixels, prefer RAW,
prefer JPEG) puts the chosen one first, is remembered, and is what a new search uses."""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QModelIndex

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from format_samples import exif_bytes, picture, write_dng, write_format  # noqa: E402
from gui_helpers import index_and_wait  # noqa: E402
from imgfinder.core.duplicates import KeepPreference  # noqa: E402


def _keeper(dv) -> str:
    (group,) = [g for g in dv.groups if g.kind == "raw+jpeg"]
    return Path(group.keeper.row.path).name


def test_raw_jpeg_pair_and_the_keep_choice(qtbot, make_window, tmp_path: Path) -> None:
    lib = tmp_path / "photos"
    src = picture(0)
    write_dng(lib / "IMG_0007.dng", src, preview=src, orientation=6)
    # The camera's JPEG, turned upright in its pixels (no EXIF orientation).
    src.transpose(Image.Transpose.ROTATE_270).save(lib / "IMG_0007.JPG", quality=92, exif=exif_bytes())
    for n in (1, 2, 3):
        picture(n, (320, 240)).save(lib / f"other{n}.jpg", quality=90)
    write_format(lib / "phone.heic", picture(4))
    window = make_window()
    index_and_wait(qtbot, window, lib)
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
        window.act_duplicates.trigger()
    dv = window.duplicates_view
    assert [g.kind for g in dv.groups] == ["raw+jpeg"]
    assert _keeper(dv) == "IMG_0007.dng"  # best pixels: the same, the RAW is the larger file
    head = dv.model.item(0, 0)
    assert "RAW + JPEG" in head.text()
    assert head.child(0, 2).text() == "★ Keep" and head.child(1, 2).text() == "JPEG of the pair"
    assert head.child(0, 3).text() == "480×640"  # the RAW measured as shown
    assert "1 RAW + JPEG" in dv.summary.text()
    combo = dv.kind_filter
    assert combo.itemText(4) == "RAW + JPEG (1)"
    combo.setCurrentIndex(4)
    assert not dv.tree.isRowHidden(0, QModelIndex())
    combo.setCurrentIndex(2)  # Edited copies: none
    assert dv.tree.isRowHidden(0, QModelIndex())
    combo.setCurrentIndex(0)

    keep = dv.keep_choice
    assert [keep.itemText(i) for i in range(keep.count())] == ["Keep original", "Keep RAW", "Keep JPEG",
                                                               "Keep oldest", "Keep largest", "Keep with EXIF"]
    with qtbot.waitSignal(window.job_done, timeout=20_000, check_params_cb=lambda k: k == "regroup"):
        keep.setCurrentIndex(2)  # as a user picks it
    assert _keeper(dv) == "IMG_0007.JPG"
    assert dv.model.item(0, 0).child(1, 2).text() == "RAW of the pair"
    assert window.settings.keep_preference is KeepPreference.JPEG
    window.close()

    # Remembered: a new window shows the choice and its search keeps the JPEG.
    again = make_window()
    assert again.duplicates_view.keep_preference() is KeepPreference.JPEG
    with qtbot.waitSignal(again.job_done, timeout=20_000, check_params_cb=lambda k: k == "duplicates"):
        again.act_duplicates.trigger()
    assert _keeper(again.duplicates_view) == "IMG_0007.JPG"
    with qtbot.waitSignal(again.job_done, timeout=20_000, check_params_cb=lambda k: k == "regroup"):
        again.duplicates_view.keep_choice.setCurrentIndex(1)
    assert _keeper(again.duplicates_view) == "IMG_0007.dng"
