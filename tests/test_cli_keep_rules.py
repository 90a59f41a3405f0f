"""`duplicates` keeps the original by default (evidence, not "most pixels"), a reference
folder's file always, and the keep rules a user picks (--prefer oldest/largest/exif,
--prefer-folder, --prefer-path) otherwise."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

from PIL import Image, ImageOps

from conftest import FakeEmbedder
from imgfinder.cli import main

T0 = 1_600_000_000


def run(capsys, monkeypatch, *args: str) -> tuple[int, dict]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = main(list(args), embedder_factory=lambda: FakeEmbedder())
    out, err = capsys.readouterr()
    assert code == 0, err
    return code, json.loads(out) if out.strip().startswith("{") else {}


def _library(tmp_path: Path, photo: Path) -> dict[str, Path]:
    """An original (JPEG 95, EXIF) and copies a "most pixels" rule would keep instead: a
    bordered one, one upscaled at JPEG 60, plus a smaller and a blurred one."""
    lib = tmp_path / "lib"
    (lib / "edits").mkdir(parents=True)
    with Image.open(photo) as im:
        img = im.convert("RGB")
    img.thumbnail((600, 600))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Camera maker", "Camera model"
    files = {"original": lib / "original.jpg"}
    img.save(files["original"], quality=95, exif=exif)
    copies = {
        "border": ImageOps.expand(img, border=img.width // 10, fill=(255, 255, 255)),
        "upscale": img.resize((img.width * 3 // 2, img.height * 3 // 2), Image.Resampling.BICUBIC),
        "small": img.resize((img.width // 2, img.height // 2)),
    }
    for name, copy in copies.items():
        files[name] = lib / "edits" / f"{name}.jpg"
        copy.save(files[name], quality=60 if name == "upscale" else 85)
    for n, (name, path) in enumerate(files.items()):
        os.utime(path, (T0 + 100 * n, T0 + 100 * n))
    return files


def _keeper(result: dict) -> str:
    (group,) = result["groups"]
    return Path(group["files"][0]["path"]).stem


def test_the_keep_rules(tmp_path: Path, capsys, monkeypatch, photo_paths) -> None:
    files = _library(tmp_path, photo_paths[2])
    data = str(tmp_path / "data")
    run(capsys, monkeypatch, "index", str(tmp_path / "lib"), "--data-dir", data, "-q")
    _, result = run(capsys, monkeypatch, "duplicates", "--data-dir", data, "--json")
    assert _keeper(result) == "original"  # neither the border's nor the upscale's pixels win
    (group,) = result["groups"]
    assert all(f["link"] for f in group["files"][1:]) and not any(f["exact"] for f in group["files"])
    _, result = run(capsys, monkeypatch, "duplicates", "--data-dir", data, "--json", "--prefer", "largest")
    assert _keeper(result) == max(files, key=lambda k: files[k].stat().st_size)
    os.utime(files["small"], (T0 - 1000, T0 - 1000))
    run(capsys, monkeypatch, "index", str(tmp_path / "lib"), "--data-dir", data, "-q")
    _, result = run(capsys, monkeypatch, "duplicates", "--data-dir", data, "--json", "--prefer", "oldest")
    assert _keeper(result) == "small"
    _, result = run(capsys, monkeypatch, "duplicates", "--data-dir", data, "--json", "--prefer", "exif")
    assert _keeper(result) == "original"
    _, result = run(capsys, monkeypatch, "duplicates", "--data-dir", data, "--json",
                    "--prefer-folder", str(tmp_path / "lib" / "edits"))
    assert _keeper(result) in {"border", "upscale", "small"}  # one in the preferred folder
    _, result = run(capsys, monkeypatch, "duplicates", "--data-dir", data, "--json", "--prefer-path", "*/BORDER.*")
    assert _keeper(result) == "border"
    # A reference folder's file is kept whatever the rules say.
    _, result = run(capsys, monkeypatch, "duplicates", "--data-dir", data, "--json", "--prefer", "largest",
                    "--reference", str(tmp_path / "lib" / "edits"), "--prefer-path", "*/original.*",
                    "--trash", "--dry-run")
    assert Path(result["groups"][0]["files"][0]["path"]).parent.name == "edits"
    assert {Path(f["path"]).stem for f in result["action"]["files"]} == {"original"}  # only it would go
