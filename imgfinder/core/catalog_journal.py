"""The catalog's undo journal: each file action logged durably before it is made, its
state moved as it goes (pending, done, undoing, undone, skipped), and read back for undo,
recovery after a kill and repair. A part of ``Catalog`` (its base class), kept apart from
the queries about photos."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .catalog_rows import JournalEntry, _enc, _journal_entry
from .catalog_schema import PENDING, SKIPPED, UNDOING, UNDONE


class CatalogJournal:
    """The journal's queries; the connection, its lock and ``_write_transaction`` are the
    catalog's (``Catalog`` derives from this)."""

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
