"""A plain ``pip install .`` gives the same app as this checkout: the wheel carries the model
files, the icons and py.typed, and a copy installed from it, isolated from the editable
install, runs the same model (head and all) and finds every icon.

The wheel is built from a copy of the sources (no build/ left in the checkout, no stale
files from an earlier build in the wheel) with the setuptools already in the venv, and
installed into a new venv that sees this venv's dependencies but not its imgfinder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from imgfinder.model.copy_projection import DIM

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "imgfinder", "resources")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
MODEL_FILES = (
    "models/siamese_head.npz", "models/retrieval_whitening.npz", "models/MODEL_CARD.md",
    "models/efficientnet_lite0_s160.tflite", "models/efficientnet_lite0_s160.convert.json",
)
ICONS = sorted(p.name for p in (REPO / "resources" / "icons").iterdir() if p.suffix in (".svg", ".png"))

# Runs in the installed copy: where it was imported from, its model and its icons.
PROBE = """
import json, sys
from importlib.resources import files
import imgfinder, imgfinder.embedders as e
from imgfinder.gui.icons import ICON_DIR
embedder = e.default_embedder()
icons = files("imgfinder.resources") / "icons"
print(json.dumps({
    "file": imgfinder.__file__, "icon_dir": str(ICON_DIR), "head": str(e.default_head()),
    "model_id": embedder.model_id, "retrieval_id": embedder.retrieval_id, "dim": embedder.dim,
    "icons": {n: len((icons / n).read_bytes()) for n in sys.argv[1:] if (ICON_DIR / n).is_file()},
}))
"""


def clean_env() -> dict[str, str]:
    """No override may pick the model or the import path for the copy under test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGFINDER_") and k not in ("PYTHONPATH", "PYTHONHOME")}
    return env | {"PYTHONNOUSERSITE": "1", "QT_QPA_PLATFORM": "offscreen"}


def run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=IGNORE)
        else:
            shutil.copy2(REPO / name, src / name)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(root / "dist"), str(src)], cwd=root)
    (built,) = (root / "dist").glob("imgfinder-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only the wheel's imgfinder; a .pth line lends it this venv's dependencies
    (a path line only: the editable install's finder, started by its own .pth, stays out)."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv.parent)
    python = venv / "bin" / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=venv).stdout.strip()
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "imgfinder_test_deps.pth").write_text("\n".join(deps) + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
         str(wheel)], cwd=venv.parent)
    return venv


def probe(python: Path, cwd: Path) -> dict:
    return json.loads(run([str(python), "-c", PROBE, *ICONS], cwd=cwd).stdout)


def test_wheel_holds_model_files_icons_py_typed_and_every_module(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {"imgfinder/py.typed"}
    expected |= {f"imgfinder/resources/{f}" for f in MODEL_FILES}
    expected |= {f"imgfinder/resources/icons/{n}" for n in ICONS}
    expected |= {p.relative_to(REPO).as_posix() for p in (REPO / "imgfinder").rglob("*.py")}
    assert sorted(expected - names) == []


def test_every_icon_the_gui_asks_for_is_shipped() -> None:
    used = set()
    for path in (REPO / "imgfinder" / "gui").glob("*.py"):
        used |= set(re.findall(r"""\bicon\(["']([\w-]+)["']\)""", path.read_text()))
    assert used and sorted(n for n in used if f"{n}.svg" not in ICONS) == []
    assert {"imgfinder.svg", "imgfinder.png"} <= set(ICONS)


def test_installed_copy_runs_the_same_model_and_finds_its_icons(venv: Path, tmp_path: Path) -> None:
    installed = probe(venv / "bin" / "python", tmp_path)
    editable = probe(Path(sys.executable), tmp_path)
    assert Path(installed["file"]).is_relative_to(venv) and not Path(installed["file"]).is_relative_to(REPO)
    assert Path(installed["icon_dir"]).is_relative_to(venv) and Path(installed["head"]).is_relative_to(venv)
    assert Path(editable["file"]).is_relative_to(REPO)
    from imgfinder.model.weights import file_fingerprint

    head = file_fingerprint(REPO / "resources" / "models" / "siamese_head.npz")
    whitening = file_fingerprint(REPO / "resources" / "models" / "retrieval_whitening.npz")
    backbone = file_fingerprint(REPO / "resources" / "models" / "efficientnet_lite0_s160.tflite")
    assert f"/rt-tflite-float32@{backbone}/" in installed["model_id"]
    assert f"/head@{head}/" in installed["model_id"] and installed["dim"] == DIM
    assert installed["retrieval_id"].endswith(f"/lw@{whitening}")
    assert (installed["model_id"], installed["retrieval_id"]) == (editable["model_id"], editable["retrieval_id"])
    assert sorted(installed["icons"]) == ICONS and all(size > 0 for size in installed["icons"].values())


@pytest.mark.slow
def test_installed_cli_pairs_every_greyscale_copy(venv: Path, photo_paths: list[Path], tmp_path: Path) -> None:
    """The head is what makes a greyscale copy a duplicate (the bare backbone misses those of
    02 and 04 among the committed photos), so the installed CLI must pair every one."""
    lib = tmp_path / "Pictures"
    lib.mkdir()
    pairs = []
    for src in photo_paths[:4]:
        with Image.open(src) as img:
            img = img.convert("RGB")
        img.thumbnail((320, 320))
        img.save(lib / src.name, quality=90)
        ImageOps.grayscale(img).convert("RGB").save(lib / f"{src.stem}_grey.jpg", quality=90)
        pairs.append(sorted([str(lib / src.name), str(lib / f"{src.stem}_grey.jpg")]))
    exe, data = str(venv / "bin" / "imgfinder"), ["--data-dir", str(tmp_path / "data"), "--json", "--quiet"]

    summary = json.loads(run([exe, "index", str(lib), *data], cwd=tmp_path).stdout)
    assert summary["added"] == 8 and summary["failed"] == 0
    query, grey = pairs[0][0], pairs[0][1]
    results = json.loads(run([exe, "similar", query, *data], cwd=tmp_path).stdout)["results"]
    # The query's grey copy first; each other photo with its grey copy folded under it.
    assert len(results) == 4 and results[0]["path"] == grey, results
    assert all(len(r["copies"]) == 1 for r in results[1:]), results
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True) and 0.5 < scores[0] <= 1.0 and scores[1] < scores[0]
    groups = json.loads(run([exe, "duplicates", *data], cwd=tmp_path).stdout)["groups"]
    assert sorted(sorted(f["path"] for f in g["files"]) for g in groups) == sorted(pairs)
