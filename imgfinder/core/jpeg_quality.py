"""How finely a file's picture was really compressed: its JPEG tables, and the blocking
its pixels show.

Why both: a JPEG's quantisation tables say how the *last* save quantised, not what the
picture went through before. A web original at quality 75, mirrored and saved again at
quality 90, has the finer tables of the two files and no more detail: it still carries
the original's 8 x 8 blocking (at a shifted phase after a mirror or a turn). So a file
counts as finer than another only if its pixels are also clearly less blocky
(``core.keeper``; the figures are at ``keeper.INHERITED``).

Pure numpy and Pillow; no Qt.
"""

from __future__ import annotations

import numpy as np

BLOCK = 8  # a JPEG's block side


def jpeg_coarseness(path: str) -> float | None:
    """Sum of the luminance quantisation table (lower: finer, a higher JPEG quality);
    None for a file that is not a JPEG."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            tables = getattr(img, "quantization", None)
            if img.format != "JPEG" or not tables:
                return None
            return float(sum(tables.get(0, next(iter(tables.values())))))
    except Exception:  # noqa: BLE001
        return None


def blockiness(grey: np.ndarray) -> float:
    """How much stronger the steps between neighbouring pixels are at the strongest phase
    of an 8-pixel grid than at the median phase, averaged over columns and rows (0: no grid).
    The strongest phase counts, wherever it lies: a mirrored or turned copy of a JPEG
    has the first save's grid shifted."""
    g = np.asarray(grey)
    found = []
    for axis in (1, 0):
        if g.shape[axis] < 4 * BLOCK or g.shape[1 - axis] < 2:
            continue
        # Every other line across the steps is enough for a profile along them (and
        # halves the time of a full-size picture).
        lines = g[::2].astype(np.int16) if axis == 1 else g[:, ::2].astype(np.int16)
        steps = np.abs(np.diff(lines, axis=axis)).mean(axis=1 - axis)
        n = len(steps) // BLOCK * BLOCK
        phases = steps[:n].reshape(-1, BLOCK).mean(axis=0)
        # Against the median phase, not the mean of the rest: a re-save of a mirrored
        # JPEG has two grids (its own and the first save's, shifted), two strong phases.
        middle = float(np.median(phases))
        found.append(float(phases.max()) / middle - 1.0 if middle > 1e-6 else 0.0)  # flat: no grid
    return float(np.mean(found)) if found else 0.0


def file_blockiness(path: str) -> float | None:
    """``blockiness`` of the file's grey picture at full size (the grid is only seen
    unscaled: a JPEG is decoded grey, without DCT scaling); None when unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.format == "JPEG":
                img.draft("L", img.size)  # grey decode, no scaling: about half the time
            return blockiness(np.asarray(img.convert("L")))
    except Exception:  # noqa: BLE001 - an unreadable file has no evidence
        return None
