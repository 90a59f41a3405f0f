import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from imgfinder.core.catalog import SCHEMA_VERSION, Catalog, FileRecord
from imgfinder.core.photo_info import PhotoInfo


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
        assert cat.readable_count() == 1  # the unreadable file is a problem, not a photo
        assert cat.remove_paths([odd]) == 1
        assert cat.count() == 1 and cat.readable_count() == 0


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


# -- EXIF facts (schema 5) -------------------------------------------------------------------------
def _info(path: str, **facts) -> PhotoInfo:
    return PhotoInfo(path, **facts)


def test_stores_exif_facts_and_forgets_them_with_the_file(tmp_path: Path) -> None:
    vec = np.ones(4, dtype=np.float32)
    facts = dict(format="JPEG", date_taken="2023-07-14 18:42:07", date_subsec="25", date_offset="+02:00",
                 make="FUJIFILM", model="X-T3", lens_make="FUJIFILM", lens_model="XF35mmF1.4 R",
                 exposure_time=0.004, f_number=2.8, iso=400, focal_length=35.0,
                 latitude=48.8584, longitude=2.2945, altitude=-3.5)
    with Catalog(tmp_path / "c.db") as cat:
        cat.write_batch([
            FileRecord("/a.jpg", 10, 20, "h1", 3, 4, vec, info=_info("/a.jpg", **facts)),
            FileRecord("/plain.jpg", 11, 21, "h2", 3, 4, vec, info=_info("/plain.jpg")),  # read: nothing found
            FileRecord("/old.jpg", 12, 22, "h3", 3, 4, vec),  # not read (as before schema 5)
        ], "m1")
        a, plain, old = (cat.row_for_path(p) for p in ("/a.jpg", "/plain.jpg", "/old.jpg"))
        stored = cat.photo_infos([a.id, plain.id, old.id])
        assert set(stored) == {a.id, plain.id}
        assert stored[a.id] == _info("/a.jpg", size=10, width=3, height=4, **facts)
        assert stored[a.id].map_url is not None and stored[plain.id].date_taken is None
        assert cat.photo_info_for_path("/a.jpg") == stored[a.id] and cat.photo_info_for_path("/old.jpg") is None
        assert cat.capture_dates([a.id, plain.id, old.id]) == {a.id: "2023-07-14 18:42:07", plain.id: None}
        # Written again without facts (the embedding of a row whose facts are in): kept.
        cat.write_batch([FileRecord("/a.jpg", 10, 20, "h1", 3, 4, vec)], "m1")
        assert cat.photo_infos([a.id])[a.id].model == "X-T3"
        # Changed and read again: replaced; changed and unreadable: forgotten.
        cat.write_batch([FileRecord("/a.jpg", 13, 23, "h4", 3, 4, vec, info=_info("/a.jpg", model="X-T4"))], "m1")
        assert cat.photo_infos([a.id])[a.id].model == "X-T4" and cat.photo_infos([a.id])[a.id].lens is None
        cat.write_batch([FileRecord("/plain.jpg", 14, 24, error="truncated file")], "m1")
        assert cat.capture_dates([plain.id]) == {}
        # Moved by the app: the facts follow; removed: they go with the row.
        cat.rename_path("/a.jpg", "/moved/a.jpg")
        assert cat.photo_info_for_path("/moved/a.jpg").model == "X-T4"
        cat.remove_paths(["/moved/a.jpg"])
        assert cat._conn.execute("SELECT COUNT(*) FROM photo_meta").fetchone()[0] == 0


def _old_catalog(db: Path, version: int) -> Path:
    """A catalog as schema ``version`` made it, holding one row for /x.jpg."""
    from imgfinder.core import catalog as mod

    conn = sqlite3.connect(db)
    for script in mod._MIGRATIONS[:version]:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version={version}")
    conn.execute("INSERT INTO files(path, size, mtime_ns, hash, indexed_at) VALUES (?, 1, 2, 'h', 0)", (b"/x.jpg",))
    conn.commit()
    conn.close()
    return db


def test_migrates_a_version_4_catalog_to_exif_facts(tmp_path: Path) -> None:
    """A catalog made before EXIF facts were stored keeps its rows, which have no facts
    (whoever needs them reads the file) until they are indexed again."""
    db = _old_catalog(tmp_path / "v4.db", 4)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name='photo_meta'").fetchone()[0] == 0
    conn.close()
    with Catalog(db) as cat:
        assert cat.schema_version == SCHEMA_VERSION
        (row,) = cat.rows()
        assert row.path == "/x.jpg" and cat.photo_infos([row.id]) == {} and cat.capture_dates([row.id]) == {}
        cat.write_batch([FileRecord("/x.jpg", 1, 2, "h", info=_info("/x.jpg", date_taken="2020-01-01 00:00:00"))], "m")
        assert cat.capture_dates([row.id]) == {row.id: "2020-01-01 00:00:00"}


def test_migrates_a_version_5_catalog_to_chroma(tmp_path: Path) -> None:
    """Rows written before schema 6 have no chroma (not known to be greyscale) until they
    are indexed again; rows written since keep theirs, and identical bytes reuse it."""
    db = _old_catalog(tmp_path / "v5.db", 5)
    vec = np.ones(4, np.float32)
    with Catalog(db) as cat:
        assert cat.schema_version == SCHEMA_VERSION == 7
        (row,) = cat.rows()
        assert cat.chromas([row.id]) == {}
        cat.write_batch([FileRecord("/x.jpg", 1, 2, "h", 3, 4, vec, chroma=0.0),
                         FileRecord("/y.jpg", 1, 2, "h2", 3, 4, vec, chroma=37.5)], "m")
        ids = {r.path: r.id for r in cat.rows()}
        assert cat.chromas(ids.values()) == {ids["/x.jpg"]: 0.0, ids["/y.jpg"]: 37.5}
        assert cat.known_content("h2", "m").chroma == 37.5
