"""A photo library on disk: the catalog, the index and the model that made its embeddings.

This is the one object the CLI and the GUI hold. It owns no global state: the data
folder and the embedder are injected, which is also how tests swap in a fast fake model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .ann_index import IndexStore, VectorIndex
from .catalog import Catalog, FileRow
from .decoder import DecodeError, decode_for_model
from .duplicates import DEFAULT_FLOOR, DuplicateFinder
from .embedding import Embedder, describe, feature_id_of, retrieval_id_of, retrieval_vectors
from .file_actions import in_trash
from .indexer import Indexer
from .progress import CancelToken, Progress
from .retrieval import search as retrieval_search

CATALOG_NAME = "catalog.sqlite3"
INDEX_DIR = "index"
RETRIEVAL_NAME = "retrieval"


def default_data_dir() -> Path:
    """The platform's per-user data folder (e.g. ~/.local/share/imgfinder on Linux)."""
    override = os.environ.get("IMGFINDER_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path("imgfinder", appauthor=False)


@dataclass(frozen=True)
class SimilarHit:
    row: FileRow
    score: float


class Library:
    """Catalog + index + embedder for one data folder."""

    def __init__(self, data_dir: str | os.PathLike[str], embedder: Embedder) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.embedder = embedder
        self.catalog = Catalog(self.data_dir / CATALOG_NAME)
        self.store = IndexStore(self.data_dir / INDEX_DIR)
        self.retrieval_store = IndexStore(self.data_dir / INDEX_DIR, name=RETRIEVAL_NAME)
        self._loaded: dict[str, tuple[VectorIndex, int]] = {}

    def close(self) -> None:
        for index, _ in self._loaded.values():
            index.unload()
        self._loaded.clear()
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
        prefix = os.path.join(os.path.abspath(folder), "")
        gone = [p for p in self.catalog.states() if p.startswith(prefix)]
        return self.catalog.remove_paths(gone)

    def index(self) -> VectorIndex:
        """The copy-vector Annoy index (duplicates), rebuilt first if the catalog changed."""
        return self._current(self.store, self.embedder.model_id)

    def retrieval_index(self) -> VectorIndex:
        """The retrieval-vector Annoy index (similar search), rebuilt first if the catalog changed."""
        return self._current(self.retrieval_store, retrieval_id_of(self.embedder))

    def _current(self, store: IndexStore, index_id: str) -> VectorIndex:
        generation = self.catalog.generation
        loaded = self._loaded.get(store.ann_path.name)
        if loaded is not None and loaded[1] == generation:
            return loaded[0]
        if not store.is_current(index_id, generation):
            for _ in self.indexer().ensure_index():
                pass
        if loaded is not None:
            loaded[0].unload()
        index = store.load()
        if index is None:  # damaged files under a current manifest: rebuild from the catalog
            store.manifest_path.unlink(missing_ok=True)
            for _ in self.indexer().ensure_index():
                pass
            index = store.load()
        if index is None:
            raise RuntimeError(f"the index in {store.directory} could not be loaded")
        self._loaded[store.ann_path.name] = (index, generation)
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

    def similar_to_descriptor(self, descriptor: np.ndarray, k: int, exclude: str | None = None) -> list[SimilarHit]:
        """The ``k`` photos most similar to a descriptor, by the retrieval vector."""
        index = self.retrieval_index()
        query = retrieval_vectors(self.embedder, np.asarray(descriptor, np.float32)[None])[0]
        skip = set()
        if exclude is not None and (row := self.catalog.row_for_path(exclude)) is not None:
            skip.add(row.id)
        ids, scores = retrieval_search(index, query, 2 * k + 1, exclude=skip)
        rows = {r.id: r for r in self.catalog.rows(ids.tolist())}
        hits = [SimilarHit(rows[i], float(s)) for i, s in zip(ids.tolist(), scores.tolist()) if i in rows]
        # Files the app moved to the trash stay catalogued (for undo) but are not results.
        hits = [h for h in hits if h.row.path != exclude and not in_trash(h.row.path)]
        return hits[:k]

    def similar(self, path: str, k: int = 20) -> list[SimilarHit]:
        """The ``k`` photos most similar to ``path`` (which need not be in the library)."""
        path = os.path.abspath(path)
        return self.similar_to_descriptor(self.describe_file(path), k, exclude=path)

    # -- duplicates ----------------------------------------------------------------
    def duplicate_finder(
        self, floor: float = DEFAULT_FLOOR, cancel: CancelToken | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> DuplicateFinder:
        """Candidate pairs of the whole library at ``floor``; group them with ``.groups(t)``."""
        for p in self.iter_duplicate_finder(floor, cancel):
            if isinstance(p, DuplicateFinder):
                return p
            if progress is not None:
                progress(p)
        raise AssertionError("unreachable")

    def iter_duplicate_finder(
        self, floor: float = DEFAULT_FLOOR, cancel: CancelToken | None = None,
    ) -> Iterator[Progress | DuplicateFinder]:
        """Like ``duplicate_finder`` as a generator: yields progress, then the finder."""
        index = self.index()
        ids, vectors = self.catalog.embeddings(self.embedder.model_id)
        rows = self.catalog.rows(ids.tolist())
        trashed = np.fromiter((in_trash(r.path) for r in rows), dtype=bool, count=len(rows))
        if trashed.any():  # moved to the trash by the app: kept for undo, not a duplicate
            keep = np.flatnonzero(~trashed)
            rows, vectors = [rows[i] for i in keep], vectors[keep]
        stored = self.catalog.layouts([r.id for r in rows])
        layouts = [stored.get(r.id) for r in rows]
        finder = DuplicateFinder(rows, vectors, ignored=self.catalog.ignored_pairs(), layouts=layouts)
        yield from finder.compute_candidates(index, floor=floor, cancel=cancel)
        yield finder
