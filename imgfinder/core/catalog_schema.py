"""The catalog's schema: its version, the migration from each version to the next, and
the states and actions of the undo journal. Kept apart from the queries so a schema
change is one place, read top to bottom."""

from __future__ import annotations

SCHEMA_VERSION = 7


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


def _statements(script: str) -> list[str]:
    """The statements of a migration (they hold no ';' inside literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]
