"""Issue #24: no CLI command but ``gui`` loads Qt, so a terminal clean-up works where Qt
cannot load (a server, a container without its libraries). Each command runs in process in
a fresh interpreter, and ``sys.modules`` is checked after each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import small_copy

TESTS = Path(__file__).resolve().parent

SCRIPT = r"""
import contextlib, io, json, sys
sys.path.insert(0, sys.argv[1])
from conftest import FakeEmbedder
from imgfinder.cli import main

lib, data, moved = sys.argv[2], sys.argv[3], sys.argv[4]
commands = [
    ["index", lib, "-q"],
    ["index", lib, "-q"],
    ["similar", lib + "/a.jpg", "-k", "3", "--json"],
    ["duplicates"],
    ["duplicates", "--json"],
    ["duplicates", "--format", "csv"],
    ["duplicates", "--trash", "--dry-run"],
    ["duplicates", "--trash", "--dry-run", "--json"],
    ["duplicates", "--link", "--dry-run"],
    ["duplicates", "--move-to", moved, "--yes", "-q"],
    ["undo"],
    ["problems"],
    ["repair"],
    ["forget", lib + "/sub"],
    ["index", "--help"],
]
report = []
for argv in commands:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            code = main([*argv, "--data-dir", data] if argv[-1] != "--help" else argv,
                        embedder_factory=lambda: FakeEmbedder())
        except SystemExit as exc:
            code = exc.code
    qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6"))
    report.append({"argv": argv, "code": code, "qt": qt, "out": out.getvalue()})
print("REPORT " + json.dumps(report))
"""


def test_no_command_but_gui_loads_qt(tmp_path: Path, photo_paths) -> None:
    lib = tmp_path / "lib"
    small_copy(photo_paths[0], lib / "a.jpg", max_side=200)
    small_copy(photo_paths[0], lib / "sub" / "a_small.jpg", max_side=120)
    small_copy(photo_paths[1], lib / "b.jpg", max_side=200)
    data = tmp_path / "data"
    # A reference folder chosen in the app, in the QSettings file where the app kept it
    # before the shared store: read (and moved to the store) without Qt.
    data.mkdir()
    (data / "gui-settings.ini").write_text(f"[library]\nfolders={lib}\nreference_folders={lib / 'sub'}\n")
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "xdg"))
    env.pop("QT_QPA_PLATFORM", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(TESTS), str(lib), str(data), str(tmp_path / "moved")],
                          capture_output=True, text=True, env=env, timeout=300)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("REPORT ")), None)
    assert line is not None, proc.stderr[-3000:]
    report = json.loads(line[len("REPORT "):])
    assert [r["qt"] for r in report] == [[] for _ in report], [(r["argv"], r["qt"]) for r in report if r["qt"]]
    codes = {" ".join(r["argv"]): r["code"] for r in report}
    assert codes["index " + str(lib) + " -q"] == 0 and codes["duplicates --trash --dry-run"] == 0, codes
    plan = json.loads(next(r["out"] for r in report if r["argv"][-1] == "--json" and "--trash" in r["argv"]))
    moving = [Path(f["path"]).name for f in plan["action"]["files"]]
    assert moving == ["a.jpg"]  # the app's reference folder (sub/) keeps its photo, read without Qt
    from imgfinder.core.settings import Settings

    assert Settings(data).folders == [str(lib)]  # forgetting a sub-folder leaves the app's folder listed


def test_the_gui_command_is_the_only_one_that_imports_qt() -> None:
    """A static check to go with the run-time one: no module of the CLI imports Qt or the
    app's package at its top (only the ``gui`` command does, inside its branch)."""
    import ast

    modules = sorted((TESTS.parent / "imgfinder" / "cli").glob("*.py"))
    assert len(modules) >= 8
    for path in modules:
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names] + \
            [("." * n.level) + (n.module or "") for n in top if isinstance(n, ast.ImportFrom)]
        assert not any(x.startswith(("PySide6", "..gui", "imgfinder.gui")) for x in names), (path.name, names)
