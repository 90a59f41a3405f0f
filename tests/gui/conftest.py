"""GUI test fixtures: offscreen Qt, a window on a temporary data folder with the fake
embedder, a folder of small real photos plus edited copies, and auto-accepted dialogs."""

from __future__ import annotations

import os

if not os.environ.get("QT_QPA_PLATFORM"):  # an unset or empty value would try a real display
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

import importlib.util
import shutil
from pathlib import Path

import pytest
from PIL import Image

# The shared helpers of tests/conftest.py, loaded under their own name (both files are "conftest").
_spec = importlib.util.spec_from_file_location("imgfinder_tests_shared", Path(__file__).resolve().parent.parent / "conftest.py")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
FakeEmbedder = _shared.FakeEmbedder
small_copy = _shared.small_copy


@pytest.fixture
def gui_photos(tmp_path: Path, photo_paths: list[Path]) -> Path:
    """12 small real photos, an exact copy, a resized copy and a cropped copy, and a bad file."""
    lib = tmp_path / "photos"
    for p in photo_paths[:12]:
        small_copy(p, lib / p.name, max_side=320)
    shutil.copy2(lib / photo_paths[0].name, lib / "copy_of_first.jpg")
    small_copy(photo_paths[1], lib / "sub" / "second_small.jpg", max_side=200, quality=70)
    with Image.open(lib / photo_paths[2].name) as img:
        w, h = img.size
        img.crop((4, 4, w - 4, h - 4)).save(lib / "sub" / "third_cropped.jpg", quality=90)
    (lib / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a photo")
    return lib


@pytest.fixture
def make_window(qtbot, tmp_path: Path, monkeypatch):
    """Factory for MainWindows on ``tmp_path/data``; confirmations auto-accept."""
    from imgfinder.gui import dialogs
    from imgfinder.gui.main_window import MainWindow

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    confirmations: list[tuple] = []

    def accept(parent, verb, count, total_bytes, destination=None):
        confirmations.append((verb, count, total_bytes, destination))
        return True

    monkeypatch.setattr(dialogs, "confirm_file_action", accept)
    move_answer = {"keep_folders": False}  # what the auto-accepted move question answers

    def accept_move(parent, count, total_bytes, destination, below):
        confirmations.append(("Move", count, total_bytes, destination))
        move_answer["below"] = below
        return move_answer["keep_folders"]

    monkeypatch.setattr(dialogs, "confirm_move", accept_move)

    def accept_links(parent, count, total_bytes, different):
        confirmations.append(("Replace with links", count, total_bytes, different))
        return True

    monkeypatch.setattr(dialogs, "confirm_links", accept_links)
    windows = []

    def make(embedder=None, data_dir=None):
        embedder = embedder or FakeEmbedder()
        w = MainWindow(data_dir or tmp_path / "data", lambda: embedder)
        w.confirmations = confirmations
        w.move_answer = move_answer
        qtbot.addWidget(w)
        w.show()
        qtbot.waitUntil(lambda: w.ready, timeout=10_000)
        windows.append(w)
        return w

    yield make
    for w in windows:
        if w.isVisible():
            w.close()
