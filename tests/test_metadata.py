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
