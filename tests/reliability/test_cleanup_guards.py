"""The checks of a clean-up cannot be walked around, and every state gets clear words
(issue #21): a keeper rewritten with its size and time put back, a keeper swapped for a
symlink while the question is open, a symlinked per-device trash, a symlinked reference
folder, an undo left with one file under two names, an entry that cannot be put back,
damaged and future-schema undo logs, the data folder deleted or full while running, a
closed pipe, and check workers whose parent is killed. Photos are small synthetic ones
made here."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from _state import cli

from imgfinder.cli import duplicates as cli_module  # where the clean-up asks
from imgfinder.core import file_actions
from imgfinder.core.catalog import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[2]


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def make_library(root: Path, n: int = 3) -> tuple[Path, list[Path], list[Path]]:
    """``root/lib/orig_N.jpg`` (kept: sorts first, same pixels) and ``root/lib/zcopy_N.jpg``,
    byte-identical copies; returns (lib, originals, copies)."""
    rng = np.random.default_rng(7)
    lib = root / "lib"
    lib.mkdir(parents=True)
    originals, copies = [], []
    for k in range(n):
        img = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((96, 72))
        o = lib / f"orig_{k}.jpg"
        img.save(o, quality=90)
        c = lib / f"zcopy_{k}.jpg"
        shutil.copy2(o, c)
        originals.append(o)
        copies.append(c)
    return lib, originals, copies


@pytest.fixture
def env(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lib, originals, copies = make_library(tmp_path)
    data = tmp_path / "data"
    code, _, err = cli("index", lib, "-q", data=data)
    assert code == 0, err
    return tmp_path, lib, originals, copies, data


def keepers(data: Path) -> set[str]:
    code, out, err = cli("duplicates", "--exact-only", "--json", data=data)
    assert code == 0, err
    return {g["files"][0]["path"] for g in json.loads(out)["groups"]}


def trash_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "xdg" / "Trash" / "files").glob("*"))


# -- checks that cannot be walked around ---------------------------------------------------------
def test_a_keeper_rewritten_with_its_size_and_time_put_back_keeps_its_group(env, monkeypatch) -> None:
    tmp_path, lib, originals, copies, data = env
    keeper, copy = originals[0], copies[0]
    assert str(keeper) in keepers(data)
    st = keeper.stat()
    keeper.write_bytes(bytes(reversed(keeper.read_bytes())))  # other bytes, the same size
    os.utime(keeper, ns=(st.st_atime_ns, st.st_mtime_ns))  # a restore from backup, a sync conflict
    original = sha(copy)
    code, out, err = cli("duplicates", "--exact-only", "--trash", "--yes", data=data)
    assert copy.is_file() and sha(copy) == original, (out, err)  # now the only copy of the photo: stays
    assert "content" in err and code == 2, err
    assert len(trash_files(tmp_path)) == len(copies) - 1  # the other groups were cleaned up


def test_a_keeper_swapped_for_a_symlink_at_the_question_keeps_its_copy(env, monkeypatch) -> None:
    tmp_path, lib, originals, copies, data = env
    monkeypatch.setattr(cli_module, "_stdin_is_terminal", lambda: True)
    keeper = originals[0]
    copy = copies[0]
    assert str(keeper) in keepers(data)

    def answer(question: str) -> bool:  # while the question is open: the keeper becomes a link
        keeper.unlink()
        os.symlink(copy, keeper)
        return True

    monkeypatch.setattr(cli_module, "_confirm", answer)
    code, out, err = cli("duplicates", "--exact-only", "--trash", data=data)
    assert copy.is_file() and not copy.is_symlink(), (out, err)  # the only real file stays
    assert "symbolic link" in err and code == 2, err
    assert len(trash_files(tmp_path)) == len(copies) - 1


def test_a_symlink_swapped_in_for_a_file_to_move_is_not_moved(env) -> None:
    tmp_path, lib, originals, copies, data = env
    elsewhere = tmp_path / "elsewhere.jpg"
    shutil.copy2(copies[1], elsewhere)
    copies[1].unlink()
    os.symlink(elsewhere, copies[1])  # the same bytes behind it: stat and a read would pass
    code, out, err = cli("duplicates", "--exact-only", "--trash", "--yes", data=data)
    assert copies[1].is_symlink() and elsewhere.is_file() and code == 2, err
    assert "symbolic link" in err


def test_a_symlinked_per_device_trash_is_never_used(env, monkeypatch) -> None:
    tmp_path, lib, originals, copies, data = env
    victim = tmp_path / "someone-elses"
    victim.mkdir()
    os.symlink(victim, lib / f".Trash-{os.getuid()}")  # planted by whoever can write the top folder
    real_lstat = os.lstat

    class OtherDevice:
        def __init__(self, st) -> None:
            self._st, self.st_dev = st, st.st_dev + 1

        def __getattr__(self, name: str):
            return getattr(self._st, name)

    def lstat(p, *a, **k):  # the library is on another disk than the home trash
        st = real_lstat(p, *a, **k)
        inside = str(p) == str(lib) or str(p).startswith(str(lib) + os.sep)
        return OtherDevice(st) if inside else st

    monkeypatch.setattr(file_actions.os, "lstat", lstat)
    trash, top = file_actions.trash_dir_for(str(copies[0]))
    assert trash == file_actions.home_trash() and top is None  # the spec's fallback
    assert file_actions._private_dir_problem(lib / f".Trash-{os.getuid()}", create=False) == "is a symbolic link"
    monkeypatch.undo()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    (victim / "files").mkdir()
    os.chmod(victim, 0o755)
    assert file_actions.trash_problem(lib / f".Trash-{os.getuid()}") is not None
    assert list(victim.rglob("*.jpg")) == []


def test_a_reference_folder_reached_through_a_symlink_protects_its_files(env) -> None:
    tmp_path, lib, originals, copies, data = env
    link = tmp_path / "Pictures"
    os.symlink(lib, link)  # ~/Pictures -> /data/photos
    before = {p: sha(p) for p in lib.iterdir()}
    code, out, err = cli("duplicates", "--exact-only", "--trash", "--yes", "--reference", link, data=data)
    assert {p: sha(p) for p in lib.iterdir()} == before and trash_files(tmp_path) == [], (out, err)


def test_a_keeper_reached_through_a_folder_symlink_is_not_relied_on(tmp_path: Path, monkeypatch) -> None:
    from imgfinder.core.catalog import FileRow
    from imgfinder.core.cleanup import keeper_problem
    from imgfinder.core.duplicates import GroupMember

    outside = tmp_path / "outside"
    outside.mkdir()
    photo = outside / "p.jpg"
    photo.write_bytes(b"photo bytes")
    (tmp_path / "lib").mkdir()
    os.symlink(outside, tmp_path / "lib" / "linked")
    st = photo.stat()
    row = FileRow(1, str(tmp_path / "lib" / "linked" / "p.jpg"), st.st_size, st.st_mtime_ns, None, 1, 1, None)
    problem = keeper_problem(GroupMember(row, 1.0, True), content=True)
    assert problem is not None and "symbolic link" in problem


# -- undo ------------------------------------------------------------------------------------------
def test_an_undo_killed_between_its_two_names_is_completed(env) -> None:
    tmp_path, lib, originals, copies, data = env
    assert cli("duplicates", "--exact-only", "--trash", "--yes", data=data)[0] == 0
    trashed = tmp_path / "xdg" / "Trash" / "files" / copies[0].name
    os.link(trashed, copies[0])  # what a kill between the undo's link and its unlink leaves
    code, out, err = cli("undo", data=data)
    assert code == 0 and "taken" not in err, err
    assert all(c.is_file() for c in copies) and trash_files(tmp_path) == []
    assert list((tmp_path / "xdg" / "Trash" / "info").glob("*")) == []


def test_an_entry_that_cannot_be_put_back_never_blocks_older_ones(env) -> None:
    tmp_path, lib, originals, copies, data = env
    moved = tmp_path / "moved"
    assert cli("duplicates", "--exact-only", "--move-to", moved, "--yes", data=data)[0] == 0  # batch 1
    code, out, err = cli("undo", data=data)
    assert code == 0
    assert cli("duplicates", "--exact-only", "--trash", "--yes", data=data)[0] == 0  # batch 2
    (tmp_path / "xdg" / "Trash" / "files" / copies[0].name).unlink()
    copies[0].write_bytes(b"a new file at the old path")
    for c in copies[1:]:  # the other entries of batch 2 fail too: their paths are taken
        c.write_bytes(b"another new file")
    code, out, err = cli("undo", data=data)
    assert code == 2 and "undo --skip" in err, err
    code, out, err = cli("undo", "--skip", data=data)
    assert "set aside" in err and "nothing to undo" in err, err  # batch 1 was already undone
    assert sorted(p.name for p in trash_files(tmp_path)) == sorted(c.name for c in copies[1:])


def _damage_rows(data: Path, victim: Path) -> None:
    conn = sqlite3.connect(data / "catalog.sqlite3")
    ids = [r[0] for r in conn.execute("SELECT id FROM file_actions ORDER BY id")]
    conn.execute("UPDATE file_actions SET destination=NULL WHERE id=?", (ids[0],))
    conn.execute("UPDATE file_actions SET source=? WHERE id=?", ("../../escape.jpg", ids[1]))
    conn.execute("UPDATE file_actions SET destination=?, action='move' WHERE id=?", (os.fsencode(victim), ids[2]))
    conn.commit()
    conn.close()


def test_damaged_undo_rows_are_reported_and_nothing_outside_is_moved(env) -> None:
    tmp_path, lib, originals, copies, data = env
    assert cli("duplicates", "--exact-only", "--trash", "--yes", data=data)[0] == 0
    victim = tmp_path / "documents" / "tax.pdf"
    victim.parent.mkdir()
    victim.write_bytes(b"not a photo, not the app's")
    _damage_rows(data, victim)
    code, out, err = cli("undo", data=data)
    assert code == 2 and "Traceback" not in err and "damaged" in err, err
    assert victim.read_bytes() == b"not a photo, not the app's"  # its hash is not the logged one
    assert len(trash_files(tmp_path)) == 3  # the damaged rows' files stay in the trash, with their .trashinfo
    assert len(list((tmp_path / "xdg" / "Trash" / "info").glob("*"))) == 3
    code, out, err = cli("repair", data=data)
    assert code == 0 and "sound" not in out and out.count("damaged undo entry") == 2, out
    code, out, err = cli("repair", data=data)
    assert "sound" in out, out  # set aside once: repaired


def test_repair_does_not_call_a_newer_schema_sound(env) -> None:
    tmp_path, lib, originals, copies, data = env
    conn = sqlite3.connect(data / "catalog.sqlite3")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    code, out, err = cli("repair", data=data)
    assert code == 1 and "newer imgfinder" in out and "sound" not in out, out


# -- clear words -------------------------------------------------------------------------------------
def test_the_data_folder_deleted_while_indexing_is_an_error(tmp_path: Path, monkeypatch) -> None:
    lib, *_ = make_library(tmp_path, n=4)
    data = tmp_path / "data"
    from imgfinder.core import indexer

    real_run = indexer.Indexer.run

    def run(self, roots):
        for n, p in enumerate(real_run(self, roots)):
            if n == 1:
                shutil.rmtree(data)
            yield p

    monkeypatch.setattr(indexer.Indexer, "run", run)
    code, out, err = cli("index", lib, "--batch-size", "2", data=data)
    assert code == 1 and "added" not in out and "deleted" in err, (out, err)


@pytest.mark.parametrize("how", ["sqlite", "numpy", "errno"])
def test_a_full_data_disk_is_named_with_what_is_needed(env, monkeypatch, how) -> None:
    tmp_path, lib, originals, copies, data = env
    from imgfinder.core import catalog

    def full(*args, **kwargs):
        if how == "sqlite":
            raise sqlite3.OperationalError("database or disk is full")
        if how == "numpy":
            raise OSError("5760 requested and 992 written")
        raise OSError(28, "No space left on device", str(data / "index"))

    monkeypatch.setattr(catalog.Catalog, "write_batch", full)
    Image.new("RGB", (64, 48), (200, 30, 30)).save(lib / "new.jpg")  # something to write
    code, out, err = cli("index", lib, "-q", data=data)
    assert code == 1 and "is full" in err and "free" in err and "Traceback" not in err, err
    if how == "numpy":
        assert "4.8 kB more" in err or "4,768" in err or "more was needed" in err, err


def test_a_closed_pipe_ends_quietly(env) -> None:
    tmp_path, lib, originals, copies, data = env
    assert cli("duplicates", "--exact-only", "--trash", "--yes", data=data)[0] == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgfinder", "undo", "--data-dir", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")},
    )
    proc.stdout.close()  # `| head -0`: the reader is gone before the first line
    err = proc.stderr.read().decode()
    proc.wait(60)
    assert "Broken pipe" not in err and "Traceback" not in err and "Exception ignored" not in err, err
    assert all(c.is_file() for c in copies)  # the undo itself was done


def test_check_workers_die_with_their_parent_and_let_go_of_its_output(tmp_path: Path) -> None:
    script = (
        "import os, sys, time\n"
        "from imgfinder.core.parallel_checks import CheckPool\n"
        "pool = CheckPool(2)\n"
        "ex = pool._start()\n"
        "pids = sorted({f.result() for f in [ex.submit(os.getpid) for _ in range(8)]})\n"
        "print(' '.join(map(str, pids)), flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert pids, proc.stderr.read()
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    rest: list[bytes] = []
    reader = threading.Thread(target=lambda: rest.append(proc.stdout.read() + proc.stderr.read()), daemon=True)
    reader.start()
    reader.join(10)  # `out=$(imgfinder duplicates)` waits for every holder of the pipe
    assert not reader.is_alive(), "a check worker still holds the parent's stdout/stderr"
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in pids if _running(p)]
        time.sleep(0.1)
    assert alive == [], f"check workers still running after their parent was killed: {alive}"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_pillow_warnings_become_the_files_reason_and_never_reach_stderr() -> None:
    """In a fresh interpreter (pytest routes warnings itself): a Pillow warning outside a
    decode is dropped, one during a decode joins that file's reason, and libheif's reason
    with its trailing blank line is one line."""
    script = (
        "import warnings\n"
        "from imgfinder.core import decoder\n"
        "warnings.warn_explicit('Possibly corrupt EXIF data', UserWarning, '/site-packages/PIL/TiffImagePlugin.py', 1)\n"
        "try:\n"
        "    with decoder._reasons('HEIC'):\n"
        "        warnings.warn_explicit('Truncated File Read', UserWarning, '/site-packages/PIL/ImageFile.py', 2)\n"
        "        raise RuntimeError(\"Invalid input: No 'ftyp' box\\n\\n\")\n"
        "except decoder.DecodeError as exc:\n"
        "    print(exc.reason)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.stdout == "corrupt HEIC file: Invalid input: No 'ftyp' box (Pillow warned: Truncated File Read)\n"
    assert done.stderr == "", done.stderr
