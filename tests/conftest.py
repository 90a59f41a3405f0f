"""Shared fixtures: the real photos, a fast deterministic fake embedder, libraries."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgfinder.core.embedding import l2_normalise
from imgfinder.core.library import Library

REPO = Path(__file__).resolve().parent.parent


TEST_PHOTOS = REPO / "tests" / "photos"


def committed_photos_dir() -> Path:
    """The committed, permissively licensed photos (tests/photos/README.md);
    ``IMGFINDER_PHOTOS`` runs the same tests on another folder."""
    override = os.environ.get("IMGFINDER_PHOTOS")
    return Path(override) if override else TEST_PHOTOS


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    path = committed_photos_dir()
    photos = sorted(path.glob("*.jpg")) if path.is_dir() else []
    assert len(photos) >= 12, f"the tests need at least 12 photos in {path}, found {len(photos)}"
    return path


@pytest.fixture(scope="session")
def photo_paths(photos_dir: Path) -> list[Path]:
    return sorted(photos_dir.glob("*.jpg"))


class FakeEmbedder:
    """Colour layout at 8x8: cheap, deterministic, and robust to resizing and JPEG."""

    input_size = 64
    dim = 192

    def __init__(self, model_id: str = "fake-v1") -> None:
        self.model_id = model_id
        self.calls = 0
        self.images = 0

    def embed(self, images: np.ndarray) -> np.ndarray:
        assert images.dtype == np.uint8 and images.shape[1:] == (64, 64, 3), images.shape
        self.calls += 1
        self.images += len(images)
        x = images.astype(np.float32).reshape(len(images), 8, 8, 8, 8, 3).mean(axis=(2, 4))
        x = x.reshape(len(images), -1)
        x -= x.mean(axis=1, keepdims=True)
        return l2_normalise(x)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def library(tmp_path: Path, fake_embedder: FakeEmbedder):
    lib = Library(tmp_path / "data", fake_embedder)
    yield lib
    lib.close()


def small_copy(src: Path, dst: Path, max_side: int = 320, quality: int = 85) -> Path:
    """A reduced copy of a real photo, so unit tests stay fast."""
    with Image.open(src) as img:
        img = img.convert("RGB")
        img.thumbnail((max_side, max_side))
        dst.parent.mkdir(parents=True, exist_ok=True)
        img.save(dst, quality=quality)
    return dst


@pytest.fixture
def small_photos(tmp_path: Path, photo_paths: list[Path]) -> list[Path]:
    """Eight small copies of distinct real photos in tmp_path/lib."""
    return [small_copy(p, tmp_path / "lib" / p.name) for p in photo_paths[:8]]


def copy_file(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    return dst



@pytest.fixture
def small_catalog(tmp_path: Path, monkeypatch, photo_paths):
    """Three small photos in a catalog, the trash a temporary one: (tmp_path, photos, catalog)."""
    from imgfinder.core.catalog import Catalog

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    photos = [small_copy(p, tmp_path / "photos" / p.name, max_side=64) for p in photo_paths[:3]]
    catalog = Catalog(tmp_path / "cat.sqlite3")
    from file_records import file_record

    catalog.write_batch([file_record(p) for p in photos], "m")
    yield tmp_path, photos, catalog
    catalog.close()
