"""Near-duplicate quality benchmark: imgfinder's CNN against pHash and dHash.

    python benchmarks/quality.py [--photos DIR] [--threshold T]

Builds a Copydays-style set from any folder of photos: each photo gives two
*originals* that share no pixels, two shots of one scene (the hard negatives a real
library is full of): by default its left 45% x top 85% and its right 45% x bottom 85%
(the camera moved sideways and up); ``--negatives halves`` takes the left and right 45%
at full height instead (the stricter test: a scene that is mirror-symmetric gives two
halves that are mirror images of each other). Each original gets the 17 edits of
``imgfinder.model.edits.BENCHMARK_EDITS``. Then it runs the real CLI (``imgfinder
index`` and ``imgfinder duplicates --json``) and scores pairs of "same original":
precision and recall overall and per edit, whether different originals were ever
grouped, and the same for pHash and dHash (ImageHash) at the usual Hamming distance of
10 and at their best threshold, on the same files in the same run. A second part checks
semantic ranking with ``imgfinder similar``: mean average precision of finding the other
crops of one scene among crops of all scenes, for the trained model and the bare
backbone. Prints tables and writes ``benchmarks/out/quality.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from imgfinder.core.scanner import scan  # noqa: E402
from imgfinder.model.edits import BENCHMARK_EDITS, crop_area  # noqa: E402

MAX_SIDE = 1600  # originals are at most this large: camera-sized copies would only slow the run


def two_shots(img: Image.Image, negatives: str = "offset") -> dict[str, Image.Image]:
    """Two originals from one photo that share no pixels."""
    w, h = img.size
    cut = round(w * 0.45)
    if negatives == "halves":
        return {"L": img.crop((0, 0, cut, h)), "R": img.crop((w - cut, 0, w, h))}
    tall = round(h * 0.85)
    return {"L": img.crop((0, 0, cut, tall)), "R": img.crop((w - cut, h - tall, w, h))}


def build_set(photos: list[Path], out: Path, negatives: str = "offset") -> list[dict]:
    """Write originals and edited copies; returns one record per file."""
    records = []
    out.mkdir(parents=True, exist_ok=True)
    for photo in photos:
        with Image.open(photo) as img:
            img = img.convert("RGB")
            img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            for side, original in two_shots(img, negatives).items():
                family = f"{photo.stem}#{side}"
                folder = out / family.replace("#", "_")
                folder.mkdir(exist_ok=True)
                files = {"original": original}
                files.update({name: edit(original) for name, edit in BENCHMARK_EDITS.items()})
                for name, im in files.items():
                    path = folder / f"{name}.jpg"
                    if not path.exists():
                        im.convert("RGB").save(path, quality=95 if not name.startswith("jpeg") else int(name[4:]))
                    records.append({"path": str(path), "family": family, "photo": photo.stem, "edit": name})
    return records


def run_cli(*args: str, env: dict | None = None) -> dict:
    cmd = [sys.executable, "-m", "imgfinder", *args, "--json", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=REPO)
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout)


def pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def score_pairs(records: list[dict], predicted: set[tuple[str, str]]) -> dict:
    """Pair precision/recall overall and per edit, and hard-negative errors."""
    by_path = {r["path"]: r for r in records}
    truth = set()
    for _, group in itertools.groupby(sorted(records, key=lambda r: r["family"]), key=lambda r: r["family"]):
        paths = [r["path"] for r in group]
        truth.update(pair_key(a, b) for a, b in itertools.combinations(paths, 2))
    tp = len(truth & predicted)
    result = {
        "precision": tp / len(predicted) if predicted else 1.0,
        "recall": tp / len(truth),
        "predicted_pairs": len(predicted),
        "true_pairs": len(truth),
        "false_pairs": len(predicted - truth),
        "hard_negative_pairs": sum(
            1 for a, b in predicted - truth if by_path[a]["photo"] == by_path[b]["photo"]
        ),
    }
    per_edit = {}
    originals = {r["family"]: r["path"] for r in records if r["edit"] == "original"}
    for edit in BENCHMARK_EDITS:
        copies = [r for r in records if r["edit"] == edit]
        wanted = {pair_key(originals[r["family"]], r["path"]) for r in copies}
        involving = {p for p in predicted if by_path[p[0]]["edit"] == edit or by_path[p[1]]["edit"] == edit}
        correct = {p for p in involving if by_path[p[0]]["family"] == by_path[p[1]]["family"]}
        per_edit[edit] = {
            "recall": len(wanted & predicted) / len(wanted),
            "precision": len(correct) / len(involving) if involving else 1.0,
        }
    result["per_edit"] = per_edit
    return result


def cnn_pairs(groups: list[dict]) -> set[tuple[str, str]]:
    pairs = set()
    for g in groups:
        paths = [f["path"] for f in g["files"]]
        pairs.update(pair_key(a, b) for a, b in itertools.combinations(paths, 2))
    return pairs


def hash_matrix(records: list[dict], kind: str) -> np.ndarray:
    import imagehash

    fn = {"phash": imagehash.phash, "dhash": imagehash.dhash}[kind]
    bits = []
    for r in records:
        with Image.open(r["path"]) as img:
            bits.append(fn(img).hash.flatten())
    b = np.array(bits, dtype=np.uint8)
    return (b[:, None, :] != b[None, :, :]).sum(-1)  # Hamming distances (N x N, fine at benchmark sizes)


def hash_pairs(records: list[dict], dist: np.ndarray, threshold: int) -> set[tuple[str, str]]:
    i, j = np.nonzero(np.triu(dist <= threshold, k=1))
    return {pair_key(records[a]["path"], records[b]["path"]) for a, b in zip(i.tolist(), j.tolist())}


def best_hash_threshold(records: list[dict], dist: np.ndarray) -> tuple[int, dict]:
    """The Hamming threshold with the best recall at precision >= 0.99 (else best F1)."""
    best = None
    for t in range(0, 33):
        s = score_pairs(records, hash_pairs(records, dist, t))
        ok = s["precision"] >= 0.99
        f1 = 2 * s["precision"] * s["recall"] / max(1e-9, s["precision"] + s["recall"])
        key = (ok, s["recall"] if ok else f1)
        if best is None or key > best[0]:
            best = (key, t, s)
    return best[1], best[2]


def semantic_map(photos: list[Path], work: Path, head_env: dict, label: str) -> float:
    """mAP of finding the other crops of one scene, via ``imgfinder similar``."""
    folder = work / "scenes"
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for photo in photos:
        with Image.open(photo) as img:
            img = img.convert("RGB")
            img.thumbnail((MAX_SIDE, MAX_SIDE))
            for n, (cx, cy) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
                path = folder / f"{photo.stem}_{n}.jpg"
                if not path.exists():
                    crop_area(img, 0.36, cx, cy).save(path, quality=92)
                records.append((str(path), photo.stem))
    data = work / f"data-scenes-{label}"
    run_cli("index", str(folder), "--data-dir", str(data), env=head_env)
    # The ranking itself runs in-process (the same Library.similar the CLI calls, on the
    # runtime the CLI picks, IMGFINDER_BACKBONE_TFLITE included): one process per query is slow.
    from imgfinder.core.library import Library
    from imgfinder.embedders import default_backbone
    from imgfinder.model.runtime import make_embedder

    head = head_env.get("IMGFINDER_MODEL_HEAD")
    if head is None:
        from imgfinder.embedders import default_head

        head = default_head()
    embedder = make_embedder(default_backbone(), None if head in (None, "none") else head)
    aps = []
    with Library(data, embedder) as library:
        for path, scene in records:
            results = library.similar(path, k=len(records), fold=False)  # the ranking, copies as results
            relevant = [Path(h.row.path).stem.rsplit("_", 1)[0] == scene for h in results]
            hits, precisions = 0, []
            for rank, rel in enumerate(relevant, 1):
                if rel:
                    hits += 1
                    precisions.append(hits / rank)
            aps.append(float(np.mean(precisions)) if precisions else 0.0)
    return float(np.mean(aps))


def _default_head_name() -> str:
    from imgfinder.embedders import default_head

    head = default_head()
    return f"default ({head.name})" if head else "default (none: backbone only)"


def fmt(x: float) -> str:
    return f"{x:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=REPO.parent / "shared" / "photos")
    parser.add_argument("--work", type=Path, default=REPO / ".bench-data" / "quality")
    parser.add_argument("--threshold", type=float, default=None, help="default: the CLI's default")
    parser.add_argument("--head", default=None, help="projection head .npz to evaluate (or 'none'); default: the shipped one")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "quality.json")
    parser.add_argument("--no-semantic", action="store_true")
    parser.add_argument("--sweep", type=float, nargs="*", default=None, help="also score these thresholds")
    parser.add_argument("--negatives", choices=("offset", "halves"), default="offset",
                        help="how the two originals of a photo are cut (see above)")
    args = parser.parse_args()

    from imgfinder.cli import DEFAULT_THRESHOLD

    threshold = args.threshold if args.threshold is not None else DEFAULT_THRESHOLD
    head_env = {"IMGFINDER_MODEL_HEAD": args.head} if args.head else {}
    photos = sorted(Path(f.path) for f in scan([args.photos]))
    work = args.work / args.photos.resolve().name
    started = time.monotonic()
    set_dir = work / ("set" if args.negatives == "offset" else f"set-{args.negatives}")
    records = build_set(photos, set_dir, args.negatives)
    data = work / f"data-{args.negatives}-{Path(args.head).stem if args.head else 'default'}"
    index_summary = run_cli("index", str(set_dir), "--data-dir", str(data), env=head_env)
    dup = run_cli("duplicates", "--no-shots", "--threshold", str(threshold), "--data-dir", str(data), env=head_env)
    cnn = score_pairs(records, cnn_pairs(dup["groups"]))
    # One real `similar` call as a check that the CLI path ranks an edited copy first.
    probe = next(r for r in records if r["edit"] == "jpeg50")
    top = run_cli("similar", probe["path"], "-k", "1", "--data-dir", str(data), env=head_env)["results"][0]["path"]
    cnn["similar_probe_ok"] = next(r["family"] for r in records if r["path"] == top) == probe["family"]
    families_per_group = [len({r["family"] for r in records if r["path"] in {f["path"] for f in g["files"]}}) for g in dup["groups"]]
    cnn["groups_mixing_originals"] = sum(1 for n in families_per_group if n > 1)

    if args.sweep:
        print("| threshold | precision | recall | worst edit recall | mixed groups |")
        print("|---|---|---|---|---|")
        for t in args.sweep:
            d = run_cli("duplicates", "--no-shots", "--threshold", str(t), "--data-dir", str(data), env=head_env)
            s = score_pairs(records, cnn_pairs(d["groups"]))
            worst = min(s["per_edit"].items(), key=lambda kv: kv[1]["recall"])
            mixed = sum(1 for g in d["groups"] if len({r["family"] for r in records if r["path"] in {f["path"] for f in g["files"]}}) > 1)
            print(f"| {t} | {fmt(s['precision'])} | {fmt(s['recall'])} | {worst[0]} {fmt(worst[1]['recall'])} | {mixed} |", flush=True)

    hashes = {}
    for kind in ("phash", "dhash"):
        dist = hash_matrix(records, kind)
        at10 = score_pairs(records, hash_pairs(records, dist, 10))
        best_t, best = best_hash_threshold(records, dist)
        hashes[kind] = {"at_10": at10, "best_threshold": best_t, "best": best}

    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "photos": str(args.photos), "originals": len({r["family"] for r in records}), "files": len(records),
        "threshold": threshold, "head": args.head or _default_head_name(), "index": {k: index_summary[k] for k in ("added", "unchanged", "failed")},
        "cnn": cnn, "hashes": hashes,
    }
    if not args.no_semantic:
        result["semantic_map"] = {
            "model": semantic_map(photos, work, head_env, "model"),
            "backbone_only": semantic_map(photos, work, {"IMGFINDER_MODEL_HEAD": "none"}, "backbone"),
        }
    result["seconds"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))

    print(f"\n{result['originals']} originals from {len(photos)} photos, {len(records)} files; threshold {threshold}; head {result['head']}\n")
    rows = [("imgfinder CNN (groups)", cnn)]
    for kind, h in hashes.items():
        rows.append((f"{kind} <= 10", h["at_10"]))
        rows.append((f"{kind} <= {h['best_threshold']} (best)", h["best"]))
    print("| method | precision | recall | false pairs | hard-negative pairs |")
    print("|---|---|---|---|---|")
    for name, s in rows:
        print(f"| {name} | {fmt(s['precision'])} | {fmt(s['recall'])} | {s['false_pairs']} | {s['hard_negative_pairs']} |")
    print("\n| edit | CNN recall | CNN precision | pHash<=10 recall | dHash<=10 recall |")
    print("|---|---|---|---|---|")
    for edit in BENCHMARK_EDITS:
        c = cnn["per_edit"][edit]
        print(f"| {edit} | {fmt(c['recall'])} | {fmt(c['precision'])} | "
              f"{fmt(hashes['phash']['at_10']['per_edit'][edit]['recall'])} | {fmt(hashes['dhash']['at_10']['per_edit'][edit]['recall'])} |")
    print(f"\ngroups mixing different originals: {cnn['groups_mixing_originals']}")
    if "semantic_map" in result:
        s = result["semantic_map"]
        print(f"semantic mAP (crops of one scene among all scenes): model {fmt(s['model'])}, backbone only {fmt(s['backbone_only'])}")
    print(f"\nwrote {args.out} ({result['seconds']}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
