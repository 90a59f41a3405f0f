"""Two paths to one file are one photo: a symlink is never kept over its own target, and
a symlink or hard link is never offered as a duplicate of the file it leads to (trashing
that "copy" would trash the photo, or leave the kept link dangling)."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

from conftest import small_copy
from imgfinder.core.duplicates import keep_rank
from imgfinder.core.library import Library
from imgfinder.core.scanner import scan


def index(lib: Library, *roots: Path):
    ix = lib.indexer(batch_size=4, workers=2)
    for _ in ix.run([str(r) for r in roots]):
        pass
    return ix.summary


def groups(lib: Library):
    return lib.duplicate_finder().groups(0.9)


def same_file(a: str, b: str) -> bool:
    return os.path.samefile(a, b)


def test_scan_finds_one_path_per_file_and_prefers_the_real_one(tmp_path: Path, photo_paths: list[Path]) -> None:
    lib = tmp_path / "lib"
    original = small_copy(photo_paths[0], lib / "z_original.jpg", max_side=120)
    os.symlink(original, lib / "a_link.jpg")  # sorts first
    other = small_copy(photo_paths[1], lib / "other.jpg", max_side=120)
    os.link(other, lib / "b_hard_link.jpg")  # sorts before "other"
    (lib / "real").mkdir()
    small_copy(photo_paths[2], lib / "real" / "in_real.jpg", max_side=120)
    os.symlink(lib / "real", lib / "a_linked_folder")  # sorts before "real"
    skipped: Counter[str] = Counter()
    found = sorted(os.path.relpath(f.path, lib) for f in scan([lib], skipped=skipped))
    assert found == ["b_hard_link.jpg", "real/in_real.jpg", "z_original.jpg"]
    assert skipped["same_file"] == 2
    # A link to a file outside the roots is the only path to it: indexed.
    outside = small_copy(photo_paths[3], tmp_path / "elsewhere" / "x.jpg", max_side=120)
    os.symlink(outside, lib / "to_elsewhere.jpg")
    assert str(lib / "to_elsewhere.jpg") in {f.path for f in scan([lib])}


def test_a_link_and_its_target_indexed_apart_are_not_duplicates(library: Library, tmp_path: Path, photo_paths: list[Path]) -> None:
    photos = tmp_path / "photos"
    albums = tmp_path / "albums"  # sorts before "photos": the link used to be the keeper
    original = small_copy(photo_paths[0], photos / "z_original.jpg", max_side=160)
    small_copy(photo_paths[1], photos / "unrelated.jpg", max_side=160)
    albums.mkdir()
    os.symlink(original, albums / "a_link.jpg")
    index(library, photos)
    index(library, albums)  # on its own, the link is the only path to its file: catalogued
    assert {Path(r.path).name for r in library.catalog.rows()} == {"z_original.jpg", "unrelated.jpg", "a_link.jpg"}
    assert groups(library) == []  # one photo, nothing to delete

    # With a real copy as well: the copy and the original are a group, the link is not in it.
    shutil.copy2(original, albums / "real_copy.jpg")
    index(library, albums)
    (group,) = groups(library)
    paths = [m.row.path for m in group.members]
    assert str(albums / "a_link.jpg") not in paths
    assert sorted(paths) == sorted([str(original), str(albums / "real_copy.jpg")])
    for member in group.members[1:]:  # what would be deleted is never the kept file
        assert not same_file(member.row.path, group.keeper.row.path)


def test_hard_links_indexed_apart_are_not_duplicates(library: Library, tmp_path: Path, photo_paths: list[Path]) -> None:
    first = small_copy(photo_paths[0], tmp_path / "a" / "photo.jpg", max_side=160)
    (tmp_path / "b").mkdir()
    os.link(first, tmp_path / "b" / "photo_again.jpg")
    small_copy(photo_paths[1], tmp_path / "a" / "other.jpg", max_side=160)
    index(library, tmp_path / "a")
    index(library, tmp_path / "b")
    assert library.catalog.count() == 3
    assert groups(library) == []


def test_a_symlink_is_never_kept_over_a_real_copy(library: Library, tmp_path: Path, photo_paths: list[Path]) -> None:
    """A link to a file outside the library and a real copy in it: keep the real file, so
    deleting the suggestions never leaves the kept path pointing at nothing."""
    outside = small_copy(photo_paths[4], tmp_path / "outside" / "shot.jpg", max_side=160)
    lib = tmp_path / "lib"
    lib.mkdir()
    os.symlink(outside, lib / "a_link.jpg")  # sorts first, same pixels, same size, older or not
    real = lib / "b_copy.jpg"
    shutil.copy2(outside, real)
    os.utime(real, ns=(os.stat(outside).st_mtime_ns + 10**9,) * 2)  # the link's target is older
    small_copy(photo_paths[5], lib / "c_other.jpg", max_side=160)
    index(library, lib)
    (group,) = groups(library)
    assert group.keeper.row.path == str(real)
    assert [m.row.path for m in group.members] == [str(real), str(lib / "a_link.jpg")]
    rows = {Path(r.path).name: r for r in library.catalog.rows()}
    assert keep_rank(rows["b_copy.jpg"]) < keep_rank(rows["a_link.jpg"])
