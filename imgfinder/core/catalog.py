"""The SQLite catalog: one row per file, keyed by path, with the facts that make re-scans
incremental (size, mtime_ns), the content hash, dimensions and the embedding.

WAL mode lets a GUI read while the indexer writes; each batch is one transaction so a
crash or a cancel loses at most one batch. Paths are stored as the file system's bytes
so names that are not valid UTF-8 survive the round trip.

Several processes may open one data folder at once (the app and the command line, or two
commands): the schema is created or upgraded in one ``BEGIN IMMEDIATE`` transaction that
re-reads the schema version inside it, with a busy timeout. A damaged database (SQLite's
"database disk image is malformed", "file is not a database") raises ``CatalogDamaged``,
on open or from any later call; ``set_aside`` and ``salvage`` are what ``imgfinder repair``
uses to keep the damaged file (never deleted: it holds the undo log and the "not
duplicates" marks) and to carry what can still be read into a new catalog."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .catalog_errors import CatalogDamaged, ReadOnlyCatalog, _guard_all, _guarded, is_damage, is_read_only_error
from .catalog_journal import CatalogJournal
from .catalog_repair import Salvaged, companion_paths, move_aside_folders, salvage, set_aside
from .catalog_rows import (
    _META_COLUMNS,
    FileRecord,
    FileRow,
    FileState,
    JournalEntry,
    KnownContent,
    _dec,
    _descriptor,
    _descriptor_bytes,
    _enc,
    _info,
    _prefixed,
    _row,
)
from .catalog_schema import _MIGRATIONS, ACTIONS, DONE, PENDING, SCHEMA_VERSION, SKIPPED, UNDOING, UNDONE, _statements
from .photo_info import EXIF_FIELDS, PhotoInfo

# The catalog's façade: its rows, schema, errors and repair are defined beside it and
# re-exported here, so ``from .catalog import FileRow`` keeps working for every caller.
__all__ = [
    "ACTIONS", "DONE", "PENDING", "SCHEMA_VERSION", "SKIPPED", "UNDOING", "UNDONE", "Catalog", "CatalogDamaged",
    "FileRecord", "FileRow", "FileState", "JournalEntry", "KnownContent", "ReadOnlyCatalog", "Salvaged",
    "companion_paths", "is_damage", "is_read_only_error", "move_aside_folders", "salvage", "set_aside",
]

_IN_CHUNK = 900  # ids per "IN (...)" query: SQLite's bound-parameter limit is 999 on old builds


BUSY_TIMEOUT = 30.0  # seconds another process may hold the write lock before we give up


class Catalog(CatalogJournal):
    """A connection to one catalog database (safe to share between threads)."""

    def __init__(self, db_path: str | os.PathLike[str], read_only: bool = False) -> None:
        self.path = Path(db_path)
        self.read_only = read_only
        self._snapshot: str | None = None  # a private copy opened instead (``_connect_read_only``)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        if self.path.is_dir():
            raise CatalogDamaged(self.path, "a folder is in its place")
        if not read_only:
            move_aside_folders(self.path)
        try:
            if read_only:
                self._conn = self._connect_read_only()
            else:
                self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_TIMEOUT)
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise CatalogDamaged(self.path, str(exc)) from exc
            raise
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that cannot write (``mode=ro``: any write raises "attempt to write a
        readonly database"), for a data folder this process may not write.

        SQLite reads a WAL database there only if its -shm file exists and is readable. A
        catalog closed cleanly has no -wal: ``immutable=1`` then reads the main file, which
        holds everything. One left with a -wal (a killed process) but no usable -shm is
        copied, with its -wal, into a private temporary folder and read there, so the
        changes only its log holds are not missed.
        """
        if not self.path.is_file():
            raise FileNotFoundError(errno.ENOENT, "no catalog in the read-only data folder", str(self.path))

        def connect(target: Path, query: str) -> sqlite3.Connection:
            conn = sqlite3.connect(f"{target.absolute().as_uri()}?{query}", uri=True, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT)
            try:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # opens the file and its log
            except BaseException:
                conn.close()
                raise
            return conn

        try:
            return connect(self.path, "mode=ro")
        except sqlite3.OperationalError as exc:
            if not (is_read_only_error(exc) or "unable to open" in str(exc)):
                raise
        wal = companion_paths(self.path)[1]
        if not wal.is_file() or wal.stat().st_size == 0:
            return connect(self.path, "immutable=1")
        self._snapshot = tempfile.mkdtemp(prefix="imgfinder-catalog-")
        copy = Path(self._snapshot) / self.path.name
        shutil.copyfile(self.path, copy)
        shutil.copyfile(wal, companion_paths(copy)[1])
        return connect(copy, "mode=ro")

    @_guarded
    def _open(self) -> None:
        if self.read_only:  # no WAL switch, no migration, no identity: each would write
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            self._check_version(version)
            if version != SCHEMA_VERSION:
                raise ReadOnlyCatalog(
                    f"the catalog {self.path} was made by an older imgfinder (schema {version}; this one "
                    f"uses {SCHEMA_VERSION}): upgrading it needs write access to the data folder, which is read-only"
                )
            return
        # Switching to WAL needs a moment alone with the file: a new catalog opened by two
        # processes at once may be told "database is locked" at once, whatever the timeout.
        _retry_locked(lambda: self._conn.execute("PRAGMA journal_mode=WAL").fetchone())
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()
        self._ensure_identity()

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._snapshot is not None:
                shutil.rmtree(self._snapshot, ignore_errors=True)
                self._snapshot = None

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"catalog {self.path} has schema {version}, newer than this imgfinder "
                f"understands ({SCHEMA_VERSION}); upgrade imgfinder or use another --data-dir"
            )

    def _migrate(self) -> None:
        """Create or upgrade the schema in one exclusive transaction.

        The version is read again once the write lock is held: another process that opened
        the same new folder at the same moment may have created the tables meanwhile.
        """
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            self._check_version(version)
            if version == SCHEMA_VERSION:
                return

            def upgrade() -> None:
                current = self._conn.execute("PRAGMA user_version").fetchone()[0]
                self._check_version(current)
                for target in range(current, SCHEMA_VERSION):
                    for statement in _statements(_MIGRATIONS[target]):
                        self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version={target + 1}")

            self._write_transaction(upgrade)

    def _write_transaction(self, body: Callable[[], None]) -> None:
        """Run ``body`` in ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on any error)."""
        previous = self._conn.isolation_level
        self._conn.isolation_level = None  # we issue BEGIN and COMMIT ourselves
        try:
            _retry_locked(lambda: self._conn.execute("BEGIN IMMEDIATE"))
            try:
                body()
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        finally:
            self._conn.isolation_level = previous

    def _ensure_identity(self) -> None:
        """Give the catalog a random id once: indexes name the catalog they were built from,
        so a catalog made anew (repaired, deleted, emptied) never reuses an old index whose
        generation number happens to match."""
        if self._meta("catalog_id") is not None:
            return
        self._write_transaction(lambda: self._conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('catalog_id', ?)", (uuid.uuid4().hex,)
        ))

    def _meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @property
    def catalog_id(self) -> str:
        """A random id made when the catalog was created (stable for its lifetime)."""
        return self._meta("catalog_id") or ""

    def advance_generation(self, at_least: int) -> None:
        """Move the generation up to ``at_least`` (never down): after the catalog went back
        in time (a restored backup, a lost write-ahead log), numbers an index was already
        built for must not come round again for different contents."""
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE meta SET value = CAST(MAX(CAST(value AS INTEGER), ?) AS TEXT) WHERE key='generation'",
                (int(at_least),),
            )

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    # -- generation: bumped on every change so the index knows when it is stale ---------
    @property
    def generation(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            return int(row[0])

    def _bump_generation(self) -> None:
        self._conn.execute(
            "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key='generation'"
        )

    # -- reads ---------------------------------------------------------------------
    def states(self) -> dict[str, FileState]:
        """path -> state for every file, for deciding what a scan must (re)read."""
        with self._lock:
            cur = self._conn.execute(
                "SELECT path, id, size, mtime_ns, model_id, error, CASE WHEN descriptor IS NULL THEN NULL "
                "ELSE feature_id END FROM files"
            )
            return {_dec(p): FileState(i, s, m, mid, e, fid) for p, i, s, m, mid, e, fid in cur}

    def count(self) -> int:
        """Every file the catalog knows, the unreadable ones included."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])

    def readable_count(self) -> int:
        """The files that were read as photos (what "N photos in the library" means)."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM files WHERE error IS NULL").fetchone()[0])

    def _select_in(self, sql: str, ids: Sequence[int], before: Sequence[object] = ()) -> Iterator[tuple]:
        """The rows of ``sql`` for ``ids``, whose ``{marks}`` is replaced by one ``?`` per id,
        queried in chunks under SQLite's bound-parameter limit; ``before``: parameters that
        come before the ids. Call with the lock held."""
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            yield from self._conn.execute(sql.format(marks=",".join("?" * len(chunk))), [*before, *chunk])

    def rows(self, ids: Iterable[int] | None = None) -> list[FileRow]:
        """File rows (all, or those with ``ids``, in the order given)."""
        sql = "SELECT id, path, size, mtime_ns, hash, width, height, error FROM files"
        with self._lock:
            if ids is None:
                return [_row(r) for r in self._conn.execute(sql + " ORDER BY id")]
            wanted = list(ids)
            found: dict[int, FileRow] = {}
            for r in self._select_in(sql + " WHERE id IN ({marks})", wanted):
                found[r[0]] = _row(r)
            return [found[i] for i in wanted if i in found]

    def row_for_path(self, path: str) -> FileRow | None:
        with self._lock:
            r = self._conn.execute(
                "SELECT id, path, size, mtime_ns, hash, width, height, error FROM files WHERE path=?",
                (_enc(path),),
            ).fetchone()
        return _row(r) if r else None

    def embedding_for_path(self, path: str, model_id: str) -> np.ndarray | None:
        with self._lock:
            r = self._conn.execute(
                "SELECT embedding FROM files WHERE path=? AND model_id=? AND embedding IS NOT NULL",
                (_enc(path), model_id),
            ).fetchone()
        return np.frombuffer(r[0], dtype=np.float32).copy() if r else None

    def descriptor_for_path(self, path: str, feature_id: str) -> np.ndarray | None:
        with self._lock:
            r = self._conn.execute(
                "SELECT descriptor FROM files WHERE path=? AND feature_id=? AND descriptor IS NOT NULL",
                (_enc(path), feature_id),
            ).fetchone()
        return _descriptor(r[0]) if r else None

    def known_content(self, content_hash: str, model_id: str) -> KnownContent | None:
        """The embedding of identical bytes, so moved or copied files are not decoded again."""
        with self._lock:
            r = self._conn.execute(
                "SELECT embedding, width, height, layout, descriptor, chroma FROM files WHERE hash=? AND model_id=? "
                "AND embedding IS NOT NULL LIMIT 1",
                (content_hash, model_id),
            ).fetchone()
        if not r:
            return None
        return KnownContent(
            np.frombuffer(r[0], dtype=np.float32).copy(), r[1], r[2], r[3], _descriptor(r[4]) if r[4] else None, r[5]
        )

    def chromas(self, ids: Iterable[int]) -> dict[int, float]:
        """``decoder.chroma`` of the rows ``ids`` that have one (rows written since schema 6)."""
        return self._column_of("chroma", ids)

    def layouts(self, ids: Iterable[int]) -> dict[int, bytes]:
        """Layout signatures of the rows ``ids`` that have one."""
        return self._column_of("layout", ids)

    def _column_of(self, column: str, ids: Iterable[int]) -> dict[int, Any]:
        """Row id -> ``column`` for the rows ``ids`` where it is set (``column`` is ours, never input)."""
        with self._lock:
            return dict(self._select_in(f"SELECT id, {column} FROM files WHERE {column} IS NOT NULL AND id IN ({{marks}})",
                                        list(ids)))

    def embeddings(self, model_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every file embedded with ``model_id``; vectors are float32 (N, d).

        Filled row by row into one preallocated array, so peak memory is the result itself
        (100,000 x 1280 floats = 512 MB), not twice that.
        """
        return self._vectors("embedding", "model_id", model_id, np.float32)

    def descriptors(self, feature_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids, descriptors) of every file described with ``feature_id``, as float32 (N, F)."""
        return self._vectors("descriptor", "feature_id", feature_id, np.float16)

    def _vectors(self, column: str, id_column: str, value: str, stored: type) -> tuple[np.ndarray, np.ndarray]:
        where = f"FROM files WHERE {id_column}=? AND {column} IS NOT NULL"
        width = np.dtype(stored).itemsize
        with self._lock, self._read_snapshot():  # the count and the rows from one state of the file
            count, size = self._conn.execute(f"SELECT COUNT(*), MAX(LENGTH({column})) {where}", (value,)).fetchone()
            if not count:
                return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
            dim = int(size) // width
            ids = np.empty(count, dtype=np.int64)
            vectors = np.empty((count, dim), dtype=np.float32)
            n = 0
            for i, blob in self._conn.execute(f"SELECT id, {column} {where} ORDER BY id", (value,)):
                if n == count:
                    break
                ids[n] = i
                vectors[n] = np.frombuffer(blob, dtype=stored)
                n += 1
        return ids[:n], vectors[:n]

    @contextlib.contextmanager
    def _read_snapshot(self) -> Iterator[None]:
        """A read transaction (one snapshot of the WAL database) unless one is open already."""
        opened = not self._conn.in_transaction
        if opened:
            self._conn.execute("BEGIN")
        try:
            yield
        finally:
            if opened and self._conn.in_transaction:
                self._conn.execute("COMMIT")

    def photo_infos(self, ids: Iterable[int]) -> dict[int, PhotoInfo]:
        """The stored facts of rows ``ids`` (path, size, dimensions, EXIF) as ``PhotoInfo``,
        for the rows whose EXIF was read when they were indexed (not those indexed before
        schema 5, nor files that could not be read)."""
        ids = list(ids)
        out: dict[int, PhotoInfo] = {}
        with self._lock:
            for r in self._select_in(
                f"SELECT f.id, f.path, f.size, f.width, f.height, f.error, {_prefixed('m.')} "
                "FROM files f JOIN photo_meta m ON m.file_id = f.id WHERE f.id IN ({marks})",
                ids,
            ):
                out[int(r[0])] = _info(r)
        return out

    def photo_info_for_path(self, path: str) -> PhotoInfo | None:
        """``photo_infos`` of one file by its path."""
        with self._lock:
            r = self._conn.execute(
                f"SELECT f.id, f.path, f.size, f.width, f.height, f.error, {_prefixed('m.')} "
                "FROM files f JOIN photo_meta m ON m.file_id = f.id WHERE f.path=?",
                (_enc(path),),
            ).fetchone()
        return _info(r) if r else None

    def capture_dates(self, ids: Iterable[int]) -> dict[int, str | None]:
        """Row id -> stored date taken ("YYYY-MM-DD HH:MM:SS", None: the photo has none),
        for the rows whose EXIF was read when they were indexed."""
        ids = list(ids)
        out: dict[int, str | None] = {}
        with self._lock:
            out.update(self._select_in("SELECT file_id, date_taken FROM photo_meta WHERE file_id IN ({marks})", ids))
        return out

    def problems(self) -> list[tuple[str, str]]:
        with self._lock:
            cur = self._conn.execute("SELECT path, error FROM files WHERE error IS NOT NULL ORDER BY path")
            return [(_dec(p), e) for p, e in cur]

    # -- writes --------------------------------------------------------------------
    def write_batch(self, records: Sequence[FileRecord], model_id: str, feature_id: str | None = None) -> None:
        """Insert or replace ``records`` in one transaction."""
        if not records:
            return
        now = time.time()
        params = []
        for rec in records:
            blob = None
            if rec.embedding is not None:
                blob = np.ascontiguousarray(rec.embedding, dtype=np.float32).tobytes()
            described = None if rec.descriptor is None else _descriptor_bytes(rec.descriptor)
            params.append(
                (
                    _enc(rec.path), rec.size, rec.mtime_ns, rec.hash, rec.width, rec.height,
                    model_id if blob is not None else None, blob, rec.error, now, rec.layout,
                    described, feature_id if described is not None else None, rec.chroma,
                )
            )
        with self._lock, self._conn:
            self._conn.executemany(
                """
                INSERT INTO files(path, size, mtime_ns, hash, width, height, model_id, embedding, error, indexed_at,
                                  layout, descriptor, feature_id, chroma)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(path) DO UPDATE SET
                    size=excluded.size, mtime_ns=excluded.mtime_ns, hash=excluded.hash,
                    width=excluded.width, height=excluded.height, model_id=excluded.model_id,
                    embedding=excluded.embedding, error=excluded.error, indexed_at=excluded.indexed_at,
                    layout=excluded.layout, descriptor=excluded.descriptor, feature_id=excluded.feature_id,
                    chroma=excluded.chroma
                """,
                params,
            )
            self._write_infos(records)
            self._bump_generation()

    def _write_infos(self, records: Sequence[FileRecord]) -> None:
        """Store the EXIF facts of ``records`` (inside ``write_batch``'s transaction)."""
        marks = ", ".join("?" * len(EXIF_FIELDS))
        found = [(*rec.info.exif_values(), _enc(rec.path)) for rec in records if rec.info is not None and rec.error is None]
        if found:
            self._conn.executemany(
                f"INSERT OR REPLACE INTO photo_meta(file_id, {_META_COLUMNS}) "
                f"SELECT id, {marks} FROM files WHERE path=?",
                found,
            )
        failed = [(_enc(rec.path),) for rec in records if rec.error is not None]
        if failed:
            self._conn.executemany(
                "DELETE FROM photo_meta WHERE file_id=(SELECT id FROM files WHERE path=?)", failed
            )

    def set_embeddings(self, ids: Sequence[int], vectors: np.ndarray, model_id: str) -> None:
        """Replace the copy vectors of rows ``ids`` (made again from their stored descriptors
        after the head changed) in one transaction; the files are not read."""
        if not len(ids):
            return
        params = [(np.ascontiguousarray(v, dtype=np.float32).tobytes(), model_id, int(i)) for i, v in zip(ids, vectors)]
        with self._lock, self._conn:
            self._conn.executemany("UPDATE files SET embedding=?, model_id=? WHERE id=?", params)
            self._bump_generation()

    def descriptors_for(self, ids: Sequence[int], feature_id: str) -> dict[int, np.ndarray]:
        """Stored descriptors of rows ``ids`` (those described with ``feature_id``)."""
        out: dict[int, np.ndarray] = {}
        ids = list(ids)
        with self._lock:
            for i, blob in self._select_in(
                "SELECT id, descriptor FROM files WHERE feature_id=? AND descriptor IS NOT NULL AND id IN ({marks})",
                ids, (feature_id,),
            ):
                out[int(i)] = _descriptor(blob)
        return out

    def remove_paths(self, paths: Iterable[str]) -> int:
        encoded = [(_enc(p),) for p in paths]
        if not encoded:
            return 0
        with self._lock, self._conn:
            self._conn.executemany("DELETE FROM files WHERE path=?", encoded)
            self._bump_generation()
        return len(encoded)

    def remove_folder(self, folder: str) -> int:
        """Forget every photo below ``folder`` (taken out of the library; the files are not
        touched, and files the app moved away stay logged for undo). Returns how many went;
        the indexes leave them out from their next rebuild (the generation moves on)."""
        prefix = os.path.join(os.path.abspath(folder), "")
        return self.remove_paths([p for p in self.states() if p.startswith(prefix)])

    def rename_path(self, old: str, new: str) -> None:
        """Follow a file the app itself moved (trash, undo), keeping its embedding."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM files WHERE path=?", (_enc(new),))
            self._conn.execute("UPDATE files SET path=? WHERE path=?", (_enc(new), _enc(old)))
            self._bump_generation()

    # -- pairs the user said are not duplicates ---------------------------------------
    def ignore_pair(self, hash_a: str, hash_b: str) -> None:
        a, b = sorted((hash_a, hash_b))
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR IGNORE INTO ignored_pairs(hash_a, hash_b, created_at) VALUES (?, ?, ?)",
                (a, b, time.time()),
            )

    def ignored_pairs(self) -> set[tuple[str, str]]:
        with self._lock:
            return {(a, b) for a, b in self._conn.execute("SELECT hash_a, hash_b FROM ignored_pairs")}

    # -- repair -------------------------------------------------------------------------
    def restore_salvaged(self, salvaged: Salvaged) -> None:
        """Carry the "not duplicates" marks and the undo log read from a damaged catalog
        into this (new) one, in one transaction; photos are indexed again, not copied."""
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR IGNORE INTO ignored_pairs(hash_a, hash_b, created_at) VALUES (?, ?, ?)",
                salvaged.ignored_pairs,
            )
            self._conn.executemany(
                "INSERT INTO file_actions(batch, action, source, destination, created_at, undone, state) "
                "VALUES (?, ?, ?, ?, ?, ?, CASE WHEN ?6 THEN 'undone' ELSE 'done' END)",
                salvaged.actions,
            )


def _retry_locked(fn: Callable[[], Any], timeout: float = BUSY_TIMEOUT) -> Any:
    """Call ``fn`` again while SQLite says the database is locked or busy (some lock
    upgrades are refused at once rather than waited for), up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


_guard_all(Catalog)
_guard_all(CatalogJournal)
