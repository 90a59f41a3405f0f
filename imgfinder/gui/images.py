"""PIL -> QImage conversion, safe in worker threads (QImage, unlike QPixmap, is not tied
to the GUI thread), so workers hand finished images to the GUI thread."""

from __future__ import annotations

from PIL import Image
from PySide6.QtGui import QImage


def pil_to_qimage(img: Image.Image) -> QImage:
    """A deep-copied QImage of an RGB or RGBA PIL image (owns its pixels)."""
    if img.mode == "RGBA":
        data = img.tobytes("raw", "RGBA")
        qimg = QImage(data, img.width, img.height, img.width * 4, QImage.Format.Format_RGBA8888)
    else:
        if img.mode != "RGB":
            img = img.convert("RGB")
        data = img.tobytes("raw", "RGB")
        qimg = QImage(data, img.width, img.height, img.width * 3, QImage.Format.Format_RGB888)
    return qimg.copy()  # detach from ``data``, which Python may free
