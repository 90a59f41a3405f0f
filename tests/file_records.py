"""What a scan stores about a file, for tests that fill a catalog by hand (a module of its
own: ``from conftest import`` may find tests/gui/conftest.py first)."""

from __future__ import annotations

from pathlib import Path

from imgfinder.core.catalog import FileRecord
from imgfinder.core.decoder import hash_bytes


def file_record(p: Path) -> FileRecord:
    """Size, mtime and content hash of ``p`` as a ``FileRecord``."""
    return FileRecord(str(p), p.stat().st_size, p.stat().st_mtime_ns, hash=hash_bytes(p.read_bytes()))
