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
(see ``IndexStore``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from annoy import AnnoyIndex

DEFAULT_TREES = 64
MANIFEST_VERSION = 3  # 3: files named by the manifest, with their size and CRC-32
CHECK_CHUNK = 1 << 20
PROJECT_ABOVE = 128  # vectors longer than this are indexed by a projection...
PROJECTED_DIM = 128  # ...on this many principal directions
PROJECT_MIN_COUNT = 5000  # below this the trees are cheap anyway: index the vectors as they are
# Up to this much work per query (vectors x dimensions) a query scores every vector exactly:
# results that never depend on how the trees happened to be built. Above, Annoy. From
# benchmarks/exact_search.py (2 cores, 2026-12-07): 50,000 vectors of 256 (the retrieval
# vector) take 3.0 ms exactly against Annoy's 3.2 ms; 10,000 of 1,280 3.1 ms against
# 1.8 ms, where Annoy already misses 2 % of the top 20.
EXACT_MAX_WORK = 50_000 * 256
RERANK = 500  # candidates re-scored exactly per query (projected indexes)
PCA_SAMPLE = 20000  # rows used to find the principal directions
NEAR_SEARCH_K = 500  # search_k of query_position (duplicate candidates) on projected indexes


def default_search_k(k: int, count: int, projected: bool) -> int:
    """Annoy's search_k for a top-``k`` query on ``count`` items (tuned in benchmarks/scale.py).

    Projected indexes examine 40% of the items, at most 50,000 (recall@10 0.95 in 4.8 ms on
    100,000 items, 2 cores); unprojected ones use Annoy's default (trees x k).
    """
    if not projected:
        return -1
    return int(min(count, max(4 * RERANK, k * 40, min(50_000, count * 2 // 5))))


def cosine_from_angular(distance: np.ndarray | float) -> np.ndarray | float:
    """Annoy's angular distance is sqrt(2 - 2 cos); invert it and clip to [0, 1]."""
    return np.clip(1.0 - np.square(distance) / 2.0, 0.0, 1.0)


@dataclass(frozen=True)
class IndexFile:
    """One file of a built index, as its manifest names it: verified before it is used."""

    name: str
    size: int
    crc32: int


@dataclass(frozen=True)
class Manifest:
    model_id: str
    generation: int
    count: int
    dim: int
    trees: int
    projected_dim: int = 0  # 0: Annoy holds the vectors themselves
    catalog_id: str | None = None  # the catalog it was built from (Catalog.catalog_id)
    files: dict[str, IndexFile] = field(default_factory=dict)  # kind -> the file and its checksum


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, cosines) of the ``k`` best of ``vectors`` (L2-normalised rows) for
    ``query``, best first, ties by position: the same answer on every build."""
    # einsum, not ``@``: see VectorIndex._rerank.
    scores = np.einsum("ij,j->i", vectors, np.asarray(query, dtype=np.float32))
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = top[np.lexsort((top, -scores[top]))]
    return order.astype(np.int64), scores[order].astype(np.float32)


class VectorIndex:
    """A loaded (memory-mapped) Annoy index, the full vectors and the id map."""

    def __init__(
        self, annoy: AnnoyIndex, ids: np.ndarray, manifest: Manifest,
        vectors: np.ndarray | None = None, projection: np.ndarray | None = None,
    ) -> None:
        self._annoy = annoy
        self.ids = ids
        self.manifest = manifest
        self.vectors = vectors  # (N, dim) float32, L2-normalised, memory-mapped
        self.projection = projection  # (dim, projected_dim) or None
        self._position = {int(i): p for p, i in enumerate(ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def position_of(self, file_id: int) -> int | None:
        return self._position.get(int(file_id))

    def _rerank(self, candidates: list[int], query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        assert self.vectors is not None
        cand = np.unique(np.asarray(candidates, dtype=np.int64))  # sorted: memory-map pages in order
        # einsum, not ``@``: a small matrix-vector product through multi-threaded BLAS
        # costs 10-20 ms when the cores are busy (measured), against 0.2 ms single-threaded.
        scores = np.einsum("ij,j->i", self.vectors[cand], query)
        order = np.argsort(-scores, kind="stable")[:k]
        return cand[order], scores[order].astype(np.float32)

    def query_vector(self, vector: np.ndarray, k: int, search_k: int = -1,
                     exact: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(catalog ids, cosine scores) of the ``k`` nearest items, best first.

        ``exact``: score every stored vector (default: up to ``EXACT_MAX_WORK``, when the
        full vectors are loaded). ``search_k=-1`` uses :func:`default_search_k`.
        """
        if len(self.ids) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
        if exact is None:
            exact = len(self.ids) * len(query) <= EXACT_MAX_WORK
        if exact and self.vectors is not None:
            query = query / max(float(np.linalg.norm(query)), 1e-12)
            positions, scores = exact_top(self.vectors, query, k)
            return self.ids[positions], np.clip(scores, 0.0, 1.0)
        if self.projection is None or self.vectors is None:
            positions, distances = self._annoy.get_nns_by_vector(
                query.tolist(), k, search_k=search_k, include_distances=True
            )
            return self.ids[np.asarray(positions, dtype=np.int64)], np.asarray(
                cosine_from_angular(np.asarray(distances, dtype=np.float32)), dtype=np.float32
            )
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        if search_k < 0:
            search_k = default_search_k(k, len(self.ids), True)
        projected = np.einsum("i,ij->j", query, self.projection)  # no BLAS threads (see _rerank)
        candidates = self._annoy.get_nns_by_vector(projected.tolist(), max(k, RERANK), search_k=search_k)
        positions, scores = self._rerank(candidates, query, k)
        return self.ids[positions], np.clip(scores, 0.0, 1.0)

    def query_position(self, position: int, k: int, search_k: int = -1) -> np.ndarray:
        """Positions of the ``k`` nearest items to the item at ``position`` (itself included)."""
        return self.query_position_scored(position, k, search_k)[0]

    def query_position_scored(self, position: int, k: int, search_k: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """(positions, exact cosines) of the ``k`` nearest items to the item at ``position``,
        best first, itself included. Thread-safe; Annoy releases the GIL while searching."""
        if self.projection is None or self.vectors is None:
            found = self._annoy.get_nns_by_item(position, k, search_k=search_k)
            if self.vectors is None:
                return np.asarray(found, dtype=np.int64), np.zeros(len(found), np.float32)
            return self._rerank(found, np.asarray(self.vectors[position]), k)
        # Near neighbours of an indexed item are what duplicate search asks for: a small
        # candidate pool re-scored exactly is enough (see ``NEAR_SEARCH_K``).
        if search_k < 0:
            search_k = max(NEAR_SEARCH_K, 4 * k)
        candidates = self._annoy.get_nns_by_item(position, max(k * 2, 32), search_k=search_k)
        return self._rerank(candidates, np.asarray(self.vectors[position]), k)

    def unload(self) -> None:
        self._annoy.unload()
        self.vectors = None


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


def _build_annoy(vectors: np.ndarray, projection: np.ndarray | None, trees: int, seed: int) -> AnnoyIndex:
    """The Annoy trees over ``vectors`` (projected first when ``projection`` is given)."""
    indexed = vectors if projection is None else project(vectors, projection)
    annoy = AnnoyIndex(indexed.shape[1], "angular")
    annoy.set_seed(seed)
    for position, vector in enumerate(indexed):
        annoy.add_item(position, vector)
    del indexed
    annoy.build(trees, n_jobs=1)
    return annoy


def build_in_memory(
    ids: np.ndarray, vectors: np.ndarray, model_id: str, generation: int, catalog_id: str | None = None,
    trees: int = DEFAULT_TREES, seed: int = 42, project_min_count: int = PROJECT_MIN_COUNT,
) -> VectorIndex:
    """The index ``IndexStore.build`` would write, held in memory only: for a data folder
    that cannot be written (the same trees and seed, so the same results as a saved one)."""
    count = len(ids)
    dim = int(vectors.shape[1]) if count else 0
    projected = dim > PROJECT_ABOVE and count >= project_min_count
    full = np.ascontiguousarray(vectors, dtype=np.float32).reshape(count, dim)
    projection = principal_directions(full, PROJECTED_DIM, seed) if projected else None
    annoy = _build_annoy(full, projection, trees, seed) if count else AnnoyIndex(1, "angular")
    manifest = Manifest(model_id, int(generation), count, dim, trees, PROJECTED_DIM if projected else 0, catalog_id)
    return VectorIndex(annoy, np.asarray(ids, dtype=np.int64), manifest, full, projection)


def _parse_manifest(raw: bytes, name: str) -> Manifest | None:
    """A manifest of this format with fields of the right types, or None."""
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
            return None
        ints = {k: data[k] for k in ("generation", "count", "dim", "trees", "projected_dim")}
        if not all(type(v) is int and v >= 0 for v in ints.values()):
            return None
        model_id, catalog_id, files = data["model_id"], data.get("catalog_id"), data["files"]
        if not isinstance(model_id, str) or not (catalog_id is None or isinstance(catalog_id, str)):
            return None
        if not isinstance(files, dict):
            return None
        needed = {"ann", "ids", "vectors"} | ({"projection"} if ints["projected_dim"] else set())
        if set(files) != needed:
            return None
        entries = {}
        for kind, entry in files.items():
            f_name, size, crc = entry["name"], entry["size"], entry["crc32"]
            if not (
                isinstance(f_name, str) and f_name.startswith(name + ".") and os.path.basename(f_name) == f_name
                and f_name not in (".", "..") and type(size) is int and size >= 0 and type(crc) is int
            ):
                return None
            entries[kind] = IndexFile(f_name, size, crc)
        return Manifest(model_id, ints["generation"], ints["count"], ints["dim"], ints["trees"],
                        ints["projected_dim"], catalog_id, entries)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def _checksum(handle: BinaryIO) -> tuple[int, int]:
    """(size, CRC-32) of an open file's contents, read in 1 MB pieces."""
    crc, size = 0, 0
    while chunk := handle.read(CHECK_CHUNK):
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
    return size, crc


def _read_npy(path: Path, expected: IndexFile) -> np.ndarray | None:
    data = path.read_bytes()
    if len(data) != expected.size or zlib.crc32(data) != expected.crc32:
        return None
    return np.load(io.BytesIO(data), allow_pickle=False)


def _map_npy(path: Path, expected: IndexFile, shape: tuple[int, int]) -> np.ndarray | None:
    """The float32 array of a verified .npy file, memory-mapped from the very file checked."""
    with open(path, "rb") as handle:
        if _checksum(handle) != (expected.size, expected.crc32):
            return None
        handle.seek(0)
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            header = np.lib.format.read_array_header_2_0(handle)
        else:
            return None
        file_shape, fortran, dtype = header
        if tuple(file_shape) != shape or fortran or dtype != np.dtype(np.float32):
            return None
        if not shape[0] or not shape[1]:
            return np.zeros(shape, np.float32)
        # A plain ndarray over the map: np.memmap's indexing costs ~30 us a call in Python.
        return np.memmap(handle, np.float32, mode="r", offset=handle.tell(), shape=shape).view(np.ndarray)


def _remove(path: Path) -> None:
    """Remove a derived file (or a folder in its place); never follows a link."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass  # e.g. still mapped by a reader on Windows: removed by a later build


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


def principal_directions(vectors: np.ndarray, n: int, seed: int = 42) -> np.ndarray:
    """(dim, n) float32: the top ``n`` eigenvectors of the (uncentred) second moment of a
    sample of the rows, so dot products survive the projection as well as they can."""
    rows = len(vectors)
    if rows > PCA_SAMPLE:
        pick = np.sort(np.random.default_rng(seed).choice(rows, PCA_SAMPLE, replace=False))
        sample = np.asarray(vectors[pick], dtype=np.float32)
    else:
        sample = np.asarray(vectors, dtype=np.float32)
    moment = (sample.T @ sample).astype(np.float64)
    _, eigvecs = np.linalg.eigh(moment)
    return np.ascontiguousarray(eigvecs[:, ::-1][:, :n], dtype=np.float32)


def project(vectors: np.ndarray, projection: np.ndarray, chunk: int = 8192) -> np.ndarray:
    out = np.empty((len(vectors), projection.shape[1]), np.float32)
    for s in range(0, len(vectors), chunk):
        out[s : s + chunk] = np.asarray(vectors[s : s + chunk], dtype=np.float32) @ projection
    return out
