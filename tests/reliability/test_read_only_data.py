"""A data folder this user cannot write (a read-only mount, another user's library, files
made read-only): listings and searches still work, reading only; commands that must write
say so in one line and exit 1; nothing in the folder changes, byte for byte.

Tests run as root in CI, where ``chmod`` alone does not stop a write. So the folder is
made read-only with ``chmod`` and the command line runs in a child that, as root, has
dropped every capability (``setpriv``; without it, a child as uid 65534), for whom the
folder really is read-only: SQLite's own read-only paths are exercised (a catalog closed
cleanly, whose WAL file is gone, and one a killed writer left with changes only in its
WAL). Dropping capabilities rather than the user keeps the code readable wherever the
checkout is (a 0700 temporary folder too).
In-process tests open the catalog read-only (``mode=ro``: any write raises) and run the
writing commands with the detection seeing a read-only folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from _state import TESTS, cli, copy_state, make_photos, results, sha256_tree

from imgfinder.core import catalog as catalog_module
from imgfinder.core.catalog import Catalog, ReadOnlyCatalog, is_read_only_error
from imgfinder.core.file_actions import recover
from imgfinder.core.library import CATALOG_NAME

pytestmark = pytest.mark.timeout(300)

NOBODY = 65534
REPO = TESTS.parent

# The child: refuses to run (exit 99) if it can write the data folder, since the test would
# then prove nothing; else the command line with the tests' fake model.
CHILD = r"""
import os, sys
data = sys.argv[sys.argv.index("--data-dir") + 1]
probe = os.path.join(data, ".write-probe")
try:
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
except PermissionError:
    pass
else:
    os.unlink(probe)
    sys.exit(99)
from conftest import FakeEmbedder
from imgfinder.cli import main
sys.exit(main(sys.argv[1:], embedder_factory=FakeEmbedder))
"""


def fingerprint(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file below ``folder`` (hidden ones too): its mode bits and content hash."""
    return {
        str(p.relative_to(folder)): (stat.S_IMODE(p.lstat().st_mode), hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def world(photo_paths):
    """Photos with 10 duplicate pairs and a data folder indexed from them, in a folder that
    uid 65534 may read (pytest's own temporary folders are root's alone)."""
    root = Path(tempfile.mkdtemp(prefix="imgfinder-read-only-"))
    try:
        root.chmod(0o755)
        photos = make_photos(root / "photos", photo_paths)
        data = root / "pristine"
        code, _, err = cli("index", photos, data=data)
        assert code == 0, err
        assert not (data / f"{CATALOG_NAME}-wal").exists()  # closed cleanly: checkpointed
        query = sorted((photos / "orig").glob("*.jpg"))[0]
        for p in [root, *root.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IRGRP | stat.S_IROTH | (0o011 if p.is_dir() else 0))
        hashes = sha256_tree(photos)
        yield {"root": root, "photos": photos, "data": data, "query": query, "hashes": hashes}
        assert sha256_tree(photos) == hashes  # no test ever changed a photo
    finally:
        shutil.rmtree(root, ignore_errors=True)


def make_state(world, kind: str, name: str) -> Path:
    """A data folder in one of the states a read-only folder may be found in."""
    data = copy_state(world["data"], world["root"] / name)
    if kind == "no-index":  # nothing saved to load: the indexes are built in memory
        shutil.rmtree(data / "index")
    elif kind == "wal":  # a writer killed after committing: a change only its WAL holds
        gone = str(sorted((world["photos"] / "copies").glob("*.jpg"))[0])
        script = (
            "import os, sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_autocheckpoint=0')\n"
            "c.execute('DELETE FROM files WHERE path=?', (os.fsencode(sys.argv[2]),))\n"
            "c.execute(\"UPDATE meta SET value=CAST(CAST(value AS INTEGER)+1 AS TEXT) WHERE key='generation'\")\n"
            "c.commit(); os._exit(0)\n"
        )
        subprocess.run([sys.executable, "-c", script, str(data / CATALOG_NAME), gone], check=True)
        assert (data / f"{CATALOG_NAME}-wal").stat().st_size > 0
    for p in [data, *data.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IRGRP | stat.S_IROTH | (0o011 if p.is_dir() else 0))
    return data


def expected_results(world, data: Path) -> tuple[list, list]:
    """What a writable copy of the same state lists (it reads the WAL and rebuilds the index)."""
    return results(copy_state(data, data.with_name(data.name + "-writable")), world["query"])


def run_read_only(world, data: Path, *args: object) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the command line in a child for whom ``data`` is
    read-only: the folder made read-only by chmod, and as root every capability dropped."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO)]), "QT_QPA_PLATFORM": "offscreen"}
    tmp = world["root"] / "child-tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o777)
    env["TMPDIR"] = str(tmp)
    command = [sys.executable, "-c", CHILD, *map(str, args), "--data-dir", str(data)]
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        env["HOME"] = str(tmp)
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp,
                                  user=NOBODY, group=NOBODY, extra_groups=[])
        except PermissionError as exc:
            pytest.skip(f"cannot start a child as uid {NOBODY}: {exc}")
    else:
        # Root drops every capability (setpriv), so the folder's modes bind it as they bind
        # a user: it still reads the code wherever the checkout is (a 0700 folder too).
        if os.geteuid() == 0:
            command = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", *command]
        modes = {p: p.stat().st_mode for p in [data, *data.rglob("*")]}
        try:
            for p, mode in modes.items():
                p.chmod(mode & ~0o222)
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
    if done.returncode == 99 or "No module named" in done.stderr:
        pytest.skip(f"cannot run a child that reads the code but cannot write {data}: {done.stderr[-300:]}")
    assert list(tmp.iterdir()) == [], "a temporary copy was left behind"
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("kind", ["checkpointed", "wal", "no-index"])
def test_listings_and_searches_work_in_a_read_only_data_folder(world, kind: str) -> None:
    """duplicates and similar give what a writable copy gives, and write nothing."""
    data = make_state(world, kind, f"data-{kind}")
    groups, hits = expected_results(world, data)
    assert len(groups) == (9 if kind == "wal" else 10)  # the WAL's change is seen
    before = fingerprint(data)

    code, out, err = run_read_only(world, data, "duplicates", "--json")
    assert code == 0, err
    assert [[(m["path"], m["score"]) for m in g["files"]] for g in json.loads(out)["groups"]] == groups
    assert "Traceback" not in err and "error" not in err, err
    code, out, err = run_read_only(world, data, "similar", world["query"], "-k", "8", "--json")
    assert code == 0, err
    assert [(h["path"], round(h["score"], 5)) for h in json.loads(out)["results"]] == hits
    assert "Traceback" not in err and "error" not in err, err
    code, out, err = run_read_only(world, data, "duplicates", "--trash", "--dry-run")  # only says what it would do
    assert code == 0 and f"would move {sum(len(g) - 1 for g in groups)} files" in out, (out, err)

    assert fingerprint(data) == before


WRITERS = [
    ("index", ["index", "{photos}"]),
    ("duplicates --trash", ["duplicates", "--trash", "--yes"]),
    ("duplicates --move-to", ["duplicates", "--move-to", "{root}/moved", "--yes"]),
    ("undo", ["undo"]),
    ("repair", ["repair"]),
    ("forget", ["forget", "{photos}/copies"]),
]


def _argv(world, template: list[str]) -> list[str]:
    return [a.format(photos=world["photos"], root=world["root"]) for a in template]


def _one_line_read_only(code: int, out: str, err: str, what: str, data: Path) -> None:
    lines = err.strip().splitlines()
    assert code == 1, (out, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"the data folder {data} is read-only: '{what}' needs to write to it" in lines[0], err


def test_commands_that_must_write_say_the_folder_is_read_only(world) -> None:
    """index, a clean-up, undo, repair and forget: one line, exit 1, nothing changed."""
    data = make_state(world, "wal", "data-writers")
    before = fingerprint(data)
    for what, template in WRITERS:
        code, out, err = run_read_only(world, data, *_argv(world, template))
        _one_line_read_only(code, out, err, what, data)
    assert fingerprint(data) == before
    assert sha256_tree(world["photos"]) == world["hashes"]
    assert not (world["root"] / "moved").exists()


@pytest.fixture
def seen_read_only(monkeypatch, world):
    """The detection sees every data folder below the world as read-only (``os.access``,
    which root's writes would otherwise pass); the files are made read-only too."""
    real = os.access
    root = str(world["root"])

    def access(path: object, mode: int, *args: object, **kwargs: object) -> bool:
        if mode & os.W_OK and os.path.abspath(os.fsdecode(path)).startswith(root + os.sep):  # type: ignore[arg-type]
            return False
        return real(path, mode, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)


def test_writing_commands_stop_before_writing_anything(world, seen_read_only) -> None:
    """In this process, as root, nothing would stop a write: the refusal comes first."""
    data = make_state(world, "wal", "data-in-process")
    for p in data.rglob("*"):
        p.chmod(p.stat().st_mode & ~0o222)
    before = fingerprint(data)
    for what, template in WRITERS:
        code, out, err = cli(*_argv(world, template), data=data)
        _one_line_read_only(code, out, err, what, data)
    assert fingerprint(data) == before
    assert sha256_tree(world["photos"]) == world["hashes"]


@pytest.mark.parametrize("kind", ["checkpointed", "wal"])
def test_the_read_only_catalog_refuses_every_write(world, kind: str) -> None:
    """``mode=ro``: reads see the WAL's changes, and any write raises SQLite's refusal."""
    data = make_state(world, kind, f"data-catalog-{kind}")
    main_file = (data / CATALOG_NAME).read_bytes()
    with Catalog(data / CATALOG_NAME, read_only=True) as catalog:
        assert catalog.count() == (19 if kind == "wal" else 20)
        for write in (lambda: catalog.ignore_pair("a" * 40, "b" * 40), lambda: catalog.advance_generation(10**6),
                      lambda: catalog.remove_folder(str(world["photos"]))):
            with pytest.raises(sqlite3.OperationalError) as caught:
                write()
            assert is_read_only_error(caught.value), caught.value
        assert catalog.count() == (19 if kind == "wal" else 20)
    assert (data / CATALOG_NAME).read_bytes() == main_file


def test_an_older_catalog_is_not_upgraded_in_a_read_only_folder(world, tmp_path: Path, seen_read_only) -> None:
    """A catalog of schema 6 would be migrated on open: read-only, it is left as it is and
    the command says an upgrade needs write access."""
    data = world["root"] / "data-schema-6"
    data.mkdir()
    conn = sqlite3.connect(data / CATALOG_NAME)
    for script in catalog_module._MIGRATIONS[:6]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version=6")
    conn.execute("INSERT INTO files(path, size, mtime_ns, indexed_at) VALUES (?, 1, 1, 0)",
                 (os.fsencode(str(world["query"])),))
    conn.commit()
    conn.close()
    before = fingerprint(data)
    with pytest.raises(ReadOnlyCatalog, match="needs write access"):
        Catalog(data / CATALOG_NAME, read_only=True)
    code, out, err = cli("duplicates", data=data)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "older imgfinder (schema 6; this one uses 7)" in err and "needs write access" in err, err
    assert fingerprint(data) == before
    check = sqlite3.connect(f"file:{data / CATALOG_NAME}?mode=ro", uri=True)
    assert check.execute("PRAGMA user_version").fetchone()[0] == 6
    check.close()


def test_recovery_writes_nothing_in_a_read_only_folder(world) -> None:
    """A move a killed clean-up left in flight is reported, not settled, and the photo stays."""
    data = make_state(world, "checkpointed", "data-in-flight")
    photo = sorted((world["photos"] / "copies").glob("*.jpg"))[0]
    with Catalog(data / CATALOG_NAME) as catalog:
        row = catalog.row_for_path(str(photo))
        assert row is not None
        catalog.journal_intent(None, "move", str(photo), str(world["root"] / "moved" / photo.name), row.hash, row.size)
    main_file = (data / CATALOG_NAME).read_bytes()
    with Catalog(data / CATALOG_NAME, read_only=True) as catalog:
        report = recover(catalog)
        assert not report.finished and not report.rolled_back
        assert report.notes == ["1 move an interrupted clean-up or undo left in flight will be settled once "
                                "the data folder can be written again"]
        assert [e.source for e in catalog.in_flight()] == [str(photo)]
    assert (data / CATALOG_NAME).read_bytes() == main_file
    assert not (world["root"] / "moved").exists()
    assert sha256_tree(world["photos"]) == world["hashes"]
