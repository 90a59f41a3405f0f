"""What one file costs in memory is bounded before its body is read: a file that is not an
image is refused from its first bytes, the hash is streamed, an image too large to decode
is refused from its header, large images are converted and reduced in bands (no full-size
RGB copy), and two huge decodes do not run at once. (Peak figures: benchmarks/decode_memory.py.)"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from _photos import decode_peak_growth
from imgfinder.core import decoder, model_pixels
from imgfinder.core.decoder import PhotoFile, decode_for_model, hash_bytes


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header(width: int, height: int, colour: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` and carries almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")


def test_a_large_file_that_is_not_an_image_is_never_read_whole(tmp_path: Path, photo_paths: list[Path]) -> None:
    big = tmp_path / "movie_renamed.jpg"
    with open(big, "wb") as handle:
        handle.write(b"\x00\x00\x00\x18ftypmp42")  # an MP4, say
    os.truncate(big, 1 << 30)  # 1 GiB, sparse
    grew, reason = decode_peak_growth(big, photo_paths[0])
    assert reason is not None and "not an image" in reason
    assert grew < 64, f"refusing a 1 GiB non-image grew the peak RSS by {grew:.0f} MB"


def test_an_image_too_large_to_decode_is_refused_from_its_header(tmp_path: Path, photo_paths: list[Path]) -> None:
    # 17000 x 17000 RGB: 289 megapixels (under the pixel cap), 1.16 GB to hold.
    path = tmp_path / "huge_rgb.png"
    path.write_bytes(_png_header(17_000, 17_000, colour=2))
    grew, reason = decode_peak_growth(path, photo_paths[0])
    assert reason is not None and "too large to decode safely" in reason and "17000x17000" in reason
    assert grew < 64


def test_a_large_palette_png_decodes_without_full_size_copies(tmp_path: Path, photo_paths: list[Path]) -> None:
    """48 megapixels of palette PNG: 48 MB decoded. Converting it whole to RGBA, flattening
    it on white and to RGB made three 192 MB copies (over 500 MB); bands make none."""
    width, height = 8000, 6000
    row = (np.arange(width) // 500 % 16).astype(np.uint8)
    img = Image.fromarray(np.broadcast_to(row, (height, width)).copy(), "L").convert("P")
    img.putpalette([v for i in range(16) for v in (i * 16, 255 - i * 16, 90)])
    path = tmp_path / "palette.png"
    img.save(path, transparency=3)
    grew, reason = decode_peak_growth(path, photo_paths[0])
    assert reason is None
    assert grew < 48 * 2.5, f"decoding a 48 MB palette image grew the peak RSS by {grew:.0f} MB"


def test_banded_pixels_equal_whole_image_pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The banded path gives the model exactly what converting and resizing the whole
    (oriented) picture gives, so a large photo's embedding does not depend on the path."""
    rng = np.random.default_rng(3)
    base = Image.fromarray((rng.random((301, 457, 3)) * 255).astype(np.uint8))
    images = [base, base.convert("L"), base.quantize(32), base.convert("LA"),
              Image.fromarray((rng.random((301, 457)) * 60000).astype(np.uint16))]
    monkeypatch.setattr(model_pixels, "BAND_BYTES", 40_000)  # many bands
    for img in images:
        for orientation in range(1, 9):
            for size in (32, 64):
                want = decoder.square_pixels(decoder._oriented(img, orientation), size)
                monkeypatch.setattr(model_pixels, "BANDED_PIXELS", 0)
                got = decoder.model_pixels(img, size, orientation)
                monkeypatch.setattr(model_pixels, "BANDED_PIXELS", 16_000_000)
                assert np.array_equal(got, want), (img.mode, orientation, size)


def test_the_streamed_hash_is_the_hash_of_the_bytes(tmp_path: Path, photo_paths: list[Path]) -> None:
    """Streaming keeps the content hash of earlier versions (catalogs keep their hashes)."""
    path = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (1200, 1500, 3), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    assert len(data) > 3 * decoder.HASH_CHUNK
    with PhotoFile(str(path)) as photo:
        assert photo.content_hash() == hash_bytes(data) == hashlib.blake2b(data, digest_size=20).hexdigest()
        decoded = photo.decode_for_model(32)
    assert decoded.content_hash == hash_bytes(data)
    assert decode_for_model(str(path), 32).content_hash == hash_bytes(data)


def test_two_huge_decodes_do_not_run_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large non-JPEG images share a memory budget: with room for one, the second waits."""
    paths = []
    for n in range(2):
        path = tmp_path / f"wide_{n}.png"
        Image.new("L", (4000, 3000), 40 * n).save(path)  # 12 MB decoded each
        paths.append(path)
    monkeypatch.setattr(decoder, "LARGE_DECODE_BYTES", 1 << 20, raising=False)
    if hasattr(decoder, "_Budget"):
        monkeypatch.setattr(decoder, "DECODE_BUDGET", decoder._Budget(16 << 20))  # room for one
    running = 0
    most = 0
    lock = threading.Lock()
    real_load = ImageFile.ImageFile.load

    def load(self):  # noqa: ANN001
        nonlocal running, most
        if self.size[0] * self.size[1] < 10_000_000:
            return real_load(self)
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.3)  # make an overlap certain if nothing prevents it
            return real_load(self)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    errors: list[BaseException] = []

    def work(p: Path) -> None:
        try:
            decode_for_model(str(p), 64)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and most == 1


def test_a_png_exif_read_does_not_decode_a_large_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow reads a PNG's EXIF by decoding the whole picture: the details panel (and the
    capture times of duplicate groups) must not do that for a large one."""
    from imgfinder.core.metadata import read_metadata

    path = tmp_path / "big.png"
    Image.new("L", (6000, 4000), 7).save(path)
    loads = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self.size) or real_load(self))
    info = read_metadata(str(path))
    assert (info.width, info.height, info.error) == (6000, 4000, None)
    assert loads == []

