"""A photo library on disk: the catalog, the index and the model that made its embeddings.

This is the one object the CLI and the GUI hold. It owns no global state: the data
folder and the embedder are injected, which is also how tests swap in a fast fake model.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .ann_index import IndexStore, VectorIndex, build_in_memory
from .catalog import (Catalog, FileRow, companion_paths, is_damage, is_read_only_error, move_aside_folders, salvage,
                      set_aside)
from .decoder import DecodeError, decode_for_model
from .duplicates import DEFAULT_FLOOR, DEFAULT_THRESHOLD, DuplicateFinder
from .embedding import Embedder, copy_vectors, describe, feature_id_of, retrieval_id_of, retrieval_vectors
from .feature_cache import CACHE_NAME as FEATURE_CACHE_NAME, FeatureCache
from .file_actions import in_trash
from .indexer import Indexer
from .progress import CancelToken, Progress
from .retrieval import search as retrieval_search

CATALOG_NAME = "catalog.sqlite3"
LeaveOut = Callable[[str, int], "str | None"]  # core.file_filter.FileFilter: why a photo is left out, or None
INDEX_DIR = "index"
RETRIEVAL_NAME = "retrieval"


@dataclass
class RepairReport:
    """What ``repair`` found and did."""

    data_dir: Path
    damaged: bool  # the catalog was damaged and was replaced by a new one
    reason: str | None = None
    kept: list[Path] = field(default_factory=list)  # where the damaged catalog now is (never deleted)
    ignored_pairs: int = 0  # "not duplicates" marks carried over
    actions: int = 0  # undo-log entries carried over
    photos: int = 0  # photos the damaged catalog still listed (to be indexed again)
    folders: list[str] = field(default_factory=list)  # where those photos are
    index_cleared: bool = False
    future_schema: int | None = None  # the catalog's schema is newer than this imgfinder's: left alone
    journal: list[str] = field(default_factory=list)  # damaged undo entries found and set aside
    settled: int = 0  # moves a killed process left in flight, finished or rolled back

    @property
    def sound(self) -> bool:
        return not (self.damaged or self.future_schema or self.journal or self.settled)


def catalog_damage(data_dir: str | os.PathLike[str]) -> str | None:
    """Why the catalog of ``data_dir`` is unusable (SQLite's words), or None if it is sound.

    A thorough check (SQLite's quick_check reads every page) on a plain connection: nothing
    is written to a file that may be damaged.
    """
    path = Path(data_dir) / CATALOG_NAME
    if path.is_dir():
        return "a folder is in its place"
    move_aside_folders(path)
    try:
        conn = sqlite3.connect(path, timeout=30.0)
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            return str(exc)
        raise
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)")]
        if rows == ["ok"]:
            return None
        found = [" ".join(r.split()) for r in rows if r.strip() and not r.startswith("***")] or ["?"]
        return f"database disk image is malformed: {found[0]}" + (" ..." if len(found) > 1 else "")
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            return str(exc)
        raise
    finally:
        conn.close()


def repair(data_dir: str | os.PathLike[str]) -> RepairReport:
    """Make a damaged catalog usable again without losing anything that cannot be remade.

    The damaged file (and its write-ahead log) is renamed aside with a timestamp, never
    deleted; a new catalog is created and the "not duplicates" marks and the undo log that
    can still be read are carried over; the photos must then be indexed again (their
    folders are listed). The index files are removed: they are rebuilt from the catalog.
    A sound catalog is left as it is. Photos are never touched.
    """
    data_dir = Path(data_dir)
    report = RepairReport(data_dir, damaged=False)
    path = data_dir / CATALOG_NAME
    reason = catalog_damage(data_dir) if os.path.lexists(path) else None
    if reason is not None:
        report.damaged, report.reason = True, reason
        report.kept = set_aside(path)
        found = salvage(report.kept[0]) if report.kept and report.kept[0].is_file() else None
        with Catalog(path) as catalog:
            if found is not None:
                catalog.restore_salvaged(found)
                report.ignored_pairs, report.actions = len(found.ignored_pairs), len(found.actions)
                report.photos, report.folders = len(found.paths), photo_folders(found.paths)
    elif os.path.lexists(path):
        _check_sound_catalog(path, report)
    index_dir = data_dir / INDEX_DIR
    if report.damaged and index_dir.exists():
        for name in ("embeddings", RETRIEVAL_NAME):
            IndexStore(index_dir, name=name).clear()
        report.index_cleared = True
    return report


def _check_sound_catalog(path: Path, report: RepairReport) -> None:
    """A catalog SQLite can read may still be of a newer imgfinder (left alone, said) or
    hold damaged undo entries (reported and set aside, so they block no undo) or moves a
    killed process left in flight (settled, as ``undo`` would)."""
    from .catalog import SCHEMA_VERSION
    from .file_actions import recover

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()
    if version > SCHEMA_VERSION:
        report.future_schema = version
        return
    with Catalog(path) as catalog:
        bad = catalog.journal_problems()
        for e in bad:
            report.journal.append(f"entry {e.id} ({e.action} {e.source or '?'} -> {e.destination or '?'}): {e.damage}")
        if bad:
            catalog.skip_actions([e.id for e in bad])
        settled = recover(catalog)
        report.settled = len(settled.finished) + len(settled.rolled_back)


def photo_folders(paths: list[str]) -> list[str]:
    """The fewest folders that hold all ``paths`` (a folder inside another listed one is left out)."""
    parents = sorted({os.path.dirname(p) for p in paths})
    out: list[str] = []
    for folder in parents:
        if not any(folder == top or folder.startswith(os.path.join(top, "")) for top in out):
            out.append(folder)
    return out


def default_data_dir() -> Path:
    """The platform's per-user data folder (e.g. ~/.local/share/imgfinder on Linux)."""
    override = os.environ.get("IMGFINDER_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path("imgfinder", appauthor=False)


COPY_ANSWERS = 200_000  # similar's folding answers kept by a Library (~40 MB at most)


@dataclass(frozen=True)
class SimilarHit:
    row: FileRow
    score: float
    # Other paths of byte-identical files (the same content hash): one result, not several.
    same_files: tuple[str, ...] = ()
    # Results proven edited copies of this one (``core.similar_copies``): "+N copies".
    copies: tuple[SimilarHit, ...] = ()


def fold_identical(hits: Sequence[SimilarHit]) -> list[SimilarHit]:
    """Each file once: a hit whose content equals an earlier hit's joins it as one of its
    ``same_files`` (a file with no known hash stays a result of its own)."""
    out: list[SimilarHit] = []
    first: dict[str, int] = {}
    for h in hits:
        at = first.get(h.row.hash) if h.row.hash else None
        if at is None:
            if h.row.hash:
                first[h.row.hash] = len(out)
            out.append(h)
        else:
            out[at] = replace(out[at], same_files=out[at].same_files + (h.row.path,))
    return out


def data_folder_read_only(data_dir: str | os.PathLike[str]) -> bool:
    """True when the data folder exists but this process may not write it or its catalog
    (a read-only mount, another user's folder, files made read-only): then only listings
    and searches can run, on a catalog opened read-only."""
    folder = Path(data_dir)
    if not folder.is_dir():
        return False
    paths = [folder, folder / INDEX_DIR, *companion_paths(folder / CATALOG_NAME)]
    return any(os.path.exists(p) and not os.access(p, os.W_OK) for p in paths)


class Library:
    """Catalog + index + embedder for one data folder.

    ``read_only``: open the catalog read-only and never write the data folder (an index that
    is stale or missing is built in memory, not saved); None: so when the folder cannot be
    written (``data_folder_read_only``, or SQLite refusing to write the catalog).
    """

    def __init__(self, data_dir: str | os.PathLike[str], embedder: Embedder, read_only: bool | None = False) -> None:
        self.data_dir = Path(data_dir)
        if read_only is None:
            read_only = data_folder_read_only(self.data_dir)
            if not read_only:
                try:
                    self._open(embedder, False)
                    return
                except sqlite3.OperationalError as exc:
                    if not (is_read_only_error(exc) and (self.data_dir / CATALOG_NAME).is_file()):
                        raise
                    read_only = True
        self._open(embedder, read_only)

    def _open(self, embedder: Embedder, read_only: bool) -> None:
        self.read_only = read_only
        if not read_only:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self.embedder = embedder
        self.catalog = Catalog(self.data_dir / CATALOG_NAME, read_only=read_only)
        self._index_ahead = False  # read-only: an index on disk is newer than the catalog
        # Read-only: no cache is written (features are made for the search and dropped).
        self.feature_cache = FeatureCache(self.data_dir / FEATURE_CACHE_NAME, read_only=read_only)
        self._copy_answers: dict[tuple[str, str], bool] = {}  # similar's folding, by pair of contents
        try:
            catalog_id = self.catalog.catalog_id
            self.store = IndexStore(self.data_dir / INDEX_DIR, catalog_id=catalog_id)
            self.retrieval_store = IndexStore(self.data_dir / INDEX_DIR, name=RETRIEVAL_NAME, catalog_id=catalog_id)
            self._loaded: dict[str, tuple[VectorIndex, int]] = {}
            self._keep_generations_ahead()
            if not read_only:
                for store in (self.store, self.retrieval_store):
                    store.tidy()  # files of a build that was killed
        except BaseException:
            self.catalog.close()
            raise

    def _keep_generations_ahead(self) -> None:
        """If an index was built from this catalog at a later generation than the catalog
        now has, the catalog went back in time (a restored backup, a lost write-ahead log):
        move its generation past the index's, so that index is never taken as current."""
        generation = self.catalog.generation
        newest = max((m.generation for m in (self.store.manifest(), self.retrieval_store.manifest())
                      if m is not None and m.catalog_id == self.catalog.catalog_id), default=-1)
        if newest > generation:
            if self.read_only:
                self._index_ahead = True  # not trusted, and nothing may be written: built in memory
            else:
                self.catalog.advance_generation(newest + 1)

    def close(self) -> None:
        for index, _ in self._loaded.values():
            index.unload()
        self._loaded.clear()
        self.feature_cache.close()
        self.catalog.close()
        close_embedder = getattr(self.embedder, "close", None)  # e.g. stop a model process
        if callable(close_embedder):
            close_embedder()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- indexing ------------------------------------------------------------------
    def indexer(self, **options: object) -> Indexer:
        return Indexer(self.catalog, self.store, self.embedder, retrieval_store=self.retrieval_store, **options)  # type: ignore[arg-type]

    def forget_folder(self, folder: str) -> int:
        """Drop the catalog rows of every file below ``folder`` (the user removed it from the
        library); the photos themselves are not touched. Returns how many rows went."""
        return self.catalog.remove_folder(folder)

    def index(self) -> VectorIndex:
        """The copy-vector Annoy index (duplicates), rebuilt first if the catalog changed."""
        return self._current(self.store, self.embedder.model_id)

    def retrieval_index(self) -> VectorIndex:
        """The retrieval-vector Annoy index (similar search), rebuilt first if the catalog changed."""
        return self._current(self.retrieval_store, retrieval_id_of(self.embedder))

    def _current(self, store: IndexStore, index_id: str) -> VectorIndex:
        """The index of ``store``, loaded and verified; rebuilt from the catalog when it is
        stale, missing or damaged (any file truncated, overwritten, deleted or replaced)."""
        if self.read_only:
            return self._current_read_only(store, index_id)
        generation = self.catalog.generation
        kept = self._still_loaded(store, generation)
        if kept is not None:
            return kept
        found: VectorIndex | None = None
        for _ in range(4):
            if not store.is_current(index_id, generation):
                for _ in self.indexer().ensure_index():
                    pass
            tried = store.manifest()
            index = store.load()
            if index is None:  # damaged files under a current manifest: rebuilt next round
                store.discard(tried)
            elif index.manifest.model_id == index_id and index.manifest.catalog_id in (None, store.catalog_id):
                if found is not None:
                    found.unload()
                found = index
                if index.manifest.generation == self.catalog.generation:
                    break
                # another process changed the catalog meanwhile: catch up, or keep this one
            else:
                index.unload()
            generation = self.catalog.generation
        if found is None:
            raise RuntimeError(f"the index in {store.directory} could not be built from the catalog")
        self._loaded[store.name] = (found, found.manifest.generation)
        return found

    def _still_loaded(self, store: IndexStore, generation: int) -> VectorIndex | None:
        """The index of ``store`` this library loaded before, if still of ``generation``
        (an older one is unloaded)."""
        loaded = self._loaded.pop(store.name, None)
        if loaded is not None:
            if loaded[1] == generation:
                self._loaded[store.name] = loaded
                return loaded[0]
            loaded[0].unload()
        return None

    def _current_read_only(self, store: IndexStore, index_id: str) -> VectorIndex:
        """The index of ``store`` in a read-only data folder: the one on disk when it is
        current and checks out, else one built in memory from the catalog (never saved)."""
        generation = self.catalog.generation
        kept = self._still_loaded(store, generation)
        if kept is not None:
            return kept
        index = store.load() if not self._index_ahead and store.is_current(index_id, generation) else None
        if index is not None and (index.manifest.model_id != index_id or index.manifest.generation != generation):
            index.unload()
            index = None
        if index is None:
            if store is self.store:
                ids, vectors = self.catalog.embeddings(self.embedder.model_id)
            else:
                ids, descriptors = self.catalog.descriptors(feature_id_of(self.embedder))
                vectors = retrieval_vectors(self.embedder, descriptors) if len(ids) else descriptors
            index = build_in_memory(ids, vectors, index_id, generation, catalog_id=store.catalog_id)
        self._loaded[store.name] = (index, generation)
        return index

    # -- similar -------------------------------------------------------------------
    def stored_descriptor(self, path: str) -> np.ndarray | None:
        """The catalog's descriptor of ``path`` if it is indexed and unchanged on disk."""
        row = self.catalog.row_for_path(path)
        if row is None:
            return None
        st = os.stat(path)
        if st.st_size != row.size or st.st_mtime_ns != row.mtime_ns:
            return None
        return self.catalog.descriptor_for_path(path, feature_id_of(self.embedder))

    def describe_file(self, path: str) -> np.ndarray:
        """The descriptor of a photo: from the catalog if it is indexed and unchanged."""
        found = self.describe_paths([path])[0]
        if isinstance(found, DecodeError):
            raise found
        return found

    def describe_paths(self, paths: list[str], batch: int = 32) -> list[np.ndarray | DecodeError]:
        """Descriptors of many photos: stored ones from the catalog, the others decoded and
        embedded in batches (one model load and few model calls for many queries). A photo
        that cannot be read gets its ``DecodeError`` in its place."""
        out: list[np.ndarray | DecodeError | None] = []
        todo: list[tuple[int, np.ndarray]] = []

        def flush() -> None:  # one model call per batch; pixels never pile up for long lists
            if todo:
                for (n, _), d in zip(todo, describe(self.embedder, np.stack([px for _, px in todo]))):
                    out[n] = d
                todo.clear()

        for n, path in enumerate(os.path.abspath(p) for p in paths):
            try:
                stored = self.stored_descriptor(path)
                if stored is None:
                    todo.append((n, decode_for_model(path, self.embedder.input_size).pixels))
                out.append(stored)
            except DecodeError as exc:
                out.append(exc)
            except OSError as exc:  # vanished or unreadable between the check and the read
                out.append(DecodeError(f"cannot read: {exc.strerror or exc}"))
            if len(todo) >= batch:
                flush()
        flush()
        return out  # type: ignore[return-value]

    def similar_to_descriptor(
        self, descriptor: np.ndarray, k: int, exclude: str | None = None, leave_out: LeaveOut | None = None,
        fold: bool = True,
    ) -> list[SimilarHit]:
        """The ``k`` photos most similar to a descriptor, by the retrieval vector; none that
        ``leave_out(path, size)`` leaves out (``core.file_filter``). With ``fold``, a result
        proven an edited copy of a better-ranked one is one of that one's ``copies``
        (``core.similar_copies``), not a result of its own: ``k`` different photos."""
        index = self.retrieval_index()
        query = retrieval_vectors(self.embedder, np.asarray(descriptor, np.float32)[None])[0]
        skip = set()
        if exclude is not None and (row := self.catalog.row_for_path(exclude)) is not None:
            skip.add(row.id)
        want = 2 * k + 1
        while True:
            ids, scores = retrieval_search(index, query, want, exclude=skip)
            rows = {r.id: r for r in self.catalog.rows(ids.tolist())}
            hits = [SimilarHit(rows[i], float(s)) for i, s in zip(ids.tolist(), scores.tolist()) if i in rows]
            # Files the app moved to the trash stay catalogued (for undo) but are not results.
            hits = fold_identical([h for h in hits if h.row.path != exclude and not in_trash(h.row.path)
                                   and (leave_out is None or leave_out(h.row.path, h.row.size) is None)])
            if fold:
                hits = self._fold_copies(hits)
            if len(hits) >= k or len(ids) < want or want >= len(index):
                return hits[:k]
            want *= 4  # many results were left out: look further down the ranking

    def _fold_copies(self, hits: list[SimilarHit]) -> list[SimilarHit]:
        """``similar_copies.fold_copies`` with the catalog's copy vectors and layouts and
        the library's feature cache."""
        from .similar_copies import CopyProver, candidate_pairs, fold_copies

        if len(hits) < 2:
            return hits
        ids = [h.row.id for h in hits]
        stored = self.catalog.descriptors_for(ids, feature_id_of(self.embedder))
        known = np.array([i in stored for i in ids])
        vectors = np.zeros((len(hits), 0), np.float32)
        if known.any():
            found = copy_vectors(self.embedder, np.stack([stored[i] for i in ids if i in stored]))
            vectors = np.zeros((len(hits), found.shape[1]), np.float32)
            vectors[known] = found
        layouts = self.catalog.layouts(ids)
        if len(self._copy_answers) > COPY_ANSWERS:
            self._copy_answers.clear()
        prover = CopyProver([h.row for h in hits], [layouts.get(i) for i in ids], self.feature_cache,
                            known=self._copy_answers)
        try:
            prover.prepare(candidate_pairs(vectors, DEFAULT_THRESHOLD))
            return fold_copies(hits, vectors, prover.proves, DEFAULT_THRESHOLD)
        finally:
            prover.close()

    def similar(self, path: str, k: int = 20, fold: bool = True) -> list[SimilarHit]:
        """The ``k`` photos most similar to ``path`` (which need not be in the library)."""
        path = os.path.abspath(path)
        return self.similar_to_descriptor(self.describe_file(path), k, exclude=path, fold=fold)

    # -- duplicates ----------------------------------------------------------------
    def duplicate_finder(
        self, floor: float = DEFAULT_FLOOR, cancel: CancelToken | None = None,
        progress: Callable[[Progress], None] | None = None, leave_out: LeaveOut | None = None,
    ) -> DuplicateFinder:
        """Candidate pairs of the whole library at ``floor``; group them with ``.groups(t)``."""
        for p in self.iter_duplicate_finder(floor, cancel, leave_out):
            if isinstance(p, DuplicateFinder):
                return p
            if progress is not None:
                progress(p)
        raise AssertionError("unreachable")

    def iter_duplicate_finder(
        self, floor: float = DEFAULT_FLOOR, cancel: CancelToken | None = None, leave_out: LeaveOut | None = None,
    ) -> Iterator[Progress | DuplicateFinder]:
        """Like ``duplicate_finder`` as a generator: yields progress, then the finder.
        Photos ``leave_out(path, size)`` leaves out are in no group (never kept, never moved)."""
        index = self.index()
        ids, vectors = self.catalog.embeddings(self.embedder.model_id)
        rows = self.catalog.rows(ids.tolist())
        trashed = np.fromiter(
            (in_trash(r.path) or (leave_out is not None and leave_out(r.path, r.size) is not None) for r in rows),
            dtype=bool, count=len(rows),
        )
        if trashed.any():  # moved to the trash by the app (kept for undo) or left out: not a duplicate
            keep = np.flatnonzero(~trashed)
            rows, vectors = [rows[i] for i in keep], vectors[keep]
        stored = self.catalog.layouts([r.id for r in rows])
        layouts = [stored.get(r.id) for r in rows]
        finder = DuplicateFinder(rows, vectors, ignored=self.catalog.ignored_pairs(), layouts=layouts,
                                 dates=self.catalog.capture_dates([r.id for r in rows]),
                                 chromas=self.catalog.chromas([r.id for r in rows]), features=self.feature_cache)
        yield from finder.compute_candidates(index, floor=floor, cancel=cancel)
        if self.feature_cache.path.exists():  # the features of photos gone from the library go too
            self.feature_cache.keep_only(r.hash for r in rows if r.hash)
        yield finder
