"""The Qt-free store of the library's shared choices (core.settings), and its one-time
migration from the app's QSettings INI file, read without Qt."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from imgfinder.core.duplicates import DEFAULT_THRESHOLD, KeepPreference
from imgfinder.core.settings import LEGACY_INI, SETTINGS_FILE, Settings, qt_ini_list, read_ini

TRICKY = ["/home/me/Pictures", "/a, b/c", '/q"uote/\\back', "/ünï/日本", " /lead space", "/trail space ",
          "/semi;colon", "/eq=sign", "/tab\there", "/new\nline", "/@at", "@start", '"quoted"', "/,", ""]


def _qt_write(path: Path, values: dict) -> None:
    """Write ``values`` with QSettings itself, in a child process (Qt is not imported here)."""
    code = (
        "import json, sys\nfrom PySide6.QtCore import QSettings\n"
        "s = QSettings(sys.argv[1], QSettings.Format.IniFormat)\n"
        "for k, v in json.loads(sys.argv[2]).items():\n    s.setValue(k, v)\ns.sync()\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", code, str(path), json.dumps(values)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_defaults_and_an_atomic_round_trip(tmp_path: Path) -> None:
    s = Settings(tmp_path)
    assert s.folders == [] and s.reference_folders == [] and s.threshold == DEFAULT_THRESHOLD
    assert s.keep_preference is KeepPreference.BEST_PIXELS and s.thumb_size == 160 and s.sort_key == "name"
    assert not (tmp_path / SETTINGS_FILE).exists()  # reading writes nothing
    s.folders = ["/a", "/b"]
    s.reference_folders = ["/a"]
    s.threshold = 0.93
    s.keep_preference = KeepPreference.RAW
    s.thumb_size = 999
    s.sort_key = "date"
    again = Settings(tmp_path)
    assert again.folders == ["/a", "/b"] and again.reference_folders == ["/a"] and again.threshold == 0.93
    assert again.keep_preference is KeepPreference.RAW and again.thumb_size == 320 and again.sort_key == "date"
    assert [p.name for p in tmp_path.iterdir()] == [SETTINGS_FILE]  # no temporary file left


def test_another_writer_s_change_is_kept(tmp_path: Path) -> None:
    app, cli = Settings(tmp_path), Settings(tmp_path)
    app.folders = ["/a", "/b"]
    cli2 = Settings(tmp_path)
    cli2.folders = ["/a"]  # e.g. 'imgfinder forget /b' while the app runs
    app.threshold = 0.9  # the app saves another choice later
    assert Settings(tmp_path).folders == ["/a"] and Settings(tmp_path).threshold == 0.9
    del cli


def test_a_damaged_file_is_set_aside_not_overwritten_unread(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_text("{not json")
    s = Settings(tmp_path)
    assert s.folders == [] and s.notes and (tmp_path / f"{SETTINGS_FILE}.damaged").read_text() == "{not json"


@pytest.mark.parametrize("seed", range(3))
def test_the_qt_ini_format_is_read_as_qt_wrote_it(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    lists = {f"library/l{n}": rng.sample(TRICKY, rng.randint(2, 6)) for n in range(6)}
    singles = {f"library/s{n}": rng.choice(TRICKY[:-1]) for n in range(6)}
    ini = tmp_path / "q.ini"
    _qt_write(ini, {**lists, **singles, "library/empty": []})
    raw = read_ini(ini.read_text(encoding="utf-8"))
    for key, want in lists.items():
        assert qt_ini_list(raw[("library", key.split("/")[1])]) == want, (key, raw[("library", key.split("/")[1])])
    for key, want in singles.items():
        assert qt_ini_list(raw[("library", key.split("/")[1])]) == [want], key
    assert qt_ini_list(raw[("library", "empty")]) == []


def test_the_app_s_old_ini_is_migrated_once(tmp_path: Path) -> None:
    _qt_write(tmp_path / LEGACY_INI, {
        "library/folders": ["/home/me/Pictures", "/a, b/c", "/ünï"], "library/reference_folders": ["/home/me/Pictures"],
        "duplicates/threshold": 0.95, "duplicates/keep": "jpeg", "view/thumb_size": 200, "view/sort": "size",
    })
    s = Settings(tmp_path)
    assert s.folders == ["/home/me/Pictures", "/a, b/c", "/ünï"] and s.reference_folders == ["/home/me/Pictures"]
    assert s.threshold == 0.95 and s.keep_preference is KeepPreference.JPEG and s.thumb_size == 200
    assert s.sort_key == "size"
    s.threshold = 0.9  # saved to the new store; the INI is left as it was
    assert json.loads((tmp_path / SETTINGS_FILE).read_text())["folders"][1] == "/a, b/c"
    assert "0.95" in (tmp_path / LEGACY_INI).read_text()
    assert Settings(tmp_path).threshold == 0.9
