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
from .decoder import decode_for_model
from .duplicates import DEFAULT_FLOOR, DuplicateFinder
from .embedding import Embedder
from .file_actions import in_trash
from .indexer import Indexer
from .progress import CancelToken, Progress

CATALOG_NAME = "catalog.sqlite3"
INDEX_DIR = "index"


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
        self._index: VectorIndex | None = None
        self._index_generation: int | None = None

    def close(self) -> None:
        if self._index is not None:
            self._index.unload()
            self._index = None
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
        return Indexer(self.catalog, self.store, self.embedder, **options)  # type: ignore[arg-type]

    def forget_folder(self, folder: str) -> int:
        """Drop the catalog rows of every file below ``folder`` (the user removed it from the
        library); the photos themselves are not touched. Returns how many rows went."""
        prefix = os.path.join(os.path.abspath(folder), "")
        gone = [p for p in self.catalog.states() if p.startswith(prefix)]
        return self.catalog.remove_paths(gone)

    def index(self) -> VectorIndex:
        """The current Annoy index, rebuilt first if the catalog changed since it was made."""
        generation = self.catalog.generation
        if self._index is not None and self._index_generation == generation:
            return self._index
        if not self.store.is_current(self.embedder.model_id, generation):
            for _ in self.indexer().ensure_index():
                pass
        if self._index is not None:
            self._index.unload()
        self._index = self.store.load()
        if self._index is None:
            raise RuntimeError(f"the index in {self.store.directory} could not be loaded")
        self._index_generation = generation
        return self._index

    # -- similar -------------------------------------------------------------------
    def embed_file(self, path: str) -> np.ndarray:
        """The embedding of a photo: from the catalog if it is indexed and unchanged."""
        path = os.path.abspath(path)
        row = self.catalog.row_for_path(path)
        if row is not None:
            st = os.stat(path)
            if st.st_size == row.size and st.st_mtime_ns == row.mtime_ns:
                stored = self.catalog.embedding_for_path(path, self.embedder.model_id)
                if stored is not None:
                    return stored
        decoded = decode_for_model(path, self.embedder.input_size)
        return self.embedder.embed(decoded.pixels[None])[0]

    def similar_to_vector(self, vector: np.ndarray, k: int, exclude: str | None = None) -> list[SimilarHit]:
        index = self.index()
        ids, scores = index.query_vector(vector, 2 * k + 1)
        rows = {r.id: r for r in self.catalog.rows(ids.tolist())}
        hits = [SimilarHit(rows[i], float(s)) for i, s in zip(ids.tolist(), scores.tolist()) if i in rows]
        # Files the app moved to the trash stay catalogued (for undo) but are not results.
        hits = [h for h in hits if h.row.path != exclude and not in_trash(h.row.path)]
        return hits[:k]

    def similar(self, path: str, k: int = 20) -> list[SimilarHit]:
        """The ``k`` photos most similar to ``path`` (which need not be in the library)."""
        path = os.path.abspath(path)
        return self.similar_to_vector(self.embed_file(path), k, exclude=path)

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
