"""The SQLite catalog: one row per file, keyed by path, with the facts that make re-scans
incremental (size, mtime_ns), the content hash, dimensions and the embedding.

WAL mode lets a GUI read while the indexer writes; each batch is one transaction so a
crash or a cancel loses at most one batch. Paths are stored as the file system's bytes
so names that are not valid UTF-8 survive the round trip.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 4

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
]


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


class Catalog:
    """A connection to one catalog database (safe to share between threads)."""

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"catalog {self.path} has schema {version}, newer than this imgfinder "
                    f"understands ({SCHEMA_VERSION}); upgrade imgfinder or use another --data-dir"
                )
            for target in range(version, SCHEMA_VERSION):
                with self._conn:
                    self._conn.executescript("BEGIN;" + _MIGRATIONS[target] + f"PRAGMA user_version={target + 1};COMMIT;")

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
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])

    def rows(self, ids: Iterable[int] | None = None) -> list[FileRow]:
        """File rows (all, or those with ``ids``, in the order given)."""
        sql = "SELECT id, path, size, mtime_ns, hash, width, height, error FROM files"
        with self._lock:
            if ids is None:
                return [_row(r) for r in self._conn.execute(sql + " ORDER BY id")]
            wanted = list(ids)
            found: dict[int, FileRow] = {}
            for start in range(0, len(wanted), 900):
                chunk = wanted[start : start + 900]
                marks = ",".join("?" * len(chunk))
                for r in self._conn.execute(sql + f" WHERE id IN ({marks})", chunk):
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
                "SELECT embedding, width, height, layout, descriptor FROM files WHERE hash=? AND model_id=? "
                "AND embedding IS NOT NULL LIMIT 1",
                (content_hash, model_id),
            ).fetchone()
        if not r:
            return None
        return KnownContent(
            np.frombuffer(r[0], dtype=np.float32).copy(), r[1], r[2], r[3], _descriptor(r[4]) if r[4] else None
        )

    def layouts(self, ids: Iterable[int]) -> dict[int, bytes]:
        """Layout signatures of the rows ``ids`` that have one."""
        ids = list(ids)
        out: dict[int, bytes] = {}
        with self._lock:
            for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
                chunk = ids[start : start + 900]
                marks = ",".join("?" * len(chunk))
                out.update(self._conn.execute(
                    f"SELECT id, layout FROM files WHERE layout IS NOT NULL AND id IN ({marks})", chunk
                ).fetchall())
        return out

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
        with self._lock:
            count, size = self._conn.execute(f"SELECT COUNT(*), MAX(LENGTH({column})) {where}", (value,)).fetchone()
            if not count:
                return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
            dim = int(size) // width
            ids = np.empty(count, dtype=np.int64)
            vectors = np.empty((count, dim), dtype=np.float32)
            n = 0
            for i, blob in self._conn.execute(f"SELECT id, {column} {where} ORDER BY id", (value,)):
                ids[n] = i
                vectors[n] = np.frombuffer(blob, dtype=stored)
                n += 1
        return ids[:n], vectors[:n]

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
                    described, feature_id if described is not None else None,
                )
            )
        with self._lock, self._conn:
            self._conn.executemany(
                """
                INSERT INTO files(path, size, mtime_ns, hash, width, height, model_id, embedding, error, indexed_at,
                                  layout, descriptor, feature_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(path) DO UPDATE SET
                    size=excluded.size, mtime_ns=excluded.mtime_ns, hash=excluded.hash,
                    width=excluded.width, height=excluded.height, model_id=excluded.model_id,
                    embedding=excluded.embedding, error=excluded.error, indexed_at=excluded.indexed_at,
                    layout=excluded.layout, descriptor=excluded.descriptor, feature_id=excluded.feature_id
                """,
                params,
            )
            self._bump_generation()

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
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                marks = ",".join("?" * len(chunk))
                for i, blob in self._conn.execute(
                    f"SELECT id, descriptor FROM files WHERE feature_id=? AND descriptor IS NOT NULL AND id IN ({marks})",
                    [feature_id, *chunk],
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

    # -- the log of file actions (for undo) ---------------------------------------------
    def log_actions(self, entries: Sequence[tuple[str, str, str | None]]) -> int:
        """Record (action, source, destination) moves as one undoable batch; returns its number."""
        with self._lock, self._conn:
            row = self._conn.execute("SELECT COALESCE(MAX(batch), 0) + 1 FROM file_actions").fetchone()
            batch = int(row[0])
            now = time.time()
            self._conn.executemany(
                "INSERT INTO file_actions(batch, action, source, destination, created_at) VALUES (?, ?, ?, ?, ?)",
                [(batch, a, _enc(s), _enc(d) if d else None, now) for a, s, d in entries],
            )
        return batch

    def last_action_batch(self) -> tuple[int, list[tuple[int, str, str, str | None]]] | None:
        """The newest batch not undone yet: (batch, [(id, action, source, destination)])."""
        with self._lock:
            row = self._conn.execute("SELECT MAX(batch) FROM file_actions WHERE undone=0").fetchone()
            if not row or row[0] is None:
                return None
            batch = int(row[0])
            cur = self._conn.execute(
                "SELECT id, action, source, destination FROM file_actions WHERE batch=? AND undone=0 ORDER BY id",
                (batch,),
            )
            return batch, [(i, a, _dec(s), _dec(d) if d else None) for i, a, s, d in cur]

    def mark_undone(self, action_ids: Iterable[int]) -> None:
        with self._lock, self._conn:
            self._conn.executemany("UPDATE file_actions SET undone=1 WHERE id=?", [(i,) for i in action_ids])


def _descriptor_bytes(descriptor: np.ndarray) -> bytes:
    """Descriptors are stored as float16: half the bytes, and whitening and the heads are
    insensitive to the rounding (relative error ~5e-4)."""
    return np.ascontiguousarray(descriptor, dtype=np.float16).tobytes()


def _descriptor(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


def _row(r: tuple) -> FileRow:
    return FileRow(r[0], _dec(r[1]), r[2], r[3], r[4], r[5], r[6], r[7])
