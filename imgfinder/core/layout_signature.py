"""The layout signature a photo stores (64 x 64 grey, 4 KB) and the frame cut away before
it and before the model: a flat border or letterbox found as rows and columns close to the
frame's colour."""

from __future__ import annotations

import numpy as np
from PIL import Image

SIDE = 64  # stored signature: SIDE x SIDE grey uint8


_GREY = np.array([0.299, 0.587, 0.114], np.float32)


BORDER_TOLERANCE = 8.0  # grey levels: a row/column this close to the frame colour is border


MAX_BORDER = 0.3  # at most this fraction of a side is trimmed as border


def content_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the picture inside a uniform frame (a padded copy's
    border, letterboxing), so the frame's sharp edge is never compared as detail.

    Only a *frame* is trimmed: uniform bands of one colour and similar width on two
    opposite sides. A one-sided band (a blown-out sky, a white wall at one edge) is
    part of the picture.
    """
    n0, n1 = grey.shape

    def band(lines: np.ndarray, limit: int) -> tuple[int, float]:
        colour = float(np.median(lines[0]))

        def off(line: np.ndarray) -> np.ndarray:
            return np.abs(line - colour)

        k = 0
        while k < limit and float(off(lines[k]).max()) <= BORDER_TOLERANCE:
            k += 1
        if not k:
            return 0, colour
        # Lines that are frame but for JPEG ringing or the blend of frame and picture that
        # resizing makes: frame on average.
        while k < limit and float(off(lines[k]).mean()) <= BORDER_TOLERANCE / 2:
            k += 1
        # A frame ends at an edge: within two lines (one may still blend frame and
        # picture) the picture differs from the frame's colour on average, not only
        # somewhere. Why: a flat or smoothed picture (a grey wall, noise averaged down)
        # has uniform lines too, and is no frame.
        if max(float(off(line).mean()) for line in lines[k : k + 2]) <= BORDER_TOLERANCE:
            return 0, colour
        return k, colour

    def pair(lines: np.ndarray) -> tuple[int, int]:
        n = lines.shape[0]
        limit = int(n * MAX_BORDER)
        a, ca = band(lines, limit)
        b, cb = band(lines[::-1], limit)
        if a and b and abs(ca - cb) <= BORDER_TOLERANCE and abs(a - b) <= max(2, 0.25 * max(a, b)):
            return a, n - b
        return 0, n

    top, bottom = pair(grey)
    left, right = pair(grey.T)
    return top, bottom, left, right


def frame_fractions(pixels: np.ndarray) -> tuple[float, float, float, float] | None:
    """(left, top, right, bottom) of the picture inside a uniform frame, as fractions of
    the ``pixels``' (H, W, 3) sides; None when there is no frame (``content_box``)."""
    grey = np.asarray(pixels, dtype=np.float32) @ _GREY
    top, bottom, left, right = content_box(grey)
    h, w = grey.shape
    if (top, bottom, left, right) == (0, h, 0, w):
        return None
    return left / w, top / h, right / w, bottom / h


def layout_signature(pixels: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 RGB (the model's square input) -> (SIDE, SIDE) grey uint8 of the
    picture without any uniform frame around it."""
    grey = np.asarray(pixels, dtype=np.float32) @ _GREY
    top, bottom, left, right = content_box(grey)
    grey = np.ascontiguousarray(grey[top:bottom, left:right])
    small = Image.fromarray(grey, "F").resize((SIDE, SIDE), Image.Resampling.BOX)
    return np.clip(np.asarray(small) + 0.5, 0, 255).astype(np.uint8)


def signature_to_bytes(signature: np.ndarray) -> bytes:
    return np.ascontiguousarray(signature, dtype=np.uint8).tobytes()


def signature_from_bytes(raw: bytes) -> np.ndarray:
    if len(raw) != SIDE * SIDE:
        raise ValueError(f"layout signature has {len(raw)} bytes, expected {SIDE * SIDE}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(SIDE, SIDE)
