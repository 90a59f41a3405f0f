"""Copies against hard negatives, through the real CLI (issue #20): pair precision, recall per
edit kind, false groups and keeper accuracy of ``imgfinder duplicates`` with a user's defaults.

    python benchmarks/copies_hard.py [--sets copies,halves,shots,heldout] [--limit N]
                                     [--per-product K] [--json OUT] [--work DIR]

Each set is built in a temporary folder (deterministic, seeded), indexed into its own
temporary data dir (``--data-dir``, and ``IMGFINDER_DATA_DIR``/``XDG_DATA_HOME`` pointed
there too, so the user's library and trash are never touched) with ``imgfinder index``, then
``imgfinder duplicates --json --no-shots`` runs with the defaults a user gets otherwise (no
``--threshold``; bursts, a kind of their own listed by default, are not the copy decision
measured here), and once more with ``--reference ORIGINALS --trash --dry-run`` (nothing is
moved) to see which files a clean-up would keep.

Sets:

* ``copies``: originals (the shared photos, at most 1600 px, and ``--per-product`` shots of
  each of the 31 multiview products), saved as JPEG q95 with EXIF (the source's camera and
  date where it has them, else made-up ones) in ``originals/``; each with the 19 edited
  copies of ``EDITS`` in ``edits/<original>/``, saved without EXIF as an editor does (JPEG
  q90 unless the edit is the quality; PNG for ``png``). The original is the expected keeper
  of every group.
* ``halves``: each of the same photos as two crops, its left 55 % and its right 55 % (they
  share a 10 % strip): different pictures, never copies.
* ``shots``: the multiview photos (different shots of 31 products, ~25 each); per product
  its second shot is left out and its mirror image put in instead (a photo against the
  mirror of a different shot of the same product), plus a synthetic burst: its first shot
  with a subject patch cut and pasted 10 % further right, the hole filled with a blur (also
  for each shared photo, both saved q95 with EXIF one second apart). None is a copy.
* ``heldout``: ``../shared/heldout`` as is (different photos: any group is false) plus the
  19 copies of 5 of its photos (check only: nothing is fitted on it).

Per set: files, groups, **false groups** (a group holding two files that are not copies of
one original), pair precision and recall (pairs of files grouped together, all pairs of one
original's files), recall of (original, copy) pairs per edit kind, **keeper accuracy** (the
group's ``keep`` file is an original; per edit kind: the share of groups holding the copy
and its original where that copy is *not* kept instead), the same with the originals'
folder as ``--reference`` (the original left in place in every group, and whether it is the
only file left), seconds of ``index`` (cold: new data dir) and of ``duplicates`` (wall clock
of the CLI process) and their ratio. Prints tables, writes ``benchmarks/out/copies_hard.json``
(or ``--json OUT``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]
SHARED = Path(os.environ.get("IMGFINDER_SHARED", REPO.parent / "shared"))
PHOTOS = SHARED / "photos"
MULTIVIEW = SHARED / "multiview" / "grocery"
HELDOUT = SHARED / "heldout"
SETS = ("copies", "halves", "shots", "heldout")
SEED = 20
MAX_SIDE = 1600  # originals made from the shared photos are at most this large (a faster run)
ORIGINAL = "original"

# ---------------------------------------------------------------------------------------
# Scoring (pure functions on paths and labels; tests/test_copies_hard_scoring.py)
# ---------------------------------------------------------------------------------------


def pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def normalise_groups(out: dict) -> list[dict]:
    """``duplicates --json`` groups as ``{"paths": [...], "keep": path, "kind": kind}``."""
    groups = []
    for g in out.get("groups", []):
        paths = [os.path.realpath(f["path"]) for f in g["files"]]
        keep = [os.path.realpath(f["path"]) for f in g["files"] if f.get("keep")]
        groups.append({"paths": paths, "keep": keep[0] if keep else paths[0], "kind": g.get("kind")})
    return groups


def moved_paths(out: dict) -> set[str]:
    """The files a (dry-run) clean-up would move: ``action.files`` of ``duplicates --json``."""
    action = out.get("action") or {}
    return {os.path.realpath(f["path"]) for f in action.get("files", [])}


def truth_pairs(records: Sequence[dict]) -> set[tuple[str, str]]:
    """Every pair of files of one original (records with the same non-None ``family``)."""
    families: dict[str, list[str]] = {}
    for r in records:
        if r.get("family") is not None:
            families.setdefault(r["family"], []).append(r["path"])
    return {pair_key(a, b) for paths in families.values() for a, b in itertools.combinations(paths, 2)}


def grouped_pairs(groups: Sequence[dict]) -> set[tuple[str, str]]:
    return {pair_key(a, b) for g in groups for a, b in itertools.combinations(g["paths"], 2)}


def is_false_group(group: dict, by_path: dict[str, dict]) -> bool:
    """A group holding two files that are not copies of one original (a file the benchmark
    did not make counts as a different photo)."""
    families = [by_path.get(p, {}).get("family") for p in group["paths"]]
    return None in families or len(set(families)) > 1


def file_label(record: dict | None) -> str:
    """What a file is, for the false-group breakdown: its ``kind`` (``shot``, ``burst``,
    ``halfL`` ...), else ``copy`` (one original's file) or ``other``."""
    if record is None:
        return "unknown"
    return record.get("kind") or ("copy" if record.get("family") is not None else "other")


def false_group_kinds(false_groups: Sequence[dict], by_path: dict[str, dict]) -> dict[str, int]:
    """How many false groups hold each mix of file kinds (``"burst"``, ``"mirror_of_other_shot+shot"``)."""
    counts: dict[str, int] = {}
    for g in false_groups:
        key = "+".join(sorted({file_label(by_path.get(p)) for p in g["paths"]}))
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def score(records: Sequence[dict], groups: Sequence[dict], edits: Iterable[str],
          reference_groups: Sequence[dict] | None = None, moved: set[str] | None = None) -> dict:
    """Precision, recall (overall and per edit kind), false groups and keepers.

    ``records``: one per file: ``path``, ``family`` (the original it is a copy of, or None
    for a photo that is nobody's copy) and ``edit`` (``"original"``, an edit's name, or
    None). ``groups``: ``normalise_groups`` of the plain run; ``reference_groups`` and
    ``moved``: of the run with the originals as reference folder and a dry-run clean-up.
    """
    edits = list(edits)
    by_path = {r["path"]: r for r in records}
    truth = truth_pairs(records)
    predicted = grouped_pairs(groups)
    tp = len(truth & predicted)
    originals = {r["family"]: r["path"] for r in records if r.get("edit") == ORIGINAL and r.get("family") is not None}
    copy_of = {(r["family"], r["edit"]): r["path"] for r in records
               if r.get("family") is not None and r.get("edit") not in (None, ORIGINAL)}
    false_groups = [g for g in groups if is_false_group(g, by_path)]

    per_edit: dict[str, dict] = {}
    for edit in edits:
        wanted = {pair_key(originals[f], p) for (f, e), p in copy_of.items() if e == edit and f in originals}
        per_edit[edit] = {"pairs": len(wanted), "recall": _ratio(len(wanted & predicted), len(wanted))}

    def keepers(gs: Sequence[dict], moved_files: set[str] | None) -> dict:
        with_original = 0
        kept_original = 0
        without_original = 0
        left_alone = 0  # reference run: the original is the only file the clean-up leaves
        original_moved = 0
        stolen = {e: 0 for e in edits}  # groups whose listed keeper is this edit's copy of their original
        present = {e: 0 for e in edits}  # groups holding this edit's copy and its original
        survives = {e: 0 for e in edits}  # reference run: groups where this copy is not moved
        for g in gs:
            paths = set(g["paths"])
            fams = {by_path[p]["family"] for p in paths if p in by_path and by_path[p].get("edit") == ORIGINAL}
            if not fams:
                if any(by_path.get(p, {}).get("family") is not None for p in paths):
                    without_original += 1
                continue
            with_original += 1
            keep = by_path.get(g["keep"], {})
            if keep.get("edit") == ORIGINAL:
                kept_original += 1
            kept = paths - (moved_files or set())
            if moved_files is not None:
                if any(originals[f] in moved_files for f in fams):
                    original_moved += 1
                if len(kept) == 1 and by_path.get(next(iter(kept)), {}).get("edit") == ORIGINAL:
                    left_alone += 1
            for f in fams:
                for e in edits:
                    c = copy_of.get((f, e))
                    if c is None or c not in paths:
                        continue
                    present[e] += 1
                    if g["keep"] == c:
                        stolen[e] += 1
                    if moved_files is not None and c in kept:
                        survives[e] += 1
        out = {
            "groups_with_original": with_original, "groups_without_original": without_original,
            "original_kept": kept_original, "accuracy": _ratio(kept_original, with_original),
            "per_edit": {e: {"groups": present[e], "copy_kept_instead": stolen[e],
                             "accuracy": _ratio(present[e] - stolen[e], present[e])} for e in edits},
        }
        if moved_files is not None:
            out["original_moved"] = original_moved
            out["reference_kept"] = _ratio(with_original - original_moved, with_original)
            out["only_original_left"] = left_alone
            out["only_original_left_rate"] = _ratio(left_alone, with_original)
            for e in edits:
                out["per_edit"][e]["copy_left"] = survives[e]
        return out

    result = {
        "files": len(records), "groups": len(groups), "files_in_groups": sum(len(g["paths"]) for g in groups),
        "false_groups": len(false_groups), "false_group_kinds": false_group_kinds(false_groups, by_path),
        "false_group_examples": [[os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p) for p in g["paths"]]
                                 for g in false_groups[:5]],
        "true_pairs": len(truth), "grouped_pairs": len(predicted), "false_pairs": len(predicted - truth),
        "precision": _ratio(tp, len(predicted)), "recall": _ratio(tp, len(truth)),
        "per_edit": per_edit, "keeper": keepers(groups, None),
    }
    if reference_groups is not None:
        result["reference"] = keepers(reference_groups, moved or set())
    return result


# ---------------------------------------------------------------------------------------
# The sets
# ---------------------------------------------------------------------------------------


def _edits() -> dict[str, tuple[Callable, str, int]]:
    """name -> (edit, file extension, JPEG quality of the saved copy)."""
    from PIL import Image, ImageFilter, ImageOps

    from imgfinder.model.edits import brightness, contrast, crop_area, greyscale, pad, rescale, watermark

    def letterbox(im: Image.Image) -> Image.Image:
        """Black bars to 16:9 (at the sides of a narrower photo, above and below a wider one;
        a photo already about 16:9 gets bars to 2.39:1)."""
        w, h = im.size
        target = 16 / 9 if abs(w / h - 16 / 9) > 0.03 else 2.39
        if w / h < target:
            nw, nh = round(h * target), h
        else:
            nw, nh = w, round(w / target)
        canvas = Image.new("RGB", (nw, nh), (0, 0, 0))
        canvas.paste(im.convert("RGB"), ((nw - w) // 2, (nh - h) // 2))
        return canvas

    def rotate_crop(im: Image.Image, degrees: float = 3.0, margin: float = 0.08) -> Image.Image:
        w, h = im.size
        r = im.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False)
        mx, my = round(w * margin), round(h * margin)
        return r.crop((mx, my, w - mx, h - my))

    return {
        "resize50": (lambda im: rescale(im, 0.5), "jpg", 90),
        "jpeg30": (lambda im: im, "jpg", 30),
        "upscale_q60": (lambda im: rescale(im, 1.5), "jpg", 60),
        "crop80": (lambda im: crop_area(im, 0.80), "jpg", 90),
        "crop60_off": (lambda im: crop_area(im, 0.60, 0.15, 0.25), "jpg", 90),
        "mirror": (ImageOps.mirror, "jpg", 90),
        "rot90": (lambda im: im.rotate(90, expand=True), "jpg", 90),
        "rot180": (lambda im: im.rotate(180, expand=True), "jpg", 90),
        "rot270": (lambda im: im.rotate(270, expand=True), "jpg", 90),
        "grey": (greyscale, "jpg", 90),
        "bright+30": (lambda im: brightness(im, 1.3), "jpg", 90),
        "bright-30": (lambda im: brightness(im, 0.7), "jpg", 90),
        "contrast-30": (lambda im: contrast(im, 0.7), "jpg", 90),
        "blur_r2": (lambda im: im.filter(ImageFilter.GaussianBlur(2)), "jpg", 90),
        "watermark": (watermark, "jpg", 90),
        "pad10": (lambda im: pad(im, 0.10), "jpg", 90),
        "letterbox": (letterbox, "jpg", 90),
        "png": (lambda im: im, "png", 0),
        "rot3_crop": (rotate_crop, "jpg", 90),
    }


EDIT_NAMES = ("resize50", "jpeg30", "upscale_q60", "crop80", "crop60_off", "mirror", "rot90", "rot180", "rot270",
              "grey", "bright+30", "bright-30", "contrast-30", "blur_r2", "watermark", "pad10", "letterbox", "png",
              "rot3_crop")


def _exif_for(source, when: int = 0):
    """EXIF for a saved original: the source's camera and date where it has them, else
    made-up ones (``when`` seconds after a fixed date); orientation upright."""
    from PIL import Image

    src = source.getexif()
    exif = Image.Exif()
    exif[0x010F] = str(src.get(0x010F) or "imgfinder-bench").strip() or "imgfinder-bench"  # Make
    exif[0x0110] = str(src.get(0x0110) or "Original").strip() or "Original"  # Model
    stamp = src.get(0x0132)
    if not stamp:
        t = time.gmtime(1_600_000_000 + when)
        stamp = time.strftime("%Y:%m:%d %H:%M:%S", t)
    exif[0x0132] = stamp  # DateTime
    exif[0x0112] = 1  # Orientation
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = stamp  # DateTimeOriginal
    return exif


def _load(path: Path, max_side: int | None = MAX_SIDE, when: int = 0):
    """(the photo upright in RGB, at most ``max_side``; EXIF for a file saved from it)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im.load()
        exif = _exif_for(im, when)
        out = ImageOps.exif_transpose(im).convert("RGB")
    if max_side:
        out.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return out, exif


def _save_copy(im, path: Path, ext: str, quality: int) -> None:
    """An edited copy as an editor saves it: no EXIF."""
    im = im.convert("RGB")
    if ext == "png":
        im.save(path, "PNG")
    else:
        im.save(path, "JPEG", quality=quality)


def multiview_products() -> dict[str, list[Path]]:
    """product -> its shots (sorted), from ``grocery_groups.csv`` (else the folders)."""
    csv = MULTIVIEW.parent / "grocery_groups.csv"
    products: dict[str, list[Path]] = {}
    if csv.is_file():
        for line in csv.read_text().splitlines():
            if not line.strip() or "," not in line:
                continue
            rel, product = line.rsplit(",", 1)
            if (MULTIVIEW / rel).is_file():
                products.setdefault(product, []).append(MULTIVIEW / rel)
    else:
        for p in sorted(MULTIVIEW.rglob("*.jpg")):
            products.setdefault(p.parent.name, []).append(p)
    return {k: sorted(v) for k, v in sorted(products.items())}


def source_originals(per_product: int, limit: int | None) -> list[Path]:
    """The shared photos and ``per_product`` random (seeded) shots of each product,
    interleaved (so ``--limit`` keeps both kinds)."""
    rng = random.Random(f"{SEED}-originals")
    photos = sorted(PHOTOS.glob("*.jpg"))
    shots = []
    for product, files in multiview_products().items():
        shots += rng.sample(files, min(per_product, len(files)))
    out: list[Path] = []
    for a, b in itertools.zip_longest(photos, shots):
        out += [p for p in (a, b) if p is not None]
    return out[:limit] if limit else out


def _stem(path: Path) -> str:
    return f"{path.parent.name}__{path.stem}" if path.is_relative_to(MULTIVIEW) else path.stem


def build_copies(folder: Path, sources: Sequence[Path], names: Sequence[str] = EDIT_NAMES,
                 prefix: str = "", keep_original_file: bool = False) -> tuple[list[dict], Path]:
    """Originals in ``folder/originals`` and their copies in ``folder/edits/<original>/``.
    ``keep_original_file``: the source file itself is the original (copied byte for byte)."""
    edits = _edits()
    originals = folder / "originals"
    originals.mkdir(parents=True, exist_ok=True)
    records = []
    for n, src in enumerate(sources):
        family = prefix + _stem(src)
        if keep_original_file:
            orig_path = originals / src.name
            shutil.copy2(src, orig_path)
            img, _ = _load(src, max_side=None)
        else:
            img, exif = _load(src, when=n)
            orig_path = originals / f"{family}.jpg"
            img.save(orig_path, "JPEG", quality=95, exif=exif.tobytes())
        records.append({"path": os.path.realpath(orig_path), "family": family, "edit": ORIGINAL})
        out = folder / "edits" / family
        out.mkdir(parents=True, exist_ok=True)
        for name in names:
            edit, ext, quality = edits[name]
            path = out / f"{name}.{ext}"
            _save_copy(edit(img.copy()), path, ext, quality)
            records.append({"path": os.path.realpath(path), "family": family, "edit": name})
    return records, originals


def build_halves(folder: Path, sources: Sequence[Path]) -> list[dict]:
    """Left 55 % and right 55 % of each photo (q95, EXIF of the source): not copies."""
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for n, src in enumerate(sources):
        img, exif = _load(src, when=n)
        w, h = img.size
        cut = round(w * 0.55)
        for side, box in (("L", (0, 0, cut, h)), ("R", (w - cut, 0, w, h))):
            path = folder / f"{_stem(src)}_{side}.jpg"
            img.crop(box).save(path, "JPEG", quality=95, exif=exif.tobytes())
            records.append({"path": os.path.realpath(path), "family": None, "edit": None, "kind": f"half{side}"})
    return records


def moved_subject(img, rng: random.Random, shift: float = 0.10):
    """A burst frame: a patch (about 30 % x 30 % near the centre) cut and pasted ``shift`` of
    the width further right; the hole it leaves filled with a heavy blur of the photo."""
    from PIL import Image, ImageFilter

    w, h = img.size
    pw, ph = round(w * 0.3), round(h * 0.3)
    x0 = round((w - pw) * rng.uniform(0.3, 0.45))
    y0 = round((h - ph) * rng.uniform(0.35, 0.65))
    dx = round(w * shift)
    patch = img.crop((x0, y0, x0 + pw, y0 + ph))
    out = img.copy()
    background = img.filter(ImageFilter.GaussianBlur(max(4, w // 25)))
    out.paste(background.crop((x0, y0, x0 + pw, y0 + ph)), (x0, y0))
    out.paste(patch, (min(w - pw, x0 + dx), y0))
    assert isinstance(out, Image.Image)
    return out


def build_shots(folder: Path, products: dict[str, list[Path]], photos: Sequence[Path], rng: random.Random) -> list[dict]:
    """Other shots of one product, a mirrored different shot, and bursts: no copies."""
    from PIL import Image, ImageOps

    folder.mkdir(parents=True, exist_ok=True)
    records = []

    def add(path: Path, kind: str) -> None:
        records.append({"path": os.path.realpath(path), "family": None, "edit": None, "kind": kind})

    for product, files in products.items():
        sub = folder / "multiview" / product
        sub.mkdir(parents=True, exist_ok=True)
        for i, src in enumerate(files):
            if i == 1 and len(files) > 2:  # left out: its mirror image stands in for it
                with Image.open(src) as im:
                    ImageOps.mirror(im.convert("RGB")).save(sub / f"mirror_of_{src.name}", "JPEG", quality=90)
                add(sub / f"mirror_of_{src.name}", "mirror_of_other_shot")
                continue
            shutil.copy2(src, sub / src.name)
            add(sub / src.name, "shot")
        with Image.open(files[0]) as im:
            moved_subject(im.convert("RGB"), rng).save(sub / f"burst_of_{files[0].name}", "JPEG", quality=95)
        add(sub / f"burst_of_{files[0].name}", "burst")
    sub = folder / "bursts"
    sub.mkdir(parents=True, exist_ok=True)
    for n, src in enumerate(photos):
        img, first = _load(src, when=2 * n)
        _, second = _load(src, max_side=8, when=2 * n + 1)
        img.save(sub / f"{src.stem}_1.jpg", "JPEG", quality=95, exif=first.tobytes())
        moved_subject(img, rng).save(sub / f"{src.stem}_2.jpg", "JPEG", quality=95, exif=second.tobytes())
        add(sub / f"{src.stem}_1.jpg", "burst")
        add(sub / f"{src.stem}_2.jpg", "burst")
    return records


def build_heldout(folder: Path, n_copied: int, rng: random.Random) -> tuple[list[dict], Path]:
    """``../shared/heldout`` as is (copied byte for byte into ``folder/originals``), with the
    19 copies of ``n_copied`` of its photos."""
    files = sorted(p for p in HELDOUT.rglob("*.jpg"))
    chosen = set(rng.sample(files, min(n_copied, len(files)))) if n_copied else set()
    records, originals = build_copies(folder, sorted(chosen), prefix="heldout__", keep_original_file=True)
    for p in files:
        if p in chosen:
            continue
        dst = originals / p.name
        shutil.copy2(p, dst)
        records.append({"path": os.path.realpath(dst), "family": None, "edit": None, "kind": p.parent.name})
    return records, originals


# ---------------------------------------------------------------------------------------
# Running the CLI
# ---------------------------------------------------------------------------------------


def run_cli(args: Sequence[str], data: Path) -> tuple[dict, float]:
    env = {**os.environ, "IMGFINDER_DATA_DIR": str(data), "XDG_DATA_HOME": str(data / "xdg")}
    cmd = [sys.executable, "-m", "imgfinder", *args, "--data-dir", str(data), "--json", "--quiet"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout), seconds


def _cache_figures(data: Path) -> dict:
    """Photos in the local-feature cache and its bytes on disk (WAL included)."""
    import contextlib
    import sqlite3

    from imgfinder.core.feature_cache import CACHE_NAME
    from imgfinder.core.keypoints import FORMAT

    cache = data / CACHE_NAME
    if not cache.exists():
        return {"photos": 0, "bytes": 0}
    with contextlib.closing(sqlite3.connect(cache)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        n = int(conn.execute("SELECT COUNT(*) FROM features WHERE format = ?", (FORMAT,)).fetchone()[0])
    return {"photos": n, "bytes": sum(f.stat().st_size for f in data.glob(CACHE_NAME + "*"))}


def eager_feature_seconds(paths: Sequence[str], workers: int = 0) -> dict:
    """What making every photo's local features while indexing would cost: wall seconds of
    ``keypoints.extract`` over all ``paths`` on every core (as ``LocalCheck.extract_many``
    runs it: one single-threaded SIFT per thread), and of the same work without the decode
    (``features_of_grey`` on pixels decoded beforehand: what reusing the indexer's decode
    could save at best)."""
    from concurrent.futures import ThreadPoolExecutor

    from imgfinder.core import keypoints
    from imgfinder.core.cpus import usable_cores

    workers = workers or usable_cores()

    def timed(fn, items) -> float:
        t = time.perf_counter()
        with keypoints.single_threaded_opencv(), ThreadPoolExecutor(workers) as pool:
            for _ in pool.map(fn, items):
                pass
        return time.perf_counter() - t

    full = timed(keypoints.extract, paths)
    greys = [keypoints.working_grey(p) for p in paths]
    sift_only = timed(lambda g: keypoints.features_of_grey(*g), greys)
    return {"photos": len(paths), "workers": workers, "extract_s": round(full, 2), "without_decode_s": round(sift_only, 2)}


def feature_costs(data: Path, folder: Path, dup_s: float) -> dict:
    """Lazy (what the first search pays over a second one, features cached) against eager
    (every photo's features at index time) on this set, and the cache's bytes per photo."""
    cached = _cache_figures(data)
    _, warm_s = run_cli(["duplicates", "--no-shots"], data)
    from imgfinder.core.scanner import scan

    paths = sorted(f.path for f in scan([folder]))
    eager = eager_feature_seconds(paths)
    return {"cold_s": round(dup_s, 2), "warm_s": round(warm_s, 2), "lazy_s": round(dup_s - warm_s, 2),
            "photos_made_lazily": cached["photos"], "cache_bytes": cached["bytes"],
            "bytes_per_photo": round(cached["bytes"] / cached["photos"]) if cached["photos"] else None,
            "eager": eager}


def run_set(name: str, folder: Path, records: list[dict], reference: Path | None, costs: bool = False) -> dict:
    data = folder.parent / f"data-{name}"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    indexed, index_s = run_cli(["index", str(folder)], data)
    out, dup_s = run_cli(["duplicates", "--no-shots"], data)  # the copy decision alone
    lazy_eager = feature_costs(data, folder, dup_s) if costs else None
    groups = normalise_groups(out)
    ref_groups = moved = None
    ref_s = None
    if reference is not None:
        ref_out, ref_s = run_cli(["duplicates", "--no-shots", "--reference", str(reference), "--trash", "--dry-run"], data)
        ref_groups, moved = normalise_groups(ref_out), moved_paths(ref_out)
        if ref_out.get("action", {}).get("moved"):
            raise SystemExit("a dry run moved files")
    known = {r["path"] for r in records}
    strangers = sorted({p for g in groups for p in g["paths"]} - known)
    result = score(records, groups, EDIT_NAMES, ref_groups, moved)
    result.update({
        "set": name, "indexed": indexed.get("added"), "index_failed": indexed.get("failed"),
        "threshold": out.get("threshold"), "kinds": sorted({g["kind"] for g in groups}),
        "unknown_files_in_groups": strangers[:5],
        "seconds": {"index": round(index_s, 2), "duplicates": round(dup_s, 2),
                    "duplicates_reference": round(ref_s, 2) if ref_s is not None else None,
                    "ratio": round(dup_s / index_s, 3) if index_s else None},
    })
    if lazy_eager is not None:
        result["feature_costs"] = lazy_eager
    return result


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def print_tables(results: dict[str, dict]) -> None:
    from _data import table

    rows = []
    for name, r in results.items():
        k, ref = r["keeper"], r.get("reference")
        rows.append((
            name, r["files"], r["groups"], r["false_groups"], _f(r["precision"]), _f(r["recall"]),
            f"{k['original_kept']}/{k['groups_with_original']}" if k["groups_with_original"] else "-",
            f"{ref['groups_with_original'] - ref['original_moved']}/{ref['groups_with_original']}" if ref else "-",
            f"{ref['only_original_left']}/{ref['groups_with_original']}" if ref else "-",
            r["seconds"]["index"], r["seconds"]["duplicates"], _f(r["seconds"]["ratio"], 2),
        ))
    print(table(rows, ("set", "files", "groups", "false groups", "pair precision", "pair recall", "original kept",
                       "ref: original stays", "ref: only original left", "index s", "duplicates s", "dup/index")))
    with_copies = [n for n, r in results.items() if r["true_pairs"]]
    if not with_copies:
        return
    rows = []
    for edit in EDIT_NAMES:
        row: list = [edit]
        for n in with_copies:
            r = results[n]
            pe, ke = r["per_edit"][edit], r["keeper"]["per_edit"][edit]
            ref = r.get("reference", {}).get("per_edit", {}).get(edit)
            row += [_f(pe["recall"]), f"{ke['copy_kept_instead']}/{ke['groups']}",
                    f"{ref['copy_left']}/{ref['groups']}" if ref else "-"]
        rows.append(tuple(row))
    headers: list[str] = ["edit"]
    for n in with_copies:
        headers += [f"{n}: recall", f"{n}: kept over original", f"{n}: left by ref clean-up"]
    print()
    print(table(rows, tuple(headers)))
    costs = {n: r["feature_costs"] for n, r in results.items() if r.get("feature_costs")}
    if costs:
        rows = [(n, c["cold_s"], c["warm_s"], c["lazy_s"], f"{c['photos_made_lazily']}/{c['eager']['photos']}",
                 c["eager"]["extract_s"], c["eager"]["without_decode_s"],
                 f"{c['bytes_per_photo'] / 1e3:.0f} KB" if c["bytes_per_photo"] else "-")
                for n, c in costs.items()]
        print()
        print(table(rows, ("set", "duplicates cold s", "warm s", "lazy: cold - warm s", "photos given features",
                           "eager: all photos s", "eager without decode s", "cache per photo")))
    for n, r in results.items():
        if r["false_group_examples"]:
            kinds = ", ".join(f"{k}: {v}" for k, v in r["false_group_kinds"].items())
            print(f"\n{n}: {r['false_groups']} false groups ({kinds}), e.g.:")
            for g in r["false_group_examples"]:
                print("  " + ", ".join(g))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)} (default: all)")
    ap.add_argument("--limit", type=int, default=None,
                    help="at most N originals (copies), photos (halves), products and photos (shots), "
                         "and min(N, 5) copied heldout photos: a quick run")
    ap.add_argument("--per-product", type=int, default=2, help="multiview shots per product among the originals")
    ap.add_argument("--heldout-copies", type=int, default=5, help="heldout photos given the 19 copies")
    ap.add_argument("--json", type=Path, default=None, help="write the results here "
                                                             "(default benchmarks/out/copies_hard.json)")
    ap.add_argument("--work", type=Path, default=None, help="build the sets here and keep them (default: a temp dir)")
    ap.add_argument("--feature-costs", action="store_true",
                    help="also measure local features made lazily (first search minus a second) against "
                         "eagerly (every photo, as indexing would), and the cache's bytes per photo")
    args = ap.parse_args(argv)
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    for s in sets:
        if s not in SETS:
            ap.error(f"unknown set {s!r}: choose from {', '.join(SETS)}")
    if not PHOTOS.is_dir() or not MULTIVIEW.is_dir():
        raise SystemExit(f"needs {PHOTOS} and {MULTIVIEW} (set IMGFINDER_SHARED)")
    work = args.work or Path(tempfile.mkdtemp(prefix="imgfinder-copies-hard-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: dict[str, dict] = {}
    try:
        for name in sets:
            rng = random.Random(f"{SEED}-{name}")
            folder = work / name
            shutil.rmtree(folder, ignore_errors=True)
            t = time.perf_counter()
            reference = None
            if name == "copies":
                records, reference = build_copies(folder, source_originals(args.per_product, args.limit))
            elif name == "halves":  # the same photos as the copies' originals
                records = build_halves(folder, source_originals(args.per_product, args.limit))
            elif name == "shots":
                products = multiview_products()
                if args.limit:
                    products = dict(list(products.items())[: args.limit])
                photos = sorted(PHOTOS.glob("*.jpg"))[: args.limit]
                records = build_shots(folder, products, photos, rng)
            else:
                n = args.heldout_copies if not args.limit else min(args.limit, args.heldout_copies)
                records, reference = build_heldout(folder, n, rng)
                if not any(r["family"] for r in records):
                    reference = None
            built = time.perf_counter() - t
            print(f"{name}: built {len(records)} files in {built:.1f} s; indexing and grouping ...", flush=True)
            results[name] = run_set(name, folder, records, reference, args.feature_costs)
            results[name]["seconds"]["build"] = round(built, 1)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - started
    from _data import machine

    print()
    print_tables(results)
    print(f"\ntotal {total:.0f} s")
    payload = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()},
               "edits": list(EDIT_NAMES), "seconds_total": round(total, 1), "sets": results}
    out = args.json or REPO / "benchmarks" / "out" / "copies_hard.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
