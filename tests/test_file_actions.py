import os
from pathlib import Path

import pytest

from conftest import small_copy
from imgfinder.core import file_actions
from imgfinder.core.catalog import Catalog, FileRecord
from imgfinder.core.file_actions import FileMover, RefusedError, in_trash, is_under, unique_path


@pytest.fixture
def env(tmp_path: Path, monkeypatch, photo_paths):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    photos = [small_copy(p, tmp_path / "photos" / p.name, max_side=64) for p in photo_paths[:3]]
    catalog = Catalog(tmp_path / "cat.sqlite3")
    catalog.write_batch([FileRecord(str(p), p.stat().st_size, p.stat().st_mtime_ns, hash=p.name) for p in photos], "m")
    yield tmp_path, photos, catalog
    catalog.close()


def test_trash_follows_freedesktop_spec_and_undo_restores(env) -> None:
    tmp_path, photos, catalog = env
    before = photos[0].read_bytes()
    result = FileMover(catalog).trash([str(photos[0])])
    assert not result.failed and result.bytes == len(before)
    src, dst = result.done[0]
    trash = tmp_path / "xdg" / "Trash"
    assert Path(dst) == trash / "files" / photos[0].name and not photos[0].exists()
    info = (trash / "info" / (photos[0].name + ".trashinfo")).read_text()
    assert info.startswith("[Trash Info]\nPath=") and str(photos[0]) in info and "DeletionDate=" in info
    assert catalog.row_for_path(dst) is not None and catalog.row_for_path(src) is None
    assert in_trash(dst) and not in_trash(src)
    undo = FileMover(catalog).undo_last()
    assert undo.done == [(dst, src)] and photos[0].read_bytes() == before
    assert not list((trash / "info").iterdir()) and catalog.row_for_path(src) is not None
    assert FileMover(catalog).undo_last().done == []  # nothing left to undo


def test_same_name_twice_gets_unique_trash_names(env) -> None:
    tmp_path, photos, catalog = env
    other = tmp_path / "other" / photos[0].name
    other.parent.mkdir()
    other.write_bytes(photos[1].read_bytes())
    mover = FileMover(catalog)
    first = mover.trash([str(photos[0])]).done[0][1]
    second = mover.trash([str(other)]).done[0][1]
    assert first != second and Path(first).read_bytes() != Path(second).read_bytes()


def test_move_to_folder_never_overwrites_and_batch_undo(env) -> None:
    tmp_path, photos, catalog = env
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / photos[0].name).write_bytes(b"someone else's file")
    result = FileMover(catalog).move_to([str(p) for p in photos[:2]], str(dest))
    assert len(result.done) == 2
    assert (dest / photos[0].name).read_bytes() == b"someone else's file"
    stem, ext = os.path.splitext(photos[0].name)
    assert (dest / f"{stem} (1){ext}").exists()
    undo = FileMover(catalog).undo_last()
    assert len(undo.done) == 2 and all(p.exists() for p in photos[:2])
    assert (dest / photos[0].name).read_bytes() == b"someone else's file"


def test_reference_folders_are_refused(env) -> None:
    tmp_path, photos, catalog = env
    mover = FileMover(catalog, reference_folders=[str(tmp_path / "photos")])
    with pytest.raises(RefusedError):
        mover.trash([str(photos[0])])
    assert photos[0].exists() and catalog.last_action_batch() is None
    assert is_under(str(photos[0]), [str(tmp_path / "photos")])
    assert not is_under(str(tmp_path / "photos2" / "x.jpg"), [str(tmp_path / "photos")])


def test_missing_file_is_a_failure_not_a_crash(env) -> None:
    tmp_path, photos, catalog = env
    result = FileMover(catalog).trash([str(tmp_path / "gone.jpg"), str(photos[2])])
    assert len(result.failed) == 1 and len(result.done) == 1


def test_undo_does_not_overwrite_a_new_file_at_the_old_path(env) -> None:
    tmp_path, photos, catalog = env
    data = photos[0].read_bytes()
    FileMover(catalog).trash([str(photos[0])])
    photos[0].write_bytes(b"new")
    undo = FileMover(catalog).undo_last()
    assert photos[0].read_bytes() == b"new"
    assert Path(undo.done[0][1]).read_bytes() == data


def test_other_device_uses_topdir_trash(env, monkeypatch) -> None:
    tmp_path, photos, catalog = env
    real_lstat = os.lstat

    class FakeStat:
        def __init__(self, st, dev):
            self._st, self.st_dev = st, dev

        def __getattr__(self, name):
            return getattr(self._st, name)

    top = tmp_path / "photos"

    def fake_lstat(p, *a, **k):
        st = real_lstat(p, *a, **k)
        inside = str(p) == str(top) or str(p).startswith(str(top) + os.sep)
        return FakeStat(st, 12345 if inside else st.st_dev)

    monkeypatch.setattr(file_actions.os, "lstat", fake_lstat)
    trash, topdir = file_actions.trash_dir_for(str(photos[0]))
    assert topdir == top and trash == top / f".Trash-{os.getuid()}"


def test_unique_path(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    assert unique_path(tmp_path, "a.jpg").name == "a (1).jpg"
    assert unique_path(tmp_path, "b.jpg").name == "b.jpg"
