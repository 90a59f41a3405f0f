"""The duplicate search's pair check by local features (``core.copy_proof``), with each
photo's features made once, when it first appears in a candidate pair, and cached (``core.feature_cache``).

Why lazily and not at index time: most photos of a library without copies never reach
a full check (the copy vectors and the 64 px layout filter reject their pairs first), so
finding SIFT keypoints for every photo while indexing would pay for evidence that is
never asked for. ``benchmarks/copies_hard.py`` measures what the check costs on
libraries with and without copies.

Work is bounded per photo as before (``core.grouping``'s budgets decide how many pairs
of a photo are checked); memory is bounded by keeping at most ``KEEP`` photos' features
in memory (the rest are read back from the cache, ``core.feature_cache``).

On more than one core, the photos of the pairs a grouping is about to check are found
ahead in threads (``extract_many``): decoding and SIFT run in C with the GIL released,
and OpenCV's own parallel SIFT keeps two cores only ~60 % busy, while one SIFT per core
keeps both busy.
"""

from __future__ import annotations

import struct
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from .copy_proof import Proof, prove
from .jpeg_quality import file_blockiness
from .keypoints import FORMAT, LocalFeatures, extract, single_threaded_opencv
from .progress import CancelToken

# Photos' features kept in memory, ~360 KB each (the descriptors as uint8 and as the
# float32 the matcher wants, and the check picture): 256 of them ~90 MB. At 100,000 photos
# 768 took the search past 2 GB (benchmarks/scale_real.py); one read back from the cache
# costs well under a millisecond.
KEEP = 256
BLOCKING_FORMAT = 1_000 + FORMAT  # the cache's key for a file's pixel blocking (``jpeg_quality``)
WRITE_EVERY = 32  # new features written to the catalog in batches of this many


class FeatureStore(Protocol):
    """Where features are cached between searches, by content hash (``feature_cache``)."""

    def get(self, content_hash: str, fmt: int) -> bytes | None: ...

    def put(self, items: Sequence[tuple[str, bytes]], fmt: int) -> None: ...


class LocalCheck:
    """Proofs for pairs of rows (positions in ``paths``), computed once per pair.

    ``ids[i]`` and ``hashes[i]`` are row i's catalog id and content hash (the cache key);
    ``store`` may be None (no cache: features live only as long as this object).
    ``extract`` is injectable for tests."""

    def __init__(
        self, paths: Sequence[str], ids: Sequence[int], hashes: Sequence[str | None],
        store: FeatureStore | None = None, extract_features: Callable[[str], LocalFeatures] = extract,
    ) -> None:
        self.paths, self.ids, self.hashes = paths, ids, hashes
        self.store = store
        self.extract = extract_features
        self._kept: OrderedDict[int, LocalFeatures | None] = OrderedDict()
        # Made but not written yet (content hash -> bytes): read back from here too, or a
        # photo dropped from memory before its batch was written was made again.
        self._pending: dict[str, bytes] = {}
        self._proofs: dict[tuple[int, int], Proof | None] = {}
        self.extracted = 0  # photos whose features were made (not found cached)
        self.reasons: dict[int, str] = {}  # row -> why it has no features (unreadable, vanished)
        self._blocking: dict[int, float | None] = {}

    def features(self, i: int) -> LocalFeatures | None:
        if i in self._kept:
            self._kept.move_to_end(i)
            return self._kept[i]
        found = self._cached(i)
        if found is None and i not in self.reasons:
            try:
                found = self.extract(self.paths[i])
            except Exception as exc:  # noqa: BLE001 - any unreadable photo is only "not proven"
                self._failed(i, exc)
            else:
                self._made(i, found)
        self._keep(i, found)
        return found

    def _keep(self, i: int, found: LocalFeatures | None) -> None:
        self._kept[i] = found
        self._kept.move_to_end(i)
        if len(self._kept) > KEEP:
            self._kept.popitem(last=False)

    def _failed(self, i: int, exc: BaseException) -> None:
        self.reasons[i] = str(exc) or type(exc).__name__

    def _made(self, i: int, found: LocalFeatures) -> None:
        self.extracted += 1
        if self.hashes[i]:
            self._pending[self.hashes[i]] = found.to_bytes()
            if len(self._pending) >= WRITE_EVERY:
                self.flush()

    def blocking(self, rows: Sequence[int], workers: int = 2) -> list[float | None]:
        """``jpeg_quality.file_blockiness`` of each of ``rows`` (a full-size decode, so
        asked only for the keeper's close calls), on ``workers`` threads, cached by
        content like the features."""
        todo = []
        for i in rows:
            if i in self._blocking:
                continue
            h = self.hashes[i]
            raw = self.store.get(h, BLOCKING_FORMAT) if self.store is not None and h else None
            if raw is not None and len(raw) == 4:
                self._blocking[i] = struct.unpack("<f", raw)[0]
            else:
                todo.append(i)
        if todo:
            with ThreadPoolExecutor(max(1, min(workers, len(todo))), thread_name_prefix="blocking") as pool:
                found = list(pool.map(lambda i: file_blockiness(self.paths[i]), todo))
            # As stored (float32), so a value read back from the cache decides the same.
            found = [None if b is None else struct.unpack("<f", struct.pack("<f", b))[0] for b in found]
            self._blocking.update(zip(todo, found))
            if self.store is not None:
                self.store.put([(self.hashes[i], struct.pack("<f", b)) for i, b in zip(todo, found)
                                if b is not None and self.hashes[i]], BLOCKING_FORMAT)
        return [self._blocking[i] for i in rows]

    def needs_extraction(self, i: int) -> bool:
        """Would ``features(i)`` have to decode the photo (not in memory, not cached,
        not known unreadable)? A cached photo's features are read into memory on the way."""
        if i in self._kept or i in self.reasons:
            return False
        found = self._cached(i)
        if found is not None:
            self._keep(i, found)
            return False
        return True

    def extract_many(self, rows: Sequence[int], workers: int, cancel: CancelToken | None = None) -> int:
        """Find the features of ``rows`` (photos that ``needs_extraction``) on ``workers``
        threads, at most ``2 workers`` photos in flight so memory stays bounded; each is
        kept and cached as ``features`` would. Returns how many were made; honours
        ``cancel`` between photos (what is done stays cached)."""
        rows = [i for i in rows if i not in self._kept and i not in self.reasons]
        if not rows:
            return 0
        made = 0

        def take(item: tuple[int, Future]) -> None:
            nonlocal made
            i, fut = item
            try:
                found = fut.result()
            except Exception as exc:  # noqa: BLE001 - as in ``features``
                self._failed(i, exc)
                self._keep(i, None)
            else:
                self._made(i, found)
                self._keep(i, found)
                made += 1

        flying: deque[tuple[int, Future]] = deque()
        with single_threaded_opencv(), ThreadPoolExecutor(max(1, workers), thread_name_prefix="local-features") as pool:
            try:
                for i in rows:
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    flying.append((i, pool.submit(self.extract, self.paths[i])))
                    if len(flying) >= 2 * max(1, workers):
                        take(flying.popleft())
                while flying:
                    take(flying.popleft())
            finally:
                for _, fut in flying:
                    fut.cancel()
        return made

    def _cached(self, i: int) -> LocalFeatures | None:
        h = self.hashes[i]
        if not h:
            return None
        raw = self._pending.get(h)
        if raw is None and self.store is not None:
            raw = self.store.get(h, FORMAT)
        if raw is None:
            return None
        try:
            return LocalFeatures.from_bytes(raw)
        except Exception:  # noqa: BLE001 - a damaged cache entry is made anew
            return None

    def flush(self) -> None:
        """Write the features made since the last flush to the store (a read-only data
        folder only loses the cache: the search itself goes on)."""
        pending, self._pending = list(self._pending.items()), {}
        if self.store is not None and pending:
            self.store.put(pending, FORMAT)

    def proof(self, i: int, j: int) -> Proof | None:
        """The proof for rows i and j, stated as (a=i, b=j); None when either photo has no
        features (unreadable now)."""
        key = (i, j) if i < j else (j, i)
        if key not in self._proofs:
            fa, fb = self.features(key[0]), self.features(key[1])
            self._proofs[key] = prove(fa, fb) if fa is not None and fb is not None else None
        found = self._proofs[key]
        if found is None or key == (i, j):
            return found
        return found.swapped()

    def has_proof(self, i: int, j: int) -> bool:
        return ((i, j) if i < j else (j, i)) in self._proofs

    def known_proof(self, i: int, j: int) -> Proof | None:
        """The proof for (i, j) if one was made (by the grouping); None otherwise."""
        key = (i, j) if i < j else (j, i)
        found = self._proofs.get(key)
        if found is None or key == (i, j):
            return found
        return found.swapped()

    def copies(self, i: int, j: int) -> bool:
        p = self.proof(i, j)
        return p is not None and p.copies
