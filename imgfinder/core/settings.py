"""The library's shared choices (folders, reference folders, threshold, which copy to keep,
thumbnail size, sort order), one store read by the app and the CLI alike, without Qt.

A small JSON file in the data folder, written to a temporary name and ``os.replace``d, so a
kill never leaves half of it. Each data folder has its own (tests on a temporary data folder
never touch the user's). What only the window needs (its geometry) stays in the app's
QSettings file. A data folder from before this store has the choices in that INI file
(``gui-settings.ini``, Qt's format): they are read from it once, without Qt, and kept here.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .duplicates import DEFAULT_THRESHOLD, KeepPreference

SETTINGS_FILE = "settings.json"
LEGACY_INI = "gui-settings.ini"  # the app's QSettings file, which held these before
DEFAULT_THUMB = 160
THUMB_RANGE = (64, 320)
SORT_KEYS = ("name", "size", "date")
FORMAT = 1

# INI key -> (our key, kind) for what is read from the app's old QSettings file.
_LEGACY_KEYS = {
    ("library", "folders"): ("folders", "list"),
    ("library", "reference_folders"): ("reference_folders", "list"),
    ("duplicates", "threshold"): ("threshold", "text"),
    ("duplicates", "keep"): ("keep_preference", "text"),
    ("view", "thumb_size"): ("thumb_size", "text"),
    ("view", "sort"): ("sort_key", "text"),
}


class SettingsError(OSError):
    """The settings file exists but cannot be read or written (said with its path)."""


class Settings:
    """The shared choices of one data folder. Reading a missing or damaged file gives the
    defaults (a damaged one is kept aside, never overwritten unread); every change is saved
    at once."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / SETTINGS_FILE
        self.notes: list[str] = []  # what reading found wrong (a damaged file set aside)
        self._values: dict[str, Any] = self._load()

    # -- reading -----------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return self._migrated()
        except OSError as exc:  # a folder in its place, no permission: the defaults, said
            self.notes.append(f"cannot read {self.path} ({exc.strerror or exc}); the defaults are used")
            return {}
        try:
            values = json.loads(raw.decode("utf-8"))
            if not isinstance(values, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError) as exc:
            aside = self.path.with_name(f"{SETTINGS_FILE}.damaged")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            self.notes.append(f"{self.path} could not be read ({exc}); it was set aside as {aside.name} "
                              "and the defaults are used")
            return {}
        return values

    def _migrated(self) -> dict[str, Any]:
        """The choices the app kept in its QSettings INI before this store, if any."""
        ini = self.data_dir / LEGACY_INI
        try:
            text = ini.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return {}
        values: dict[str, Any] = {}
        ini_values = read_ini(text)
        for (section, key), (ours, kind) in _LEGACY_KEYS.items():
            raw = ini_values.get((section, key))
            if raw is None:
                continue
            items = qt_ini_list(raw)
            if items is None:
                continue
            values[ours] = items if kind == "list" else (items[0] if items else "")
        return values

    def _get(self, key: str, default: Any) -> Any:
        return self._values.get(key, default)

    # -- writing -----------------------------------------------------------------------------
    def _set(self, key: str, value: Any) -> None:
        """Change one choice: the file is read again first, so what another process (the
        CLI's ``forget``, a second window) changed meanwhile in other keys is kept."""
        with contextlib.suppress(SettingsError):
            if self.path.exists():
                self._values = self._load()
        if key in self._values and self._values[key] == value:
            return  # unchanged (the window closing as it was): nothing to write
        self._values[key] = value
        self.save()

    def save(self) -> None:
        """Write the file atomically (a temporary name in the data folder, then replaced)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        data = dict(self._values, format=FORMAT)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=self.data_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise SettingsError(f"cannot save {self.path}: {exc.strerror or exc}") from exc

    # -- the choices -------------------------------------------------------------------------
    def _paths(self, key: str) -> list[str]:
        value = self._get(key, [])
        if isinstance(value, str):
            return [value] if value else []
        return [str(v) for v in value] if isinstance(value, list) else []

    @property
    def folders(self) -> list[str]:
        return self._paths("folders")

    @folders.setter
    def folders(self, value: list[str]) -> None:
        self._set("folders", [str(v) for v in value])

    @property
    def reference_folders(self) -> list[str]:
        return self._paths("reference_folders")

    @reference_folders.setter
    def reference_folders(self, value: list[str]) -> None:
        self._set("reference_folders", [str(v) for v in value])

    @property
    def threshold(self) -> float:
        try:
            value = float(self._get("threshold", DEFAULT_THRESHOLD))
        except (TypeError, ValueError):
            return DEFAULT_THRESHOLD
        return value if 0.0 < value <= 1.0 else DEFAULT_THRESHOLD

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._set("threshold", float(value))

    @property
    def keep_preference(self) -> KeepPreference:
        try:
            return KeepPreference(str(self._get("keep_preference", KeepPreference.BEST_PIXELS.value)))
        except ValueError:
            return KeepPreference.BEST_PIXELS

    @keep_preference.setter
    def keep_preference(self, value: KeepPreference) -> None:
        self._set("keep_preference", KeepPreference(value).value)

    @property
    def thumb_size(self) -> int:
        try:
            return max(THUMB_RANGE[0], min(THUMB_RANGE[1], int(self._get("thumb_size", DEFAULT_THUMB))))
        except (TypeError, ValueError):
            return DEFAULT_THUMB

    @thumb_size.setter
    def thumb_size(self, value: int) -> None:
        self._set("thumb_size", int(value))

    @property
    def sort_key(self) -> str:
        value = str(self._get("sort_key", "name"))
        return value if value in SORT_KEYS else "name"

    @sort_key.setter
    def sort_key(self, value: str) -> None:
        self._set("sort_key", str(value))


# -- Qt's INI format, read without Qt (for the one-time migration) ---------------------------
def read_ini(text: str) -> dict[tuple[str, str], str]:
    """(section, key) -> raw value of a QSettings INI file (keys as written: ours are plain)."""
    out: dict[tuple[str, str], str] = {}
    section = "General"
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith((";", "#")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            continue
        key, sep, value = line.partition("=")
        if sep:
            out[(section, key.strip())] = value.strip()
    return out


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\", '"': '"', "'": "'", "?": "?", ";": ";", ",": ",", "=": "="}


def qt_ini_list(raw: str) -> list[str] | None:
    """A QSettings INI value as the strings it holds (one or a list): pieces split at
    commas outside quotes, spaces outside quotes dropped, Qt's backslash escapes undone.
    None for what is no string (``@Invalid()`` is an empty list; ``@ByteArray`` and
    ``@Variant`` values are not ours)."""
    if raw == "@Invalid()":
        return []
    if raw.startswith("@") and not raw.startswith("@@"):
        return None
    pieces: list[str] = []
    current: list[str] = []
    pending: list[str] = []  # spaces outside quotes: kept only if more of the piece follows
    quoted = False

    def add(text: str) -> None:
        current.extend(pending)
        pending.clear()
        current.append(text)

    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            j = i + 2
            if nxt == "x":
                while j < len(raw) and j < i + 6 and raw[j] in "0123456789abcdefABCDEF":
                    j += 1
                if j > i + 2:
                    add(chr(int(raw[i + 2:j], 16)))
                    i = j
                    continue
            if nxt in "01234567":
                j = i + 1
                while j < len(raw) and j < i + 4 and raw[j] in "01234567":
                    j += 1
                add(chr(int(raw[i + 1:j], 8)))
                i = j
                continue
            add(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        if c == '"':
            quoted = not quoted
            current.extend(pending)
            pending.clear()
        elif quoted:
            add(c)
        elif c == ",":
            pieces.append("".join(current))
            current.clear()
            pending.clear()
        elif c in " \t":
            if current:
                pending.append(c)
        else:
            add(c)
        i += 1
    pieces.append("".join(current))
    return [p[1:] if p.startswith("@@") else p for p in pieces]  # Qt writes a leading @ twice
