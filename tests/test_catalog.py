import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from imgfinder.core.catalog import SCHEMA_VERSION, Catalog, FileRecord


def test_schema_created_wal_and_versioned(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.db") as cat:
        assert cat.schema_version == SCHEMA_VERSION
        mode = cat._conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_migrates_version_1_database(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    from imgfinder.core import catalog as mod

    conn.executescript(mod._MIGRATIONS[0] + "PRAGMA user_version=1;")
    conn.execute(
        "INSERT INTO files(path, size, mtime_ns, indexed_at) VALUES (?, 1, 2, 0)", (b"/x.jpg",)
    )
    conn.commit()
    conn.close()
    with Catalog(db) as cat:
        assert cat.schema_version == SCHEMA_VERSION
        assert cat.states()["/x.jpg"].size == 1
        cat.ignore_pair("b", "a")
        assert cat.ignored_pairs() == {("a", "b")}


def test_refuses_newer_schema(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        Catalog(db)


def test_write_read_roundtrip_with_odd_path(tmp_path: Path) -> None:
    odd = os.fsdecode(b"/photos/caf\xe9 \xff.jpg")
    vec = np.arange(4, dtype=np.float32)
    with Catalog(tmp_path / "c.db") as cat:
        g0 = cat.generation
        cat.write_batch(
            [FileRecord(odd, 10, 20, "h1", 3, 4, vec), FileRecord("/b.jpg", 1, 2, error="corrupt image: x")], "m1"
        )
        assert cat.generation == g0 + 1
        ids, vectors = cat.embeddings("m1")
        assert len(ids) == 1 and np.array_equal(vectors[0], vec)
        assert cat.embeddings("other")[0].size == 0
        row = cat.row_for_path(odd)
        assert row is not None and (row.width, row.height, row.hash) == (3, 4, "h1")
        assert cat.problems() == [("/b.jpg", "corrupt image: x")]
        assert cat.known_content("h1", "m1") is not None
        assert cat.known_content("h1", "m2") is None
        # Update in place keeps one row per path.
        cat.write_batch([FileRecord(odd, 11, 21, "h2", 3, 4, vec)], "m1")
        assert cat.count() == 2 and cat.states()[odd].size == 11
        assert cat.remove_paths([odd]) == 1
        assert cat.count() == 1


def test_action_log_batches(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.db") as cat:
        assert cat.last_action_batch() is None
        b1 = cat.log_actions([("trash", "/a.jpg", "/t/a.jpg")])
        b2 = cat.log_actions([("move", "/b.jpg", "/d/b.jpg"), ("move", "/c.jpg", "/d/c.jpg")])
        assert b2 == b1 + 1
        batch, entries = cat.last_action_batch()
        assert batch == b2 and [e[2] for e in entries] == ["/b.jpg", "/c.jpg"]
        cat.mark_undone([e[0] for e in entries])
        assert cat.last_action_batch()[0] == b1
