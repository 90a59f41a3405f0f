"""Settings that persist between runs (folders, threshold, thumbnail size, geometry).

Stored as an INI file in the data folder, so each library has its own settings and
tests using a temporary data folder never touch the user's.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from ..core.duplicates import DEFAULT_THRESHOLD, KeepPreference

SETTINGS_NAME = "gui-settings.ini"
DEFAULT_THUMB = 160


class AppSettings:
    def __init__(self, data_dir: Path) -> None:
        self._s = QSettings(str(Path(data_dir) / SETTINGS_NAME), QSettings.Format.IniFormat)

    def _list(self, key: str) -> list[str]:
        value = self._s.value(key, [])
        if isinstance(value, str):
            return [value] if value else []
        return [str(v) for v in value or []]

    @property
    def folders(self) -> list[str]:
        return self._list("library/folders")

    @folders.setter
    def folders(self, value: list[str]) -> None:
        self._s.setValue("library/folders", list(value))

    @property
    def reference_folders(self) -> list[str]:
        return self._list("library/reference_folders")

    @reference_folders.setter
    def reference_folders(self, value: list[str]) -> None:
        self._s.setValue("library/reference_folders", list(value))

    @property
    def threshold(self) -> float:
        try:
            return float(self._s.value("duplicates/threshold", DEFAULT_THRESHOLD))
        except (TypeError, ValueError):
            return DEFAULT_THRESHOLD

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._s.setValue("duplicates/threshold", float(value))

    @property
    def keep_preference(self) -> KeepPreference:
        """Which copy of a RAW + JPEG pair to keep (the duplicates view's "Keep" choice)."""
        try:
            return KeepPreference(str(self._s.value("duplicates/keep", KeepPreference.BEST_PIXELS.value)))
        except ValueError:
            return KeepPreference.BEST_PIXELS

    @keep_preference.setter
    def keep_preference(self, value: KeepPreference) -> None:
        self._s.setValue("duplicates/keep", KeepPreference(value).value)

    @property
    def thumb_size(self) -> int:
        try:
            return max(64, min(320, int(self._s.value("view/thumb_size", DEFAULT_THUMB))))
        except (TypeError, ValueError):
            return DEFAULT_THUMB

    @thumb_size.setter
    def thumb_size(self, value: int) -> None:
        self._s.setValue("view/thumb_size", int(value))

    @property
    def sort_key(self) -> str:
        return str(self._s.value("view/sort", "name"))

    @sort_key.setter
    def sort_key(self, value: str) -> None:
        self._s.setValue("view/sort", value)

    def geometry(self) -> QByteArray | None:
        value = self._s.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, geometry: QByteArray, state: QByteArray) -> None:
        self._s.setValue("window/geometry", geometry)
        self._s.setValue("window/state", state)

    def window_state(self) -> QByteArray | None:
        value = self._s.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def sync(self) -> None:
        self._s.sync()
