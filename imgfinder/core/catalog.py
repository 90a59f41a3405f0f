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
duplicates" marks) and to carry what can still be read into a new catalog.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .photo_info import EXIF_FIELDS, PhotoInfo

SCHEMA_VERSION = 7
_IN_CHUNK = 900  # ids per "IN (...)" query: SQLite's bound-parameter limit is 999 on old builds

# Each entry upgrades the schema from version (index) to version (index + 1).
_MIGRATIONS: list[str] = [
    """
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path BLOB NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        hash TEXT,
        width INTEGER,
        height INTEGER,
        model_id TEXT,
        embedding BLOB,
        error TEXT,
        indexed_at REAL NOT NULL
    );
    CREATE INDEX files_hash ON files(hash);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta(key, value) VALUES ('generation', '0');
    """,
    """
    CREATE TABLE ignored_pairs (
        hash_a TEXT NOT NULL,
        hash_b TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (hash_a, hash_b)
    );
    CREATE TABLE file_actions (
        id INTEGER PRIMARY KEY,
        batch INTEGER NOT NULL,
        action TEXT NOT NULL,
        source BLOB NOT NULL,
        destination BLOB,
        created_at REAL NOT NULL,
        undone INTEGER NOT NULL DEFAULT 0
    );
    """,
    # The grey layout signature that verifies near-duplicate pairs (core.layout).
    """
    ALTER TABLE files ADD COLUMN layout BLOB;
    """,
    # The model's descriptor (float16), from which both the copy vector (``embedding``)
    # and the retrieval vector are derived: a new head or whitening needs no decoding.
    """
    ALTER TABLE files ADD COLUMN descriptor BLOB;
    ALTER TABLE files ADD COLUMN feature_id TEXT;
    """,
    # The photo's EXIF facts (core.photo_info.EXIF_FIELDS), read from its header at index
    # time: a row means "read"; a file indexed before this version has none until it
    # changes, and whoever needs its facts reads the file instead.
    """
    CREATE TABLE photo_meta (
        file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
        format TEXT,
        date_taken TEXT,
        date_subsec TEXT,
        date_offset TEXT,
        make TEXT,
        model TEXT,
        lens_make TEXT,
        lens_model TEXT,
        exposure_time REAL,
        f_number REAL,
        iso INTEGER,
        focal_length REAL,
        latitude REAL,
        longitude REAL,
        altitude REAL
    );
    """,
    # 5 -> 6: how colourful the photo is (``decoder.chroma``), so a greyscale copy of a
    # colour photo can be told from the stored row (``duplicates.GREY_PAIR_SLACK``).
    # NULL for rows written before: not known to be greyscale.
    "ALTER TABLE files ADD COLUMN chroma REAL;",
    # 6 -> 7: the undo log becomes a write-ahead journal (``file_actions``): each move is
    # logged, durably, with the content hash and size of the photo *before* it moves
    # (state 'pending'), then marked 'done'; an undo marks it 'undoing' before the file goes
    # back. After a kill, ``file_actions.recover`` finds the entries still in flight and
    # finishes or rolls them back. 'skipped': set aside by ``undo --skip`` (undone=2).
    """
    ALTER TABLE file_actions ADD COLUMN hash TEXT;
    ALTER TABLE file_actions ADD COLUMN size INTEGER;
    ALTER TABLE file_actions ADD COLUMN state TEXT NOT NULL DEFAULT 'done';
    """,
]

# States of a journal entry (``file_actions.state``).
PENDING, DONE, UNDOING, UNDONE, SKIPPED = "pending", "done", "undoing", "undone", "skipped"
ACTIONS = ("trash", "move", "link", "system-trash")  # the last: Windows and macOS (core.system_trash)


BUSY_TIMEOUT = 30.0  # seconds another process may hold the write lock before we give up
SQLITE_MAGIC = b"SQLite format 3\x00"
_DAMAGE_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB (primary codes)
# SQLite's words for a damaged file, and Python's for a text value that is not text (the
# catalog stores paths as BLOBs and writes only ASCII text, so only damage makes one).
_DAMAGE_TEXTS = ("malformed", "file is not a database", "file is encrypted or is not a database",
                 "could not decode to utf-8")


class ReadOnlyCatalog(RuntimeError):
    """The catalog is opened read-only and what was asked needs to write it (an upgrade of
    its schema): one line naming the file and why."""


def is_read_only_error(exc: BaseException) -> bool:
    """True when SQLite refused a write because the file or its folder is read-only
    (SQLITE_READONLY and its extended codes: "attempt to write a readonly database")."""
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    return (code is not None and (code & 0xFF) == 8) or "readonly database" in str(exc).lower()


class CatalogDamaged(sqlite3.DatabaseError):
    """The catalog database is damaged: it cannot be used until it is repaired.

    ``str()`` is one line naming the file and SQLite's reason; the command line adds what
    to do (``imgfinder repair``), the app offers the same in a dialog.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = _one_line(reason)
        super().__init__(f"the catalog {self.path} is damaged ({self.reason})")


def _one_line(reason: str) -> str:
    """SQLite's reason, printable on one line (a damaged value quoted in it may be anything)."""
    reason = reason.split(" with text '")[0]  # "Could not decode to UTF-8 column 'x' with text '<garbage>'"
    text = "".join(ch if ch.isprintable() else " " for ch in reason)
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "…"


def is_damage(exc: BaseException) -> bool:
    """True when an SQLite error means the database file itself is damaged (not locked,
    not a full disk, not a permission)."""
    if isinstance(exc, CatalogDamaged):
        return True
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None and (code & 0xFF) in _DAMAGE_CODES:
        return True
    text = str(exc).lower()
    return any(t in text for t in _DAMAGE_TEXTS)


_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(fn: _F) -> _F:
    """Turn SQLite's damage errors raised by a Catalog method into ``CatalogDamaged``."""

    @functools.wraps(fn)
    def wrapper(self: Catalog, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except CatalogDamaged:
            raise
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise CatalogDamaged(self.path, str(exc)) from exc
            raise

    return wrapper  # type: ignore[return-value]


def companion_paths(db_path: str | os.PathLike[str]) -> list[Path]:
    """The database and SQLite's files next to it (write-ahead log, shared memory)."""
    p = Path(db_path)
    return [p, p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm")]


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


class Catalog:
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

    # -- the journal of file actions (for undo and recovery) -----------------------------
    def _durable(self, body: Callable[[], Any]) -> Any:
        """Run ``body`` in one transaction that is on disk (fsync) when this returns: the
        journal's intents must survive a kill or a power cut before the file moves."""
        with self._lock:
            self._conn.execute("PRAGMA synchronous=FULL")
            try:
                out: list[Any] = []
                self._write_transaction(lambda: out.append(body()))
                return out[0]
            finally:
                self._conn.execute("PRAGMA synchronous=NORMAL")

    def journal_intent(self, batch: int | None, action: str, source: str, destination: str,
                       content_hash: str | None, size: int | None) -> tuple[int, int]:
        """Log, durably, that ``source`` is about to move to ``destination`` (state pending);
        a new batch when ``batch`` is None. Returns (batch, entry id)."""
        def body() -> tuple[int, int]:
            b = batch
            if b is None:
                b = int(self._conn.execute("SELECT COALESCE(MAX(batch), 0) + 1 FROM file_actions").fetchone()[0])
            cur = self._conn.execute(
                "INSERT INTO file_actions(batch, action, source, destination, created_at, hash, size, state) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (b, action, _enc(source), _enc(destination), time.time(), content_hash, size, PENDING),
            )
            return b, int(cur.lastrowid or 0)

        return self._durable(body)

    def journal_state(self, action_id: int, state: str) -> None:
        """Move one entry to ``state`` (undone=1 for 'undone', 2 for 'skipped'); durable
        when it precedes a file operation ('undoing')."""
        undone = {UNDONE: 1, SKIPPED: 2}.get(state, 0)

        def body() -> None:
            self._conn.execute("UPDATE file_actions SET state=?, undone=? WHERE id=?", (state, undone, action_id))

        if state == UNDOING:
            self._durable(body)
        else:
            with self._lock, self._conn:
                body()

    def journal_drop(self, action_id: int) -> None:
        """Forget an intent whose file did not move (rolled back, or the name was taken)."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM file_actions WHERE id=?", (action_id,))

    def journal_entries(self, where: str = "undone=0", args: Sequence[object] = ()) -> list[JournalEntry]:
        """Entries matching ``where``, oldest first; a damaged row is returned with its
        ``damage`` said, never raised (a bad row must not stop the others)."""
        with self._lock:
            cur = self._conn.execute(
                f"SELECT id, batch, action, source, destination, hash, size, state, undone FROM file_actions "
                f"WHERE {where} ORDER BY batch, id", tuple(args),
            )
            return [_journal_entry(r) for r in cur]

    def in_flight(self) -> list[JournalEntry]:
        """Entries a killed process left in flight (pending or undoing)."""
        return self.journal_entries("undone=0 AND state IN (?, ?)", (PENDING, UNDOING))

    def log_actions(self, entries: Sequence[tuple[str, str, str | None]]) -> int:
        """Record (action, source, destination) moves as one undoable batch (state done);
        returns its number. (Moves are journaled one by one by ``FileMover``; this is for
        importing whole batches.)"""
        with self._lock, self._conn:
            row = self._conn.execute("SELECT COALESCE(MAX(batch), 0) + 1 FROM file_actions").fetchone()
            batch = int(row[0])
            now = time.time()
            self._conn.executemany(
                "INSERT INTO file_actions(batch, action, source, destination, created_at) VALUES (?, ?, ?, ?, ?)",
                [(batch, a, _enc(s), _enc(d) if d else None, now) for a, s, d in entries],
            )
        return batch

    def last_batch_entries(self) -> tuple[int, list[JournalEntry]] | None:
        """The newest batch with entries not undone nor skipped: (batch, its entries)."""
        with self._lock:
            row = self._conn.execute("SELECT MAX(batch) FROM file_actions WHERE undone=0").fetchone()
        if not row or row[0] is None:
            return None
        try:
            batch = int(row[0])
        except (TypeError, ValueError):
            batch = row[0]
        return batch, self.journal_entries("undone=0 AND batch=?", (row[0],))

    def last_action_batch(self) -> tuple[int, list[tuple[int, str, str, str | None]]] | None:
        """The newest batch not undone yet: (batch, [(id, action, source, destination)])."""
        last = self.last_batch_entries()
        if last is None:
            return None
        return last[0], [(e.id, e.action, e.source, e.destination) for e in last[1]]

    def mark_undone(self, action_ids: Iterable[int]) -> None:
        with self._lock, self._conn:
            self._conn.executemany("UPDATE file_actions SET undone=1, state='undone' WHERE id=?",
                                   [(i,) for i in action_ids])

    def skip_actions(self, action_ids: Iterable[int]) -> None:
        """Set entries aside (``undo --skip``): older batches can be undone past them."""
        with self._lock, self._conn:
            self._conn.executemany("UPDATE file_actions SET undone=2, state='skipped' WHERE id=?",
                                   [(i,) for i in action_ids])

    def journal_problems(self) -> list[JournalEntry]:
        """The damaged rows of the undo log not set aside yet, for ``repair``."""
        return [e for e in self.journal_entries("undone<>2") if e.damage]

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


def _statements(script: str) -> list[str]:
    """The statements of a migration (they hold no ';' inside literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]


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


def _guard_all(cls: type) -> None:
    """Every method and property of ``cls`` reports a damaged file as ``CatalogDamaged``."""
    for name, attr in list(vars(cls).items()):
        if name.startswith("__") or name in ("_read_snapshot",):
            continue
        if isinstance(attr, property) and attr.fget is not None:
            setattr(cls, name, property(_guarded(attr.fget), attr.fset, attr.fdel, attr.__doc__))
        elif callable(attr) and not isinstance(attr, (staticmethod, classmethod)):
            setattr(cls, name, _guarded(attr))


_guard_all(Catalog)
