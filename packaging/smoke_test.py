"""Smoke test of a frozen build (packaging/build.sh runs it after PyInstaller).

    python packaging/smoke_test.py DIST_DIR WORK_DIR [--xvfb]

DIST_DIR is the one-folder app (dist/imgfinder). With the app's own executables, nothing
from the build environment (an environment without IMGFINDER_*, PYTHONPATH or PYTHONHOME):

- the CLI indexes 4 committed photos and a greyscale copy of each, finds exactly the 4
  (photo, copy) pairs as duplicates, and each photo's copy as its most similar photo;
- it reads a HEIC, an AVIF, a JPEG XL and a DNG photo (the bundled decoders; the files are
  written with tests/format_samples.py, which needs pillow-heif and pillow-jxl-plugin);
- the desktop app (``imgfinder-gui``, offscreen) indexes a folder named on its command line,
  in its model process (a "spawn" child: the frozen executable run again), and closes by
  itself (IMGFINDER_QUIT_AFTER_MS); the CLI then finds that folder's pairs in the app's
  catalog; the app searches for a photo named on its command line and shows its matches;
- with --xvfb (and xvfb-run installed), the app starts on Qt's xcb platform under Xvfb.

Needs the app's dependencies (run it with the build venv's Python). Exits non-zero on the first failed check.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
PHOTOS = sorted((REPO / "tests" / "photos").glob("*.jpg"))
EXE_SUFFIX = ".exe" if os.name == "nt" else ""


class SmokeFailure(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SmokeFailure(what)


def clean_env(**extra: str) -> dict[str, str]:
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "QT_QPA_PLATFORM")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGFINDER_") and k not in drop}
    return env | extra


def run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    shown = " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env or clean_env(), capture_output=True, text=True, timeout=timeout)
    print(f"$ {shown}   [{time.perf_counter() - started:.1f} s, exit {proc.returncode}]", flush=True)
    if proc.returncode != 0:
        raise SmokeFailure(f"{shown} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    check("Traceback" not in proc.stderr, f"{shown} printed a traceback:\n{proc.stderr}")
    return proc


def make_pairs(folder: Path, sources: list[Path]) -> list[list[str]]:
    """Each source photo (made smaller) and a greyscale copy of it; the sorted pairs of paths."""
    folder.mkdir(parents=True)
    pairs = []
    for src in sources:
        with Image.open(src) as img:
            img = img.convert("RGB")
        img.thumbnail((320, 320))
        photo, grey = folder / src.name, folder / f"{src.stem}_grey.jpg"
        img.save(photo, quality=90)
        ImageOps.grayscale(img).convert("RGB").save(grey, quality=90)
        pairs.append(sorted([str(photo), str(grey)]))
    return sorted(pairs)


def groups_of(duplicates: dict) -> list[list[str]]:
    return sorted(sorted(f["path"] for f in g["files"]) for g in duplicates["groups"])


def smoke_cli(cli: str, work: Path) -> None:
    version = run([cli, "--version"]).stdout.strip()
    print(f"  {version}")
    pairs = make_pairs(work / "photos", PHOTOS[:4])
    data = ["--data-dir", str(work / "data"), "--json", "--quiet"]
    summary = json.loads(run([cli, "index", str(work / "photos"), *data]).stdout)
    print(f"  index: {summary['added']} added, {summary['failed']} failed, {summary['seconds']:.1f} s")
    check(summary["added"] == 8 and summary["failed"] == 0, f"index: expected 8 photos added, got {summary}")
    duplicates = json.loads(run([cli, "duplicates", *data]).stdout)
    found = groups_of(duplicates)
    print(f"  duplicates: {len(found)} groups: "
          + "; ".join(" + ".join(Path(p).name for p in g) for g in found))
    check(found == pairs, f"duplicates: expected the groups {pairs}, got {found}")
    query, copy = pairs[0]
    results = json.loads(run([cli, "similar", query, *data]).stdout)["results"]
    print(f"  similar {Path(query).name}: " + ", ".join(f"{Path(r['path']).name} {r['score']:.3f}" for r in results[:3]))
    check(len(results) == 7 and results[0]["path"] == copy, f"similar: expected {copy} first of 7, got {results}")


def smoke_formats(cli: str, work: Path) -> None:
    """The bundled decoders: a HEIC, an AVIF, a JPEG XL and a DNG photo are all indexed."""
    sys.path.insert(0, str(REPO / "tests"))
    import format_samples  # writes them with the build venv's pillow-heif, Pillow and pillow-jxl-plugin

    folder = work / "formats"
    for n, name in enumerate(("photo.heic", "photo.avif", "photo.jxl", "photo.dng")):
        format_samples.write_format(folder / name, format_samples.picture(6 + n, (320, 240)))
    summary = json.loads(run([cli, "index", str(folder), "--data-dir", str(work / "formats-data"), "--json", "--quiet"]).stdout)
    print(f"  index {', '.join(sorted(p.name for p in folder.iterdir()))}: {summary['added']} added, "
          f"{summary['failed']} failed {summary['problems'] or ''}")
    check(summary["added"] == 4 and summary["failed"] == 0 and not summary["problems"],
          f"index of HEIC, AVIF, JPEG XL and DNG: expected 4 added, got {summary}")


def smoke_gui(cli: str, gui: str, work: Path, env: dict[str, str], label: str) -> None:
    folder, data = work / f"gui-photos-{label}", work / f"gui-data-{label}"
    pairs = make_pairs(folder, PHOTOS[4:6])
    out = run([gui, "--data-dir", str(data), str(folder)], env=env).stdout
    print(f"  {out.strip()}")
    check("library: 4 photos; last indexing: 4 added" in out, f"the app ({label}) did not index the folder: {out!r}")
    duplicates = json.loads(run([cli, "duplicates", "--data-dir", str(data), "--json", "--quiet"]).stdout)
    check(groups_of(duplicates) == pairs, f"the app's catalog ({label}): expected {pairs}, got {groups_of(duplicates)}")
    print(f"  the app's catalog has the {len(pairs)} pairs")
    out = run([gui, "--data-dir", str(data), pairs[0][0]], env=env).stdout
    print(f"  {out.strip()}")
    check(f"similar: 3 photos similar to {Path(pairs[0][0]).name}" in out,
          f"the app ({label}) did not search for the photo: {out!r}")


def main(argv: list[str]) -> int:
    dist, work = Path(argv[0]), Path(argv[1])
    xvfb = "--xvfb" in argv[2:]
    cli, gui = str(dist / f"imgfinder{EXE_SUFFIX}"), str(dist / f"imgfinder-gui{EXE_SUFFIX}")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        print("command line:")
        smoke_cli(cli, work)
        print("image formats (bundled decoders):")
        smoke_formats(cli, work)
        print("desktop app, offscreen:")
        smoke_gui(cli, gui, work, clean_env(QT_QPA_PLATFORM="offscreen", IMGFINDER_QUIT_AFTER_MS="500"), "offscreen")
        if xvfb:
            xvfb_run = shutil.which("xvfb-run")
            check(xvfb_run is not None, "--xvfb: xvfb-run is not installed (apt-get install xvfb)")
            print("desktop app, xcb under Xvfb:")
            env = clean_env(IMGFINDER_QUIT_AFTER_MS="500")
            env.pop("DISPLAY", None)
            env.pop("WAYLAND_DISPLAY", None)
            wrapped = os.path.join(str(work), "gui-under-xvfb.sh")
            Path(wrapped).write_text(f'#!/bin/sh\nexec {xvfb_run} -a -s "-screen 0 1280x800x24" "{gui}" "$@"\n')
            os.chmod(wrapped, 0o755)
            smoke_gui(cli, wrapped, work, env, "xcb")
    except (SmokeFailure, subprocess.TimeoutExpired) as exc:
        print(f"smoke test FAILED: {exc}", file=sys.stderr)
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
