"""The trash on Windows and macOS (the platform faked): the system's, through send2trash,
journaled; undo says how to restore from there and sets the entries aside."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from file_records import file_record
from imgfinder.core import system_trash
from imgfinder.core.file_actions import FileMover, recover
from imgfinder.core.system_trash import SYSTEM_TRASH, undo_note, uses_system_trash


record = file_record


class FakeSystemTrash:
    """What send2trash does on those systems: the file leaves for a place of the system's choosing."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.bin.mkdir(parents=True, exist_ok=True)
        self.sent: list[str] = []

    def __call__(self, path: str) -> None:
        self.sent.append(path)
        shutil.move(path, self.bin / f"$R{len(self.sent):04d}{Path(path).suffix}")


@pytest.fixture
def env(small_catalog):
    return small_catalog


def test_which_platforms_use_the_system_trash() -> None:
    assert uses_system_trash("win32") and uses_system_trash("darwin")
    assert not uses_system_trash("linux") and not uses_system_trash("freebsd14")
    assert "Recycle Bin" in undo_note("win32") and "Put Back" in undo_note("darwin")
    assert "Ctrl+Z" in undo_note("linux")


def test_the_default_sender_is_send2trash() -> None:
    import send2trash

    assert callable(system_trash.default_sender())
    assert send2trash.send2trash is not None


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_trash_goes_to_the_system_trash_and_undo_says_how_to_restore(env, platform: str) -> None:
    tmp_path, photos, catalog = env
    fake = FakeSystemTrash(tmp_path / "RecycleBin")
    mover = FileMover(catalog, platform=platform, sender=fake)
    result = mover.trash([str(photos[0]), str(photos[1])])
    assert not result.failed and len(result.done) == 2
    assert fake.sent == [str(photos[0]), str(photos[1])]
    assert not photos[0].exists() and not (tmp_path / "xdg" / "Trash").exists()  # not the freedesktop one
    assert catalog.row_for_path(str(photos[0])) is None
    entries = catalog.journal_entries()
    assert [e.action for e in entries] == [SYSTEM_TRASH, SYSTEM_TRASH] and all(e.damage is None for e in entries)
    # An earlier batch (a move into a folder) is still undoable after the trash batch is set aside.
    undo = FileMover(catalog, platform=platform, sender=fake).undo_last()
    assert not undo.done and not undo.failed and undo.in_system_trash == [str(photos[0]), str(photos[1])]
    assert ("Restore the selected items" if platform == "win32" else "Put Back") in system_trash.cannot_undo(2, platform)
    again = FileMover(catalog, platform=platform).undo_last()  # set aside: nothing asked again
    assert again.batch is None and not again.in_system_trash


def test_a_move_batch_before_the_system_trash_batch_can_still_be_undone(env) -> None:
    tmp_path, photos, catalog = env
    fake = FakeSystemTrash(tmp_path / "bin")
    moved = FileMover(catalog, platform="win32", sender=fake).move_to([str(photos[2])], str(tmp_path / "review"))
    assert moved.done
    FileMover(catalog, platform="win32", sender=fake).trash([str(photos[0])])
    first = FileMover(catalog, platform="win32").undo_last()
    assert not first.done and first.in_system_trash == [str(photos[0])]
    second = FileMover(catalog, platform="win32").undo_last()
    assert second.done and photos[2].exists()


def test_a_changed_photo_is_not_sent(env) -> None:
    tmp_path, photos, catalog = env
    fake = FakeSystemTrash(tmp_path / "bin")
    with open(photos[0], "r+b") as f:  # same size and time, other bytes
        st = os.stat(photos[0])
        f.seek(200)
        byte = f.read(1)
        f.seek(200)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(photos[0], ns=(st.st_atime_ns, st.st_mtime_ns))
    result = FileMover(catalog, platform="win32", sender=fake).trash([str(photos[0])])
    assert not result.done and "content changed" in result.failed[0][1]
    assert fake.sent == [] and photos[0].exists() and catalog.journal_entries() == []


def test_a_refusal_leaves_the_photo_and_no_log(env) -> None:
    tmp_path, photos, catalog = env

    def refuse(path: str) -> None:
        raise OSError("the Recycle Bin is full")

    result = FileMover(catalog, platform="win32", sender=refuse).trash([str(photos[0])])
    assert not result.done and "refused" in result.failed[0][1] and "full" in result.failed[0][1]
    assert photos[0].exists() and catalog.journal_entries() == []


def test_a_kill_while_sending_is_settled_by_recover(env) -> None:
    tmp_path, photos, catalog = env
    fake = FakeSystemTrash(tmp_path / "bin")

    class Killed(BaseException):
        pass

    def sent_then_killed(path: str) -> None:
        fake(path)
        raise Killed

    def killed_before(path: str) -> None:
        raise Killed

    for sender in (sent_then_killed, killed_before):
        mover = FileMover(catalog, platform="darwin", sender=sender)
        with pytest.raises(Killed):
            mover.trash([str(photos[0] if sender is sent_then_killed else photos[1])])
    # Entries a killed process could leave: the intent logged, the state never updated.
    for e in catalog.journal_entries():
        catalog.journal_state(e.id, "pending")
    catalog.journal_intent(None, SYSTEM_TRASH, str(photos[2]), str(photos[2]), record(photos[2]).hash, 1)
    report = recover(catalog)
    assert report.finished == [(str(photos[0]), str(photos[0]))]
    assert sorted(report.rolled_back) == [str(photos[2])]
    assert photos[1].exists() and photos[2].exists()
    left = catalog.journal_entries()
    assert [(e.source, e.state) for e in left] == [(str(photos[0]), "done")]
