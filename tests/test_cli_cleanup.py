"""Clean-up from the command line (issue #13): ``duplicates --trash / --move-to / --dry-run``,
``undo``, ``forget``, ``--exclude`` / ``--min-size`` and the output formats.

Every action runs on real files (the committed photos, copied, with copies of them made
here); the sha256 of every file is taken before and after. The trash is a temporary
XDG trash (``XDG_DATA_HOME`` and ``HOME`` point into tmp_path): the user's is never touched.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from burst_scenes import burst_library
from conftest import FakeEmbedder, small_copy
from imgfinder.cli import main
from imgfinder.core.cleanup import plan_cleanup, reference_first
from imgfinder.core.duplicates import DuplicateGroup
from imgfinder.core.file_filter import FileFilter, parse_size
from imgfinder.core.group_kind import KIND_SHOTS
from imgfinder.core.library import Library

T0 = 1_600_000_000  # originals' modification time; copies are newer (the older copy is kept)


class Terminal(io.StringIO):
    """stdin on a terminal: answers ``answer``; ``meanwhile`` runs when the question is read."""

    def __init__(self, answer: str, meanwhile=None) -> None:
        super().__init__(answer)
        self.meanwhile = meanwhile
        self.asked = 0

    def isatty(self) -> bool:
        return True

    def readline(self, *args) -> str:  # type: ignore[override]
        self.asked += 1
        if self.meanwhile is not None:
            self.meanwhile()
        return super().readline(*args)


def run(capsys, monkeypatch, *args: str, stdin=None) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", stdin if stdin is not None else io.StringIO(""))
    try:
        code = main(list(args), embedder_factory=lambda: FakeEmbedder())
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def fingerprint(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file below ``root``."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


class Env:
    def __init__(self, tmp_path: Path, photo_paths: list[Path]) -> None:
        self.tmp = tmp_path
        self.root = tmp_path / "photos"
        self.lib, self.ref = self.root / "lib", self.root / "ref"
        self.data = str(tmp_path / "data")
        self.trash = tmp_path / "xdg" / "Trash"
        copies = self.lib / "copies"
        copies.mkdir(parents=True)
        originals = [shutil.copy(p, self.lib / p.name) for p in photo_paths[:6]]
        self.ref.mkdir()
        made = [
            shutil.copy(originals[0], copies / "exact_0.jpg"),  # exact copies of photo 0
            shutil.copy(originals[0], copies / "exact_0b.jpg"),
            small_copy(Path(originals[1]), copies / "small_1.jpg", max_side=200, quality=60),  # an edited copy
            shutil.copy(originals[2], self.ref / "exact_2.jpg"),  # a copy in the reference folder
        ]
        shutil.move(originals[3], self.ref / Path(originals[3]).name)  # the original is in the reference folder
        made.append(small_copy(self.ref / Path(originals[3]).name, copies / "small_3.jpg", max_side=200, quality=60))
        for p in originals:
            if os.path.exists(p):
                os.utime(p, (T0, T0))
        os.utime(self.ref / Path(originals[3]).name, (T0, T0))
        for n, p in enumerate(made):
            os.utime(p, (T0 + 100 + n, T0 + 100 + n))
        self.name = {i: Path(p).name for i, p in enumerate(photo_paths[:6])}
        # What a clean-up with --reference ref moves: every copy but the one to keep, none in
        # ref/; a reference folder's file is the one kept, so photo 2's copy outside it goes.
        self.to_move = {"lib/copies/exact_0.jpg", "lib/copies/exact_0b.jpg", "lib/copies/small_1.jpg",
                        "lib/copies/small_3.jpg", f"lib/{self.name[2]}"}

    def rel(self, path: str) -> str:
        return str(Path(path).relative_to(self.root))


@pytest.fixture
def env(tmp_path: Path, monkeypatch, capsys, photo_paths) -> Env:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("IMGFINDER_DATA_DIR", raising=False)
    e = Env(tmp_path, photo_paths)
    code, _, err = run(capsys, monkeypatch, "index", str(e.root), "--data-dir", e.data, "-q")
    assert code == 0, err
    # The groups are what the tests expect: the copy to keep first, the others after it.
    code, out, err = run(capsys, monkeypatch, "duplicates", "--data-dir", e.data, "--json")
    assert code == 0, err
    groups = {e.rel(g["files"][0]["path"]): {e.rel(f["path"]) for f in g["files"][1:]}
              for g in json.loads(out)["groups"]}
    assert groups == {
        f"lib/{e.name[0]}": {"lib/copies/exact_0.jpg", "lib/copies/exact_0b.jpg"},
        f"lib/{e.name[1]}": {"lib/copies/small_1.jpg"},
        f"lib/{e.name[2]}": {"ref/exact_2.jpg"},
        f"ref/{e.name[3]}": {"lib/copies/small_3.jpg"},
    }
    return e


def test_trash_moves_exactly_the_copies_and_undo_puts_every_byte_back(env, capsys, monkeypatch) -> None:
    before = fingerprint(env.root)
    code, out, err = run(capsys, monkeypatch, "duplicates", "--trash", "--yes", "--reference", str(env.ref),
                         "--data-dir", env.data, "-q")
    assert code == 0, err
    after = fingerprint(env.root)
    assert set(before) - set(after) == env.to_move  # exactly the copies went ...
    assert all(after[p] == before[p] for p in after)  # ... every other file is byte-identical
    trashed = fingerprint(env.trash / "files")
    assert sorted(trashed.values()) == sorted(before[p] for p in env.to_move)  # whole, in the temporary trash
    assert len(list((env.trash / "info").iterdir())) == len(env.to_move) == 5
    assert "moved 5 files" in out and "'imgfinder undo'" in out
    for p in env.to_move:
        assert str(env.root / p) in out
    # The next listing no longer shows what went to the trash.
    code, out, _ = run(capsys, monkeypatch, "duplicates", "--data-dir", env.data, "--format", "lines")
    assert out.splitlines() == []  # photo 2's reference file is alone now

    code, out, err = run(capsys, monkeypatch, "undo", "--data-dir", env.data)
    assert code == 0, err
    assert fingerprint(env.root) == before  # every path and every byte back
    assert fingerprint(env.trash / "files") == {} and list((env.trash / "info").iterdir()) == []
    assert out.startswith("put back 5 files")
    for p in env.to_move:
        assert str(env.root / p) in out
    code, out, err = run(capsys, monkeypatch, "undo", "--data-dir", env.data)
    assert code == 1 and out == "" and "nothing to undo" in err
    assert fingerprint(env.root) == before


def test_move_to_a_folder_and_undo(env, capsys, monkeypatch) -> None:
    before = fingerprint(env.root)
    dest = env.tmp / "removed"
    code, out, err = run(capsys, monkeypatch, "duplicates", "--move-to", str(dest), "--yes", "--reference",
                         str(env.ref), "--data-dir", env.data, "--json", "-q")
    assert code == 0, err
    action = json.loads(out)["action"]
    assert action["action"] == "move" and action["destination"] == str(dest) and not action["dry_run"]
    assert {env.rel(m["path"]) for m in action["moved"]} == env.to_move and action["failed"] == []
    assert action["left_alone"] == []  # ref/exact_2.jpg is its group's copy to keep, not left out
    after = fingerprint(env.root)
    assert set(before) - set(after) == env.to_move and all(after[p] == before[p] for p in after)
    moved = fingerprint(dest)
    # Two copies were called exact_0*.jpg, no name was taken twice: five files, every byte whole.
    assert sorted(moved.values()) == sorted(before[p] for p in env.to_move) and len(moved) == 5
    assert not env.trash.exists()
    code, out, err = run(capsys, monkeypatch, "undo", "--data-dir", env.data, "--json")
    assert code == 0, err
    restored = json.loads(out)
    assert {env.rel(r["path"]) for r in restored["restored"]} == env.to_move and restored["failed"] == []
    assert fingerprint(env.root) == before and fingerprint(dest) == {}


def test_move_to_keeps_the_folders_when_asked_and_one_undo_puts_all_back(env, capsys, monkeypatch) -> None:
    """Issue #23: --keep-folders keeps each file's folders below the folder the moved files
    share (here lib/), so lib/copies/x.jpg lands in DEST/copies/x.jpg; one batch."""
    before = fingerprint(env.root)
    dest = env.tmp / "removed"
    code, _, err = run(capsys, monkeypatch, "duplicates", "--keep-folders", "--yes", "--data-dir", env.data)
    assert code == 1 and "--keep-folders goes with --move-to" in err
    code, out, err = run(capsys, monkeypatch, "duplicates", "--move-to", str(dest), "--keep-folders", "--yes",
                         "--reference", str(env.ref), "--data-dir", env.data, "--json", "-q")
    assert code == 0, err
    action = json.loads(out)["action"]
    want = {p.removeprefix("lib/") for p in env.to_move}
    assert {str(Path(m["to"]).relative_to(dest)) for m in action["moved"]} == want
    assert set(fingerprint(dest)) == want
    code, out, err = run(capsys, monkeypatch, "undo", "--data-dir", env.data, "--json")
    assert code == 0 and len(json.loads(out)["restored"]) == len(want), err
    assert fingerprint(env.root) == before and fingerprint(dest) == {}


def test_dry_run_prints_what_would_move_and_touches_nothing(env, capsys, monkeypatch) -> None:
    before = fingerprint(env.root)
    stat_before = {p: os.stat(env.root / p).st_mtime_ns for p in before}
    for extra in ([], ["--json"]):
        code, out, err = run(capsys, monkeypatch, "duplicates", "--trash", "--dry-run", "--reference", str(env.ref),
                             "--data-dir", env.data, "-q", *extra)
        assert code == 0, err
        if extra:
            action = json.loads(out)["action"]
            assert action["dry_run"] and action["moved"] == [] and action["batch"] is None
            assert {env.rel(f["path"]) for f in action["files"]} == env.to_move
        else:
            plan = out.split("dry run: would move 5 files", 1)[1].splitlines()[1:]
            assert {env.rel(line.split()[-1]) for line in plan} == env.to_move  # exactly these
    dest = env.tmp / "removed"
    code, out, err = run(capsys, monkeypatch, "duplicates", "--move-to", str(dest), "-n", "--reference", str(env.ref),
                         "--data-dir", env.data, "-q")
    assert code == 0 and "would move 5 files" in out and f"to {dest}" in out, err
    assert fingerprint(env.root) == before
    assert {p: os.stat(env.root / p).st_mtime_ns for p in before} == stat_before
    assert not env.trash.exists() and not dest.exists()
    code, _, err = run(capsys, monkeypatch, "undo", "--data-dir", env.data)
    assert code == 1 and "nothing to undo" in err  # nothing was logged either


def test_without_yes_it_refuses_when_it_cannot_ask(env, capsys, monkeypatch) -> None:
    before = fingerprint(env.root)
    for action in (["--trash"], ["--move-to", str(env.tmp / "removed")]):
        code, out, err = run(capsys, monkeypatch, "duplicates", *action, "--data-dir", env.data,
                             stdin=io.StringIO("y\n"))  # piped input: not a terminal, even if it says y
        assert code == 1 and out == ""  # refused before the search, so nothing listed either
        assert "input is not a terminal" in err and "--yes" in err and "--dry-run" in err
    assert fingerprint(env.root) == before and not env.trash.exists() and not (env.tmp / "removed").exists()


def test_on_a_terminal_it_asks_with_the_count_and_size(env, capsys, monkeypatch) -> None:
    before = fingerprint(env.root)
    size = sum((env.root / p).stat().st_size for p in env.to_move)
    from imgfinder.cli_text import human_size

    for answer in ("n\n", "", "whatever\n"):  # no, end of input, anything but yes: nothing moves
        terminal = Terminal(answer)
        code, out, err = run(capsys, monkeypatch, "duplicates", "--trash", "--reference", str(env.ref),
                             "--data-dir", env.data, "-q", stdin=terminal)
        assert terminal.asked == 1 and code == 1
        assert f"Move 5 files ({human_size(size)}) to the trash? [y/N]" in err and "nothing was moved" in err
        assert fingerprint(env.root) == before
    terminal = Terminal("y\n")
    code, out, err = run(capsys, monkeypatch, "duplicates", "--trash", "--reference", str(env.ref),
                         "--data-dir", env.data, "-q", stdin=terminal)
    assert code == 0 and terminal.asked == 1, err
    assert set(before) - set(fingerprint(env.root)) == env.to_move


def test_a_file_changed_after_the_listing_is_not_moved(env, capsys, monkeypatch) -> None:
    before = fingerprint(env.root)
    changed = env.root / "lib/copies/small_1.jpg"

    def edit() -> None:  # the user edits one copy while the question is on screen
        with open(changed, "ab") as f:
            f.write(b"edited")

    code, out, err = run(capsys, monkeypatch, "duplicates", "--trash", "--reference", str(env.ref),
                         "--data-dir", env.data, "-q", stdin=Terminal("y\n", edit))
    assert code == 2  # some files could not be moved
    assert f"not moved {changed}" in err and "changed" in err
    after = fingerprint(env.root)
    assert set(before) - set(after) == env.to_move - {"lib/copies/small_1.jpg"}
    assert after["lib/copies/small_1.jpg"] == hashlib.sha256(changed.read_bytes()).hexdigest()  # still there, as edited
    assert all(after[p] == before[p] for p in after if p != "lib/copies/small_1.jpg")
    code, _, err = run(capsys, monkeypatch, "undo", "--data-dir", env.data)
    assert code == 0, err
    restored = fingerprint(env.root)
    assert {p: h for p, h in restored.items() if p != "lib/copies/small_1.jpg"} == {
        p: h for p, h in before.items() if p != "lib/copies/small_1.jpg"}


def test_a_group_whose_copy_to_keep_changed_is_left_alone(env, capsys, monkeypatch) -> None:
    before = fingerprint(env.root)
    keeper = env.lib / env.name[0]

    def edit() -> None:  # the copy to keep is changed while the question is on screen
        os.utime(keeper, (T0 + 5000, T0 + 5000))

    code, out, err = run(capsys, monkeypatch, "duplicates", "--trash", "--reference", str(env.ref),
                         "--data-dir", env.data, "-q", "--json", stdin=Terminal("y\n", edit))
    assert code == 2
    failed = {env.rel(f["path"]) for f in json.loads(out)["action"]["failed"]}
    assert failed == {"lib/copies/exact_0.jpg", "lib/copies/exact_0b.jpg"} and "the copy to keep" in err
    after = fingerprint(env.root)
    assert set(before) - set(after) == {"lib/copies/small_1.jpg", "lib/copies/small_3.jpg", f"lib/{env.name[2]}"}
    # Found before asking: the group is left alone and said so (the listing still shows it).
    code, out, err = run(capsys, monkeypatch, "duplicates", "--trash", "--dry-run", "--data-dir", env.data, "-q",
                         "--reference", str(env.ref))
    assert code == 0 and "left a group alone" in err and str(keeper) in err and "nothing to move" in out
    assert set(before) - set(fingerprint(env.root)) == {"lib/copies/small_1.jpg", "lib/copies/small_3.jpg",
                                                        f"lib/{env.name[2]}"}


def test_the_reference_folders_chosen_in_the_app_are_never_touched(env, capsys, monkeypatch) -> None:
    from imgfinder.gui.settings import AppSettings

    before = fingerprint(env.root)
    code, out, _ = run(capsys, monkeypatch, "duplicates", "--trash", "--dry-run", "--data-dir", env.data, "-q")
    assert "ref/exact_2.jpg" in out  # without reference folders it would go
    settings = AppSettings(Path(env.data))
    settings.reference_folders = [str(env.ref)]
    settings.sync()
    code, out, err = run(capsys, monkeypatch, "duplicates", "--trash", "--yes", "--data-dir", env.data, "-q")
    assert code == 0, err
    after = fingerprint(env.root)
    assert set(before) - set(after) == env.to_move and all(after[p] == before[p] for p in after)
    assert after["ref/exact_2.jpg"] == before["ref/exact_2.jpg"]


def test_link_replaces_byte_identical_copies_by_hard_links_and_undo_takes_them_back(env, capsys, monkeypatch) -> None:
    """Issue #23: replace copies with hard links, as dupeGuru, Czkawka and fdupes offer."""
    before = fingerprint(env.root)
    keeper = env.lib / env.name[0]
    kept_stat = os.stat(keeper)
    code, out, err = run(capsys, monkeypatch, "duplicates", "--link", "--dry-run", "--reference", str(env.ref),
                         "--data-dir", env.data)
    assert code == 0 and "would replace 3 files" in out and "2 files not byte-identical" in out, out
    code, out, err = run(capsys, monkeypatch, "duplicates", "--link", "--yes", "--reference", str(env.ref),
                         "--data-dir", env.data, "--json")
    assert code == 0, err
    action = json.loads(out)["action"]
    assert action["action"] == "link"
    linked = {env.rel(m["path"]) for m in action["moved"]}
    # Exact copies only (photo 0's two, photo 2's outside ref/); the edited ones stay as they are.
    assert linked == {"lib/copies/exact_0.jpg", "lib/copies/exact_0b.jpg", f"lib/{env.name[2]}"}
    assert {env.rel(m["path"]) for m in action["left_alone"]} >= {"lib/copies/small_1.jpg", "lib/copies/small_3.jpg"}
    for rel in ("lib/copies/exact_0.jpg", "lib/copies/exact_0b.jpg"):
        assert os.path.samefile(env.root / rel, keeper)
    assert os.path.samefile(env.root / f"lib/{env.name[2]}", env.ref / "exact_2.jpg")  # the reference file kept
    assert fingerprint(env.root) == before  # every path holds the same bytes as before
    now = os.stat(keeper)
    assert (now.st_ino, now.st_size, now.st_mtime_ns) == (kept_stat.st_ino, kept_stat.st_size, kept_stat.st_mtime_ns)
    assert len(list((env.trash / "files").iterdir())) == 3  # the copies wait in the trash for an undo
    code, out, err = run(capsys, monkeypatch, "duplicates", "--data-dir", env.data, "--format", "lines")
    assert not any("exact_0" in line for line in out.splitlines())  # links to one file are one photo
    code, out, err = run(capsys, monkeypatch, "undo", "--data-dir", env.data)
    assert code == 0 and out.startswith("put back 3 files"), err
    assert fingerprint(env.root) == before and list((env.trash / "files").iterdir()) == []
    for rel in ("lib/copies/exact_0.jpg", "lib/copies/exact_0b.jpg"):
        assert not os.path.samefile(env.root / rel, keeper) and os.stat(env.root / rel).st_nlink == 1


def test_link_goes_alone_and_asks_first(env, capsys, monkeypatch) -> None:
    code, _, err = run(capsys, monkeypatch, "duplicates", "--link", "--trash", "--data-dir", env.data)
    assert code == 1 and err.count("\n") == 1 and "not allowed with" in err
    code, _, err = run(capsys, monkeypatch, "duplicates", "--link", "--data-dir", env.data)
    assert code == 1 and "input is not a terminal" in err
    code, _, err = run(capsys, monkeypatch, "duplicates", "--link", "--data-dir", env.data, stdin=Terminal("n\n"))
    assert code == 1 and "nothing was replaced" in err
    assert "Replace 3 files" in err


def test_on_macos_trash_is_the_systems_and_undo_says_how_to_restore(env, capsys, monkeypatch, tmp_path) -> None:
    """The platform faked: send2trash takes the copies; the CLI says undo cannot."""
    from imgfinder.core import system_trash

    bin_dir = tmp_path / "MacTrash"
    bin_dir.mkdir()
    sent = []

    def fake_send(path: str) -> None:
        sent.append(path)
        shutil.move(path, bin_dir / f"{len(sent)} {os.path.basename(path)}")

    monkeypatch.setattr(system_trash, "current", lambda: "darwin")
    monkeypatch.setattr(system_trash, "default_sender", lambda: fake_send)
    before = fingerprint(env.root)
    code, out, err = run(capsys, monkeypatch, "duplicates", "--trash", "--yes", "--reference", str(env.ref),
                         "--data-dir", env.data, "-q")
    assert code == 0, err
    assert {os.path.relpath(p, env.root) for p in sent} == env.to_move
    assert sorted(fingerprint(bin_dir).values()) == sorted(before[p] for p in env.to_move)
    assert "to the Trash" in out and "Put Back" in out and "'imgfinder undo' puts" not in out
    assert not (env.trash / "files").exists() or not list((env.trash / "files").iterdir())
    code, out, err = run(capsys, monkeypatch, "undo", "--data-dir", env.data)
    assert code == 2 and out == "put back no file\n"
    assert err.count("it is in the system's trash") == 5 and "File ▸ Put Back" in err and "tries them again" not in err


def test_bursts_are_moved_only_when_listed_alone(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    files = burst_library(tmp_path / "lib")
    os.utime(files["s6_exact"], (T0 + 100, T0 + 100))  # the newer of two equal files is the one to move
    os.utime(files["s6_photo"], (T0, T0))
    data = str(tmp_path / "data")
    code, _, err = run(capsys, monkeypatch, "index", str(tmp_path / "lib"), "--data-dir", data, "-q")
    assert code == 0, err
    before = fingerprint(tmp_path / "lib")
    code, out, err = run(capsys, monkeypatch, "duplicates", "--shots", "--trash", "--yes", "--data-dir", data,
                         "-q", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert {g["kind"] for g in result["groups"]} == {"exact", "copies", "shots"}  # bursts listed ...
    assert {Path(m["path"]).stem for m in result["action"]["moved"]} == {"s1_copy", "s6_exact"}  # ... not moved
    left = [Path(m["path"]).stem for m in result["action"]["left_alone"]]
    assert len(left) == 3 and {n[:2] for n in left} == {"s2", "s3"}  # every burst shot but the first of each
    after = fingerprint(tmp_path / "lib")
    assert set(before) - set(after) == {"s1_copy.jpg", "s6_exact.jpg"}
    assert all(after[p] == before[p] for p in after)
    # Listed alone (the app's rule: ticked only when the filter shows bursts only), they are.
    code, out, err = run(capsys, monkeypatch, "duplicates", "--kind", "shots", "--trash", "--yes", "--data-dir", data,
                         "-q", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert {g["kind"] for g in result["groups"]} == {"shots"}
    # (with its edited copy gone, shot 1 of scene 1 is in no copies group: its burst is listed now)
    others = {Path(f["path"]).name for g in result["groups"] for f in g["files"][1:]}
    assert {n[:2] for n in others} == {"s1", "s2", "s3"} and len(others) == 4
    final = fingerprint(tmp_path / "lib")
    assert set(after) - set(final) == others and all(final[p] == after[p] for p in final)
    assert files["s4_shot1"].exists() and files["s5_shot1"].exists()


def test_plan_rules_on_groups(env) -> None:
    with Library(env.data, FakeEmbedder()) as library:
        groups = library.duplicate_finder().groups(0.85, shots=False)
    plan = plan_cleanup(groups, [str(env.ref)])
    assert {env.rel(p) for p in plan.paths} == env.to_move
    # A reference folder's file is the copy to keep, whatever the group's order said.
    kept = {reference_first(g, [str(env.ref)]).keeper.row.path for g in groups}
    assert str(env.ref / "exact_2.jpg") in kept and f"{env.lib / env.name[2]}" not in kept
    assert all(m.row.path not in kept for _, m in plan.moves)
    bursts = [DuplicateGroup(g.members, KIND_SHOTS) for g in groups]
    assert plan_cleanup(bursts, [str(env.ref)]).moves == []
    assert {env.rel(p) for p in plan_cleanup(bursts, [str(env.ref)], shots=True).paths} == env.to_move
    there = plan_cleanup(groups, [str(env.ref)], destination=str(env.lib / "copies"))
    assert [env.rel(p) for p in there.paths] == [f"lib/{env.name[2]}"] and there.count("there") == 4


def test_cleanup_options_that_cannot_go_together(env, capsys, monkeypatch) -> None:
    before = fingerprint(env.root)
    cases = [
        (["--dry-run"], "--dry-run go"),
        (["--yes"], "--yes go"),
        (["--reference", str(env.ref)], "--reference go"),
        (["--trash", "--reference", str(env.tmp / "nope")], "no such reference folder"),
        (["--move-to", str(env.ref / "sub"), "--reference", str(env.ref), "--yes"], "reference folder"),
        (["--move-to", str(env.lib / env.name[0]), "--yes"], "is a file"),
        (["--trash", "--move-to", str(env.tmp)], "not allowed with"),
        (["--json", "--format", "csv"], "--json is --format json"),
        (["--format", "csv", "-0"], "-0/--null goes with --format lines"),
        (["--kind", "bursts"], "invalid choice"),
    ]
    for args, message in cases:
        code, out, err = run(capsys, monkeypatch, "duplicates", *args, "--data-dir", env.data)
        assert code == 1 and out == "" and message in err, (args, err)
    code, _, err = run(capsys, monkeypatch, "index", str(env.root), "--min-size", "lots", "--data-dir", env.data)
    assert code == 1 and "not a size" in err
    assert fingerprint(env.root) == before and not env.trash.exists()


def test_output_formats(env, capsys, monkeypatch) -> None:
    code, out, _ = run(capsys, monkeypatch, "duplicates", "--data-dir", env.data, "--json")
    as_json = json.loads(out)
    code, out2, _ = run(capsys, monkeypatch, "duplicates", "--data-dir", env.data, "--format", "json")
    assert json.loads(out2) == as_json  # --json is --format json
    code, out, _ = run(capsys, monkeypatch, "duplicates", "--data-dir", env.data, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    # The app's export columns (issue #23: the two had different ones).
    assert rows[0] == ["group", "kind", "keep", "exact", "score", "path", "width", "height", "size"]
    expect = [[str(n), g["kind"], "1" if f["keep"] else "0", "1" if f["exact"] else "0", f"{f['score']:.6f}",
               f["path"], str(f["width"]), str(f["height"]), str(f["size"])]
              for n, g in enumerate(as_json["groups"], 1) for f in g["files"]]
    assert rows[1:] == expect
    code, out, _ = run(capsys, monkeypatch, "duplicates", "--data-dir", env.data, "--format", "lines")
    assert out.splitlines() == ["\t".join(f["path"] for f in g["files"]) for g in as_json["groups"]]
    code, out, _ = run(capsys, monkeypatch, "duplicates", "--data-dir", env.data, "-0")
    assert out == "".join("".join(f["path"] + "\0" for f in g["files"]) + "\0" for g in as_json["groups"])
    # similar: CSV rows per result; one line per photo asked about, that photo first.
    query = str(env.lib / "copies" / "small_1.jpg")
    code, out, _ = run(capsys, monkeypatch, "similar", query, "-k", "3", "--data-dir", env.data, "--json")
    results = json.loads(out)["results"]
    code, out, _ = run(capsys, monkeypatch, "similar", query, "-k", "3", "--data-dir", env.data, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["query", "rank", "similarity", "path", "size", "width", "height", "copy_of"]
    # Each result, then the edited copies folded under it (its rank, and its path in copy_of).
    assert [(r[0], r[1], r[3], r[7]) for r in rows[1:]] == [
        (query, str(n), x["path"], "" if x is h else h["path"])
        for n, h in enumerate(results, 1) for x in (h, *h["copies"])]
    code, out, _ = run(capsys, monkeypatch, "similar", query, str(env.lib / env.name[0]), "-k", "2",
                       "--data-dir", env.data, "--format", "lines")
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].split("\t") == [
        query, *(x["path"] for h in results[:2] for x in (h, *h["copies"]))]


def test_lines_refuse_a_path_that_a_tab_line_cannot_carry(env, capsys, monkeypatch) -> None:
    odd = env.lib / "tab\there.jpg"
    shutil.copy(env.lib / env.name[4], odd)
    code, _, err = run(capsys, monkeypatch, "index", str(env.root), "--data-dir", env.data, "-q")
    assert code == 0, err
    code, out, err = run(capsys, monkeypatch, "duplicates", "--data-dir", env.data, "--format", "lines")
    assert code == 1 and out == "" and "-0" in err
    code, out, _ = run(capsys, monkeypatch, "duplicates", "--data-dir", env.data, "-0")
    assert code == 0 and str(odd) + "\0" in out


def test_exclude_and_min_size_when_indexing(env, capsys, monkeypatch) -> None:
    data = str(env.tmp / "data2")
    small = min((env.root / p).stat().st_size for p in fingerprint(env.root)
                if "copies" not in p and "exact_2" not in p)  # the smallest photo not excluded
    code, out, err = run(capsys, monkeypatch, "index", str(env.root), "--data-dir", data, "--json", "-q",
                         "--exclude", "*/copies/*", "--exclude", "EXACT_2.JPG", "--min-size", str(small + 1))
    assert code == 0, err
    summary = json.loads(out)
    assert summary["skipped"]["excluded"] == 5  # four in copies/ and ref/exact_2.jpg (any case)
    assert summary["skipped"]["too_small"] == 1 and summary["added"] == 6 - 1
    code, out, _ = run(capsys, monkeypatch, "duplicates", "--data-dir", data, "--json")
    assert json.loads(out)["groups"] == []
    # Text summary: counted in what was left out. Indexed before, now excluded: forgotten.
    code, out, _ = run(capsys, monkeypatch, "index", str(env.root), "--data-dir", data, "-q")
    assert "added 6" in out
    code, out, _ = run(capsys, monkeypatch, "index", str(env.root), "--data-dir", data, "-q", "--exclude", "copies")
    assert "removed 4" in out and "left out 4 excluded photos" in out
    code, _, err = run(capsys, monkeypatch, "index", str(env.lib / "copies"), "--data-dir", data, "--exclude", "*.jpg")
    assert code == 0 and "every photo in" in err and "left out by --exclude" in err


def test_exclude_and_min_size_filter_duplicates_and_similar(env, capsys, monkeypatch) -> None:
    before = fingerprint(env.root)
    code, out, _ = run(capsys, monkeypatch, "duplicates", "--data-dir", env.data, "--json", "--exclude", "exact_0*")
    groups = [{env.rel(f["path"]) for f in g["files"]} for g in json.loads(out)["groups"]]
    assert len(groups) == 3 and not any("exact_0" in p for g in groups for p in g)
    small = (env.lib / "copies" / "small_1.jpg").stat().st_size
    code, out, _ = run(capsys, monkeypatch, "duplicates", "--data-dir", env.data, "--json", "--min-size", str(small + 1))
    paths = {env.rel(f["path"]) for g in json.loads(out)["groups"] for f in g["files"]}
    assert "lib/copies/small_1.jpg" not in paths and "lib/copies/exact_0.jpg" in paths
    # Left out: never moved either (the action applies to the listed groups only).
    code, out, err = run(capsys, monkeypatch, "duplicates", "--trash", "--yes", "--data-dir", env.data, "-q",
                         "--reference", str(env.ref), "--exclude", "*/copies/small*")
    assert code == 0, err
    assert set(before) - set(fingerprint(env.root)) == {"lib/copies/exact_0.jpg", "lib/copies/exact_0b.jpg",
                                                        f"lib/{env.name[2]}"}  # ref/exact_2.jpg is kept
    query = str(env.lib / env.name[1])
    code, out, _ = run(capsys, monkeypatch, "similar", query, "-k", "4", "--data-dir", env.data, "--json",
                       "--exclude", "*/copies/*")
    results = [r["path"] for r in json.loads(out)["results"]]
    assert len(results) == 4 and not any("/copies/" in p for p in results)  # still k results


def test_forget_takes_a_folder_out_of_the_library_and_the_apps_list(env, capsys, monkeypatch) -> None:
    from imgfinder.gui.settings import AppSettings

    settings = AppSettings(Path(env.data))
    settings.folders = [str(env.lib), str(env.ref)]
    settings.sync()
    before = fingerprint(env.root)
    code, out, err = run(capsys, monkeypatch, "forget", str(env.ref), "--data-dir", env.data)
    assert code == 0, err
    assert out.strip() == f"forgot 2 photos in {env.ref}"
    assert fingerprint(env.root) == before  # the files are not touched
    assert AppSettings(Path(env.data)).folders == [str(env.lib)]  # the app does not index it again
    code, out, _ = run(capsys, monkeypatch, "duplicates", "--data-dir", env.data, "--json")
    paths = {env.rel(f["path"]) for g in json.loads(out)["groups"] for f in g["files"]}
    assert paths and not any(p.startswith("ref/") for p in paths)
    query = str(env.ref / "exact_2.jpg")
    code, out, _ = run(capsys, monkeypatch, "similar", query, "-k", "50", "--data-dir", env.data, "--json")
    assert not any("/ref/" in r["path"] for r in json.loads(out)["results"])
    # A folder inside one the app indexes: forgotten, with a note that the app brings it back.
    code, out, err = run(capsys, monkeypatch, "forget", str(env.lib / "copies"), "--data-dir", env.data, "--json")
    assert code == 0 and json.loads(out) == {"forgotten": [{"folder": str(env.lib / "copies"), "photos": 4}],
                                             "photos": 4}
    assert "the desktop app indexes" in err and AppSettings(Path(env.data)).folders == [str(env.lib)]
    code, out, err = run(capsys, monkeypatch, "forget", str(env.ref), "--data-dir", env.data)
    assert code == 1 and out == "" and err.startswith("imgfinder: error: nothing to forget: no photo in the library is in ")
    assert err.count("\n") == 1
    code, out, err = run(capsys, monkeypatch, "forget", str(env.ref), "--data-dir", env.data, "--json")
    assert code == 1 and json.loads(out) == {"forgotten": [{"folder": str(env.ref), "photos": 0}], "photos": 0}
    code, _, err = run(capsys, monkeypatch, "forget", str(env.lib / env.name[0]), "--data-dir", env.data)
    assert code == 1 and "is a file" in err
    code, _, err = run(capsys, monkeypatch, "forget", str(env.ref), "--data-dir", str(env.tmp / "none"))
    assert code == 1 and "nothing indexed yet" in err and not (env.tmp / "none").exists()
    code, _, err = run(capsys, monkeypatch, "undo", "--data-dir", str(env.tmp / "none"))
    assert code == 1 and "nothing to undo" in err and not (env.tmp / "none").exists()
    assert fingerprint(env.root) == before


def test_sizes_and_patterns() -> None:
    assert [parse_size(t) for t in ("5000", "100k", "100K", "2MB", "1.5M", "1.5 mb", "1KiB", "2MiB", "1G")] == [
        5000, 100_000, 100_000, 2_000_000, 1_500_000, 1_500_000, 1024, 2 * 1024**2, 10**9]
    for bad in ("", "k", "1.5", "-1k", "2 MBs", "1e3"):
        with pytest.raises(ValueError):
            parse_size(bad)
    f = FileFilter(["*.png", "*/thumbnails/*", "cache", "/media/usb/old/"], min_size=1000)
    assert f.reason("/a/b.PNG", 5000) == "excluded"
    assert f.reason("/a/thumbnails/c.jpg", 5000) == "excluded"
    assert f.reason("/a/cache/d/e.jpg", 5000) == "excluded"  # a folder's name, at any depth
    assert f.reason("/media/usb/old/x/y.jpg", 5000) == "excluded"  # a folder's path
    assert f.reason("/media/usb/older/y.jpg", 5000) is None
    assert f.reason("/a/cached/e.jpg", 5000) is None and f.reason("/a/b.jpg", 5000) is None
    assert f.reason("/a/b.jpg", 999) == "too_small" and f.reason("/a/b.jpg", 1000) is None
    assert not FileFilter() and FileFilter(min_size=1) and FileFilter(["x"])


def test_scan_leaves_out_by_path_and_counts_each_file_once(tmp_path, photo_paths) -> None:
    from collections import Counter

    from imgfinder.core.scanner import scan

    lib = tmp_path / "lib"
    (lib / "thumbnails").mkdir(parents=True)
    shutil.copy(photo_paths[0], lib / "a.jpg")
    shutil.copy(photo_paths[1], lib / "thumbnails" / "b.jpg")
    (lib / "zz").mkdir()
    os.link(lib / "thumbnails" / "b.jpg", lib / "zz" / "b-link.jpg")  # the same file, walked after it
    skipped: Counter[str] = Counter()
    found = [f.path for f in scan([lib, lib / "thumbnails" / "b.jpg"], skipped=skipped,
                                  leave_out=FileFilter(["thumbnails"]))]
    assert sorted(found) == [str(lib / "a.jpg"), str(lib / "zz" / "b-link.jpg")]  # the other path is taken
    assert skipped["excluded"] == 1 and skipped["same_file"] == 0  # reached twice (a root too), counted once


def test_similar_looks_further_when_results_are_left_out(env) -> None:
    with Library(env.data, FakeEmbedder()) as library:
        query = library.describe_file(str(env.lib / env.name[0]))
        everything = library.similar_to_descriptor(query, 50)
        last = everything[-1].row.path  # the least similar photo: beyond the first look's 2k+1

        def only_last(path: str, size: int) -> str | None:
            return None if path == last else "excluded"

        assert len(everything) > 3
        assert [h.row.path for h in library.similar_to_descriptor(query, 1, leave_out=only_last)] == [last]
