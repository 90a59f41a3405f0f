"""The Annoy nearest-neighbour index over the catalog's embeddings.

Long vectors (the model's 1280 dimensions) are indexed by their projection on the
top ``PROJECTED_DIM`` principal directions: Annoy's trees split far better and each
distance costs a tenth, so it can afford to look at many more candidates. The best
``RERANK`` candidates are then re-scored exactly against the full vectors (a memory-mapped
sidecar), so the scores returned are exact cosines. Measured on 100,000 synthetic
1280-d embeddings (``benchmarks/scale.py``): plain Annoy reached recall@10 0.87 in 8 ms;
projected to 128-d with 64 trees, search_k 40,000 and 500 re-ranked, 0.95 in 4.8 ms.
Fewer trees did as well at the same search_k (recall is set by search_k here); 64 is the
setting the near-duplicate search (``NEAR_SEARCH_K``, few candidates) was validated with.

Annoy item numbers are dense positions 0..N-1; a sidecar array maps them back to catalog
ids, so deleted rows never leave phantom zero vectors in the index. Each build's files get
names of their own, then a small JSON manifest that names them (with their checksums) and
the catalog, generation and model they were built from replaces the previous one: a crash
at any point leaves the old index or the new one, and damaged files trigger a rebuild
(see ``IndexStore``)."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

from .index_files import MANIFEST_VERSION, IndexFile, Manifest, _checksum, _map_npy, _parse_manifest, _read_npy, _remove
from .vector_search import (
    DEFAULT_TREES,
    EXACT_MAX_WORK,
    PROJECT_ABOVE,
    PROJECT_MIN_COUNT,
    PROJECTED_DIM,
    VectorIndex,
    _build_annoy,
    build_in_memory,
    default_search_k,
    exact_top,
    principal_directions,
)

# The index's façade: its files and its search are defined beside it (index_files,
# vector_search) and re-exported here.
__all__ = [
    "DEFAULT_TREES", "EXACT_MAX_WORK", "PROJECTED_DIM", "IndexStore", "Manifest", "VectorIndex", "build_in_memory",
    "default_search_k", "exact_top",
]


class IndexStore:
    """Where an index lives on disk, and how it is built, validated and loaded.

    Each build writes its files under new names (``embeddings.<token>.ann``, ...) and then
    atomically replaces the manifest (``embeddings.json``), which names them with their size
    and CRC-32; files no manifest names any more are removed afterwards. A reader therefore
    sees either the old or the new complete index, never a mix, and never a temporary name.
    One writer at a time per index: builds hold an OS file lock (``embeddings.lock``, released
    by the OS if the process dies). Every load checks each file against the manifest, so a
    truncated, overwritten or missing file, or a manifest that is not one, makes ``load``
    return None and the caller rebuilds from the catalog (``Library``).
    """

    def __init__(
        self, directory: str | os.PathLike[str], name: str = "embeddings", catalog_id: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.name = name
        self.catalog_id = catalog_id  # the catalog this index must come from (None: not checked)
        self.manifest_path = self.directory / f"{name}.json"
        self.lock_path = self.directory / f"{name}.lock"

    # -- the files of the current build ---------------------------------------------------
    def _file(self, kind: str, legacy: str) -> Path:
        m = self.manifest()
        if m is not None and kind in m.files:
            return self.directory / m.files[kind].name
        return self.directory / f"{self.name}{legacy}"

    @property
    def ann_path(self) -> Path:
        return self._file("ann", ".ann")

    @property
    def ids_path(self) -> Path:
        return self._file("ids", ".ids.npy")

    @property
    def vectors_path(self) -> Path:
        return self._file("vectors", ".vectors.npy")

    @property
    def projection_path(self) -> Path:
        return self._file("projection", ".projection.npy")

    def manifest(self) -> Manifest | None:
        """The manifest if there is a valid one of this format, else None (never raises)."""
        try:
            raw = self.manifest_path.read_bytes()
        except OSError:
            return None
        return _parse_manifest(raw, self.name)

    def _matches(self, m: Manifest, model_id: str, generation: int) -> bool:
        return (
            m.model_id == model_id and m.generation == generation
            and (self.catalog_id is None or m.catalog_id == self.catalog_id)
        )

    def is_current(self, model_id: str, generation: int) -> bool:
        """Built from this catalog at this generation with this model, its files all there
        (their contents are checked by ``load``)."""
        m = self.manifest()
        return m is not None and self._matches(m, model_id, generation) and all(
            (self.directory / f.name).is_file() for f in m.files.values()
        )

    # -- building -----------------------------------------------------------------------
    def build(
        self,
        ids: np.ndarray,
        vectors: np.ndarray,
        model_id: str,
        generation: int,
        trees: int = DEFAULT_TREES,
        seed: int = 42,
        project_min_count: int = PROJECT_MIN_COUNT,
    ) -> None:
        """Build from (ids, vectors) and atomically replace whatever was on disk."""
        count = len(ids)
        dim = int(vectors.shape[1]) if count else 0
        projected = dim > PROJECT_ABOVE and count >= project_min_count
        self._prepare_directory()
        with self._write_lock():
            current = self.manifest()
            if (
                current is not None and self._matches(current, model_id, generation)
                and (current.count, current.dim, current.trees, bool(current.projected_dim)) == (count, dim, trees, projected)
                and self.is_current(model_id, generation)
            ):
                return  # another process built this very index while we waited for the lock
            token = uuid.uuid4().hex[:12]
            written: list[Path] = []

            def target(suffix: str) -> Path:
                path = self.directory / f"{self.name}.{token}.{suffix}"
                written.append(path)
                return path

            try:
                files = self._write_files(ids, vectors, count, dim, projected, trees, seed, target)
                manifest = {
                    "version": MANIFEST_VERSION, "model_id": model_id, "generation": int(generation),
                    "catalog_id": self.catalog_id, "count": count, "dim": dim, "trees": trees,
                    "projected_dim": PROJECTED_DIM if projected else 0,
                    "files": {kind: {"name": f.name, "size": f.size, "crc32": f.crc32} for kind, f in files.items()},
                }
                tmp = target(f"json.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(manifest))
                if self.manifest_path.is_dir():
                    _remove(self.manifest_path)  # a folder in its place: os.replace cannot overwrite it
                os.replace(tmp, self.manifest_path)  # the moment the new index becomes the index
            except BaseException:
                for path in written:
                    _remove(path)
                raise
            self._remove_unreferenced({self.manifest_path.name, self.lock_path.name, *(f.name for f in files.values())})

    def _write_files(
        self, ids: np.ndarray, vectors: np.ndarray, count: int, dim: int, projected: bool, trees: int, seed: int,
        target: Callable[[str], Path],
    ) -> dict[str, IndexFile]:
        paths = {"ann": target("ann"), "ids": target("ids.npy"), "vectors": target("vectors.npy")}
        projection = principal_directions(vectors, PROJECTED_DIM, seed) if projected else None
        if count:
            annoy = _build_annoy(vectors, projection, trees, seed)
            annoy.save(os.fspath(paths["ann"]))
            annoy.unload()
        else:
            paths["ann"].write_bytes(b"")
        with open(paths["ids"], "wb") as handle:
            np.save(handle, np.asarray(ids, dtype=np.int64))
        with open(paths["vectors"], "wb") as handle:
            np.save(handle, np.ascontiguousarray(vectors, dtype=np.float32).reshape(count, dim))
        if projection is not None:
            paths["projection"] = target("projection.npy")
            with open(paths["projection"], "wb") as handle:
                np.save(handle, projection)
        out = {}
        for kind, path in paths.items():
            with open(path, "rb") as handle:
                size, crc = _checksum(handle)
            out[kind] = IndexFile(path.name, size, crc)
        return out

    def discard(self, damaged: Manifest | None) -> None:
        """Drop the manifest ``damaged`` (its files did not check out), so the index is rebuilt;
        a manifest another process has written meanwhile is left alone."""
        if damaged is None or not self.directory.is_dir():
            return
        with self._write_lock():
            if self.manifest() == damaged:
                _remove(self.manifest_path)

    def clear(self) -> None:
        """Remove the index (manifest and files); it is rebuilt from the catalog when next used."""
        if not self.directory.is_dir():
            return
        with self._write_lock():
            _remove(self.manifest_path)
            self._remove_unreferenced({self.lock_path.name})

    def tidy(self) -> None:
        """Remove files no manifest names (left by a build that was killed) if no build is
        running now; never waits."""
        if not self.directory.is_dir():
            return
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            if not _try_lock_fd(fd):
                return  # a build is running: its files are not stale
            try:
                m = self.manifest()
                named = {f.name for f in m.files.values()} if m is not None else set()
                self._remove_unreferenced({self.manifest_path.name, self.lock_path.name, *named})
            finally:
                _unlock_fd(fd)
        finally:
            os.close(fd)

    def _prepare_directory(self) -> None:
        # A file where the folder belongs is reported (FileExistsError), not removed.
        self.directory.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """One builder at a time (other processes wait); the OS releases it if we die."""
        if self.lock_path.is_dir() and not self.lock_path.is_symlink():
            _remove(self.lock_path)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock_fd(fd)
            try:
                yield
            finally:
                _unlock_fd(fd)
        finally:
            os.close(fd)

    def _remove_unreferenced(self, keep: set[str]) -> None:
        """Remove this index's files that no manifest names: older builds, builds a killed
        process left half-written, temporary manifests, the previous format's fixed names.
        Called with the write lock held, so none of them is being written."""
        prefix = self.name + "."
        try:
            entries = [e.name for e in os.scandir(self.directory)]
        except OSError:
            return
        for name in entries:
            if name.startswith(prefix) and name not in keep:
                _remove(self.directory / name)  # a reader that mapped it keeps its copy (POSIX)

    # -- loading --------------------------------------------------------------------------
    def load(self) -> VectorIndex | None:
        """Memory-map the index, or None when it is missing, damaged or inconsistent."""
        for _ in range(5):
            m = self.manifest()
            if m is None:
                return None
            try:
                return self._load(m)
            except FileNotFoundError:
                if self.manifest() == m:
                    return None  # a file the manifest names is gone: damaged
                # else a newer build replaced the index (and removed these files): read it
        return None

    def _load(self, m: Manifest) -> VectorIndex | None:
        paths = {kind: self.directory / f.name for kind, f in m.files.items()}
        try:
            ids = _read_npy(paths["ids"], m.files["ids"])
            if ids is None or ids.dtype != np.int64 or ids.shape != (m.count,):
                return None
            projection = None
            if m.projected_dim:
                projection = _read_npy(paths["projection"], m.files["projection"])
                if projection is None or projection.shape != (m.dim, m.projected_dim):
                    return None
                projection = projection.astype(np.float32, copy=False)
            vectors = _map_npy(paths["vectors"], m.files["vectors"], (m.count, m.dim))
            if vectors is None:
                return None
            with open(paths["ann"], "rb") as handle:
                if _checksum(handle) != (m.files["ann"].size, m.files["ann"].crc32):
                    return None
        except FileNotFoundError:
            raise
        except Exception:  # noqa: BLE001 - any unreadable file (OSError, EOFError, bad header...) is damage
            return None
        annoy = AnnoyIndex(max(m.projected_dim or m.dim, 1), "angular")
        if m.count:
            try:
                annoy.load(os.fspath(paths["ann"]), prefault=False)
            except OSError:
                if not paths["ann"].exists():
                    raise FileNotFoundError(paths["ann"]) from None
                return None
            if annoy.get_n_items() != m.count:
                annoy.unload()
                return None
        return VectorIndex(annoy, ids, m, vectors, projection)


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock_fd(fd: int) -> None:
        while True:
            try:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for ~10 s, then raises
                return
            except OSError:
                continue

    def _try_lock_fd(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock_fd(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock_fd(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _try_lock_fd(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock_fd(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
