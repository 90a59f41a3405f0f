"""The compare view's map from one photo's pixels to another's (core.alignment)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageOps

from imgfinder.core.alignment import align, by_frames

PHOTOS = Path(__file__).parent / "photos"


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> tuple[Path, Image.Image]:
    img = Image.open(PHOTOS / "01_astronaut.jpg").convert("RGB").resize((1200, 900))
    path = tmp_path_factory.mktemp("align") / "original.jpg"
    img.save(path, quality=95)
    return path, img


def _close(got: tuple[float, float], want: tuple[float, float], tol: float) -> None:
    assert abs(got[0] - want[0]) <= tol and abs(got[1] - want[1]) <= tol, (got, want)


def test_a_resized_copy_maps_by_its_frame(original, tmp_path: Path) -> None:
    path, img = original
    small = tmp_path / "small.jpg"
    img.resize((600, 450)).save(small, quality=90)
    m = align(str(path), str(small))
    assert m.matched
    _close(m.map(800, 300), (400, 150), 3)
    assert m.scale == pytest.approx(0.5, abs=0.02)


def test_a_crop_maps_the_matched_area_not_the_frame(original, tmp_path: Path) -> None:
    path, img = original
    crop = tmp_path / "crop.jpg"
    img.crop((300, 200, 1100, 800)).resize((400, 300)).save(crop, quality=90)
    m = align(str(path), str(crop))
    assert m.matched
    # a's (700, 500) lies at ((700 - 300) / 2, (500 - 200) / 2) in the half-size crop
    _close(m.map(700, 500), (200, 150), 3)
    frames = by_frames((1200, 900), (400, 300)).map(700, 500)
    assert abs(frames[0] - 200) > 20  # laying the frames on each other would be wrong here
    back = m.inverse().map(200, 150)
    _close(back, (700, 500), 5)


def test_a_mirrored_copy_maps_left_to_right(original, tmp_path: Path) -> None:
    path, img = original
    mirror = tmp_path / "mirror.jpg"
    ImageOps.mirror(img).save(mirror, quality=90)
    m = align(str(path), str(mirror))
    assert m.matched
    _close(m.map(200, 450), (999, 450), 4)


def test_unrelated_photos_fall_back_to_their_frames(original, tmp_path: Path) -> None:
    path, _ = original
    other = tmp_path / "other.jpg"
    Image.open(PHOTOS / "07_rocket.jpg").convert("RGB").resize((800, 600)).save(other)
    m = align(str(path), str(other))
    assert not m.matched
    _close(m.map(600, 450), (400, 300), 0.01)
    assert len(m.affine()) == 6
