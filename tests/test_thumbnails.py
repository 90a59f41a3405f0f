import os
from pathlib import Path

import pytest

from conftest import small_copy
from imgfinder.core.decoder import DecodeError
from imgfinder.core.thumbnails import ThumbnailCache


def test_thumbnail_is_cached_and_keyed_by_mtime(tmp_path: Path, photo_paths) -> None:
    cache = ThumbnailCache(tmp_path / "data")
    photo = small_copy(photo_paths[0], tmp_path / "p.jpg", max_side=600)
    img = cache.get(str(photo), 128)
    assert max(img.size) == 128 and img.mode == "RGB"
    files = list(cache.directory.rglob("*.jpg"))
    assert len(files) == 1 and not list(cache.directory.rglob("*.tmp"))
    assert cache.get_bytes(str(photo), 128) == files[0].read_bytes()
    cache.get(str(photo), 64)
    assert len(list(cache.directory.rglob("*.jpg"))) == 2
    os.utime(photo, ns=(1, 1_000_000_000))
    cache.get(str(photo), 128)
    assert len(list(cache.directory.rglob("*.jpg"))) == 3
    before = photo.read_bytes()
    assert photo.read_bytes() == before  # the photo itself is never touched


def test_damaged_cache_entry_is_rebuilt(tmp_path: Path, photo_paths) -> None:
    cache = ThumbnailCache(tmp_path / "data")
    photo = small_copy(photo_paths[1], tmp_path / "p.jpg")
    cache.get(str(photo), 96)
    entry = next(cache.directory.rglob("*.jpg"))
    entry.write_bytes(b"junk")
    assert max(cache.get(str(photo), 96).size) == 96


def test_missing_and_corrupt_files_raise_decode_error(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "data")
    with pytest.raises(DecodeError):
        cache.get(str(tmp_path / "missing.jpg"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(DecodeError):
        cache.get(str(bad))
