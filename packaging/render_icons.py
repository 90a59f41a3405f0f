"""Render the app icon (resources/icons/imgfinder.svg) to the PNG sizes of the hicolor theme.

    python packaging/render_icons.py        # writes packaging/icons/hicolor/<N>x<N>/apps/<id>.png

The PNGs are committed (desktops that cannot draw SVG icons, the frozen app's executable
icon); run this again after changing the SVG. It uses the QtSvg of the PySide6 the app
already depends on, offscreen, so it needs no display and no extra package.
tests/test_packaging.py checks that every size exists with its pixel size.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "resources" / "icons" / "imgfinder.svg"
APP_ID = "io.github.imgfinder.imgfinder"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
_app = None


def icon_path(size: int, root: Path = HERE / "icons") -> Path:
    return root / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"


def render(source: Path = SOURCE, root: Path = HERE / "icons") -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    global _app
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # QPainter needs one, kept alive
    renderer = QSvgRenderer(str(source))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {source}")
    written = []
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = icon_path(size, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path), "PNG"):
            raise SystemExit(f"cannot write {path}")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in render():
        print(p.relative_to(HERE.parent))
