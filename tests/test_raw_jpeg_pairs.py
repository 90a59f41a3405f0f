"""A camera RAW and the camera's JPEG of the same shot are one group of kind "raw+jpeg";
which of the two is kept first is a choice (best pixels, prefer RAW, prefer JPEG), in the
core, the command line and the desktop app. Also: one folder of every format indexed
through the command line, a damaged HEIC listed as a problem with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FakeEmbedder
from format_samples import exif_bytes, picture, write_dng, write_format, write_tiff_pages
from imgfinder.cli import main
from imgfinder.core import group_kind as gk
from imgfinder.core.catalog import Catalog, FileRow
from imgfinder.core.duplicates import DEFAULT_THRESHOLD, KeepPreference, keep_rank
from imgfinder.core.library import CATALOG_NAME

DATE, MAKE, MODEL = "2024:03:02 11:12:13", "Testmaker", "Cam 7"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args), embedder_factory=lambda: FakeEmbedder())
    out, err = capsys.readouterr()
    return code, out, err


def camera_pair(folder: Path, stem: str, n: int, jpeg_name: str | None = None, model: str = MODEL) -> tuple[Path, Path]:
    """What a camera writes for one shot: a RAW with its JPEG preview, and the JPEG."""
    src = picture(n)
    raw = write_dng(folder / f"{stem}.dng", src, preview=src, orientation=1, date=DATE, make=MAKE, model=model)
    jpeg = folder / (jpeg_name or f"{stem}.JPG")
    src.save(jpeg, quality=92, exif=exif_bytes(DATE, MAKE, model))
    return raw, jpeg


def index(library, folder: Path) -> None:
    for _ in library.indexer(batch_size=8, workers=1).run([str(folder)]):
        pass


def groups_by_names(groups) -> dict[frozenset, tuple[str, str]]:
    """{names of the members: (kind, name of the copy to keep)}."""
    return {frozenset(Path(m.row.path).name for m in g.members): (g.kind, Path(g.keeper.row.path).name) for g in groups}


def row(path: str, width: int = 640, height: int = 480, size: int = 1000) -> FileRow:
    return FileRow(1, path, size, 0, "h", width, height, None)


def test_keep_rank_prefers_the_kind_of_file_asked_for() -> None:
    raw, jpeg = row("/p/IMG_1.CR2", size=25_000_000), row("/p/IMG_1.JPG", size=6_000_000)
    small_raw = row("/p/IMG_2.NEF", 320, 240, size=25_000_000)
    assert keep_rank(raw) < keep_rank(jpeg)  # best pixels, then the larger file
    assert keep_rank(jpeg, KeepPreference.JPEG) < keep_rank(raw, KeepPreference.JPEG)
    assert keep_rank(raw, KeepPreference.RAW) < keep_rank(jpeg, KeepPreference.RAW)
    assert keep_rank(small_raw, "raw") < keep_rank(jpeg, "raw")  # a RAW, even with fewer pixels
    assert keep_rank(jpeg) < keep_rank(small_raw)


def test_kind_rules() -> None:
    assert gk.mixes_raw_and_other(["a/IMG_1.CR2", "a/IMG_1.JPG"])
    assert not gk.mixes_raw_and_other(["a/IMG_1.CR2", "b/IMG_1.CR2"])
    assert not gk.mixes_raw_and_other(["a/1.jpg", "a/2.jpg"])
    assert gk.same_name_but_extension(["a/IMG_1.CR2", "b/img_1.jpg"])
    assert not gk.same_name_but_extension(["a/IMG_1.CR2", "a/IMG_2.JPG"])
    assert gk.kind_after_removal("raw+jpeg", ["a", "b", "c"], ["x.dng", "x.jpg", "x-small.jpg"]) == "raw+jpeg"
    assert gk.kind_after_removal("raw+jpeg", ["a", "b"], ["x.jpg", "x-small.jpg"]) == "copies"
    assert gk.kind_after_removal("raw+jpeg", ["a", "a"], ["x.jpg", "y.jpg"]) == "exact"
    assert gk.kind_after_removal("shots", ["a", "b"], ["x.dng", "x.jpg"]) == "shots"
    assert gk.member_label("raw+jpeg", "/p/IMG_1.CR2") == "RAW of the pair"
    assert gk.member_label("raw+jpeg", "/p/IMG_1.JPG") == "JPEG of the pair"
    assert gk.member_label("raw+jpeg", "/p/IMG_1.HEIC") == "HEIC of the pair"
    assert gk.member_label("copies", "/p/x.jpg") == "edited copy" and gk.member_label("copies", "/p/x", True) == "exact copy"


def test_a_raw_and_its_jpeg_are_a_pair_and_either_can_be_kept(library, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    camera_pair(lib, "IMG_0001", 0)
    # Renamed on import: one capture time and one camera make them a pair all the same.
    camera_pair(lib, "2024-03-02 holiday", 2, jpeg_name="holiday-export.jpg")
    # One picture in a RAW and in a JPEG with another name and another camera: copies.
    src = picture(4)
    write_dng(lib / "other_raw.dng", src, preview=src, date=DATE, make=MAKE, model=MODEL)
    src.save(lib / "unrelated.jpg", quality=92, exif=exif_bytes(DATE, MAKE, "Another camera"))
    index(library, lib)
    finder = library.duplicate_finder()
    found = groups_by_names(finder.groups(DEFAULT_THRESHOLD))
    assert found == {
        frozenset({"IMG_0001.dng", "IMG_0001.JPG"}): ("raw+jpeg", "IMG_0001.dng"),
        frozenset({"2024-03-02 holiday.dng", "holiday-export.jpg"}): ("raw+jpeg", "2024-03-02 holiday.dng"),
        frozenset({"other_raw.dng", "unrelated.jpg"}): ("copies", "other_raw.dng"),
    }
    finder.keep = KeepPreference.JPEG
    found = groups_by_names(finder.groups(DEFAULT_THRESHOLD))
    assert found[frozenset({"IMG_0001.dng", "IMG_0001.JPG"})] == ("raw+jpeg", "IMG_0001.JPG")
    assert found[frozenset({"2024-03-02 holiday.dng", "holiday-export.jpg"})][1] == "holiday-export.jpg"
    # The pair's pixels are one picture: the RAW was read from its preview.
    pair = next(g for g in finder.groups(DEFAULT_THRESHOLD) if g.kind == "raw+jpeg")
    assert pair.members[1].score > 0.99
    assert (pair.members[0].row.width, pair.members[0].row.height) == (640, 480)


def test_the_command_line_lists_pairs_and_keeps_what_it_is_told(capsys, tmp_path: Path) -> None:
    lib, data = tmp_path / "lib", str(tmp_path / "data")
    camera_pair(lib, "IMG_0001", 0)
    src = picture(5, (320, 240))
    src.save(lib / "alone.jpg", quality=90)
    code, out, err = cli(capsys, "index", str(lib), "--data-dir", data, "--json")
    assert code == 0, err
    code, out, err = cli(capsys, "duplicates", "--data-dir", data, "--json")
    assert code == 0, err
    (group,) = json.loads(out)["groups"]
    assert group["kind"] == "raw+jpeg"
    assert [(Path(f["path"]).name, f["keep"], f["raw"]) for f in group["files"]] == [
        ("IMG_0001.dng", True, True), ("IMG_0001.JPG", False, False)]
    code, out, _ = cli(capsys, "duplicates", "--data-dir", data, "--prefer", "jpeg", "--json")
    assert [Path(f["path"]).name for f in json.loads(out)["groups"][0]["files"]] == ["IMG_0001.JPG", "IMG_0001.dng"]
    code, out, _ = cli(capsys, "duplicates", "--data-dir", data, "--prefer", "raw", "--kind", "raw+jpeg")
    assert code == 0
    assert "group 1 [raw+jpeg] (2 files of one shot: RAW + JPEG):" in out
    assert out.index("IMG_0001.dng") < out.index("IMG_0001.JPG")
    code, out, _ = cli(capsys, "duplicates", "--data-dir", data, "--kind", "copies", "--json")
    assert json.loads(out)["groups"] == []
    with pytest.raises(SystemExit):
        main(["duplicates", "--data-dir", data, "--prefer", "png"])


def test_a_folder_of_every_format_is_indexed_and_a_damaged_heic_is_a_problem(capsys, tmp_path: Path) -> None:
    lib, data = tmp_path / "lib", str(tmp_path / "data")
    good = {
        "a.jpg": lambda p: picture(0).save(p, quality=90),
        "b.png": lambda p: picture(1).save(p),
        "c.heic": lambda p: write_format(p, picture(2), exif_bytes(orientation=6)),
        "d.HEIF": lambda p: write_format(p, picture(3)),
        "e.avif": lambda p: write_format(p, picture(4), exif_bytes(orientation=8)),
        "f.jxl": lambda p: write_format(p, picture(5)),
        "g.dng": lambda p: write_dng(p, picture(6), preview=picture(6), orientation=6),
        "h.dng": lambda p: write_dng(p, picture(7), orientation=1),
        "i.tiff": lambda p: write_tiff_pages(p, [picture(8), picture(9)]),
        "j.webp": lambda p: picture(10).save(p, quality=80),
    }
    lib.mkdir()
    for name, make in good.items():
        make(lib / name)
    whole = (lib / "c.heic").read_bytes()
    (lib / "damaged.heic").write_bytes(whole[: len(whole) // 10])
    code, out, err = cli(capsys, "index", str(lib), "--data-dir", data, "--json")
    summary = json.loads(out)
    assert code == 2, err  # a problem
    assert summary["added"] == len(good) and summary["failed"] == 1
    (problem,) = summary["problems"]
    assert Path(problem["path"]).name == "damaged.heic"
    assert problem["reason"].startswith("corrupt HEIC file"), problem
    # Each photo as shown: the turned ones are portrait.
    with Catalog(Path(data) / CATALOG_NAME) as catalog:
        sizes = {Path(r.path).name: (r.width, r.height) for r in catalog.rows() if r.hash}
    assert sizes["c.heic"] == (480, 640) and sizes["e.avif"] == (480, 640) and sizes["g.dng"] == (480, 640)
    assert sizes["h.dng"] == (640, 480) and sizes["f.jxl"] == (640, 480) and sizes["i.tiff"] == (640, 480)
