"""Copies are proven by local features (core.copy_proof), and the original is the file
kept (core.keeper): edited copies pass, the hard negatives a pooled vector or a 64 px
layout cannot tell from copies do not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from imgfinder.core import copy_proof
from imgfinder.core.catalog import FileRow
from imgfinder.core.feature_cache import FeatureCache
from imgfinder.core.file_actions import is_under as under
from imgfinder.core.keeper import rank_group
from imgfinder.core.keypoints import band_ratio
from imgfinder.core.keypoints import WORK_AREA, LocalFeatures, extract, features_of_grey
from imgfinder.core.local_check import LocalCheck
from imgfinder.model.edits import crop_area

PHOTOS = ("01_astronaut.jpg", "03_chelsea.jpg", "05_coffee.jpg", "07_rocket.jpg")


def _source(photos_dir: Path, name: str, side: int = 900) -> Image.Image:
    img = Image.open(photos_dir / name).convert("RGB")
    img.thumbnail((side, side))
    return img


def _save(img: Image.Image, path: Path, quality: int = 92) -> Path:
    img.convert("RGB").save(path, quality=quality)
    return path


def _crop(img: Image.Image, f: float, cx: float = 0.5, cy: float = 0.5) -> Image.Image:
    return crop_area(img, f * f, cx, cy)  # f: the share of each side kept


def _moved(img: Image.Image) -> Image.Image:
    """The subject moved on a still background: a quarter-side patch pasted elsewhere."""
    w, h = img.size
    out = img.copy()
    patch = img.crop((w // 3, h // 3, w // 3 + w // 4, h // 3 + h // 4))
    out.paste(patch, (w // 3 + w // 8, h // 3 + h // 12))
    return out


EDITS = {
    "resize50": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "crop70": lambda im: _crop(im, 0.7, 0.3, 0.6),
    "mirror": ImageOps.mirror,
    "rot90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "grey": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "brighter": lambda im: im.point(lambda v: min(255, v + 30)),
    "blur": lambda im: im.filter(ImageFilter.GaussianBlur(1.5)),
    "border": lambda im: ImageOps.expand(im, border=im.width // 10, fill=(255, 255, 255)),
    "watermark": lambda im: _watermarked(im),
}


def _watermarked(img: Image.Image) -> Image.Image:
    out = img.copy()
    ImageDraw.Draw(out).text((10, img.height - 20), "(c) somebody 2026", fill=(255, 255, 255))
    return out


@pytest.fixture(scope="module")
def originals(photos_dir: Path, tmp_path_factory) -> dict[str, tuple[Image.Image, LocalFeatures]]:
    folder = tmp_path_factory.mktemp("originals")
    out = {}
    for name in PHOTOS:
        img = _source(photos_dir, name)
        out[name] = (img, extract(str(_save(img, folder / name, 95))))
    return out


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_edited_copies_are_proven(originals, edit: str, tmp_path: Path) -> None:
    for name, (img, feats) in originals.items():
        copy = extract(str(_save(EDITS[edit](img), tmp_path / f"{edit}_{name}", 75)))
        proof = copy_proof.prove(feats, copy)
        assert proof.copies, (name, edit, proof.summary())
        assert proof.fit.mirrored == (edit == "mirror")
        assert copy_proof.prove(copy, feats).copies  # either way round


def test_hard_negatives_are_not_copies(originals, tmp_path: Path) -> None:
    names = list(originals)
    for k, name in enumerate(names):
        img, feats = originals[name]
        w, h = img.size
        left = extract(str(_save(img.crop((0, 0, int(w * 0.55), h)), tmp_path / f"l{k}.jpg")))
        right = extract(str(_save(img.crop((int(w * 0.45), 0, w, h)), tmp_path / f"r{k}.jpg")))
        assert not copy_proof.prove(left, right).copies, "two barely overlapping crops"
        moved = extract(str(_save(_moved(img), tmp_path / f"m{k}.jpg")))
        p = copy_proof.prove(feats, moved)
        assert p.exact_fit and not p.copies, ("a moved subject on a still background", p.summary())
        other_img, other = originals[names[(k + 1) % len(names)]]
        assert not copy_proof.prove(feats, other).copies
        mirrored_other = extract(str(_save(ImageOps.mirror(other_img), tmp_path / f"o{k}.jpg")))
        assert not copy_proof.prove(feats, mirrored_other).copies


def test_mirrored_descriptors_are_the_mirrored_photos(originals, tmp_path: Path) -> None:
    """The permutation is what SIFT finds on the mirrored photo: nearly every keypoint of
    the flipped features matches its mirror image's own at the same place."""
    img, feats = originals["03_chelsea.jpg"]
    flipped = extract(str(_save(ImageOps.mirror(img), tmp_path / "flip.png")))
    virtual = copy_proof.mirror_features(feats)
    pa, pb = copy_proof._matches(virtual, flipped)
    assert len(pa) > 0.5 * min(feats.count, flipped.count)
    assert np.median(np.linalg.norm(pa - pb, axis=1)) < 0.5  # the same places, no fit needed


def test_features_round_trip_through_bytes(originals) -> None:
    _, feats = originals["05_coffee.jpg"]
    back = LocalFeatures.from_bytes(feats.to_bytes())
    assert back.size == feats.size and back.work == feats.work
    for a, b in ((back.xy, feats.xy), (back.angle, feats.angle), (back.descriptors, feats.descriptors),
                 (back.check, feats.check)):
        assert np.array_equal(a, b)
    assert 0 < feats.count <= 500 and len(feats.to_bytes()) < 110_000


def test_a_panorama_keeps_its_short_side() -> None:
    """The working scale is by area: a 10:1 strip is not shrunk to a few rows."""
    rng = np.random.default_rng(3)
    strip = (rng.random((300, 3000)) * 255).astype(np.uint8)
    feats = features_of_grey(strip)
    assert feats.work[1] >= 110 and feats.work[0] * feats.work[1] <= WORK_AREA * 1.01


def test_smooth_pictures_are_feature_poor() -> None:
    ramp = np.tile(np.linspace(0, 255, 400, dtype=np.float32), (300, 1)).astype(np.uint8)
    a = features_of_grey(ramp)
    assert copy_proof.feature_poor(a, a)


def test_features_are_cached_by_content(originals, tmp_path: Path) -> None:
    img, _ = originals["07_rocket.jpg"]
    paths = [_save(img, tmp_path / "a.jpg"), _save(EDITS["resize50"](img), tmp_path / "b.jpg")]
    calls: list[str] = []

    def counting(path: str) -> LocalFeatures:
        calls.append(path)
        return extract(path)

    cache = FeatureCache(tmp_path / "cache.sqlite3")
    hashes = ["ha", "hb"]
    first = LocalCheck([str(p) for p in paths], [1, 2], hashes, cache, counting)
    assert first.copies(0, 1)
    first.flush()
    assert len(calls) == 2 and cache.size()[0] == 2 and cache.size()[1] < 2 * 110_000
    second = LocalCheck([str(p) for p in paths], [1, 2], hashes, cache, counting)
    assert second.copies(0, 1) and len(calls) == 2  # read back, not made again
    changed = LocalCheck([str(p) for p in paths], [1, 2], ["other", "hb"], cache, counting)
    changed.features(0)
    assert len(calls) == 3  # a file whose content changed has its features made anew
    assert cache.keep_only(["hb"]) == 1 and cache.size()[0] == 1
    cache.close()


def test_features_dropped_from_memory_before_they_are_written_are_not_made_again(
        originals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from imgfinder.core import local_check

    monkeypatch.setattr(local_check, "KEEP", 2)
    img, _ = originals["07_rocket.jpg"]
    paths = [str(_save(EDITS[e](img), tmp_path / f"{n}_{e}.jpg")) for n, e in enumerate(("resize50", "crop70", "mirror", "resize50"))]
    calls: list[str] = []

    def counting(path: str) -> LocalFeatures:
        calls.append(path)
        return extract(path)

    cache = FeatureCache(tmp_path / "cache.sqlite3")
    check = LocalCheck(paths, [1, 2, 3, 4], ["h1", "h2", "h3", "h4"], cache, counting)
    for i in range(4):  # fewer than a batch: nothing is written yet, and two are dropped from memory
        check.features(i)
    assert cache.size()[0] == 0 and len(calls) == 4
    assert [check.needs_extraction(i) for i in range(4)] == [False] * 4
    assert all(check.features(i) is not None for i in range(4)) and len(calls) == 4
    check.flush()
    assert cache.size()[0] == 4
    cache.close()


def test_a_damaged_cache_is_set_aside_and_the_search_goes_on(originals, tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    cache = FeatureCache(path)
    assert cache.get("h", 1) is None
    cache.put([("h", b"x")], 1)
    assert cache.get("h", 1) == b"x"
    assert list(tmp_path.glob("cache.sqlite3.damaged-*"))  # kept aside, not deleted
    cache.close()
    folder = tmp_path / "ro"
    folder.mkdir()
    unwritable = FeatureCache(folder / "missing" / "cache.sqlite3")  # its folder does not exist
    unwritable.put([("h", b"x")], 1)
    assert unwritable.get("h", 1) is None and unwritable.broken


def _rows(paths: list[Path]) -> list[FileRow]:
    rows = []
    for k, p in enumerate(paths):
        with Image.open(p) as im:
            w, h = im.size
        rows.append(FileRow(k, str(p), p.stat().st_size, 1_000 + k, f"h{k}", w, h, None))
    return rows


def test_the_original_is_kept_over_every_kind_of_copy(originals, tmp_path: Path) -> None:
    """Border, upscale, blur, crop, greyscale and re-compression never make a copy
    "better": the original (more pixels than none of them but the crop's source) is first."""
    for name, (img, _) in originals.items():
        folder = tmp_path / name
        folder.mkdir()
        original = _save(img, folder / "original.jpg", 95)
        copies = {
            "border": EDITS["border"](img),
            "upscale": img.resize((int(img.width * 1.5), int(img.height * 1.5)), Image.Resampling.BICUBIC),
            "blur": img.filter(ImageFilter.GaussianBlur(2)),
            "crop": _crop(img, 0.8),
            "grey": EDITS["grey"](img),
        }
        paths = [original] + [_save(c, folder / f"{k}.jpg", 60 if k == "upscale" else 85) for k, c in copies.items()]
        rows = _rows(paths)
        check = LocalCheck([r.path for r in rows], [r.id for r in rows], [r.hash for r in rows])
        chroma = {0: 30.0, 1: 30.0, 2: 30.0, 3: 30.0, 4: 30.0, 5: 0.0}
        for pair in ((0, k) for k in range(1, 6)):
            assert check.copies(*pair), (name, paths[pair[1]].name)
        order = rank_group(list(range(6)), rows, check.proof, chroma.get, features=check.features)
        assert order[0] == 0, (name, [paths[i].name for i in order])
        # Each copy alone with its original: the original still wins.
        for k in range(1, 6):
            assert rank_group([k, 0], rows, check.proof, chroma.get, features=check.features)[0] == 0, (name, paths[k].name)


def test_a_reference_folder_file_is_kept_even_through_a_symlinked_path(originals, tmp_path: Path) -> None:
    img, _ = originals["01_astronaut.jpg"]
    (tmp_path / "real").mkdir()
    (tmp_path / "ref").symlink_to(tmp_path / "real")
    copy = _save(EDITS["resize50"](img), tmp_path / "real" / "small.jpg")
    original = _save(img, tmp_path / "original.jpg", 95)
    rows = _rows([original, copy])
    check = LocalCheck([r.path for r in rows], [0, 1], ["a", "b"])
    assert rank_group([0, 1], rows, check.proof, lambda i: 30.0)[0] == 0
    assert rank_group([0, 1], rows, check.proof, lambda i: 30.0, reference=[str(tmp_path / "ref")])[0] == 1
    assert under(str(tmp_path / "ref" / "small.jpg"), [str(tmp_path / "real")])


def test_band_ratio_tells_a_blurred_copy(originals) -> None:
    img, _ = originals["03_chelsea.jpg"]
    grey = np.asarray(img.convert("L"), np.float32)
    blurred = np.asarray(img.convert("L").filter(ImageFilter.GaussianBlur(2)), np.float32)
    assert band_ratio(blurred, 2.0) < 0.6 * band_ratio(grey, 2.0)


def test_features_found_ahead_on_threads_are_the_ones_found_lazily(originals, tmp_path: Path) -> None:
    """``extract_many`` (the duplicate search's look-ahead on every core) gives each photo
    the features ``features`` would, caches them, records an unreadable photo's reason,
    and leaves OpenCV's thread count as it found it."""
    import threading

    import cv2

    img, _ = originals["05_coffee.jpg"]
    paths = [_save(img, tmp_path / "a.jpg"), _save(EDITS["resize50"](img), tmp_path / "b.jpg"),
             _save(EDITS["mirror"](img), tmp_path / "c.jpg"), tmp_path / "broken.jpg"]
    paths[3].write_bytes(b"\xff\xd8 not a photo")
    threads: set[str] = set()

    def recording(path: str) -> LocalFeatures:
        threads.add(threading.current_thread().name)
        return extract(path)

    cache = FeatureCache(tmp_path / "cache.sqlite3")
    hashes = ["ha", "hb", "hc", "hd"]
    ahead = LocalCheck([str(p) for p in paths], [1, 2, 3, 4], hashes, cache, recording)
    before = cv2.getNumThreads()
    assert [ahead.needs_extraction(i) for i in range(4)] == [True] * 4
    assert ahead.extract_many(range(4), workers=2) == 3
    assert cv2.getNumThreads() == before
    assert threads and all(name.startswith("local-features") for name in threads)
    assert 3 in ahead.reasons and ahead.features(3) is None
    assert not any(ahead.needs_extraction(i) for i in range(4))  # nothing left to make
    lazy = LocalCheck([str(p) for p in paths], [1, 2, 3, 4], ["x", "y", "z", "w"])
    for i in range(3):
        a, b = ahead.features(i), lazy.features(i)
        assert np.array_equal(a.xy, b.xy) and np.array_equal(a.descriptors, b.descriptors)
    assert ahead.copies(0, 1) and ahead.copies(0, 2)
    ahead.flush()
    assert cache.size()[0] == 3  # made ahead, cached like the rest
    again = LocalCheck([str(p) for p in paths], [1, 2, 3, 4], hashes, cache, recording)
    assert [again.needs_extraction(i) for i in range(3)] == [False] * 3  # read back from the cache
    blocking = ahead.blocking([0, 1, 3])
    assert blocking[0] is not None and blocking[2] is None  # the broken file has no evidence
    gone = LocalCheck([str(tmp_path / "gone.jpg")] * 4, [1, 2, 3, 4], hashes, cache)
    assert gone.blocking([0, 1]) == blocking[:2]  # cached by content: no file needed
    cache.close()


def test_finding_features_ahead_stops_when_cancelled(originals, tmp_path: Path) -> None:
    from imgfinder.core.progress import CancelToken, Cancelled

    img, _ = originals["07_rocket.jpg"]
    paths = [_save(img.rotate(3 * k), tmp_path / f"{k}.jpg") for k in range(6)]
    token = CancelToken()
    made: list[str] = []

    def cancelling(path: str) -> LocalFeatures:
        made.append(path)
        token.cancel()
        return extract(path)

    check = LocalCheck([str(p) for p in paths], list(range(6)), [None] * 6, None, cancelling)
    with pytest.raises(Cancelled):
        check.extract_many(range(6), workers=2, cancel=token)
    assert len(made) < 6


def test_a_fine_re_save_of_a_coarse_original_is_not_kept_over_it(originals, tmp_path: Path) -> None:
    """A web original at quality 70, mirrored or turned and saved again at quality 92: the
    copies have the finer JPEG tables but still the original's 8 x 8 blocking
    (``jpeg_quality``), so they count as coarse as it and the older original is kept.
    A copy saved coarsely from a fine original is still ranked below it, even when older."""
    from imgfinder.core.jpeg_quality import blockiness, file_blockiness

    for name, (img, _) in originals.items():
        folder = tmp_path / name
        folder.mkdir()
        original = _save(img, folder / "original.jpg", 70)
        coarse = Image.open(original).convert("RGB")
        paths = [original, _save(ImageOps.mirror(coarse), folder / "mirror.jpg", 92),
                 _save(coarse.rotate(90, expand=True), folder / "turned.jpg", 92)]
        rows = _rows(paths)  # the original is the oldest
        check = LocalCheck([r.path for r in rows], [r.id for r in rows], [r.hash for r in rows])
        assert all(check.copies(0, k) for k in (1, 2)), name
        order = rank_group([0, 1, 2], rows, check.proof, lambda i: 30.0, features=check.features,
                           blocking=check.blocking)
        assert order[0] == 0, (name, [paths[i].name for i in order])
        # Without the pixels' evidence the finer tables would win: the test tells.
        assert rank_group([0, 1, 2], rows, check.proof, lambda i: 30.0, features=check.features)[0] != 0, name

        fine = _save(img, folder / "fine.jpg", 95)
        paths = [_save(img, folder / "coarse_copy.jpg", 40), fine]  # the coarse copy is older
        rows = _rows(paths)
        check = LocalCheck([r.path for r in rows], [0, 1], [None, None])
        assert check.copies(0, 1)
        assert rank_group([0, 1], rows, check.proof, lambda i: 30.0, features=check.features,
                          blocking=check.blocking)[0] == 1, name
        assert file_blockiness(str(paths[0])) > 2 * file_blockiness(str(fine))
    assert blockiness(np.zeros((64, 64), np.uint8)) == 0.0
    assert file_blockiness(str(tmp_path / "missing.jpg")) is None


def test_a_lossless_copy_ties_with_the_finest_jpeg_as_it_counts_after_inherited_blocking() -> None:
    """The four groups of benchmarks/copies_hard.py that kept a PNG copy: the quality-95
    original's own faint blocking reads as half a quality-90 copy's, so it counts as coarse
    as that copy; a PNG copy without any blocking kept the finest tables it had borrowed and
    won. It ties with the finest JPEG as counted now, and the EXIF and age decide."""
    from imgfinder.core.keeper import KeeperFacts, _inherited_coarseness

    facts = {0: KeeperFacts(row=None, coarseness=369.0), 1: KeeperFacts(row=None, coarseness=736.0),
             2: KeeperFacts(row=None, coarseness=369.0, lossless=True)}
    blocks = {0: 0.224, 1: 0.42, 2: 0.003}
    _inherited_coarseness([0, 1, 2], facts, lambda rows: [blocks[i] for i in rows])
    assert [facts[i].coarseness for i in range(3)] == [736.0, 736.0, 736.0]
    # A lossless file that itself shows a coarse file's blocking keeps that coarseness.
    facts = {0: KeeperFacts(row=None, coarseness=3000.0), 1: KeeperFacts(row=None, coarseness=736.0),
             2: KeeperFacts(row=None, coarseness=736.0, lossless=True)}
    blocks = {0: 1.2, 1: 0.1, 2: 1.1}
    _inherited_coarseness([0, 1, 2], facts, lambda rows: [blocks[i] for i in rows])
    assert [facts[i].coarseness for i in range(3)] == [3000.0, 736.0, 3000.0]
