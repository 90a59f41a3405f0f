"""A greyscale copy of a colour photo: told apart by its chroma, compared more leniently."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from imgfinder.core.decoder import chroma, decode_for_model
from imgfinder.core.duplicates import GREY_PAIR_SLACK, GREYSCALE_CHROMA, DuplicateFinder
from imgfinder.core.grouping import complete_linkage_groups
from imgfinder.core.library import Library


def _jpeg(img: Image.Image, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    img.convert(mode).save(out, "JPEG", quality=90)
    return out.getvalue()


def test_chroma_tells_greyscale_from_colour(photo_paths: list[Path]) -> None:
    with Image.open(photo_paths[0]) as img:
        img = img.convert("RGB")
    colour = decode_for_model("c.jpg", 160, data=_jpeg(img)).chroma
    grey_rgb = decode_for_model("g.jpg", 160, data=_jpeg(ImageOps.grayscale(img).convert("RGB"))).chroma
    grey_l = decode_for_model("l.jpg", 160, data=_jpeg(img, "L")).chroma
    assert grey_l == 0.0 and grey_rgb <= GREYSCALE_CHROMA < 10 < colour
    assert chroma(np.full((4, 4, 3), 9, np.uint8)) == 0.0


def _unit(*angles: float) -> np.ndarray:
    a = np.radians(angles)
    return np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)


def test_a_colour_and_a_greyscale_photo_are_compared_more_leniently() -> None:
    v = _unit(0, 38)  # cosine 0.788: a greyscale copy of a very colourful photo
    pairs = [(0, 1, float(v[0] @ v[1]))]
    lines_up = lambda i, j: True  # noqa: E731
    assert complete_linkage_groups(v, pairs, 0.85, same_picture=lines_up) == []
    mixed = np.array([False, True])
    assert complete_linkage_groups(v, pairs, 0.85, same_picture=lines_up, greyscale=mixed,
                                   grey_slack=GREY_PAIR_SLACK) == [[0, 1]]
    # Two greyscale photos (or two colour ones) get no allowance: nothing was lost between them.
    both = np.array([True, True])
    assert complete_linkage_groups(v, pairs, 0.85, same_picture=lines_up, greyscale=both,
                                   grey_slack=GREY_PAIR_SLACK) == []
    # The pixel check still decides.
    assert complete_linkage_groups(v, pairs, 0.85, same_picture=lambda i, j: False, greyscale=mixed,
                                   grey_slack=GREY_PAIR_SLACK) == []


def test_the_catalog_keeps_each_photos_chroma_for_the_finder(tmp_path: Path, fake_embedder, photo_paths) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    with Image.open(photo_paths[0]) as img:
        img = img.convert("RGB")
        img.thumbnail((400, 400))
    (folder / "colour.jpg").write_bytes(_jpeg(img))
    (folder / "grey.jpg").write_bytes(_jpeg(ImageOps.grayscale(img).convert("RGB")))
    with Library(tmp_path / "data", fake_embedder) as lib:
        list(lib.indexer(batch_size=4, workers=1).run([str(folder)]))
        finder = lib.duplicate_finder()
    flags = {Path(r.path).name: bool(g) for r, g in zip(finder.rows, finder.greyscale)}
    assert flags == {"colour.jpg": False, "grey.jpg": True}
    assert isinstance(finder, DuplicateFinder)
