"""The app's SVG icons from ``resources/icons`` (one place knows where they live)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QIcon

ICON_DIR = Path(__file__).resolve().parent.parent.parent / "resources" / "icons"


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """``resources/icons/<name>.svg`` as a QIcon (empty icon if missing, never a crash)."""
    path = ICON_DIR / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def app_icon() -> QIcon:
    ico = QIcon(str(ICON_DIR / "imgfinder.svg"))
    png = ICON_DIR / "imgfinder.png"
    if png.exists():
        ico.addFile(str(png))
    return ico
