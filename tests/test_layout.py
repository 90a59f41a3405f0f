"""Pixel-layout verification: edited copies line up, other parts of one scene do not."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photo_versions import rows_with_layouts, shots_with_versions
from imgfinder.core.catalog import SCHEMA_VERSION, Catalog, FileRecord
from imgfinder.core.decoder import decode_for_model
from imgfinder.core.duplicates import DuplicateFinder
from imgfinder.core.layout import (
    SIDE, Layout, LayoutVerifier, layout_signature, match, signature_from_bytes, signature_to_bytes,
)
from imgfinder.model.edits import BENCHMARK_EDITS


def _pixels(img: Image.Image, size: int = 160) -> np.ndarray:
    return np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))


def _layout(img: Image.Image) -> Layout:
    return Layout(layout_signature(_pixels(img)))


@pytest.fixture(scope="module")
def scenes(photos_dir: Path) -> list[Image.Image]:
    photos = sorted(photos_dir.glob("*.jpg"))[:6]
    out = []
    for p in photos:
        with Image.open(p) as img:
            img = img.convert("RGB")
            img.thumbnail((800, 800))
            out.append(img)
    return out


def test_signature_round_trip_and_frame_trim() -> None:
    rng = np.random.default_rng(0)
    pic = rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)
    sig = layout_signature(_pixels(Image.fromarray(pic)))
    assert sig.shape == (SIDE, SIDE) and sig.dtype == np.uint8
    np.testing.assert_array_equal(signature_from_bytes(signature_to_bytes(sig)), sig)
    with pytest.raises(ValueError):
        signature_from_bytes(b"short")
    # A white frame on all sides is trimmed; a white band on one side only is picture.
    framed = np.full((160, 160, 3), 255, np.uint8)
    framed[16:144, 16:144] = np.asarray(Image.fromarray(pic).resize((128, 128)))
    diff = np.abs(layout_signature(framed).astype(int) - sig.astype(int))
    assert diff.mean() < 12
    one_sided = framed.copy()
    one_sided[:, 16:] = np.asarray(Image.fromarray(pic).resize((144, 160)))
    assert np.abs(layout_signature(one_sided).astype(int) - sig.astype(int)).mean() > 12


@pytest.mark.parametrize("edit", sorted(BENCHMARK_EDITS))
def test_every_benchmark_edit_verifies(scenes: list[Image.Image], edit: str) -> None:
    verifier_ok = 0
    for img in scenes:
        a, b = _layout(img), _layout(BENCHMARK_EDITS[edit](img))
        m = match(a, b)
        verifier_ok += m.score >= 0.65 and m.coarse >= 0.85
    assert verifier_ok >= len(scenes) - 1, edit


def test_other_part_of_the_scene_and_other_photos_do_not_verify(scenes: list[Image.Image]) -> None:
    passed = 0
    total = 0
    for img in scenes:
        w, h = img.size
        left = img.crop((0, 0, int(w * 0.45), int(h * 0.85)))
        right = img.crop((w - int(w * 0.45), h - int(h * 0.85), w, h))
        m = match(_layout(left), _layout(right))
        passed += m.score >= 0.65 and m.coarse >= 0.85
        total += 1
    for a, b in zip(scenes, scenes[1:]):
        m = match(_layout(a), _layout(b))
        passed += m.score >= 0.65 and m.coarse >= 0.85
        total += 1
    assert passed == 0, f"{passed} of {total} different pictures verified as the same"


def test_rotation_and_mirror_are_found_with_their_transform(scenes: list[Image.Image]) -> None:
    img = scenes[0]
    base = _layout(img)
    seen = set()
    for turned in (img.rotate(90, expand=True), img.rotate(180), img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)):
        m = match(base, _layout(turned))
        assert m.score > 0.9
        seen.add(m.dihedral)
    assert len(seen) == 3


def test_verifier_without_signatures_trusts_the_embedding() -> None:
    verifier = LayoutVerifier([None, None])
    assert verifier.same_picture(0, 1) and verifier.checked == 0


def test_duplicate_finder_splits_two_shots_of_one_scene(tmp_path: Path, scenes: list[Image.Image]) -> None:
    """Embeddings that call everything one picture (all vectors equal): the layouts keep
    two shots of one scene apart and the copies together."""
    files = shots_with_versions(scenes[1], ("original", "jpeg50", "rot90", "crop80"), tmp_path)
    rows, layouts = rows_with_layouts(files)
    vectors = np.ones((len(rows), 4), np.float32) / 2
    finder = DuplicateFinder(rows, vectors, layouts=layouts)
    finder._pairs = [(i, j, 1.0) for i in range(len(rows)) for j in range(i + 1, len(rows))]
    groups = finder.groups(0.9)
    got = sorted(sorted(Path(m.row.path).name[0] for m in g.members) for g in groups)
    assert got == [["0"] * 4, ["1"] * 4]
    # Without layouts the same vectors make one group of everything.
    plain = DuplicateFinder(rows, vectors)
    plain._pairs = finder._pairs
    assert [len(g.members) for g in plain.groups(0.9)] == [8]


def test_catalog_stores_layouts_and_migrates_from_v2(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    with Catalog(db) as cat:
        cat.write_batch([FileRecord("/a.jpg", 1, 1, "h", 2, 2, np.ones(3, np.float32), layout=b"x" * SIDE * SIDE)], "m")
        (row,) = cat.rows()
        assert cat.layouts([row.id]) == {row.id: b"x" * SIDE * SIDE}
        assert cat.known_content("h", "m").layout == b"x" * SIDE * SIDE
    # A version-2 catalog (no layout column) gains it and keeps its rows.
    conn = sqlite3.connect(db)
    conn.executescript(
        "ALTER TABLE files DROP COLUMN layout; ALTER TABLE files DROP COLUMN descriptor; "
        "ALTER TABLE files DROP COLUMN feature_id; ALTER TABLE files DROP COLUMN chroma; DROP TABLE photo_meta; "
        "ALTER TABLE file_actions DROP COLUMN hash; ALTER TABLE file_actions DROP COLUMN size; "
        "ALTER TABLE file_actions DROP COLUMN state; "
        "PRAGMA user_version=2;"
    )
    conn.close()
    with Catalog(db) as cat:
        assert cat.schema_version == SCHEMA_VERSION and cat.count() == 1
        assert cat.layouts([r.id for r in cat.rows()]) == {}
        # v4: the descriptor (both vectors are made from it) arrives empty, so the next
        # index run decodes these files once more; afterwards a new head needs no decoding.
        assert cat.states()["/a.jpg"].feature_id is None
        assert len(cat.descriptors("m")[0]) == 0


def test_the_model_sees_a_framed_copy_like_its_original(tmp_path: Path, scenes: list[Image.Image]) -> None:
    """A border added around a copy (any colour) is cut away before the model's squeeze,
    so the copy's pixels are the original's (to a pixel of alignment: the frame is found
    at 160 px); a photo without a frame is left whole."""
    from PIL import ImageOps

    original = scenes[0]
    plain = decode_for_model("o.jpg", 160, data=_jpeg(original)).pixels.astype(int)
    for colour in ((255, 255, 255), (0, 0, 0)):
        framed = ImageOps.expand(original, border=(original.width // 10, original.height // 10), fill=colour)
        pixels = decode_for_model("f.jpg", 160, data=_jpeg(framed)).pixels.astype(int)
        squeezed = np.asarray(framed.resize((160, 160), Image.Resampling.BILINEAR)).astype(int)
        assert np.abs(pixels - plain).mean() < 0.3 * np.abs(squeezed - plain).mean(), colour
        assert not (pixels[:2] == colour).all(axis=-1).all(), "rows of frame left at the top"
    unframed = decode_for_model("o.jpg", 160, data=_jpeg(original)).pixels
    whole = np.asarray(original.resize((160, 160), Image.Resampling.BILINEAR)).astype(int)
    assert np.abs(unframed.astype(int) - whole).mean() < 4


def test_a_flat_picture_is_no_frame() -> None:
    """Uniform lines that end without an edge (a grey wall, noise averaged down) are
    picture: nothing is cut."""
    from imgfinder.core.layout import frame_fractions

    rng = np.random.default_rng(3)
    flat = np.clip(128 + rng.normal(0, 2, (160, 160, 3)), 0, 255).astype(np.uint8)
    assert frame_fractions(flat) is None
    framed = np.full((160, 160, 3), 255, np.uint8)
    framed[20:140, 16:144] = rng.integers(0, 200, (120, 128, 3), dtype=np.uint8)
    assert frame_fractions(framed) == (16 / 160, 20 / 160, 144 / 160, 140 / 160)


def _jpeg(img: Image.Image) -> bytes:
    import io

    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()
