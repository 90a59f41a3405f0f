"""HEIC, AVIF, JPEG XL, camera RAW (DNG) and multi-page TIFF, made here: each is found by
the scanner, decoded turned as shown, measured as shown, and its EXIF facts read; a file
whose decoder is missing or that is damaged is refused with a reason, never skipped."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from format_samples import exif_bytes, picture, write_dng, write_format, write_tiff_pages
from imgfinder.core import decoder, formats, raw
from imgfinder.core.decoder import DecodeError, decode_for_model, load_image
from imgfinder.core.jxl_header import jxl_size
from imgfinder.core.metadata import read_metadata
from imgfinder.core.scanner import IMAGE_EXTENSIONS

_TURN = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90}


def shown(img: Image.Image, orientation: int) -> Image.Image:
    return img.transpose(_TURN[orientation]) if orientation in _TURN else img


def likeness(pixels: np.ndarray, expected: Image.Image) -> float:
    ref = np.asarray(expected.convert("RGB").resize(pixels.shape[1::-1], Image.Resampling.BILINEAR), dtype=np.float64)
    return float(np.corrcoef(ref.ravel(), pixels.astype(np.float64).ravel())[0, 1])


def best_turn(pixels: np.ndarray, src: Image.Image) -> int:
    """The orientation (1, 3, 6 or 8) that makes ``src`` look most like ``pixels``."""
    return max((1, 3, 6, 8), key=lambda o: likeness(pixels, shown(src, o)))


# -- the registry -------------------------------------------------------------------------------
def test_one_list_of_formats_feeds_the_scanner_and_every_decoder_is_installed() -> None:
    assert IMAGE_EXTENSIONS is formats.IMAGE_EXTENSIONS
    for ext in (".heic", ".heif", ".avif", ".jxl", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2",
                ".jpg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"):
        assert ext in IMAGE_EXTENSIONS, ext
        assert formats.format_of_name("x" + ext.upper()) is not None
    # The plugins are dependencies (pyproject.toml): all of them must be there.
    assert [f.name for f in formats.ALL_FORMATS if not formats.is_available(f)] == []
    assert formats.is_raw_name("a/IMG_1.CR2") and not formats.is_raw_name("a/IMG_1.jpg")


def test_plugins_are_not_imported_until_a_file_needs_them() -> None:
    """``imgfinder --help`` and a folder of JPEGs do not pay for loading the plugins."""
    code = (
        "import sys, imgfinder.cli, imgfinder.core.decoder, imgfinder.core.scanner, imgfinder.core.metadata\n"
        "from imgfinder.core.decoder import decode_for_model\n"
        f"decode_for_model({str(sorted((Path(__file__).parent / 'photos').glob('*.jpg'))[0])!r}, 64)\n"
        "loaded = [m for m in ('pillow_heif', 'pillow_jxl', 'rawpy', 'imgfinder.core.raw') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_content_decides_the_format_but_a_raw_name_wins_over_tiff() -> None:
    assert formats.kind_of(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "photo.jpg") is formats.HEIF
    assert formats.kind_of(b"\x00\x00\x00\x18ftypavif", "x.heic") is formats.AVIF
    assert formats.kind_of(b"\xff\x0a\x00", None) is formats.JXL
    assert formats.kind_of(b"II*\x00\x08\x00\x00\x00", "IMG_1.NEF") is formats.RAW
    assert formats.kind_of(b"II*\x00\x08\x00\x00\x00", "scan.tif") is formats.TIFF
    assert formats.kind_of(b"\xff\xd8\xff\xe0", "IMG_1.NEF") is formats.JPEG  # a JPEG named .nef
    assert formats.kind_of(b"garbage", "x.heic") is formats.HEIF


# -- decoding, turned and measured as shown ---------------------------------------------------------
@pytest.mark.parametrize("name", ["photo.heic", "photo.avif"])
def test_heic_and_avif_are_turned_by_their_orientation(tmp_path: Path, name: str) -> None:
    src = picture(2)
    path = write_format(tmp_path / name, src, exif_bytes(orientation=6), quality=90)
    decoded = decode_for_model(str(path), 160)
    assert (decoded.width, decoded.height) == (480, 640)  # as shown
    assert best_turn(decoded.pixels, src) == 6
    assert likeness(decoded.pixels, shown(src, 6)) > 0.97
    img, w, h = load_image(str(path), min_side=100)
    assert (w, h) == (480, 640) and img.size[0] < img.size[1]


def test_jpeg_xl_follows_its_codestream_not_its_exif_orientation(tmp_path: Path) -> None:
    """JPEG XL says the EXIF orientation is to be ignored: libjxl turns the pixels by the
    codestream's. A JPEG XL rebuilt from a JPEG is that JPEG, turned by its EXIF."""
    src = picture(3)
    path = write_format(tmp_path / "photo.jxl", src, exif_bytes(orientation=6), quality=90)
    decoded = decode_for_model(str(path), 160)
    assert (decoded.width, decoded.height) == (640, 480)
    assert best_turn(decoded.pixels, src) == 1 and likeness(decoded.pixels, src) > 0.97
    info = read_metadata(str(path))
    assert (info.width, info.height) == (640, 480)

    jpeg = tmp_path / "camera.jpg"
    src.save(jpeg, quality=92, exif=exif_bytes(orientation=6))
    formats.ensure(formats.JXL)
    rebuilt = tmp_path / "rebuilt.jxl"
    with Image.open(jpeg) as img:
        img.save(rebuilt, "JXL", lossless_jpeg=True)
    decoded = decode_for_model(str(rebuilt), 160)
    assert (decoded.width, decoded.height) == (480, 640)
    assert best_turn(decoded.pixels, src) == 6


@pytest.mark.parametrize("orientation", [1, 6, 8, 3])
def test_dng_from_its_preview_is_turned_and_measured_as_shown(tmp_path: Path, orientation: int) -> None:
    src = picture(4)
    path = write_dng(tmp_path / "IMG_0001.dng", src, preview=src, orientation=orientation)
    decoded = decode_for_model(str(path), 160)
    expected = shown(src, orientation)
    assert (decoded.width, decoded.height) == expected.size
    assert best_turn(decoded.pixels, src) == orientation
    assert likeness(decoded.pixels, expected) > 0.97


def test_dng_without_a_large_preview_is_developed_at_half_size(tmp_path: Path) -> None:
    src = picture(5)
    path = write_dng(tmp_path / "small_preview.dng", src, preview=src.resize((200, 150)), orientation=8)
    with open(path, "rb") as handle:
        img = decoder.identify(handle, str(path))
        assert img.format == "DNG" and img.size == (640, 480)  # stored; shown 480x640
        img.draft("RGB", (160, 160))
        assert img.size == (320, 240) and img.decode_cost() == 640 * 480 * raw.HALF_BYTES_PER_PIXEL
        img.load()
        assert img.size == (320, 240)
    decoded = decode_for_model(str(path), 160)
    assert (decoded.width, decoded.height) == (480, 640)
    assert best_turn(decoded.pixels, src) == 8
    assert likeness(decoded.pixels, shown(src, 8)) > 0.9  # LibRaw's own tone curve, not the JPEG's
    # No preview at all: the same.
    bare = write_dng(tmp_path / "bare.dng", src, orientation=1)
    decoded = decode_for_model(str(bare), 160)
    assert (decoded.width, decoded.height) == (640, 480) and likeness(decoded.pixels, src) > 0.9


def test_a_large_preview_is_used_and_drafted_like_a_jpeg(tmp_path: Path) -> None:
    src = picture(6, (1280, 960))
    path = write_dng(tmp_path / "big.dng", src, preview=src, orientation=1)
    with open(path, "rb") as handle:
        img = decoder.identify(handle, str(path))
        img.draft("RGB", (160, 160))
        assert img.size == (320, 240)  # the 1280x960 preview decoded at 1/4 scale
        assert img.decode_cost() < 1280 * 960  # no mosaic developed


def test_a_preview_stored_turned_is_not_turned_twice(tmp_path: Path) -> None:
    """A preview already shown upright (portrait) in a RAW whose mosaic is landscape."""
    src = picture(7)
    path = write_dng(tmp_path / "upright_preview.dng", src, preview=shown(src, 6), orientation=6)
    decoded = decode_for_model(str(path), 160)
    assert (decoded.width, decoded.height) == (480, 640)
    assert best_turn(decoded.pixels, src) == 6


def test_multi_page_tiff_is_its_first_page(tmp_path: Path) -> None:
    first, second = picture(8, (320, 240)), Image.new("RGB", (320, 240), (0, 200, 0))
    path = write_tiff_pages(tmp_path / "scan.tiff", [first, second])
    decoded = decode_for_model(str(path), 64)
    assert (decoded.width, decoded.height) == (320, 240)
    assert likeness(decoded.pixels, first) > 0.97


def test_a_heic_named_jpg_is_read_by_its_content(tmp_path: Path) -> None:
    path = write_format(tmp_path / "x.heic", picture(9))
    renamed = path.rename(tmp_path / "IMG_0002.JPG")
    assert decode_for_model(str(renamed), 64).width == 640


# -- EXIF facts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a.heic", "a.avif", "a.jxl", "a.dng", "b.dng"])
def test_date_and_camera_round_trip(tmp_path: Path, name: str) -> None:
    src = picture(10)
    date, make, model = "2023:07:14 18:30:05", "Testmaker", "Cam 9"
    if name == "a.dng":
        path = write_dng(tmp_path / name, src, preview=src, orientation=6, date=date, make=make, model=model)
    elif name == "b.dng":  # no preview: the facts come from the RAW's own TIFF header
        path = write_dng(tmp_path / name, src, orientation=6, date=date, make=make, model=model)
    else:
        path = write_format(tmp_path / name, src, exif_bytes(date, make, model, orientation=6 if name != "a.jxl" else None))
    info = read_metadata(str(path))
    assert info.error is None
    assert info.date_taken == "2023-07-14 18:30:05"
    assert (info.make, info.model) == (make, model)
    shown_size = (640, 480) if name == "a.jxl" else (480, 640)
    assert (info.width, info.height) == shown_size
    assert info.format == {"a.heic": "HEIF", "a.avif": "AVIF", "a.jxl": "JXL"}.get(name, "DNG")
    if name.endswith(".dng"):
        assert (info.exposure_time, info.f_number, info.iso) == (0.008, 2.8, 200)


# -- refused with a reason ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, fmt, words",
    [("a.heic", formats.HEIF, "HEIC support is not installed (pip install pillow-heif)"),
     ("a.avif", formats.AVIF, "AVIF support is not installed (pip install 'Pillow>=11.3')"),
     ("a.jxl", formats.JXL, "JPEG XL support is not installed (pip install pillow-jxl-plugin)"),
     ("a.dng", formats.RAW, "RAW support is not installed (pip install rawpy)")],
)
def test_a_missing_decoder_is_a_reason(tmp_path: Path, monkeypatch, name: str, fmt, words: str) -> None:
    path = write_format(tmp_path / name, picture(11), exif_bytes())
    monkeypatch.setattr(formats, "is_available", lambda f: f is not fmt)
    with pytest.raises(DecodeError) as err:
        decode_for_model(str(path), 64)
    assert err.value.reason == words
    assert read_metadata(str(path)).error == words
    assert decode_for_model(str(write_format(tmp_path / "fine.png", picture(11))), 64).width == 640


def test_a_plugin_that_fails_to_load_is_a_reason(monkeypatch, tmp_path: Path) -> None:
    path = write_format(tmp_path / "a.jxl", picture(1))
    monkeypatch.setattr(formats, "_registered", set())
    monkeypatch.setattr(formats, "_failed", {})

    def broken() -> None:
        raise ImportError("libjxl.so: cannot open shared object file")

    monkeypatch.setitem(formats._REGISTER, "jxl", broken)
    with pytest.raises(DecodeError) as err:
        decode_for_model(str(path), 64)
    assert err.value.reason.startswith("JPEG XL support failed to load (ImportError: libjxl.so")


def test_damaged_files_say_what_is_wrong(tmp_path: Path) -> None:
    heic = write_format(tmp_path / "ok.heic", picture(0))
    cut = tmp_path / "cut.heic"
    cut.write_bytes(heic.read_bytes()[:1500])
    garbage = tmp_path / "garbage.dng"
    garbage.write_bytes(b"II*\x00" + bytes(range(256)) * 20)
    short = write_dng(tmp_path / "short.dng", picture(1), corrupt=True)
    text = tmp_path / "notes.heic"
    text.write_text("a shopping list, not a photo\n" * 10)
    jxl = tmp_path / "cut.jxl"
    jxl.write_bytes(b"\xff\x0a")
    reasons = {}
    for p in (cut, garbage, short, text, jxl):
        with pytest.raises(DecodeError) as err:
            decode_for_model(str(p), 64)
        reasons[p.name] = err.value.reason
    assert reasons["cut.heic"].startswith("corrupt HEIC file"), reasons
    assert reasons["garbage.dng"].startswith("corrupt DNG file: LibRaw cannot open it"), reasons
    assert reasons["short.dng"].startswith("corrupt DNG file: its raw data cannot be read"), reasons
    assert reasons["notes.heic"].startswith("not a HEIC file"), reasons
    assert reasons["cut.jxl"] == "corrupt JPEG XL file: its header cannot be read"


# -- bounds -----------------------------------------------------------------------------------------------
def test_heic_avif_and_raw_decodes_are_bounded_before_decoding(tmp_path: Path, monkeypatch) -> None:
    src = picture(2)
    files = [write_format(tmp_path / "a.heic", src), write_format(tmp_path / "a.avif", src),
             write_dng(tmp_path / "a.dng", src)]
    monkeypatch.setattr(decoder, "MAX_DECODE_BYTES", 1_000_000)  # 640x480 RGBA needs 1.2 MB, the mosaic 1.5 MB
    for path in files:
        with pytest.raises(DecodeError, match="too large to decode safely"):
            decode_for_model(str(path), 64)


def _jxl_header(width_minus_1: int, height_minus_1: int) -> bytes:
    """A JPEG XL codestream's signature and SizeHeader (not small, 30-bit sizes)."""
    bits = [0] + [1, 1] + [(height_minus_1 >> i) & 1 for i in range(30)] + [0, 0, 0]
    bits += [1, 1] + [(width_minus_1 >> i) & 1 for i in range(30)]
    bits += [0] * (-len(bits) % 8)
    return b"\xff\x0a" + bytes(sum(b << i for i, b in enumerate(bits[n:n + 8])) for n in range(0, len(bits), 8))


def test_jpeg_xl_size_is_read_from_its_header_before_the_plugin_decodes(tmp_path: Path, monkeypatch) -> None:
    src = picture(3, (400, 300))
    plain = write_format(tmp_path / "plain.jxl", src)
    boxed = write_format(tmp_path / "boxed.jxl", src, use_container=True, exif=exif_bytes())
    assert boxed.read_bytes()[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n"
    for path in (plain, boxed):
        with open(path, "rb") as handle:
            assert jxl_size(handle) == (400, 300)
    assert jxl_size(io.BytesIO(_jxl_header(1234, 99))) == (1235, 100)

    formats.ensure(formats.JXL)
    import pillow_jxl.JpegXLImagePlugin as plugin

    def never(*args, **kwargs):
        raise AssertionError("the plugin decoded a file the bounds refuse")

    monkeypatch.setattr(plugin, "Decoder", never)
    bomb = tmp_path / "bomb.jxl"
    bomb.write_bytes(_jxl_header(99_999, 99_999) + b"\x00" * 64)
    with pytest.raises(DecodeError, match=r"image too large \(100000x100000 pixels"):
        decode_for_model(str(bomb), 64)
    monkeypatch.setattr(decoder, "MAX_DECODE_BYTES", 100_000)
    with pytest.raises(DecodeError, match="too large to decode safely"):
        decode_for_model(str(plain), 64)


def test_whole_file_formats_are_refused_above_the_limit_on_disk(tmp_path: Path, monkeypatch) -> None:
    path = write_format(tmp_path / "a.heic", picture(4))
    monkeypatch.setattr(decoder, "MAX_DECODE_BYTES", path.stat().st_size - 1)
    with pytest.raises(DecodeError, match="HEIC file too large to read safely"):
        decode_for_model(str(path), 64)


def test_a_damaged_jpeg_xl_has_a_reason_for_a_user_not_for_libjxl_developers(tmp_path: Path) -> None:
    """libjxl's catch-all error told the user to "build libjxl from source"."""
    path = write_format(tmp_path / "a.jxl", picture(0, (300, 200)), None, quality=90)
    data = bytearray(path.read_bytes())
    for i in range(40, len(data), 7):
        data[i] ^= 0x5A
    damaged = tmp_path / "damaged.jxl"
    damaged.write_bytes(bytes(data))
    with pytest.raises(DecodeError) as err:
        load_image(str(damaged))
    assert err.value.reason == "corrupt JPEG XL file: libjxl could not decode it"
    assert "source" not in err.value.reason
