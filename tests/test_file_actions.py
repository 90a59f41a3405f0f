import errno
import os
from pathlib import Path

import pytest

from file_records import file_record
from imgfinder.core import file_actions, safe_move
from imgfinder.core.decoder import hash_bytes
from imgfinder.core.file_actions import FileMover, RefusedError, in_trash, is_under, unique_path


record = file_record


@pytest.fixture
def env(small_catalog):
    return small_catalog


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
    catalog.write_batch([record(other)], "m")
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
    assert result.failed == [(str(tmp_path / "gone.jpg"), "is no longer there")] and len(result.done) == 1


def test_files_the_library_does_not_know_or_cannot_move_are_refused_with_a_reason(env) -> None:
    tmp_path, photos, catalog = env
    stranger = tmp_path / "photos" / "stranger.jpg"
    stranger.write_bytes(photos[0].read_bytes())
    mover = FileMover(catalog)
    result = mover.trash([str(stranger)])
    assert not result.done and "not in the library" in result.failed[0][1] and stranger.exists()
    result = mover.move_to([str(photos[0])], str(tmp_path / "photos"))
    assert not result.done and "already in" in result.failed[0][1] and photos[0].exists()
    trashed = mover.trash([str(photos[1])]).done[0][1]
    assert "already in the trash" in mover.trash([trashed]).failed[0][1]


def test_undo_does_not_overwrite_a_new_file_at_the_old_path(env) -> None:
    tmp_path, photos, catalog = env
    data = photos[0].read_bytes()
    trashed = FileMover(catalog).trash([str(photos[0])]).done[0][1]
    photos[0].write_bytes(b"new")
    undo = FileMover(catalog).undo_last()
    assert photos[0].read_bytes() == b"new" and not undo.done
    assert undo.failed[0][0] == str(photos[0]) and "is taken by another file" in undo.failed[0][1]
    assert Path(trashed).read_bytes() == data  # still in the trash, and still undoable
    photos[0].unlink()
    assert FileMover(catalog).undo_last().done == [(trashed, str(photos[0]))] and photos[0].read_bytes() == data


def test_undo_refuses_a_trash_entry_that_now_holds_another_file(env) -> None:
    tmp_path, photos, catalog = env
    trashed = Path(FileMover(catalog).trash([str(photos[0])]).done[0][1])
    info = trashed.parent.parent / "info" / (trashed.name + ".trashinfo")
    info.write_text("[Trash Info]\nPath=/somewhere/else.jpg\nDeletionDate=2024-01-01T00:00:00\n")
    undo = FileMover(catalog).undo_last()
    assert not undo.done and "not this photo" in undo.failed[0][1] and not photos[0].exists() and trashed.exists()


def test_the_content_hash_is_the_catalogs() -> None:
    data = bytes(range(256)) * 5000
    h = safe_move.new_hash()
    h.update(data[:1000])
    h.update(data[1000:])
    assert h.hexdigest() == hash_bytes(data)


def test_topdir_trashinfo_names_the_photo_relative_to_its_device(tmp_path: Path) -> None:
    top = tmp_path / "usb"
    photo = top / "DCIM" / "a b%.jpg"
    text = file_actions._trashinfo_text(str(photo), top)
    assert b"Path=DCIM/a%20b%25.jpg\n" in text
    assert file_actions._trashinfo_original(text, top / ".Trash-1000") == str(photo)
    assert file_actions._trashinfo_original(text, top / ".Trash" / "1000") == str(photo)


def test_rename_noreplace_never_replaces(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    with pytest.raises(FileExistsError):
        safe_move.rename_noreplace(str(a), str(b))
    assert a.read_bytes() == b"a" and b.read_bytes() == b"b"
    safe_move.rename_noreplace(str(a), str(c))
    assert not a.exists() and c.read_bytes() == b"a"


def test_without_hard_links_the_move_is_a_rename_that_never_replaces(env, monkeypatch) -> None:
    """FAT drives and some network shares have no hard links (link fails with EPERM)."""
    tmp_path, photos, catalog = env

    def no_links(*args, **kwargs):
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))

    data = photos[0].read_bytes()
    monkeypatch.setattr(os, "link", no_links)
    result = FileMover(catalog).move_to([str(photos[0])], str(tmp_path / "dest"))
    assert not result.failed and Path(result.done[0][1]).read_bytes() == data and not photos[0].exists()
    assert FileMover(catalog).undo_last().done and photos[0].read_bytes() == data


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


def test_undo_leaves_a_moved_file_that_changed_since(env) -> None:
    tmp_path, photos, catalog = env
    dest = tmp_path / "dest"
    moved = Path(FileMover(catalog).move_to([str(photos[0])], str(dest)).done[0][1])
    moved.write_bytes(moved.read_bytes() + b"edited in the destination")
    undo = FileMover(catalog).undo_last()
    assert not undo.done and "changed since it was moved" in undo.failed[0][1]
    assert not photos[0].exists() and moved.exists() and catalog.last_action_batch() is not None
