"""A clean-up killed at any moment, and ``undo`` still puts every photo back (issue #21).

``duplicates --trash --yes``, ``duplicates --move-to``, ``duplicates --link`` (a copy to the
trash, a hard link to its original in its place) and ``undo`` run in child processes
and are stopped just after a file-system step drawn at random (seeded) from all the steps
of an undisturbed run (links, unlinks, renames, fsyncs, folders made ...), then killed
there by SIGTERM (handled as Ctrl+C: exit 143) or SIGKILL (nothing runs). After each kill:
``undo`` until nothing is left to undo, every run answering without a failure, then every
photo is back byte for byte, the trash and the move folder are empty, no temporary copy is
left, and the child is gone. The photos are small synthetic ones made here: 8 originals,
each with two byte-identical copies (16 files to move). 48 kills: 12 in each phase,
half by SIGTERM, half by SIGKILL; after each, no copy is left a hard link.

Old code: the batch was logged only at the end, so a kill left moved photos with no undo
entry ("nothing to undo"), and a kill during undo left a file under both names that every
later undo called "taken".
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from _state import Child, cli, copy_state

pytestmark = pytest.mark.timeout(240)

ORIGINALS = 8
SEED = 2121
PHASES = ("trash", "move", "link")  # the clean-ups; "undo" is the undo of one of them
TRIALS = [  # (phase, signal): 12 per phase, half SIGTERM, half SIGKILL: 48 kills
    (phase, sig) for phase in (*PHASES, "undo") for sig in ("TERM", "KILL") * 6
]


def synthetic_photos(root: Path) -> Path:
    """Small photos made here (random smooth colours), each with two exact copies."""
    rng = np.random.default_rng(SEED)
    (root / "orig").mkdir(parents=True)
    (root / "copies").mkdir()
    for n in range(ORIGINALS):
        small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((96, 72), Image.BILINEAR)
        path = root / "orig" / f"photo_{n}.jpg"
        image.save(path, quality=90)
        for k in ("a", "b"):
            shutil.copy2(path, root / "copies" / f"copy_{n}{k}.jpg")
    return root


def sha_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def files_in(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("cleanup-kill")
    photos = synthetic_photos(root / "photos")
    clean = root / "clean"
    assert cli("index", photos, "-q", data=clean)[0] == 0
    code, out, err = cli("duplicates", "--exact-only", "--json", data=clean)
    assert code == 0 and out.count('"keep": true') == ORIGINALS, err
    xdg = root / "xdg"
    env = {"XDG_DATA_HOME": str(xdg)}
    steps = {}  # how many file-system steps each phase makes, undisturbed (counted in a child)
    for phase in PHASES:
        data = copy_state(clean, root / f"count-{phase}")
        for name, argv in ((phase, command(phase, root)), (f"undo-{phase}", ["undo"])):
            report = Child([*argv, "--data-dir", str(data)], root / "work", env=env, step=-1).result()
            assert report["code"] == 0 and report["steps"] > 10, report
            steps[name] = report["steps"]
    hashes = sha_tree(photos)
    yield {"root": root, "photos": photos, "clean": clean, "env": env, "xdg": xdg, "steps": steps,
           "hashes": hashes}
    assert sha_tree(photos) == hashes


def command(phase: str, root: Path) -> list[str]:
    if phase == "trash":
        return ["duplicates", "--exact-only", "--trash", "--yes", "-q"]
    if phase == "link":  # each copy to the trash, a hard link to its original in its place
        return ["duplicates", "--exact-only", "--link", "--yes", "-q"]
    return ["duplicates", "--exact-only", "--move-to", str(root / "moved"), "--yes", "-q"]


def undo_everything(data: Path) -> list[str]:
    """``undo`` until nothing is left; returns the problems it reported."""
    problems = []
    for _ in range(6):
        code, out, err = cli("undo", data=data)
        if code == 1 and "nothing to undo" in err:
            return problems
        if code != 0 or "Traceback" in err:
            problems.append(f"undo exit {code}: {err.strip()}")
    return problems + ["undo never said 'nothing to undo'"]


def stray_processes(data: Path) -> list[int]:
    """Processes still running with the trial's data folder on their command line."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if str(data).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize(("n", "phase", "sig"), [(n, p, s) for n, (p, s) in enumerate(TRIALS)],
                         ids=[f"{n}-{p}-SIG{s}" for n, (p, s) in enumerate(TRIALS)])
def test_a_clean_up_killed_at_a_random_step_is_undone_byte_for_byte(world, tmp_path: Path, n, phase, sig) -> None:
    rng = random.Random(SEED * 100 + n)
    root, photos = world["root"], world["photos"]
    data = copy_state(world["clean"], tmp_path / "data")
    moved = root / "moved"
    shutil.rmtree(world["xdg"], ignore_errors=True)
    shutil.rmtree(moved, ignore_errors=True)
    if phase == "undo":  # a clean-up made cleanly, then its undo killed
        setup = rng.choice(PHASES)
        os.environ["XDG_DATA_HOME"] = str(world["xdg"])
        try:
            assert cli(*command(setup, root), data=data)[0] == 0
        finally:
            os.environ.pop("XDG_DATA_HOME", None)
        argv, total = ["undo"], world["steps"][f"undo-{setup}"]
    else:
        argv, total = command(phase, root), world["steps"][phase]
    step = rng.randint(1, total)
    child = Child([*argv, "--data-dir", str(data)], root / "work", env=world["env"], step=step)
    assert child.paused(), f"the run ended before step {step} of {total}"
    signum = signal.SIGTERM if sig == "TERM" else signal.SIGKILL
    child.kill(signum)
    assert not child.process.is_alive()
    if signum == signal.SIGTERM:
        report = child.result()
        assert report["code"] == 143, report
        assert "stopped by SIGTERM" in report["stderr"] and "Traceback" not in report["stderr"], report
    os.environ["XDG_DATA_HOME"] = str(world["xdg"])
    try:
        problems = undo_everything(data)
    finally:
        os.environ.pop("XDG_DATA_HOME", None)
    assert problems == [], f"step {step} of {total}: {problems}"
    assert sha_tree(photos) == world["hashes"], f"step {step} of {total}: a photo is not back"
    linked = [str(p) for p in photos.rglob("*") if p.is_file() and p.stat().st_nlink > 1]
    assert linked == [], f"step {step} of {total}: still hard links, not the copies themselves: {linked}"
    assert files_in(world["xdg"] / "Trash") == [] and files_in(moved) == []
    assert not [p for p in photos.rglob("*") if p.name.startswith(".imgfinder-")]
    assert stray_processes(data) == []
