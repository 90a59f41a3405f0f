"""Every state file damaged in several ways: the next command repairs what can be remade
(index files, thumbnails) and gives the results it gave before; a damaged catalog is
reported in one line, ``imgfinder repair`` keeps it aside and makes a working one.

State files: the catalog and its write-ahead log, each file of both indexes (the copy
index that duplicates use and the retrieval index that similar search uses) and their
manifests and locks, thumbnail cache entries, the app's settings. The photos' bytes are
checked after every test.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from _state import (
    DAMAGE, catalog_rows, cli, copy_state, damage, index_file, index_leftovers, make_photos, results, sha256_tree,
)
from conftest import FakeEmbedder, small_copy

from imgfinder.core.library import Library

pytestmark = pytest.mark.timeout(120)

COMMANDS = ("index", "similar", "duplicates")


@pytest.fixture(scope="module")
def world(tmp_path_factory, photo_paths):
    """Photos with 10 known duplicate pairs, a data folder indexed from them, and what
    ``duplicates`` and ``similar`` said about it."""
    root = tmp_path_factory.mktemp("world")
    photos = make_photos(root / "photos", photo_paths)
    for p in photo_paths[10:16]:
        small_copy(p, root / "other" / p.name, max_side=240)
    hashes = sha256_tree(root / "photos")
    data = root / "pristine"
    code, _, err = cli("index", photos, data=data)
    assert code == 0, err
    query = sorted((photos / "orig").glob("*.jpg"))[0]
    expected = results(data, query)
    assert len(expected[0]) == 10 and len(expected[1]) == 8
    yield {"root": root, "photos": photos, "data": data, "query": query, "expected": expected}
    assert sha256_tree(root / "photos") == hashes  # no test ever changed a photo


def _fresh(world, tmp_path: Path) -> Path:
    return copy_state(world["data"], tmp_path / "data")


def _run(command: str, world, data: Path) -> tuple[int, str, str]:
    if command == "index":
        return cli("index", world["photos"], data=data)
    if command == "similar":
        return cli("similar", world["query"], data=data)
    return cli("duplicates", data=data)


def _store_file(data: Path, store: str, role: str) -> Path:
    manifest = data / "index" / f"{store}.json"
    if role == "manifest":
        return manifest
    if role == "lock":
        return data / "index" / f"{store}.lock"
    return index_file(data, store, role)


INDEX_CASES = [
    (store, role, kind)
    for store in ("embeddings", "retrieval")
    for role in ("ann", "ids", "vectors", "manifest")
    for kind in (*DAMAGE, "flip")
] + [
    (store, "manifest", kind) for store in ("embeddings", "retrieval")
    for kind in ("json-list", "wrong-types", "names-a-missing-file")
] + [(store, "lock", kind) for store in ("embeddings", "retrieval") for kind in ("garbage", "folder")]


@pytest.mark.parametrize(("store", "role", "kind"), INDEX_CASES, ids=["-".join(c) for c in INDEX_CASES])
def test_a_damaged_index_file_is_rebuilt_and_results_are_unchanged(world, tmp_path: Path, store, role, kind) -> None:
    data = _fresh(world, tmp_path)
    target = _store_file(data, store, role)
    if kind == "json-list":
        target.write_text("[]")
    elif kind == "wrong-types":
        manifest = json.loads(target.read_text())
        manifest.update(count="20", dim=[192], model_id=7)
        target.write_text(json.dumps(manifest))
    elif kind == "names-a-missing-file":
        manifest = json.loads(target.read_text())
        if "files" in manifest:
            manifest["files"]["vectors"]["name"] = f"{store}.gone.vectors.npy"
            target.write_text(json.dumps(manifest))
        else:  # the format before version 3 names no file: the fixed name goes missing
            index_file(data, store, "vectors").unlink()
    elif kind == "flip" and role == "manifest":
        target.write_text(target.read_text().replace('"generation": ', '"generation": 1'))
    else:
        damage(target, kind)
    command = COMMANDS[sum(map(ord, f"{store}{role}{kind}")) % 3]  # each case's next command, spread
    code, out, err = _run(command, world, data)
    assert code == 0 and "Traceback" not in err, (command, code, err)
    assert results(data, world["query"]) == world["expected"]
    assert index_leftovers(data) == []  # the damaged file was replaced, nothing else is left


@pytest.mark.parametrize("kind", ["half", "garbage", "header", "folder"])
def test_a_damaged_catalog_is_one_line_then_repair_makes_a_working_one(world, tmp_path: Path, kind) -> None:
    data = _fresh(world, tmp_path)
    catalog = data / "catalog.sqlite3"
    damage(catalog, kind)
    damaged = hashlib.sha256(catalog.read_bytes()).hexdigest() if catalog.is_file() else None
    for command in COMMANDS:
        code, out, err = _run(command, world, data)
        lines = err.strip().splitlines()
        assert code == 1 and out == "", (command, code, out, err)
        assert len(lines) == 1 and "Traceback" not in err, (command, err)
        assert "catalog" in lines[0] and "damaged" in lines[0] and "imgfinder repair" in lines[0], lines
    code, out, err = cli("repair", data=data)
    assert code == 0, err
    kept = list(data.glob("catalog-damaged-*.sqlite3"))
    assert len(kept) == 1 and str(kept[0]) in out and "index" in out
    if damaged is not None:  # kept aside as it was: never deleted, never changed
        assert hashlib.sha256(kept[0].read_bytes()).hexdigest() == damaged
    else:
        assert (kept[0] / "something").is_file()
    code, _, err = cli("index", world["photos"], data=data)
    assert code == 0, err
    assert results(data, world["query"]) == world["expected"]
    code, out, _ = cli("repair", data=data)
    assert code == 0 and "nothing to repair" in out


def test_repair_carries_over_the_not_duplicates_marks_and_the_undo_log(world, tmp_path: Path) -> None:
    """The header damaged (SQLite: "file is not a database"): everything else can be read."""
    from imgfinder.core.file_actions import FileMover

    photos = copy_state(world["photos"], tmp_path / "photos")
    data = tmp_path / "data"
    assert cli("index", photos, data=data)[0] == 0
    away = tmp_path / "away"
    away.mkdir()
    with Library(data, FakeEmbedder()) as library:
        groups = library.duplicate_finder().groups(0.9)
        a, b = groups[0].members[0].row, groups[0].members[1].row
        library.catalog.ignore_pair(a.hash, b.hash)
        moved = FileMover(library.catalog).move_to([str(photos / "copies" / "small_03_chelsea.jpg")], str(away))
        assert len(moved.done) == 1
    before = cli("duplicates", "--json", data=data)[1]
    damage(data / "catalog.sqlite3", "header")
    assert cli("duplicates", data=data)[0] == 1
    code, out, err = cli("repair", "--json", data=data)
    report = json.loads(out)
    assert code == 0 and report["damaged"] and report["reason"] == "file is not a database", (out, err)
    assert (report["ignored_pairs"], report["undo_entries"], report["photos"]) == (1, 1, 20)
    assert sorted(report["folders"]) == [str(away), str(photos / "copies"), str(photos / "orig")]
    assert cli("index", *report["folders"], data=data)[0] == 0  # as repair says
    assert cli("duplicates", "--json", data=data)[1] == before  # the marked pair stays apart
    with Library(data, FakeEmbedder()) as library:  # and the move can still be undone
        undone = FileMover(library.catalog).undo_last()
    assert [Path(d).name for _, d in undone.done] == ["small_03_chelsea.jpg"] and not list(away.iterdir())
    assert sha256_tree(photos) == sha256_tree(world["photos"])


@pytest.mark.parametrize("kind", ["zero", "delete"])
def test_a_catalog_made_anew_never_reuses_the_old_index(world, tmp_path: Path, kind) -> None:
    """An emptied or deleted catalog is a new, empty one; the old index's numbers may match
    the new catalog's (both at generation 1 here) but it must not be used."""
    data = _fresh(world, tmp_path)
    damage(data / "catalog.sqlite3", kind)
    for command in ("similar", "duplicates"):
        code, _, err = _run(command, world, data)
        assert code == 1 and len(err.strip().splitlines()) == 1 and "index" in err, err
    assert cli("index", world["root"] / "other", data=data)[0] == 0
    clean = tmp_path / "clean"
    assert cli("index", world["root"] / "other", data=clean)[0] == 0
    query = sorted((world["root"] / "other").glob("*.jpg"))[0]
    assert results(data, query) == results(clean, query)


def test_a_catalog_restored_from_a_backup_never_reuses_a_newer_index(world, tmp_path: Path) -> None:
    data, clean = tmp_path / "data", tmp_path / "clean"
    assert cli("index", world["photos"] / "orig", data=data)[0] == 0
    backup = (data / "catalog.sqlite3").read_bytes()
    assert cli("index", world["photos"], data=data)[0] == 0  # the index now holds 20 photos
    (data / "catalog.sqlite3").write_bytes(backup)  # back to 10
    assert cli("index", world["root"] / "other", data=data)[0] == 0  # same generation number as the index
    for folder in (world["photos"] / "orig", world["root"] / "other"):
        assert cli("index", folder, data=clean)[0] == 0
    assert catalog_rows(data) == catalog_rows(clean)
    assert results(data, world["query"]) == results(clean, world["query"])


@pytest.fixture(scope="module")
def wal_state(world, tmp_path_factory):
    """A data folder whose last indexing (the 10 copies) is only in the write-ahead log,
    copied while the indexer still had the catalog open."""
    base = tmp_path_factory.mktemp("wal")
    data = base / "live"
    assert cli("index", world["photos"] / "orig", data=data)[0] == 0
    with Library(data, FakeEmbedder()) as library:
        library.catalog._conn.execute("PRAGMA wal_autocheckpoint=0")
        for _ in library.indexer().run([world["photos"]]):
            pass
        snapshot = copy_state(data, base / "snapshot")
    assert (snapshot / "catalog.sqlite3-wal").stat().st_size > 0
    return snapshot


def test_the_write_ahead_log_snapshot_is_complete(world, wal_state, tmp_path: Path) -> None:
    data = copy_state(wal_state, tmp_path / "data")
    assert results(data, world["query"]) == world["expected"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_write_ahead_log_loses_only_its_last_writes(world, wal_state, tmp_path: Path, kind) -> None:
    """SQLite ignores a write-ahead log that does not check out: the catalog is as it was
    before the last indexing (the index built after it is not used), and indexing again
    restores everything; a folder in the log's place is moved aside."""
    data = copy_state(wal_state, tmp_path / "data")
    damage(data / "catalog.sqlite3-wal", kind)
    code, out, err = cli("duplicates", "--json", data=data)
    assert code == 0, err
    assert json.loads(out)["groups"] == []  # the copies are not in the catalog any more
    code, out, err = cli("index", world["photos"], data=data)
    assert code == 0, err
    assert "added 10" in out
    assert results(data, world["query"]) == world["expected"]


@pytest.mark.parametrize("kind", ["zero", "half", "garbage", "flip", "delete", "folder"])
def test_damaged_thumbnail_entries_are_made_again(world, tmp_path: Path, kind) -> None:
    import numpy as np

    from imgfinder.core.thumbnails import ThumbnailCache

    photos = sorted((world["photos"] / "orig").glob("*.jpg"))
    cache = ThumbnailCache(tmp_path / "data")
    expected = [np.asarray(cache.get(str(p), 96), np.int16) for p in photos]
    entries = sorted(cache.directory.rglob("*.jpg"))
    assert len(entries) == len(photos)
    for entry in entries:
        damage(entry, kind)
    for _ in range(2):  # made again, then read from the rewritten entry
        got = [np.asarray(cache.get(str(p), 96), np.int16) for p in photos]
        assert all(a.shape == b.shape and np.abs(a - b).max() == 0 for a, b in zip(expected, got))
    assert all(e.is_file() for e in entries)


@pytest.mark.parametrize("name", ["gui-settings.ini", "settings.json"])
@pytest.mark.parametrize("kind", ["zero", "half", "garbage", "folder"])
def test_damaged_app_settings_fall_back_to_defaults(tmp_path: Path, kind, name) -> None:
    from imgfinder.gui.settings import DEFAULT_THUMB, AppSettings

    settings = AppSettings(tmp_path)
    settings.folders = ["/photos/a", "/photos/b"]
    settings.thumb_size = 200
    settings.threshold = 0.93
    settings.set_geometry(b"x", b"y")
    settings.sync()
    damage(tmp_path / name, kind)
    again = AppSettings(tmp_path)
    assert isinstance(again.folders, list) and all(isinstance(f, str) for f in again.folders)
    assert again.thumb_size in (200, DEFAULT_THUMB) and 0.0 <= again.threshold <= 1.0
    assert isinstance(again.sort_key, str) and again.geometry() is None
    again.folders = ["/photos/c"]
    again.sync()


# -- the app's offer to rebuild --------------------------------------------------------------
def _window(qtbot, data: Path, folders: list[Path]):
    from imgfinder.gui.main_window import MainWindow
    from imgfinder.gui.settings import AppSettings

    settings = AppSettings(data)
    settings.folders = [str(f) for f in folders]
    settings.sync()
    window = MainWindow(data, FakeEmbedder)
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.mark.parametrize("answer", ["Rebuild catalog", "Not now"])
def test_the_app_offers_to_rebuild_a_damaged_catalog(world, tmp_path: Path, qtbot, monkeypatch, answer) -> None:
    from PySide6.QtWidgets import QMessageBox

    data = _fresh(world, tmp_path)
    damage(data / "catalog.sqlite3", "garbage")
    shown: list[str] = []

    def answer_box(box: QMessageBox) -> int:
        shown.append(f"{box.windowTitle()}: {box.text()}")
        [button] = [b for b in box.buttons() if b.text() == answer]
        button.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", answer_box)
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(f"critical: {a[1:]}"))
    window = _window(qtbot, data, [world["photos"]])
    qtbot.waitUntil(lambda: bool(shown), timeout=20_000)
    assert len(shown) == 1 and "damaged" in shown[0] and "catalog" in shown[0], shown
    if answer == "Not now":
        qtbot.wait(200)
        assert not window.ready and "damaged" in window.status_label.full_text()
        assert not [p for p in data.iterdir() if p.name.startswith("catalog-damaged-")]
        window.close()
        return
    qtbot.waitUntil(lambda: window.ready and not window.indexing and window.runner.idle(), timeout=30_000)
    qtbot.waitUntil(lambda: window.library_view.model.rowCount() == 20, timeout=10_000)
    assert len(list(data.glob("catalog-damaged-*.sqlite3"))) == 1
    assert len(shown) == 1
    window.close()
    assert results(data, world["query"]) == world["expected"]
