"""Scale measured for real: ``duplicates`` on 100,000 photos with the pixel layout check,
candidate pairs as the real model makes them (issue #9).

    .venv/bin/python benchmarks/scale_real.py --count 20000
    .venv/bin/python benchmarks/scale_real.py                  # 100,000

``benchmarks/scale.py`` times ``duplicates`` on clustered *synthetic* vectors without
layout signatures, so no pair is ever verified. Here every photo is made from a **real
photo's descriptor and layout signature**:

Sources: the real model's descriptors (current ``feature_id``) and 64 x 64 layout
signatures of the quality set (``.bench-data/quality/photos/data-offset-default``: 23
wallpapers x 2 originals x 18 versions) and of the 781 grocery shots of
``../shared/multiview/grocery`` (``.bench-data/duplicates/data-grocery`` if it holds
current descriptors, else indexed once into ``.bench-data/scale-real/grocery-data`` with
``imgfinder index``); ``.bench-data/multiview/data-odd`` is read too but is a subset of
the grocery shots, so sources are deduplicated by content hash (about 1,600 remain).

Synthetic photos (``--count``, default 100,000), in a real ``Catalog`` written with
``FileRecord`` (copy vector, float16 descriptor, layout, a unique hash, the source's
size) under ``.bench-data/scale-real/``:

* **other photos** (95 %): source ``n mod sources`` (so every source gives about the same
  number) plus Gaussian noise drawn with the *covariance of the real descriptors*
  (``noise = s * w @ (D - mean) / sqrt(K)``, ``w`` standard normal over the K sources),
  ``s = --other-noise`` (default 2.0). Why that shape: isotropic noise pulls every
  perturbed photo towards one common direction once clipped at 0 (siblings of one source
  stayed at a copy cosine of 0.87 however strong the noise), while noise along the
  directions in which real photos differ turns a photo into "another real-looking
  photo". It is *not* clipped at 0 either: the clipped part of the noise is a positive
  bias shared by every photo, which made *all* photos alike (about 700 pairs >= 0.85 per
  photo at 100,000 whatever s). Why that level: 100,000 photos from ~1,600 sources are
  ~60 times denser around each real scene than the real sets; the real sources alone
  have 27 pairs >= 0.85 per photo (9 of them between different pictures), and with
  s = 2.0 a synthetic photo has a few tens (s = 1.6: 38; the run prints the figure), its
  copy cosine to its source is ~0.65 and to a sibling ~0.4 (median): other photos, of
  which a dense tail still reaches the threshold, as the real model's close scenes do.
  Their layouts must be *other pictures* too: ``0.6 * A + 0.4 * T(B)`` where A is the
  signature of another real picture of the same scene (another shot of the same grocery
  product; the other original of the same wallpaper, any version), B a random real
  signature under a random rotation/mirror T, plus 2 grey levels of noise. So siblings
  look alike to the embedding *and* share part of their layout, as other shots of one
  scene do; two of them rarely pass as one picture.
* **planted near-copies** (``--copies``, default 5 % of the photos): groups of 2-4
  photos, a base (one of the other photos) and 1-3 copies of it. A copy's descriptor is
  the base's plus a *real edit's displacement*: the descriptor of one edited copy in the
  quality set minus the descriptor of its original (any of the 17 edits of any of the 46
  originals, drawn at random), so a copy moves the way a real greyscale, crop, border,
  JPEG or brightness copy moved, whatever head then judges it. (Version 1 added
  isotropic noise tuned to the previous head's cosines; a head that whitens the
  directions edits move along, like the closed-form one, sees isotropic noise as far
  stronger than any real edit.) Its
  layout is the base's with a random gain (0.9-1.1), offset (+-8 grey levels) and 2
  grey levels of Gaussian noise: 120 of 120 such pairs of real signatures pass the
  verifier and the copy check (detail score median 0.99), as a re-saved copy does
  (a 1-px shift would not: the signature is computed on the decoded picture, which a
  re-compression does not move).

The duplicate search runs in a child process (fresh interpreter; peak memory = its
VmHWM) with a stand-in embedder carrying the ids written, so TensorFlow is never loaded:
``Library.iter_duplicate_finder()`` then ``finder.iter_groups(DEFAULT_THRESHOLD)``, the
CLI's and the GUI's path. Both indexes are built beforehand in the parent, as the
indexer does. The paths do not exist, so the EXIF capture-time reads of the grouping
are a failed ``stat`` each, not a header read: the child counts them ("EXIF reads") so
their real cost can be estimated.

Local features are real (version 3): each synthetic photo is given a real source file
(``files.json``: a planted group's photos their base's file, so its copies prove to be
one picture; every other photo a file drawn at random, so photos near each other in
the embedding are different pictures to the local check), and the child's local check
decodes and runs SIFT on that file whenever the search first needs a photo's features,
as the app does. The run starts with no feature cache (a library's first search;
``--warm`` then runs the search again with the cache the first one filled) and reports
how many photos needed features, their extraction time and the cache's bytes per photo.

Prints a table and writes ``benchmarks/out/scale_real-<count>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _data  # noqa: E402
from scale import peak_rss_mb  # noqa: E402

REPO = _data.REPO
WORK = _data.DATA / "scale-real"
GROCERY = REPO.parent / "shared" / "multiview" / "grocery"
SOURCES = {
    "quality": _data.DATA / "quality" / "photos" / "data-offset-default",
    "odd": _data.DATA / "multiview" / "data-odd",
    "grocery": _data.DATA / "duplicates" / "data-grocery",
}
GROCERY_FALLBACK = WORK / "grocery-data"
TARGET_S, TARGET_MB = 30.0, 2048.0
VERSION = 3  # bump when the generation changes (the cached catalogs are keyed on it)


# -- real sources ---------------------------------------------------------------------
@dataclass
class Sources:
    descriptors: np.ndarray  # (K, 1280) float32
    layouts: list[bytes]
    sizes: list[tuple[int, int]]
    scenes: np.ndarray  # (K,) scene number: other pictures of one scene share it
    pictures: np.ndarray  # (K,) picture number: versions of one picture share it
    origins: dict[str, int]
    edits: list[str]  # quality-set version name ("original", "grey", ...); "" for others
    paths: list[str]  # the real photo file of each source (its local features are real)


def _has_current(data_dir: Path, feature_id: str) -> bool:
    from imgfinder.core.catalog import Catalog

    db = data_dir / "catalog.sqlite3"
    if not db.exists():
        return False
    with Catalog(db) as cat:
        return len(cat.descriptors(feature_id)[0]) > 0


def load_sources(feature_id: str) -> Sources:
    from imgfinder.core.catalog import Catalog

    dirs = dict(SOURCES)
    if not _has_current(dirs["grocery"], feature_id):
        dirs["grocery"] = GROCERY_FALLBACK
        if not _has_current(GROCERY_FALLBACK, feature_id):
            print(f"indexing {GROCERY} into {GROCERY_FALLBACK} (real model, about a minute)", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "imgfinder", "index", str(GROCERY), "--data-dir",
                            str(GROCERY_FALLBACK), "--json", "--quiet"], cwd=REPO, check=False,
                           stdout=subprocess.DEVNULL, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    descriptors, layouts, sizes, scene_keys, picture_keys, edits, seen = [], [], [], [], [], [], set()
    paths: list[str] = []
    origins: dict[str, int] = {}
    for name, data_dir in dirs.items():
        if not _has_current(data_dir, feature_id):
            print(f"  skipping {data_dir}: no descriptors of {feature_id}", file=sys.stderr)
            continue
        with Catalog(data_dir / "catalog.sqlite3") as cat:
            ids, desc = cat.descriptors(feature_id)
            rows = cat.rows(ids.tolist())
            lay = cat.layouts(ids.tolist())
        kept = 0
        for r, d in zip(rows, desc):
            if r.hash in seen or r.id not in lay:
                continue
            seen.add(r.hash)
            folder = os.path.basename(os.path.dirname(r.path))
            if name == "quality":  # set/<wallpaper>_<L|R>/<edit>.jpg: versions of one picture
                picture, scene = f"q:{folder}", f"q:{folder.rsplit('_', 1)[0]}"
            else:  # grocery/<group>/<product>/<shot>.jpg: each shot its own picture
                picture, scene = f"g:{r.path}", f"g:{folder}"
            descriptors.append(d)
            edits.append(os.path.splitext(os.path.basename(r.path))[0] if name == "quality" else "")
            layouts.append(lay[r.id])
            paths.append(r.path)
            sizes.append((r.width or 1000, r.height or 1000))
            scene_keys.append(scene)
            picture_keys.append(picture)
            kept += 1
        origins[str(data_dir.relative_to(REPO))] = kept

    def numbered(keys: list[str]) -> np.ndarray:
        table: dict[str, int] = {}
        return np.array([table.setdefault(k, len(table)) for k in keys], np.int64)

    return Sources(np.stack(descriptors).astype(np.float32), layouts, sizes, numbered(scene_keys),
                   numbered(picture_keys), origins, edits, paths)


def edit_displacements(src: Sources) -> np.ndarray:
    """(M, 1280) descriptor of each edited copy in the quality set minus its original's."""
    originals = {int(src.pictures[i]): i for i, e in enumerate(src.edits) if e == "original"}
    rows = [(i, originals[int(src.pictures[i])]) for i, e in enumerate(src.edits)
            if e and e != "original" and int(src.pictures[i]) in originals]
    if not rows:
        raise SystemExit("no quality-set copies among the sources: run benchmarks/quality.py first")
    return np.stack([src.descriptors[i] - src.descriptors[o] for i, o in rows])


# -- synthetic photos -----------------------------------------------------------------
def _grey(raw: bytes) -> np.ndarray:
    from imgfinder.core.layout import signature_from_bytes

    return signature_from_bytes(raw).astype(np.float32)


def _dihedral(a: np.ndarray, k: int) -> np.ndarray:
    a = np.rot90(a, k % 4)
    return a[:, ::-1] if k >= 4 else a


def _to_bytes(a: np.ndarray) -> bytes:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8).tobytes()


def other_layout(src: Sources, i: int, rng: np.random.Generator, greys: list[np.ndarray]) -> bytes:
    """Another picture of source i's scene: 0.6 x another real picture of the same scene
    (a random real picture if there is none) + 0.4 x a random real picture, turned."""
    same_scene = np.flatnonzero((src.scenes == src.scenes[i]) & (src.pictures != src.pictures[i]))
    a = int(rng.choice(same_scene)) if len(same_scene) else int(rng.integers(len(greys)))
    b = int(rng.integers(len(greys)))
    mixed = 0.6 * greys[a] + 0.4 * _dihedral(greys[b], int(rng.integers(8)))
    return _to_bytes(mixed + rng.normal(0, 2.0, mixed.shape))


def copy_layout(base: bytes, rng: np.random.Generator) -> bytes:
    """A re-saved, lightly edited copy: gain, offset and 2 grey levels of noise."""
    g = _grey(base) * rng.uniform(0.9, 1.1) + rng.uniform(-8, 8)
    return _to_bytes(g + rng.normal(0, 2.0, g.shape))


def synthesize(src: Sources, n: int, copies_frac: float, other_noise: float, seed: int
               ) -> tuple[np.ndarray, list[bytes], list[tuple[int, int]], np.ndarray, np.ndarray]:
    """(descriptors, layouts, sizes, source of each photo, planted group or -1)."""
    rng = np.random.default_rng(seed)
    k = len(src.descriptors)
    moves = edit_displacements(src)
    centred = src.descriptors - src.descriptors.mean(0)
    greys = [_grey(r) for r in src.layouts]
    n_copies = int(round(n * copies_frac))
    # Planted groups: a base + 1-3 copies, until n_copies copies are placed.
    extra = []
    while sum(extra) < n_copies:
        extra.append(int(rng.integers(1, 4)))
    extra[-1] -= sum(extra) - n_copies
    extra = [e for e in extra if e > 0]
    n_other = n - n_copies
    origin = rng.permutation(np.arange(n_other) % k)  # every source about equally often
    desc = np.empty((n, src.descriptors.shape[1]), np.float32)
    for s in range(0, n_other, 4096):
        o = origin[s : s + 4096]
        w = rng.standard_normal((len(o), k)).astype(np.float32) / np.sqrt(k)
        desc[s : s + len(o)] = src.descriptors[o] + other_noise * (w @ centred)  # not clipped: see the docstring
    layouts = [other_layout(src, int(i), rng, greys) for i in origin]
    sizes = [src.sizes[int(i)] for i in origin]
    sources = list(origin)
    labels = np.full(n, -1, np.int64)
    bases = rng.choice(n_other, len(extra), replace=False)
    pos = n_other
    for g, (base, count) in enumerate(zip(bases.tolist(), extra)):
        labels[base] = g
        for _ in range(count):
            desc[pos] = desc[base] + moves[int(rng.integers(len(moves)))]
            layouts.append(copy_layout(layouts[base], rng))
            w, h = sizes[base]
            scale = rng.choice([1.0, 0.75, 0.5])
            sizes.append((max(1, int(w * scale)), max(1, int(h * scale))))
            sources.append(sources[base])
            labels[pos] = g
            pos += 1
    assert pos == n
    order = rng.permutation(n)  # copies are not all at the end of the catalog
    return desc[order], [layouts[i] for i in order], [sizes[i] for i in order], np.asarray(sources)[order], labels[order]


def build_catalog(n: int, copies_frac: float, other_noise: float, seed: int) -> tuple[Path, dict]:
    """A data dir with the synthetic catalog and both indexes (cached)."""
    from imgfinder.core.catalog import Catalog, FileRecord
    from imgfinder.core.library import CATALOG_NAME, Library
    from imgfinder.embedders import default_embedder

    embedder = default_embedder()  # KerasEmbedder: copy/retrieval vectors are numpy, no TF
    key = f"{VERSION}|{n}|{copies_frac}|{other_noise}|{seed}|{embedder.model_id}|{embedder.retrieval_id}"
    data_dir = WORK / f"catalog-{n}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
    done = data_dir / "complete.json"
    if done.exists():
        # A catalog migration (a newer schema) moves the generation on: bring both indexes
        # up to date here, as the indexer would, so the measured child finds them current.
        with Library(data_dir, embedder) as lib:
            lib.index()
            lib.retrieval_index()
        return data_dir, json.loads(done.read_text())
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    t = time.perf_counter()
    src = load_sources(embedder.feature_id)
    desc, layouts, sizes, origin, labels = synthesize(src, n, copies_frac, other_noise, seed)
    vectors = np.empty((n, embedder.dim), np.float32)
    for s in range(0, n, 4096):
        vectors[s : s + 4096] = embedder.copy_vectors(desc[s : s + 4096])
    gen_s = time.perf_counter() - t
    np.save(data_dir / "labels.npy", labels)
    np.save(data_dir / "origin.npy", origin)
    (data_dir / "files.json").write_text(json.dumps(photo_files(src.paths, origin, labels, seed)))
    t = time.perf_counter()
    with Catalog(data_dir / CATALOG_NAME) as catalog:
        batch = []
        for i in range(n):
            h = hashlib.blake2b(f"{key}|{i}".encode(), digest_size=20).hexdigest()
            w, hh = sizes[i]
            batch.append(FileRecord(f"/photos/{i // 1000:03d}/IMG_{i:06d}.jpg", 200_000 + (w * hh) // 4 + i,
                                    1_600_000_000_000_000_000 + i * 1_000_000_000, h, w, hh, vectors[i],
                                    layout=layouts[i], descriptor=desc[i]))
            if len(batch) == 5000:
                catalog.write_batch(batch, embedder.model_id, embedder.feature_id)
                batch = []
        catalog.write_batch(batch, embedder.model_id, embedder.feature_id)
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    with Library(data_dir, embedder) as lib:
        lib.index()  # both indexes (copy and retrieval), as the indexer leaves them
    index_s = time.perf_counter() - t
    info = {"model_id": embedder.model_id, "feature_id": embedder.feature_id, "retrieval_id": embedder.retrieval_id,
            "dim": embedder.dim, "sources": len(src.descriptors), "source_catalogs": src.origins,
            "planted_groups": int(labels.max() + 1), "planted_photos": int((labels >= 0).sum()),
            "generate_s": gen_s, "write_s": write_s, "index_build_s": index_s}
    info.update(density(vectors, labels, origin, src))
    done.write_text(json.dumps(info, indent=2))
    print(f"  built {data_dir.name}: generated {gen_s:.1f} s, written {write_s:.1f} s, indexed {index_s:.1f} s",
          file=sys.stderr)
    return data_dir, info


def write_pictures(data_dir: Path) -> None:
    """``pictures.json``: each source file's picture number (the quality set's versions of
    one original share one), so the child can tell a group of versions of one real
    picture (copies, rightly proven) from other photos called copies."""
    from imgfinder.embedders import default_embedder

    src = load_sources(default_embedder().feature_id)
    (data_dir / "pictures.json").write_text(json.dumps(dict(zip(src.paths, src.pictures.tolist()))))


def photo_files(paths: list[str], origin: np.ndarray, labels: np.ndarray, seed: int) -> list[str]:
    """The real file whose local features each synthetic photo gets (generation order).

    A planted group's photos all get their base's source file (its copies then prove to be
    one picture, as a re-saved copy does); every other photo a source file drawn at
    random, so the photos the embedding makes near each other (siblings of one source)
    are, to the local check, different pictures, as different photos of one scene are.
    Two unrelated photos drawn the same file (1 in ~1,600 pairs) would be proven copies:
    the run counts such groups ("groups with no planted copies")."""
    rng = np.random.default_rng(seed + 1)
    drawn = rng.integers(len(paths), size=len(origin))
    return [paths[int(origin[i] if labels[i] >= 0 else drawn[i])] for i in range(len(origin))]


def density(vectors: np.ndarray, labels: np.ndarray, origin: np.ndarray, src: Sources, sample: int = 2000) -> dict:
    """Exact pairs >= 0.80 / 0.85 per photo (a sample of rows against all), split into
    planted-copy pairs and pairs of other pictures, to compare with the real sets."""
    rng = np.random.default_rng(5)
    rows = rng.choice(len(vectors), min(sample, len(vectors)), replace=False)
    out = {}
    counts = {0.80: [0, 0], 0.85: [0, 0]}
    for s in range(0, len(rows), 256):
        r = rows[s : s + 256]
        scores = vectors[r] @ vectors.T
        scores[np.arange(len(r)), r] = -1
        planted = (labels[r][:, None] >= 0) & (labels[r][:, None] == labels[None, :])
        for t, c in counts.items():
            above = scores >= t
            c[0] += int((above & planted).sum())
            c[1] += int((above & ~planted).sum())
    for t, (p, o) in counts.items():
        out[f"pairs_per_photo_{t:.2f}_planted"] = p / len(rows)
        out[f"pairs_per_photo_{t:.2f}_other"] = o / len(rows)
    return out


# -- the measured child -----------------------------------------------------------------
class IdsOnly:
    """Carries the ids the catalog and the indexes were written with; never embeds (the
    catalog and both indexes are current, so the search needs no model)."""

    def __init__(self, info: dict) -> None:
        self.model_id, self.feature_id, self.retrieval_id = info["model_id"], info["feature_id"], info["retrieval_id"]
        self.dim, self.input_size = int(info["dim"]), 160

    def embed(self, images: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise RuntimeError("scale_real: the catalog should be complete")

    describe = embed

    def copy_vectors(self, descriptors: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise RuntimeError("scale_real: the copy index should be current")

    retrieval_vectors = copy_vectors


def child(data_dir: str, threshold: float, profile: str | None = None, warm: bool = False) -> dict:
    from imgfinder.core import group_kind
    from imgfinder.core.library import Library

    info = json.loads((Path(data_dir) / "complete.json").read_text())
    reads = [0]
    real_read = group_kind.read_metadata

    def counted(path: str):  # the EXIF header reads of the grouping, counted (behaviour unchanged)
        reads[0] += 1
        return real_read(path)

    group_kind.read_metadata = counted
    files = json.loads((Path(data_dir) / "files.json").read_text())
    pictures = Path(data_dir) / "pictures.json"
    picture_of = json.loads(pictures.read_text()) if pictures.exists() else {}
    timing = {"extracted": 0, "extract_s": 0.0}
    cache = Path(data_dir) / "local_features.sqlite3"
    if not warm:  # a first search: every photo's local features are made
        for suffix in ("", "-wal", "-shm"):
            Path(str(cache) + suffix).unlink(missing_ok=True)
    start_rss = peak_rss_mb()
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    with Library(data_dir, IdsOnly(info)) as lib:
        assert lib.store.is_current(info["model_id"], lib.catalog.generation), "copy index not built"
        if prof:
            prof.enable()
        finder, groups, seconds_candidates, seconds_grouping, updates = _data.timed_duplicates(
            lib, threshold, prepare=functools.partial(_real_features, files, timing))
        t0, t1, t2 = 0.0, seconds_candidates, seconds_candidates + seconds_grouping
        if prof:
            prof.disable()
            prof.dump_stats(profile)
        peak = peak_rss_mb()
        stats = finder.stats
        photos = len(finder.rows)
        labels = np.load(Path(data_dir) / "labels.npy")
        pos = {r.id: i for i, r in enumerate(lib.catalog.rows())}  # row id -> generation order
        planted: dict[int, set[int]] = {}
        for i in np.flatnonzero(labels >= 0).tolist():
            planted.setdefault(int(labels[i]), set()).add(i)
        whole = false_groups = same_file = layout_decided = 0
        finder_row = {r.id: n for n, r in enumerate(finder.rows)}
        kinds: dict[str, int] = {}
        for g in groups:
            members = {pos[m.row.id] for m in g.members}
            kinds[g.kind] = kinds.get(g.kind, 0) + 1
            lab = {int(labels[i]) for i in members}
            if len(lab) == 1 and -1 not in lab and members == planted[lab.pop()]:
                whole += 1
            elif all(labels[i] < 0 for i in members) or len({int(labels[i]) for i in members}) > 1:
                false_groups += 1
                # Drawn one real picture (``photo_files``; the quality set's versions of one
                # original are copies of it): to the local check they are one picture.
                same_file += len({picture_of.get(files[i], files[i]) for i in members}) == 1
                # A member too smooth for keypoints: the layout decided, and a synthetic
                # photo's layout is not its file's (a mix of two real ones).
                layout_decided += any(_feature_poor(finder, finder_row[m.row.id]) for m in g.members)
        per_photo = list(stats.checks_per_row.values())
        # Findable: every pair of the planted group at or above the threshold (complete
        # linkage can group no other; a copy's noise sometimes pulls two copies apart).
        row_of = {pos[r.id]: n for n, r in enumerate(finder.rows)}
        findable = 0
        for members_ in planted.values():
            v = finder.vectors[[row_of[m] for m in sorted(members_)]]
            findable += bool(((v @ v.T) >= threshold).all())
    return {
        "photos": photos, "candidate_pairs": len(finder._pairs), "pairs_above_threshold": stats.considered,
        "filtered": stats.filtered, "asked_ahead": getattr(stats, "asked_ahead", None), "checked": stats.checked,
        "failed": stats.failed, "skipped_budget": stats.skipped,
        "checks_per_photo": stats.checked / max(1, photos), "max_checks_one_photo": max(per_photo, default=0),
        "groups": len(groups), "kinds": kinds, "photos_in_groups": sum(len(g.members) for g in groups),
        "planted_groups": len(planted), "planted_groups_findable": findable, "planted_groups_found_whole": whole,
        "groups_not_planted": false_groups, "groups_not_planted_one_file": same_file, "groups_not_planted_layout_decided": layout_decided, "exif_reads": reads[0], "progress_updates": updates,
        "candidates_s": t1 - t0, "grouping_s": t2 - t1, "total_s": t2 - t0,
        "peak_rss_mb": peak, "start_rss_mb": start_rss,
        "checked_ahead_in_workers": stats.checked_ahead, "worker_peak_mb": stats.worker_peak_mb,
        "peak_total_mb": peak + stats.worker_peak_mb,
        "warm": warm, "features_extracted": finder.local_check.extracted if finder.local_check else 0,
        "features_extract_thread_s": timing["extract_s"],
        "feature_cache_bytes": sum(f.stat().st_size for f in cache.parent.glob(cache.name + "*")),
        "feature_cache_entries": _cache_entries(cache),
    }


def _real_features(files: list[str], timing: dict, finder) -> None:
    """Give the finder's local check the real features of each photo's file
    (``photo_files``): a real decode and SIFT per photo, timed."""
    from imgfinder.core.keypoints import extract

    check = finder.local_check
    if check is None:
        return

    def real(path: str):
        t = time.perf_counter()
        try:
            return extract(files[int(Path(path).stem.split("_")[1])])
        finally:
            timing["extracted"] += 1
            timing["extract_s"] += time.perf_counter() - t

    check.extract = real


def _feature_poor(finder, i: int) -> bool:
    from imgfinder.core.copy_proof import POOR_KEYPOINTS

    f = finder.local_check.features(i)
    return f is None or f.count < POOR_KEYPOINTS


def _cache_entries(cache: Path) -> int:
    import sqlite3

    if not cache.exists():
        return 0
    with contextlib.closing(sqlite3.connect(cache)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM features").fetchone()[0])


def run_child(data_dir: Path, threshold: float, profile: str | None, warm: bool = False) -> dict:
    payload = {"data_dir": str(data_dir), "threshold": threshold, "profile": profile, "warm": warm}
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(payload)], capture_output=True, text=True,
                         cwd=REPO, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- driver ---------------------------------------------------------------------------
def main() -> None:
    from imgfinder.core.duplicates import DEFAULT_THRESHOLD

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100_000, help="photos in the synthetic catalog")
    ap.add_argument("--copies", type=float, default=0.05, help="fraction of photos that are planted near-copies")
    ap.add_argument("--other-noise", type=float, default=2.0, help="noise strength of the other photos (see above)")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--profile", action="store_true", help="cProfile the child; writes benchmarks/out/*.prof")
    ap.add_argument("--warm", action="store_true",
                    help="run the search a second time, with the local features the first one cached")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(**json.loads(args.child))))
        return
    data_dir, info = build_catalog(args.count, args.copies, args.other_noise, args.seed)
    profile = str(_data.OUT / f"scale_real-{args.count}.prof") if args.profile else None
    if profile:
        _data.OUT.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "pictures.json").exists():
        write_pictures(data_dir)
    r = run_child(data_dir, args.threshold, profile)
    runs = {"cold": r}
    if args.warm:
        runs["warm"] = run_child(data_dir, args.threshold, None, warm=True)
    n = r["photos"]
    rows = [
        (f"duplicates, {n:,} photos, layout check on (threshold {args.threshold})", f"{r['total_s']:.2f} s",
         f"< {TARGET_S:.0f} s", f"{r['total_s'] / TARGET_S:.2f} of budget"),
        ("  candidates (k-NN, Library.iter_duplicate_finder)", f"{r['candidates_s']:.2f} s", "", ""),
        ("  grouping + verification (finder.iter_groups)", f"{r['grouping_s']:.2f} s", "", ""),
        ("  peak memory: the child + its check workers (VmHWM each, summed)",
         f"{r['peak_total_mb']:.0f} MB ({r['peak_rss_mb']:.0f} + {r['worker_peak_mb']:.0f})", f"< {TARGET_MB:.0f} MB",
         f"{r['peak_total_mb'] / TARGET_MB:.2f} of budget"),
        ("candidate pairs (>= floor)", f"{r['candidate_pairs']:,}", "", ""),
        (f"  of which >= {args.threshold}", f"{r['pairs_above_threshold']:,}", "", ""),
        ("  rejected by the cheap filter", f"{r['filtered']:,}", "", ""),
        ("  cheap filter asked in batches ahead of the merges", f"{r.get('asked_ahead') or 0:,}", "", ""),
        ("  checked fully (finder.stats.checked)", f"{r['checked']:,} ({r['failed']:,} failed)", "", ""),
        ("  of which computed ahead in worker processes", f"{r['checked_ahead_in_workers']:,}", "", ""),
        ("  rejected unexamined (budget spent)", f"{r['skipped_budget']:,}", "", ""),
        ("full checks per photo (max one photo)", f"{r['checks_per_photo']:.3f} ({r['max_checks_one_photo']})", "", ""),
        ("photos whose local features were made (decode + SIFT, once each)",
         f"{r['features_extracted']:,} ({r['features_extracted'] / max(1, n):.3f} per photo)", "", ""),
        ("  their time, summed over the extraction threads", f"{r['features_extract_thread_s']:.1f} s", "", ""),
        ("  feature cache on disk afterwards", (f"{r['feature_cache_bytes'] / 1e6:.0f} MB, "
         f"{r['feature_cache_bytes'] / max(1, r['feature_cache_entries']) / 1e3:.0f} KB per photo cached"), "", ""),
        *([("the same search again, features cached (warm)", (f"{runs['warm']['total_s']:.2f} s, peak "
            f"{runs['warm']['peak_total_mb']:.0f} MB, {runs['warm']['features_extracted']} made"), "", "")]
          if "warm" in runs else []),
        ("groups (kinds)", f"{r['groups']:,} {r['kinds']}", "", ""),
        ("planted groups found whole (of findable: every pair >= threshold)",
         f"{r['planted_groups_found_whole']:,}/{r['planted_groups']:,} ({r.get('planted_groups_findable', '?')})", "", ""),
        ("groups with no planted copies (other photos called copies)",
         (f"{r['groups_not_planted']:,} ({r['groups_not_planted_one_file']:,} drawn one real picture, "
          f"{r['groups_not_planted_layout_decided']:,} with a photo too smooth for keypoints)"), "", ""),
        ("EXIF capture-time reads (paths do not exist: a failed stat each)", f"{r['exif_reads']:,}", "", ""),
        ("exact pairs per photo >= 0.85: planted / other pictures (sample)",
         f"{info['pairs_per_photo_0.85_planted']:.2f} / {info['pairs_per_photo_0.85_other']:.2f}", "", ""),
    ]
    print(f"\n{info['sources']} real sources {info['source_catalogs']}; {info['planted_photos']:,} photos in "
          f"{info['planted_groups']:,} planted groups; data in {data_dir.relative_to(REPO)}\n")
    print(_data.table(rows, ("measurement", "figure", "target", "ratio")))
    out = {"machine": _data.machine(), "args": {k: v for k, v in vars(args).items() if k != "child"},
           "catalog": info, "duplicates": r, "runs": runs}
    print(f"\nwrote {_data.write_json(f'scale_real-{args.count}', out)}")
    if profile:
        print(f"profile: {profile}")


if __name__ == "__main__":
    main()
