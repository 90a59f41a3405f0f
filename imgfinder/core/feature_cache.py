"""The cache of local features (``core.keypoints``) next to the catalog, keyed by content.

Why a file of its own and not a table of the catalog: it holds ~100 KB a photo where the
catalog holds a few, it can always be made again from the photos, and a damaged cache
must neither stop the library (it is set aside and started anew, silently) nor hide a
damaged catalog (``imgfinder repair`` reads the catalog, which stays small). Why by
content hash: a renamed or moved photo, and byte-identical copies, share one entry.

Opened lazily, on the first search that needs features; a data folder that cannot be
written leaves the search without a cache, never without an answer.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

CACHE_NAME = "local_features.sqlite3"
VERSION = 1
BUSY_TIMEOUT = 10.0


class FeatureCache:
    """content hash -> serialised ``LocalFeatures`` of one format."""

    def __init__(self, path: str | os.PathLike[str], read_only: bool = False) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        # Could not be opened or written (or a read-only data folder): the search goes on
        # without a cache, and nothing is written or set aside.
        self.broken = read_only

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is not None or self.broken:
            return self._conn
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError:
            self._set_aside()
            try:
                self._conn = self._open()
            except (sqlite3.Error, OSError):
                self.broken = True
        except (sqlite3.Error, OSError):
            self.broken = True
        return self._conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_TIMEOUT)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, VERSION):
                conn.execute("DROP TABLE IF EXISTS features")
            conn.execute("CREATE TABLE IF NOT EXISTS features (hash TEXT NOT NULL, format INTEGER NOT NULL, "
                         "data BLOB NOT NULL, used REAL NOT NULL, PRIMARY KEY (hash, format))")
            conn.execute(f"PRAGMA user_version={VERSION}")
            conn.commit()
            conn.execute("SELECT COUNT(*) FROM features").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    def _set_aside(self) -> None:
        """A damaged cache is only a cache: move it out of the way (kept, not deleted)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            old = Path(str(self.path) + suffix)
            if old.exists():
                try:
                    os.replace(old, old.with_name(f"{old.name}.damaged-{stamp}"))
                except OSError:
                    pass

    def _guard(self, work, default):
        with self._lock:
            conn = self._connect()
            if conn is None:
                return default
            try:
                return work(conn)
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                    return default
                conn.close()
                self._conn = None
                self._set_aside()  # damaged while in use: the next call starts anew
                return default
            except (sqlite3.Error, OSError):
                return default

    def get(self, content_hash: str, fmt: int) -> bytes | None:
        def read(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute("SELECT data FROM features WHERE hash = ? AND format = ?",
                               (content_hash, fmt)).fetchone()
            return bytes(row[0]) if row else None

        return self._guard(read, None)

    def put(self, items: Sequence[tuple[str, bytes]], fmt: int) -> None:
        if not items:
            return
        now = time.time()

        def write(conn: sqlite3.Connection) -> None:
            with conn:
                conn.executemany("INSERT OR REPLACE INTO features(hash, format, data, used) VALUES (?, ?, ?, ?)",
                                 [(h, fmt, d, now) for h, d in items])

        self._guard(write, None)

    def keep_only(self, hashes: Iterable[str]) -> int:
        """Forget the features of content no longer in the library; returns how many."""
        wanted = list(set(hashes))

        def prune(conn: sqlite3.Connection) -> int:
            with conn:
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS live (hash TEXT PRIMARY KEY)")
                conn.execute("DELETE FROM live")
                conn.executemany("INSERT OR IGNORE INTO live VALUES (?)", [(h,) for h in wanted])
                n = conn.execute("DELETE FROM features WHERE hash NOT IN (SELECT hash FROM live)").rowcount
                conn.execute("DELETE FROM live")
            return int(n)

        return self._guard(prune, 0)

    def size(self) -> tuple[int, int]:
        """(entries, bytes of features): what the cache costs (benchmarks report it)."""
        return self._guard(lambda conn: tuple(int(v) for v in conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM features").fetchone()), (0, 0))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
