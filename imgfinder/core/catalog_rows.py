"""The rows the catalog hands out and takes (files, known content, journal entries) and
how each is stored: paths as bytes, vectors as float16 blobs, EXIF facts by column."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .catalog_schema import ACTIONS, DONE, PENDING, SKIPPED, UNDOING, UNDONE
from .photo_info import EXIF_FIELDS, PhotoInfo


def _enc(path: str) -> bytes:
    return os.fsencode(path)


def _dec(raw: bytes) -> str:
    return os.fsdecode(raw)


@dataclass(frozen=True)
class FileState:
    """What an incremental scan needs to decide whether a file must be read again."""

    id: int
    size: int
    mtime_ns: int
    model_id: str | None
    error: str | None
    feature_id: str | None = None  # set when a descriptor is stored


@dataclass(frozen=True)
class FileRow:
    id: int
    path: str
    size: int
    mtime_ns: int
    hash: str | None
    width: int | None
    height: int | None
    error: str | None


@dataclass(frozen=True)
class KnownContent:
    """An embedding already made for some bytes, reusable by any file with the same hash."""

    embedding: np.ndarray
    width: int | None
    height: int | None
    layout: bytes | None = None
    descriptor: np.ndarray | None = None
    chroma: float | None = None


@dataclass(frozen=True)
class FileRecord:
    """A freshly read file ready to be written; ``error`` set means it could not be read."""

    path: str
    size: int
    mtime_ns: int
    hash: str | None = None
    width: int | None = None
    height: int | None = None
    embedding: np.ndarray | None = None
    error: str | None = None
    layout: bytes | None = None
    descriptor: np.ndarray | None = None
    # The EXIF facts read with it (``metadata.image_info``); None: not read this time (a
    # resumed row keeps what it has), but a record with an ``error`` forgets them.
    info: PhotoInfo | None = None
    chroma: float | None = None  # ``decoder.chroma`` of the model's pixels (None: not known)


_META_COLUMNS = ", ".join(EXIF_FIELDS)


@dataclass
class JournalEntry:
    """One row of the undo journal; ``damage`` says why it cannot be trusted (or None)."""

    id: int
    batch: int
    action: str
    source: str
    destination: str | None
    hash: str | None
    size: int | None
    state: str
    undone: int
    damage: str | None = None


def _journal_entry(r: tuple) -> JournalEntry:
    """A row as an entry, checking every field: damage is reported, not raised."""
    i, batch, action, source, destination, content_hash, size, state, undone = r
    problems = []

    def path(value: object, what: str) -> str | None:
        if isinstance(value, bytes):
            try:
                text = _dec(value)
            except Exception:  # noqa: BLE001
                problems.append(f"its {what} cannot be read")
                return None
        elif isinstance(value, str):
            text = value
        else:
            problems.append(f"its {what} is missing" if value is None else f"its {what} is not a path")
            return None
        if "\0" in text or not os.path.isabs(text) or os.path.normpath(text) != text:
            problems.append(f"its {what} {text!r} is not a plain absolute path")
        return text

    src = path(source, "original path")
    dst = path(destination, "destination")
    if action not in ACTIONS:
        problems.append(f"its action {action!r} is unknown")
    if not isinstance(batch, int):
        problems.append("its batch number is damaged")
    if content_hash is not None and not (isinstance(content_hash, str) and len(content_hash) == 40
                                         and all(c in "0123456789abcdef" for c in content_hash)):
        problems.append("its content hash is damaged")
        content_hash = None
    if size is not None and not (isinstance(size, int) and size >= 0):
        problems.append("its size is damaged")
        size = None
    if state not in (PENDING, DONE, UNDOING, UNDONE, SKIPPED):
        problems.append(f"its state {state!r} is unknown")
        state = DONE
    if undone not in (0, 1, 2):
        problems.append("its undone mark is damaged")
        undone = 0
    return JournalEntry(
        int(i), batch if isinstance(batch, int) else 0, action if isinstance(action, str) else "?",
        src or "", dst, content_hash, size, state, int(undone), "; ".join(problems) or None,
    )


def _descriptor_bytes(descriptor: np.ndarray) -> bytes:
    """Descriptors are stored as float16: half the bytes, and whitening and the heads are
    insensitive to the rounding (relative error ~5e-4)."""
    return np.ascontiguousarray(descriptor, dtype=np.float16).tobytes()


def _descriptor(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


def _row(r: tuple) -> FileRow:
    return FileRow(r[0], _dec(r[1]), r[2], r[3], r[4], r[5], r[6], r[7])


def _prefixed(prefix: str) -> str:
    return ", ".join(prefix + name for name in EXIF_FIELDS)


def _info(r: tuple) -> PhotoInfo:
    """(id, path, size, width, height, error, *EXIF_FIELDS) -> PhotoInfo."""
    _, path, size, width, height, error, *exif = r
    return PhotoInfo(_dec(path), size, width, height, error=error, **dict(zip(EXIF_FIELDS, exif)))
