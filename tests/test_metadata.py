from pathlib import Path

from PIL import Image

from imgfinder.core.metadata import normalise_exif_date, read_metadata


def _with_exif(path: Path, **tags) -> Path:
    img = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[int(tag[1:], 16)] = value
    img.save(path, exif=exif)
    return path


def test_reads_date_camera_and_oriented_size(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20))
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 80D"
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "2021:07:04 10:11:12"
    img.save(tmp_path / "a.jpg", exif=exif)
    info = read_metadata(str(tmp_path / "a.jpg"))
    assert (info.width, info.height) == (20, 40)
    assert info.date_taken == "2021-07-04 10:11:12"
    assert info.camera == "Canon EOS 80D" and info.format == "JPEG" and info.error is None


def test_falls_back_to_datetime_and_joins_make_model(tmp_path: Path) -> None:
    path = _with_exif(tmp_path / "b.jpg", x0132="2019:01:02 03:04:05", x010F="NIKON", x0110="D750\x00")
    info = read_metadata(str(path))
    assert info.date_taken == "2019-01-02 03:04:05" and info.camera == "NIKON D750"


def test_broken_or_missing_files_never_raise(tmp_path: Path, photo_paths) -> None:
    assert read_metadata(str(tmp_path / "nope.jpg")).error
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00garbagegarbage")
    info = read_metadata(str(bad))
    assert info.error and info.size == bad.stat().st_size
    plain = read_metadata(str(photo_paths[0]))
    assert plain.width and plain.height and plain.error is None


def test_normalise_exif_date() -> None:
    assert normalise_exif_date("0000:00:00 00:00:00") is None
    assert normalise_exif_date(b"2020:02:03") == "2020-02-03"
    assert normalise_exif_date("garbage") is None
    assert normalise_exif_date(None) is None


# -- lens, exposure, place, sub-second time ------------------------------------------------------
from fractions import Fraction  # noqa: E402

import pytest  # noqa: E402
from PIL import ImageFile  # noqa: E402
from PIL.TiffImagePlugin import IFDRational  # noqa: E402

from imgfinder.core.metadata import image_info  # noqa: E402
from imgfinder.core.photo_info import PhotoInfo, aperture_text, coordinates_text, focal_text, shutter_text  # noqa: E402


def exif_with(
    exif_ifd: dict | None = None, gps: dict | None = None, **ifd0: object
) -> Image.Exif:
    """An EXIF block: ``ifd0`` as x0110="model", the EXIF sub-IFD and the GPS IFD as tag -> value."""
    exif = Image.Exif()
    for tag, value in ifd0.items():
        exif[int(tag[1:], 16)] = value
    for tag, value in (exif_ifd or {}).items():
        exif.get_ifd(0x8769)[tag] = value
    for tag, value in (gps or {}).items():
        exif.get_ifd(0x8825)[tag] = value
    return exif


FULL_EXIF = {
    0x9003: "2023:07:14 18:42:07", 0x9011: "+02:00", 0x9291: "25",
    0xA433: "FUJIFILM", 0xA434: "XF35mmF1.4 R",
    0x829A: IFDRational(1, 250), 0x829D: IFDRational(28, 10), 0x8827: 400, 0x920A: IFDRational(35, 1),
}
EIFFEL_GPS = {1: "N", 2: (48.0, 51.0, 30.24), 3: "E", 4: (2.0, 17.0, 40.2), 5: b"\x00", 6: IFDRational(35, 1)}


def _save(path: Path, exif: Image.Exif, fmt: str | None = None) -> Path:
    Image.new("RGB", (40, 20), (10, 120, 200)).save(path, fmt, exif=exif)
    return path


def test_reads_lens_exposure_place_and_sub_second_time(tmp_path: Path) -> None:
    path = _save(tmp_path / "x.jpg", exif_with(FULL_EXIF, EIFFEL_GPS, x010F="FUJIFILM", x0110="X-T3"))
    info = read_metadata(str(path))
    assert info.error is None and info.camera == "FUJIFILM X-T3"
    assert (info.date_taken, info.date_subsec, info.date_offset) == ("2023-07-14 18:42:07", "25", "+02:00")
    assert info.taken == "2023-07-14 18:42:07 +02:00"
    assert (info.lens_make, info.lens_model, info.lens) == ("FUJIFILM", "XF35mmF1.4 R", "FUJIFILM XF35mmF1.4 R")
    assert info.exposure_time == pytest.approx(0.004) and info.f_number == pytest.approx(2.8)
    assert (info.iso, info.focal_length) == (400, 35.0)
    assert info.exposure == "1/250 s · f/2.8 · ISO 400 · 35 mm"
    assert info.latitude == pytest.approx(48.8584, abs=1e-4) and info.longitude == pytest.approx(2.294500, abs=1e-4)
    assert info.altitude == 35.0 and info.altitude_text == "35 m above sea level"
    assert info.location == "48.8584° N, 2.2945° E"
    assert info.map_url.startswith("https://www.openstreetmap.org/?mlat=48.858400&mlon=2.294500")
    # The indexer reads the same facts from the image it has open.
    with Image.open(path) as img:
        assert image_info(img, str(path), info.size) == info


def test_south_west_below_sea_level_and_the_date_s_own_offset(tmp_path: Path) -> None:
    gps = {1: "S", 2: (33.0, 52.0, 7.68), 3: "W", 4: (151.0, 12.0, 33.48), 5: 1, 6: IFDRational(12, 1)}
    # No DateTimeOriginal: the digitized date, with the digitized offset and fraction.
    sub = {0x9004: "2020:01:02 03:04:05", 0x9012: "-05:00", 0x9292: "5", 0x9011: "+09:00", 0x9291: "77"}
    info = read_metadata(str(_save(tmp_path / "x.jpg", exif_with(sub, gps))))
    assert info.latitude == pytest.approx(-33.8688, abs=1e-4) and info.longitude == pytest.approx(-151.2093, abs=1e-4)
    assert info.location == "33.8688° S, 151.2093° W" and info.altitude == -12.0
    assert info.altitude_text == "12 m below sea level"
    assert (info.date_taken, info.date_offset, info.date_subsec) == ("2020-01-02 03:04:05", "-05:00", "5")
    # Nothing about the lens or the exposure: None, and no compact text.
    assert info.lens is None and info.exposure is None and info.iso is None


def test_broken_values_are_none_and_the_others_still_read(tmp_path: Path) -> None:
    sub = {
        0x9003: "2021:05:06 07:08:09", 0x9011: "garbage", 0x9291: "1a",
        0x829A: IFDRational(1, 0), 0x829D: IFDRational(-28, 10), 0x8827: "many", 0x920A: IFDRational(0, 1),
        0xA434: b"\xff\xfe\x00rest",
    }
    gps = {1: "X", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, IFDRational(1, 0), 0.0), 6: IFDRational(1, 0)}
    info = read_metadata(str(_save(tmp_path / "x.jpg", exif_with(sub, gps, x010F="Canon", x0110="EOS R5"))))
    assert info.error is None and info.camera == "Canon EOS R5" and info.date_taken == "2021-05-06 07:08:09"
    assert info.date_offset is None and info.date_subsec is None
    assert (info.exposure_time, info.f_number, info.iso, info.focal_length) == (None, None, None, None)
    assert info.exposure is None
    assert (info.latitude, info.longitude, info.altitude, info.location, info.map_url) == (None,) * 5
    assert info.lens_model in (None, "\ufffd\ufffd")  # undecodable bytes: never an exception
    # Out-of-range coordinates, and the 0, 0 a camera without a fix writes, are no place.
    for gps in ({1: "N", 2: (91.0, 0.0, 0.0), 3: "E", 4: (2.0, 0.0, 0.0)},
                {1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)},
                {1: "N", 2: (10.0, 0.0, 0.0), 3: "E", 4: (181.0, 0.0, 0.0)}):
        info = read_metadata(str(_save(tmp_path / "y.jpg", exif_with(None, gps))))
        assert info.error is None and info.location is None, gps
    # Values of the wrong type (Pillow will not write them; a damaged file may hold them).
    from imgfinder.core.metadata import _gps

    for gps in ({1: "N", 2: b"forty-eight", 3: "E", 4: (2.0, 0.0, 0.0)},
                {1: "N", 2: ("48", 0, 0), 3: "E", 4: (2.0, 0.0, 0.0)},
                {1: "N", 2: (48.0, -1.0, 0.0), 3: "E", 4: (2.0, 0.0, 0.0)},
                {1: "N", 2: (48.0, 0.0, 0.0, 0.0), 3: "E", 4: (2.0, 0.0, 0.0)},
                {1: b"N", 2: (float("nan"), 0.0, 0.0), 3: "E", 4: (2.0, 0.0, 0.0)}):
        assert _gps(gps) == (None, None, None), gps
    assert _gps({1: b"S\x00", 2: (48.0,), 4: (2.0, 30.0), 6: "high"}) == (-48.0, 2.5, None)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_a_broken_exif_sub_ifd_loses_only_itself(tmp_path: Path) -> None:
    """An EXIF block whose sub-IFD offset points past its end: the camera is still read."""
    exif = exif_with({0x9003: "2021:05:06 07:08:09"}, x010F="Canon", x0110="EOS R5")
    raw = bytearray(exif.tobytes())
    assert raw[6:8] == b"MM"  # big endian
    at = raw.find((0x8769).to_bytes(2, "big"))  # the ExifOffset entry of IFD0: tag, type, count, offset
    assert at > 0
    raw[at + 8 : at + 12] = (60_000).to_bytes(4, "big")
    path = tmp_path / "x.jpg"
    Image.new("RGB", (8, 8)).save(path, exif=bytes(raw))
    info = read_metadata(str(path))
    assert info.error is None and info.camera == "Canon EOS R5" and info.date_taken is None


def test_png_exif_after_the_pixels_is_read_without_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow decodes a PNG to find an eXIf chunk that follows its pixels; the chunks are
    walked instead, so the details panel and the indexer never decode for it."""
    before = _save(tmp_path / "before.png", exif_with(FULL_EXIF, EIFFEL_GPS, x0110="Pixel 7", x0112=6), "PNG")
    data = before.read_bytes()
    chunks, at = [], 8
    while at < len(data):
        n = int.from_bytes(data[at : at + 4], "big")
        chunks.append(data[at : at + 12 + n])
        at += 12 + n
    exif_chunk = next(c for c in chunks if c[4:8] == b"eXIf")
    others = [c for c in chunks if c[4:8] != b"eXIf"]
    assert [c[4:8] for c in others][-2:] == [b"IDAT", b"IEND"]
    after = tmp_path / "after.png"
    after.write_bytes(data[:8] + b"".join(others[:-1]) + exif_chunk + others[-1])
    loads: list = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self.size) or real_load(self))
    for path in (before, after):
        info = read_metadata(str(path))
        assert (info.model, info.width, info.height, info.format) == ("Pixel 7", 20, 40, "PNG"), path
        assert info.date_taken == "2023-07-14 18:42:07" and info.location == "48.8584° N, 2.2945° E"
    assert loads == []
    # A PNG without EXIF: nothing found, nothing decoded.
    plain = tmp_path / "plain.png"
    Image.new("RGB", (30, 30)).save(plain)
    assert read_metadata(str(plain)).date_taken is None and loads == []


def test_webp_and_tiff_exif(tmp_path: Path) -> None:
    exif = exif_with(FULL_EXIF, EIFFEL_GPS, x010F="SONY", x0110="ILCE-7M3")
    info = read_metadata(str(_save(tmp_path / "x.webp", exif)))
    assert info.error is None and info.camera == "SONY ILCE-7M3" and info.format == "WEBP"
    assert info.exposure == "1/250 s · f/2.8 · ISO 400 · 35 mm" and info.location == "48.8584° N, 2.2945° E"
    # Pillow writes a TIFF's own tags, not its EXIF sub-IFDs: the camera is there.
    info = read_metadata(str(_save(tmp_path / "x.tif", exif)))
    assert info.error is None and info.camera == "SONY ILCE-7M3" and info.format == "TIFF"


def test_coordinates_in_one_decimal_number(tmp_path: Path) -> None:
    """Some writers store decimal degrees as one rational instead of degrees, minutes, seconds."""
    gps = {1: "N", 2: IFDRational(488584, 10000), 3: "W", 4: IFDRational(22945, 10000)}
    info = read_metadata(str(_save(tmp_path / "x.jpg", exif_with(None, gps))))
    assert info.location == "48.8584° N, 2.2945° W"


def test_compact_texts() -> None:
    assert [shutter_text(t) for t in (1 / 250, 0.0015625, 1 / 3, 0.4, 1.0, 2.5, 30.0, None)] == [
        "1/250 s", "1/640 s", "1/3 s", "0.4 s", "1 s", "2.5 s", "30 s", None]
    assert [aperture_text(f) for f in (2.8, 8.0, 2.200000047683716, None)] == ["f/2.8", "f/8", "f/2.2", None]
    assert [focal_text(mm) for mm in (35.0, 10.27679, 4.25, None)] == ["35 mm", "10 mm", "4.2 mm", None]
    assert coordinates_text(-0.5, -0.25) == "0.5000° S, 0.2500° W"
    assert PhotoInfo("p", make="NIKON CORPORATION", model="NIKON D750").camera == "NIKON D750"
    assert PhotoInfo("p", lens_make="Canon", lens_model="EF50mm f/1.8 II").lens == "Canon EF50mm f/1.8 II"
    assert PhotoInfo("p", iso=100).exposure == "ISO 100" and PhotoInfo("p").exposure is None
    assert float(Fraction(1, 250)) == pytest.approx(PhotoInfo("p", exposure_time=0.004).exposure_time)
    # EXIF text ends at its first NUL ("Nokia\x002" is Nokia).
    assert read_model_of(b"Nokia\x002") == "Nokia"


def read_model_of(raw: bytes) -> str | None:
    from imgfinder.core.metadata import _clean

    return _clean(raw)
