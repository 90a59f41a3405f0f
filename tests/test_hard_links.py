"""Replacing byte-identical copies with hard links to the copy kept: the copy goes to the
trash (undoable), a link takes its path, the copy kept is never touched; interrupted at any
step, ``recover`` leaves either the link and the copy in the trash, or the copy in place."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import small_copy
from file_records import file_record
from imgfinder.core import file_actions
from imgfinder.core.catalog import Catalog
from imgfinder.core.file_actions import LINK, FileMover, RefusedError, recover


record = file_record


def facts(p: Path) -> tuple:
    st = os.lstat(p)
    return st.st_ino, st.st_size, st.st_mtime_ns, p.read_bytes()


@pytest.fixture
def env(tmp_path: Path, monkeypatch, photo_paths):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lib = tmp_path / "photos"
    keeper = small_copy(photo_paths[0], lib / "original.jpg", max_side=64)
    copy = lib / "album" / "copy.jpg"
    copy.parent.mkdir(parents=True)
    shutil.copy2(keeper, copy)
    os.utime(copy, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    edited = small_copy(photo_paths[0], lib / "album" / "edited.jpg", max_side=48)
    catalog = Catalog(tmp_path / "cat.sqlite3")
    catalog.write_batch([record(p) for p in (keeper, copy, edited)], "m")
    yield tmp_path, keeper, copy, edited, catalog
    catalog.close()


def test_an_exact_copy_becomes_a_link_and_undo_brings_the_copy_back(env) -> None:
    tmp_path, keeper, copy, _, catalog = env
    kept_before, copy_before = facts(keeper), facts(copy)
    result = FileMover(catalog).replace_with_links([(str(copy), str(keeper))])
    assert not result.failed and len(result.done) == 1 and result.bytes == copy_before[1]
    src, dst = result.done[0]
    assert src == str(copy) and file_actions.in_trash(dst)
    assert os.path.samefile(copy, keeper) and copy.read_bytes() == kept_before[3]  # the photo is still found there
    assert facts(keeper)[1:] == kept_before[1:] and os.lstat(keeper).st_ino == kept_before[0]  # untouched
    assert facts(Path(dst))[1:] == copy_before[1:]  # the copy itself waits in the trash, whole
    assert catalog.journal_entries()[0].action == LINK
    undo = FileMover(catalog).undo_last()
    assert undo.done == [(dst, str(copy))] and not undo.failed
    assert not os.path.samefile(copy, keeper) and facts(copy)[1:] == copy_before[1:]
    assert facts(keeper) == kept_before and not os.path.exists(dst)
    assert not list((tmp_path / "xdg" / "Trash" / "info").iterdir())


def test_a_copy_that_differs_by_one_byte_is_left_alone(env) -> None:
    _, keeper, _, edited, catalog = env
    before = facts(edited)
    result = FileMover(catalog).replace_with_links([(str(edited), str(keeper))])
    assert not result.done and "not byte-identical" in result.failed[0][1]
    assert facts(edited) == before and catalog.journal_entries() == []


def test_a_trash_on_another_file_system_is_refused(env, monkeypatch) -> None:
    _, keeper, copy, _, catalog = env
    real = file_actions._device
    monkeypatch.setattr(file_actions, "_device", lambda p: real(p) + (0 if "photos" in str(p) else 1))
    result = FileMover(catalog).replace_with_links([(str(copy), str(keeper))])
    assert not result.done and "another file system" in result.failed[0][1]
    assert not os.path.samefile(copy, keeper) and catalog.journal_entries() == []


def test_a_link_that_cannot_be_made_puts_the_copy_back(env, monkeypatch) -> None:
    _, keeper, copy, _, catalog = env
    before = facts(copy)
    real_link = os.link

    def link(a, b, **kw):
        if os.fspath(a) == str(keeper):
            raise PermissionError(13, "Operation not permitted")
        return real_link(a, b, **kw)

    monkeypatch.setattr(os, "link", link)
    result = FileMover(catalog).replace_with_links([(str(copy), str(keeper))])
    assert not result.done and "left as it was" in result.failed[0][1] and "not permitted" in result.failed[0][1]
    assert facts(copy)[1:] == before[1:] and catalog.journal_entries() == []


def test_the_system_trash_has_no_links(env) -> None:
    _, keeper, copy, _, catalog = env
    with pytest.raises(RefusedError):
        FileMover(catalog, platform="win32").replace_with_links([(str(copy), str(keeper))])


def test_an_edit_through_the_link_is_never_undone(env) -> None:
    _, keeper, copy, _, catalog = env
    result = FileMover(catalog).replace_with_links([(str(copy), str(keeper))])
    dst = result.done[0][1]
    with open(copy, "ab") as f:  # the user edits the photo at the copy's path: the one kept changes too
        f.write(b"edited")
    undo = FileMover(catalog).undo_last()
    assert not undo.done and "changed since it was made a link" in undo.failed[0][1]
    assert os.path.samefile(copy, keeper) and os.path.exists(dst) and keeper.read_bytes().endswith(b"edited")


def _set(catalog: Catalog, **values) -> None:
    e = catalog.journal_entries()[0]
    with catalog._conn:
        for k, v in values.items():
            catalog._conn.execute(f"UPDATE file_actions SET {k}=? WHERE id=?", (v, e.id))


def test_killed_after_the_copy_went_to_the_trash_the_copy_comes_back(env) -> None:
    _, keeper, copy, _, catalog = env
    before = facts(copy)
    trashed = FileMover(catalog).trash([str(copy)])  # the first half of a link, as a kill would leave it
    _set(catalog, action=LINK, state="pending")
    report = recover(catalog)
    assert report.rolled_back == [str(copy)] and not os.path.exists(trashed.done[0][1])
    assert facts(copy)[1:] == before[1:] and catalog.journal_entries() == []


def test_killed_after_the_link_was_made_the_link_stays_and_undo_works(env) -> None:
    _, keeper, copy, _, catalog = env
    result = FileMover(catalog).replace_with_links([(str(copy), str(keeper))])
    _set(catalog, state="pending")  # the kill came before the journal said done
    report = recover(catalog)
    assert report.finished == [result.done[0]] and os.path.samefile(copy, keeper)
    assert catalog.journal_entries()[0].state == "done"
    assert FileMover(catalog).undo_last().done


def test_killed_while_undoing_before_the_link_went_the_undo_can_be_made_again(env) -> None:
    _, keeper, copy, _, catalog = env
    before = facts(copy)
    FileMover(catalog).replace_with_links([(str(copy), str(keeper))])
    _set(catalog, state="undoing")
    report = recover(catalog)
    assert report.rolled_back and catalog.journal_entries()[0].state == "done"
    assert os.path.samefile(copy, keeper)  # nothing lost: a plain trash's recovery would have removed the copy
    undo = FileMover(catalog).undo_last()
    assert undo.done and facts(copy)[1:] == before[1:]


def test_killed_while_undoing_after_the_link_went_undo_puts_the_copy_back(env) -> None:
    _, keeper, copy, _, catalog = env
    before = facts(copy)
    FileMover(catalog).replace_with_links([(str(copy), str(keeper))])
    _set(catalog, state="undoing")
    os.unlink(copy)  # the undo removed the link, then was killed
    recover(catalog)
    undo = FileMover(catalog).undo_last()
    assert undo.done and facts(copy)[1:] == before[1:] and not os.path.samefile(copy, keeper)
