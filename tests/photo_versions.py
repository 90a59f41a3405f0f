"""Two shots of one scene, each in several edited versions, as catalog rows with their
layout signatures: the pixel-check tests' library (no model needed)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def shots_with_versions(img: Image.Image, edits: tuple[str, ...], folder: Path, prefix: str = "") -> list[Path]:
    """Two shots of one scene that share no pixels (left 45 % x top 85 %, right 45 % x
    bottom 85 %, as the quality benchmark cuts them), each saved in every version of
    ``edits`` ("original" or a ``BENCHMARK_EDITS`` name) as ``<prefix><shot>_<edit>.jpg``."""
    from imgfinder.model.edits import BENCHMARK_EDITS

    w, h = img.size
    shots = [img.crop((0, 0, int(w * 0.45), int(h * 0.85))), img.crop((w - int(w * 0.45), h - int(h * 0.85), w, h))]
    files = []
    for n, shot in enumerate(shots):
        for edit in edits:
            out = shot if edit == "original" else BENCHMARK_EDITS[edit](shot)
            path = folder / f"{prefix}{n}_{edit}.jpg"
            out.convert("RGB").save(path, quality=92)
            files.append(path)
    return files


def rows_with_layouts(files: list[Path]) -> tuple[list, list[bytes]]:
    """Catalog rows (ids 0, 1, ...) and layout signatures of ``files``, decoded as the indexer does."""
    from imgfinder.core.catalog import FileRow
    from imgfinder.core.decoder import decode_for_model

    decoded = [decode_for_model(str(f), 160) for f in files]
    rows = [FileRow(i, str(f), f.stat().st_size, 0, d.content_hash, 1, 1, None) for i, (f, d) in enumerate(zip(files, decoded))]
    return rows, [d.layout for d in decoded]
