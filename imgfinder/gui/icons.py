"""The app's SVG icons, shipped in ``imgfinder.resources`` (the repository's ``resources/icons``)."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QIcon

from ..shipped import resource_path

ICON_DIR = resource_path("icons")


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """``icons/<name>.svg`` as a QIcon (empty icon if missing, never a crash)."""
    path = ICON_DIR / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def app_icon() -> QIcon:
    ico = QIcon(str(ICON_DIR / "imgfinder.svg"))
    png = ICON_DIR / "imgfinder.png"
    if png.exists():
        ico.addFile(str(png))
    return ico
