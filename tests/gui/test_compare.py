"""Compare keeps the same picture area under both views, whatever the photos' sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageOps

from imgfinder.core.catalog import FileRow
from imgfinder.core.duplicates import GroupMember
from imgfinder.gui import jobs
from imgfinder.gui.compare_view import CompareDialog

PHOTOS = Path(__file__).parent.parent / "photos"


def _member(path: Path, score: float = 0.97) -> GroupMember:
    with Image.open(path) as img:
        w, h = img.size
    return GroupMember(FileRow(0, str(path), path.stat().st_size, 0, None, w, h, None), score, False)


def _open(qtbot, left: Path, right: Path) -> CompareDialog:
    dlg = CompareDialog(_member(left), _member(right))
    qtbot.addWidget(dlg)
    dlg.resize(1000, 700)
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.set_data(jobs.compare(None, [str(left), str(right)]))
    return dlg


@pytest.fixture
def original(tmp_path: Path) -> tuple[Path, Image.Image]:
    img = Image.open(PHOTOS / "05_coffee.jpg").convert("RGB").resize((1600, 1200))
    path = tmp_path / "original.jpg"
    img.save(path, quality=95)
    return path, img


def _centre_in_left(dlg: CompareDialog) -> tuple[float, float]:
    return dlg.views[0].centre()


@pytest.mark.parametrize("zoom", [1.0, 2.5])
def test_a_smaller_crop_shows_the_area_under_the_left_view(qtbot, original, tmp_path: Path, zoom: float) -> None:
    path, img = original
    crop = tmp_path / "crop.jpg"
    img.crop((400, 300, 1400, 1050)).resize((500, 375)).save(crop, quality=88)  # half size, offset
    dlg = _open(qtbot, path, crop)
    assert dlg.alignment is not None and dlg.alignment.matched
    dlg.zoom_to(zoom)
    assert dlg.views[1].zoom() == pytest.approx(zoom * 2, rel=0.05)  # the same area, at twice the scale
    dlg.views[0].centerOn(900, 700)
    x, y = _centre_in_left(dlg)
    rx, ry = dlg.views[1].centre()
    assert abs(rx - (x - 400) / 2) < 6 and abs(ry - (y - 300) / 2) < 6, ((x, y), (rx, ry))
    # and back: panning the right view moves the left one to the same point
    dlg.views[1].centerOn(300, 200)
    rx, ry = dlg.views[1].centre()
    x, y = _centre_in_left(dlg)
    assert abs(x - (400 + 2 * rx)) < 10 and abs(y - (300 + 2 * ry)) < 10
    assert "matched area" in dlg.status.text()


def test_a_mirrored_copy_pans_the_other_way(qtbot, original, tmp_path: Path) -> None:
    path, img = original
    mirror = tmp_path / "mirror.jpg"
    ImageOps.mirror(img).resize((800, 600)).save(mirror, quality=90)
    dlg = _open(qtbot, path, mirror)
    dlg.zoom_to(1.0)
    dlg.views[0].centerOn(500, 600)
    x, _ = _centre_in_left(dlg)
    rx, _ = dlg.views[1].centre()
    assert abs(rx - (1599 - x) / 2) < 6


def test_unrelated_photos_of_other_sizes_pan_by_their_frames(qtbot, original, tmp_path: Path) -> None:
    path, _ = original
    other = tmp_path / "other.jpg"
    Image.open(PHOTOS / "07_rocket.jpg").convert("RGB").resize((400, 300)).save(other)
    dlg = _open(qtbot, path, other)
    assert not dlg.alignment.matched
    dlg.zoom_to(2.0)
    dlg.views[0].centerOn(1200, 300)
    x, y = _centre_in_left(dlg)
    rx, ry = dlg.views[1].centre()
    assert abs(rx - x / 4) < 3 and abs(ry - y / 4) < 3
    assert "of pixels" in dlg.status.text()


def test_the_difference_overlay_covers_only_the_overlap(original, tmp_path: Path) -> None:
    path, img = original
    crop = tmp_path / "crop.jpg"
    img.crop((400, 300, 1400, 1050)).save(crop, quality=92)
    data = jobs.compare(None, [str(path), str(crop)])
    assert data.alignment.matched
    assert data.diff_fraction is not None and data.diff_fraction < 0.05  # the crop agrees where it overlaps
    assert all(d is not None and not d.isNull() for d in data.diffs)
    resized_naively = jobs.by_frames(data.sizes[0], data.sizes[1])
    shown = [(data.images[0].width(), data.images[0].height()), (data.images[1].width(), data.images[1].height())]
    a = jobs.load_picture(str(path), 1600)
    b = jobs.load_picture(str(crop), 1600)
    _, _, naive = jobs._overlays(a, b, jobs._display_map(resized_naively, data.sizes, shown))
    assert naive > 5 * max(data.diff_fraction, 0.01)  # what stretching the crop over the frame would say
