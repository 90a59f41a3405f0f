"""The app's settings: the library's shared choices from the Qt-free core store
(``core.settings``: folders, reference folders, threshold, which copy to keep, thumbnail
size, sort order, read by the CLI too), and what only the window needs (its geometry and
state) in a QSettings INI file beside it. Both live in the data folder, so each library has
its own and tests on a temporary data folder never touch the user's."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from ..core.duplicates import KeepPreference
from ..core.settings import DEFAULT_THUMB, LEGACY_INI, Settings, SettingsError

SETTINGS_NAME = LEGACY_INI  # the window's QSettings file (it held every setting before)
__all__ = ["AppSettings", "DEFAULT_THUMB", "SETTINGS_NAME"]


class AppSettings:
    """The shared store's choices as properties, and the window's geometry."""

    def __init__(self, data_dir: Path) -> None:
        self.shared = Settings(data_dir)
        self._s = QSettings(str(Path(data_dir) / SETTINGS_NAME), QSettings.Format.IniFormat)
        self.problems: list[str] = list(self.shared.notes)  # what could not be read or saved

    def _save(self, name: str, value) -> None:
        """Set one shared choice; a file that cannot be written keeps it for this run and
        says why (``problems``), never an exception in a slot."""
        try:
            setattr(self.shared, name, value)
        except SettingsError as exc:
            self.problems.append(str(exc))

    @property
    def folders(self) -> list[str]:
        return self.shared.folders

    @folders.setter
    def folders(self, value: list[str]) -> None:
        self._save("folders", value)

    @property
    def reference_folders(self) -> list[str]:
        return self.shared.reference_folders

    @reference_folders.setter
    def reference_folders(self, value: list[str]) -> None:
        self._save("reference_folders", value)

    @property
    def threshold(self) -> float:
        return self.shared.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._save("threshold", value)

    @property
    def keep_preference(self) -> KeepPreference:
        return self.shared.keep_preference

    @keep_preference.setter
    def keep_preference(self, value: KeepPreference) -> None:
        self._save("keep_preference", value)

    @property
    def thumb_size(self) -> int:
        return self.shared.thumb_size

    @thumb_size.setter
    def thumb_size(self, value: int) -> None:
        self._save("thumb_size", value)

    @property
    def sort_key(self) -> str:
        return self.shared.sort_key

    @sort_key.setter
    def sort_key(self, value: str) -> None:
        self._save("sort_key", value)

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
