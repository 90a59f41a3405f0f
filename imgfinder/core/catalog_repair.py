"""Rebuilding a damaged catalog: the damaged file set aside (never deleted), and what can
still be read of it salvaged (the not-duplicates marks, the undo journal)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .catalog_errors import SQLITE_MAGIC
from .catalog_rows import _dec
from .catalog_schema import SCHEMA_VERSION


def companion_paths(db_path: str | os.PathLike[str]) -> list[Path]:
    """The database and SQLite's files next to it (write-ahead log, shared memory)."""
    p = Path(db_path)
    return [p, p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm")]


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def move_aside_folders(db_path: Path) -> None:
    """A folder where SQLite's write-ahead log or shared-memory file belongs keeps every
    open from working; SQLite cannot have written anything in it, so it is renamed aside
    (kept, never deleted) and the catalog opens as it was last committed to the main file."""
    for side in companion_paths(db_path)[1:]:
        if side.is_dir() and not side.is_symlink():
            try:
                side.rename(_free_name(side.with_name(f"{side.name}.damaged-{_stamp()}")))
            except OSError:
                pass  # left for SQLite to report


def _free_name(path: Path) -> Path:
    n, candidate = 1, path
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def set_aside(db_path: str | os.PathLike[str]) -> list[Path]:
    """Rename a damaged catalog and its write-ahead log out of the way, never deleting them:
    ``catalog.sqlite3`` -> ``catalog-damaged-YYYYmmdd-HHMMSS.sqlite3`` (and ``-wal``, ``-shm``
    alongside, so SQLite still reads them together). Returns the new paths, database first."""
    db = Path(db_path)
    stem, suffix = os.path.splitext(db.name)
    base = _free_name(db.with_name(f"{stem}-damaged-{_stamp()}{suffix}"))
    while any(os.path.lexists(p) for p in companion_paths(base)[1:]):
        base = _free_name(base.with_name(base.stem + "-x" + suffix))
    kept: list[Path] = []
    for src, dst in zip(companion_paths(db), companion_paths(base)):
        if os.path.lexists(src):
            os.rename(src, dst)
            kept.append(dst)
    return kept


@dataclass
class Salvaged:
    """What could still be read from a damaged catalog."""

    ignored_pairs: list[tuple[str, str, float]] = field(default_factory=list)
    actions: list[tuple[int, str, bytes, bytes | None, float, int]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # photos it listed (to say what to index again)
    notes: list[str] = field(default_factory=list)


def salvage(db_path: str | os.PathLike[str]) -> Salvaged:
    """Read what survives of a damaged catalog (the file is not changed: a temporary copy is read).

    Row by row, the way ``sqlite3 .recover`` starts: each table is scanned in rowid order,
    and past an unreadable page the scan resumes further on, then from the end backwards;
    the "not duplicates" marks are also read from their index, which lives on other pages.
    A file whose first bytes are garbage gets SQLite's header back in the copy first.
    """
    out = Salvaged()
    sources = [p for p in companion_paths(db_path)[:2] if p.is_file()]
    if not sources or sources[0] != Path(db_path):
        return out
    # The copy sits next to the original: the same disk, which has room for a catalog.
    with tempfile.TemporaryDirectory(prefix=".salvage-", dir=Path(db_path).parent) as tmp:
        copy = Path(tmp) / "catalog.sqlite3"
        for src, dst in zip(sources, companion_paths(copy)):
            shutil.copyfile(src, dst)
        _restore_header(copy)
        try:
            conn = sqlite3.connect(copy, timeout=1.0)
        except sqlite3.Error as exc:
            out.notes.append(str(exc))
            return out
        try:
            pairs = _tolerant_rows(conn, "ignored_pairs", "hash_a, hash_b, created_at", out.notes)
            pairs += _tolerant_rows(
                conn, "ignored_pairs INDEXED BY sqlite_autoindex_ignored_pairs_1", "hash_a, hash_b, 0.0", out.notes,
                ordered=False,
            )
            seen: set[tuple[str, str]] = set()
            for _, (a, b, created) in pairs:
                if isinstance(a, str) and isinstance(b, str) and (a, b) not in seen:
                    seen.add((a, b))
                    out.ignored_pairs.append((a, b, float(created or 0.0)))
            for rowid, (batch, action, source, destination, created, undone) in _tolerant_rows(
                conn, "file_actions", "batch, action, source, destination, created_at, undone", out.notes,
            ):
                if isinstance(batch, int) and isinstance(action, str) and isinstance(source, bytes):
                    out.actions.append((batch, action, source, destination if isinstance(destination, bytes) else None,
                                        float(created or 0.0), int(bool(undone))))
            paths = _tolerant_rows(conn, "files INDEXED BY sqlite_autoindex_files_1", "path", out.notes, ordered=False)
            paths += _tolerant_rows(conn, "files", "path", out.notes)
            out.paths = sorted({_dec(p) for _, (p,) in paths if isinstance(p, bytes)})
        finally:
            conn.close()
    return out


def _restore_header(copy: Path) -> None:
    """Give a copy whose first 100 bytes (SQLite's file header) are damaged a valid header
    again, trying each page size until the schema can be read; the rest of page 1 (the
    schema's own b-tree) and every other page are left as they are."""
    try:
        with open(copy, "r+b") as f:
            head = f.read(100)
            if len(head) < 100 or head.startswith(SQLITE_MAGIC):
                return
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return
    stored = int.from_bytes(head[16:18], "big")
    sizes = [4096, 1024, 2048, 8192, 16384, 32768, 65536, 512]
    if stored == 1 or (512 <= stored <= 32768 and stored & (stored - 1) == 0):
        sizes.insert(0, 65536 if stored == 1 else stored)
    for page_size in dict.fromkeys(sizes):
        if size % page_size:
            continue
        header = bytearray(100)
        header[:16] = SQLITE_MAGIC
        header[16:18] = (1 if page_size == 65536 else page_size).to_bytes(2, "big")
        header[18:20] = b"\x02\x02"  # WAL: the write-ahead log copied alongside is read too
        header[21:24] = b"\x40\x20\x20"  # payload fractions (fixed by the format)
        header[44:48] = (4).to_bytes(4, "big")  # schema format
        header[56:60] = (1).to_bytes(4, "big")  # UTF-8
        header[60:64] = SCHEMA_VERSION.to_bytes(4, "big")
        with open(copy, "r+b") as f:
            f.write(header)
        try:
            conn = sqlite3.connect(copy, timeout=1.0)
            try:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                return
            finally:
                conn.close()
        except sqlite3.Error:
            continue


def _tolerant_rows(
    conn: sqlite3.Connection, table: str, columns: str, notes: list[str], ordered: bool = True,
) -> list[tuple[int, tuple]]:
    """(rowid, row) pairs of ``table`` that can be read, skipping damaged pages."""
    found: dict[int, tuple] = {}

    def scan(sql: str, args: tuple = ()) -> tuple[int | None, bool]:
        """Rows from ``sql`` until it fails: (the last rowid read or None, whether it failed)."""
        last = None
        try:
            for r in conn.execute(sql, args):
                found.setdefault(int(r[0]), tuple(r[1:]))
                last = int(r[0])
        except sqlite3.Error as exc:
            if str(exc) not in notes:
                notes.append(str(exc))
            return last, True
        return last, False

    if not ordered:  # an index: one pass (its rowids are those of the table)
        scan(f"SELECT rowid, {columns} FROM {table}")
        return sorted(found.items())
    last, failed = scan(f"SELECT rowid, {columns} FROM {table} ORDER BY rowid")
    if not failed:
        return sorted(found.items())
    start, step = (last if last is not None else 0), 1
    for _ in range(40):  # past a damaged page: resume further on, with growing jumps
        resumed, failed = scan(f"SELECT rowid, {columns} FROM {table} WHERE rowid > ? ORDER BY rowid", (start + step,))
        if resumed is not None:
            start, step = resumed, 1
            if not failed:
                break
        else:
            step *= 2
            if not failed or step > 1 << 40:
                break
    scan(f"SELECT rowid, {columns} FROM {table} ORDER BY rowid DESC")
    return sorted(found.items())
