"""End to end with the real CNN: the CLI as a user runs it, on real photos and copies."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from imgfinder.model.edits import crop_area

pytestmark = pytest.mark.slow


def run(*args: str) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "imgfinder", *args, "--json", "--quiet"],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode in (0, 2), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture(scope="module")
def library(tmp_path_factory, photo_paths) -> tuple[Path, Path, dict[str, str]]:
    """Originals plus a resized, a re-compressed and a cropped copy of each, in other folders."""
    root = tmp_path_factory.mktemp("e2e")
    lib, data = root / "Pictures", root / "data"
    family: dict[str, str] = {}
    for p in photo_paths:
        with Image.open(p) as img:
            img = img.convert("RGB")
            original = lib / "originals" / p.name
            original.parent.mkdir(parents=True, exist_ok=True)
            img.save(original, quality=92)
            copies = {
                lib / "resized" / f"{p.stem}_small.jpg": img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS),
                lib / "Export Folder" / f"{p.stem} (re-saved).jpg": img,
                lib / "crops" / f"{p.stem}_crop.png": crop_area(img, 0.9, 0.4, 0.5),
            }
            for path, im in copies.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                im.save(path, **({"quality": 70} if path.suffix == ".jpg" else {}))
                family[str(path)] = p.stem
            family[str(original)] = p.stem
    return lib, data, family


def test_index_groups_every_copy_with_its_original_and_nothing_else(library) -> None:
    lib, data, family = library
    code, summary = run("index", str(lib), "--data-dir", str(data))
    assert code == 0 and summary["added"] == len(family) and summary["failed"] == 0
    code, result = run("duplicates", "--data-dir", str(data))
    groups = [sorted(f["path"] for f in g["files"]) for g in result["groups"]]
    expected = {}
    for path, stem in family.items():
        expected.setdefault(stem, []).append(path)
    assert sorted(groups) == sorted(sorted(v) for v in expected.values())
    for g in result["groups"]:
        keeper = g["files"][0]
        assert "/originals/" in keeper["path"] or keeper["width"] * keeper["height"] == max(f["width"] * f["height"] for f in g["files"])
        assert all(0.0 <= f["score"] <= 1.0 for f in g["files"])


def test_second_index_run_decodes_nothing(library) -> None:
    lib, data, family = library
    run("index", str(lib), "--data-dir", str(data))
    code, summary = run("index", str(lib), "--data-dir", str(data))
    assert code == 0
    assert summary["unchanged"] == len(family) and summary["decoded"] == 0 and not summary["index_rebuilt"]


def test_similar_ranks_the_copies_first(library, photo_paths) -> None:
    lib, data, family = library
    run("index", str(lib), "--data-dir", str(data))
    query = photo_paths[3]  # the shared original itself, not a file of the library
    code, result = run("similar", str(query), "-k", "6", "--each-copy", "--data-dir", str(data))
    top = [family[r["path"]] for r in result["results"][:4]]
    assert top == [query.stem] * 4
    assert result["results"][0]["score"] > 0.95 and result["results"][4]["score"] < result["results"][3]["score"]
    # By default the query's versions are one result, the others proven its edited copies.
    code, folded = run("similar", str(query), "-k", "6", "--data-dir", str(data))
    first = folded["results"][0]
    assert [family[x["path"]] for x in (first, *first["copies"])] == [query.stem] * 4
    assert all(family[r["path"]] != query.stem for r in folded["results"][1:])
