"""The indexing pipeline: scan, decide what changed, read + decode in a thread pool,
embed in batches, commit each batch, then rebuild the Annoy index.

Pillow releases the GIL while decoding and resizing, so decoder threads overlap with
each other and with the model. The number of files in flight is bounded, so memory stays
flat however large the folder is. Cancelling stops after the current batch is committed.

What a file's reading found (hash, size, mtime, dimensions, layout signature, the EXIF
facts of its header (``metadata.image_info``), or why it could not be read) is committed
*before* the model is asked for its embedding, together with every other photo already
decoded: the model's first call can take seconds (it loads), and a run killed then keeps
that work. A row with facts but no embedding is finished by the next run (counted in
``added`` and ``resumed``): its stored hash (and EXIF facts) are kept, and its pixels are
decoded again unless identical bytes already have an embedding.
"""

from __future__ import annotations

import os
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .ann_index import IndexStore
from .catalog import Catalog, FileRecord, KnownContent
from .decoder import DecodedImage, DecodeError, PhotoFile
from .embedding import Embedder, copy_vectors, describe, feature_id_of, retrieval_id_of, retrieval_vectors
from .metadata import PhotoInfo, image_info
from .progress import CancelToken, Cancelled, Progress
from .scanner import ScannedFile, ScanProblem, scan

SCAN_PROBLEMS_FILE = "scan_problems.json"  # beside the catalog: what the last scans could not read


@dataclass
class IndexSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    decoded: int = 0  # files actually decoded this run (0 on an unchanged re-index)
    reused: int = 0  # files whose embedding was copied from an identical file
    rederived: int = 0  # files whose copy vector was remade from the stored descriptor (new head)
    resumed: int = 0  # of ``added``: facts committed by an interrupted run, embedded now
    cancelled: bool = False
    problems: list[tuple[str, str]] = field(default_factory=list)  # every file that cannot be read
    # Of those, files already unreadable at the last run and unchanged since: known, not
    # failures of this run (a cron job re-indexing a library is not failing every night).
    known_unreadable: set[str] = field(default_factory=set)
    index_rebuilt: bool = False
    # Left out of the scan on purpose, by scanner.SKIP_REASONS key (folders count as one).
    skipped: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "removed": self.removed, "failed": self.failed, "decoded": self.decoded,
            "reused": self.reused, "rederived": self.rederived, "resumed": self.resumed,
            "cancelled": self.cancelled, "index_rebuilt": self.index_rebuilt,
            "skipped": dict(sorted(self.skipped.items())),
            "problems": [{"path": p, "reason": r} for p, r in self.problems],
            "known_unreadable": len(self.known_unreadable),
            "new_problems": [{"path": p, "reason": r} for p, r in self.new_problems],
        }

    @property
    def new_problems(self) -> list[tuple[str, str]]:
        """What could not be read this run and was not known unreadable before."""
        return [(p, r) for p, r in self.problems if p not in self.known_unreadable]


@dataclass
class _Work:
    file: ScannedFile
    is_new: bool
    resume: bool = False  # the catalog has its facts (an interrupted run), not its embedding


@dataclass
class _Result:
    work: _Work
    decoded: DecodedImage | None = None
    content_hash: str | None = None
    known: KnownContent | None = None  # same bytes already embedded: nothing to decode
    error: str | None = None
    size: int | None = None  # of the bytes actually read (fstat of the open file)
    mtime_ns: int | None = None
    info: PhotoInfo | None = None  # EXIF facts from the header (None: the file was not opened)

    def record(self, content: KnownContent | None = None) -> FileRecord:
        """The catalog row: facts only until ``content`` (an embedding) is known."""
        f = self.work.file
        size = f.size if self.size is None else self.size
        mtime_ns = f.mtime_ns if self.mtime_ns is None else self.mtime_ns
        if self.error is not None:
            return FileRecord(f.path, size, mtime_ns, error=self.error)
        if content is None and self.decoded is not None:
            d = self.decoded
            return FileRecord(f.path, size, mtime_ns, self.content_hash, d.width, d.height, layout=d.layout,
                              info=self.info, chroma=d.chroma)
        assert content is not None
        return FileRecord(
            f.path, size, mtime_ns, self.content_hash, content.width, content.height, content.embedding,
            layout=content.layout, descriptor=content.descriptor, info=self.info, chroma=content.chroma,
        )


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _warm_up(embedder: Embedder) -> threading.Thread | None:
    """Load a lazy model (``embedder.load()``) in the background while the first photos
    are read and decoded: a cold start then costs max(load, decode) instead of the sum.
    Errors are left for the first ``embed`` call to raise in the indexing thread."""
    load = getattr(embedder, "load", None)
    if not callable(load) or getattr(embedder, "loaded", False):
        return None

    def run() -> None:
        try:
            load()
        except Exception:  # noqa: BLE001 - reported by embed() where it can be handled
            pass

    thread = threading.Thread(target=run, name="imgfinder-model-load", daemon=True)
    thread.start()
    return thread


class Indexer:
    """Brings a catalog and its index up to date with folders on disk."""

    def __init__(
        self,
        catalog: Catalog,
        store: IndexStore,
        embedder: Embedder,
        batch_size: int = 32,
        workers: int | None = None,
        trees: int | None = None,
        in_flight: int | None = None,
        retrieval_store: IndexStore | None = None,
        first_batch: int | None = None,
        leave_out: Callable[[str, int], str | None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.retrieval_store = retrieval_store  # the similar-search index (None: not kept)
        self.embedder = embedder
        self.batch_size = batch_size
        # The first batch's size (then doubling up to batch_size): a small one is embedded
        # sooner after start (the CLI: 2 photos, within a second instead of ~2.7 s for 32).
        self.first_batch = max(1, min(batch_size, first_batch or batch_size))
        self.workers = workers or default_workers()
        self.trees = trees
        # Files read or decoded but not yet committed, at most: enough to keep decoders
        # busy while a batch is embedded and while a cold model loads (4 batches of
        # 224x224 pixels are ~19 MB), small enough that memory does not grow with the folder.
        self.in_flight = max(1, in_flight or max(self.batch_size * 4, self.workers * 4))
        self.summary = IndexSummary()
        # Photos left out on purpose (``core.file_filter``: --exclude, --min-size): counted in
        # ``summary.skipped`` and, like files gone from the folders, dropped from the catalog.
        self.leave_out = leave_out

    def _known_scan_problems(self, roots: list[str], problems: list[ScanProblem]) -> set[str]:
        """Paths the scan could not read for the same reason at the last run (a broken link,
        a device, a pipe: not files the catalog keeps), so an unchanged library re-indexes
        without "new problems". Remembered in ``scan_problems.json`` beside the catalog."""
        import json

        store = self.catalog.path.parent / SCAN_PROBLEMS_FILE
        try:
            before = json.loads(store.read_text(encoding="utf-8", errors="surrogateescape"))
            before = before if isinstance(before, dict) else {}
        except (OSError, ValueError):
            before = {}
        known = {p.path for p in problems if before.get(p.path) == p.reason}

        def scanned(path: str) -> bool:
            return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

        now = {k: v for k, v in before.items() if isinstance(v, str) and not scanned(k)}
        now.update((p.path, p.reason) for p in problems)
        if now != before:
            tmp = store.with_name(store.name + ".tmp")
            try:
                tmp.write_text(json.dumps(now, indent=1), encoding="utf-8", errors="surrogateescape")
                os.replace(tmp, store)
            except OSError:
                pass  # a read-only data folder: every such problem is new each run, as before
        return known

    def run(self, roots: Iterable[str | os.PathLike[str]], cancel: CancelToken | None = None) -> Iterator[Progress]:
        """Index ``roots``; yields progress; the outcome is in ``self.summary``."""
        cancel = cancel or CancelToken()
        summary = self.summary = IndexSummary()
        roots = [os.path.abspath(os.fspath(r)) for r in roots]
        scanning = Progress("scan", message="looking for photos")
        yield scanning
        scan_problems: list[ScanProblem] = []
        skipped: Counter[str] = Counter()
        summary.skipped = skipped  # type: ignore[assignment]  # a Counter is a dict
        found: list[ScannedFile] = []
        for n, item in enumerate(scan(roots, scan_problems, skipped, leave_out=self.leave_out)):
            found.append(item)
            if n % 1000 == 999:
                scanning.done = n + 1
                if cancel.cancelled:
                    summary.cancelled = True
                    return
                yield scanning
        states = self.catalog.states()
        model_id = self.embedder.model_id
        feature_id = feature_id_of(self.embedder)
        work: list[_Work] = []
        rederive: list[int] = []
        for f in found:
            state = states.get(f.path)
            if state is None:
                work.append(_Work(f, True))
            elif state.size != f.size or state.mtime_ns != f.mtime_ns:
                work.append(_Work(f, False))
            elif state.error is None and state.model_id is None:
                work.append(_Work(f, True, resume=True))  # facts of an interrupted run
            elif state.error is None and state.model_id != model_id:
                if state.feature_id == feature_id:
                    rederive.append(state.id)  # only the head changed: no decoding
                else:
                    work.append(_Work(f, False))  # made by another model: re-embed
            elif state.error is not None:
                summary.known_unreadable.add(f.path)  # unreadable before, unchanged: not read again
            else:
                summary.unchanged += 1
        summary.problems.extend((p.path, p.reason) for p in scan_problems)
        summary.known_unreadable.update(self._known_scan_problems(roots, scan_problems))
        if rederive:
            yield from self._rederive(rederive, model_id, feature_id, cancel)
        if work:
            try:
                yield from self._process(work, model_id, cancel)
            except Cancelled:
                summary.cancelled = True
        # Pruned last, so a renamed file finds its old row's embedding first.
        summary.removed = self._prune(roots, scan_problems, found, states)
        current = {f.path for f in found}
        summary.problems.extend((p, r) for p, r in self.catalog.problems() if p in current)
        # Even a cancelled run leaves a usable index of what was committed.
        yield from self.ensure_index(cancel)

    def _prune(
        self, roots: list[str], scan_problems: list[ScanProblem], found: list[ScannedFile],
        states: dict,
    ) -> int:
        """Forget files that are gone from the roots that could be walked."""
        unreachable = {p.path for p in scan_problems}
        live_roots = [r for r in roots if r not in unreachable and os.path.exists(r)]
        if not live_roots:
            return 0
        seen = {f.path for f in found}
        prefixes = tuple(r if r.endswith(os.sep) else r + os.sep for r in live_roots)
        # Files below a folder that could not be listed may still exist: keep them.
        blocked = tuple(u + os.sep for u in unreachable)
        gone = [
            p for p in states
            if p not in seen and (p.startswith(prefixes) or p in live_roots)
            and p not in unreachable and not (blocked and p.startswith(blocked))
        ]
        return self.catalog.remove_paths(gone)

    def _rederive(self, ids: list[int], model_id: str, feature_id: str, cancel: CancelToken) -> Iterator[Progress]:
        """Remake copy vectors from stored descriptors (the head changed, the backbone did not)."""
        progress = Progress("index", 0, len(ids), message="updating embeddings")
        yield progress
        step = 512
        for start in range(0, len(ids), step):
            found = self.catalog.descriptors_for(ids[start : start + step], feature_id)
            if found:
                chunk = list(found)
                vectors = copy_vectors(self.embedder, np.stack([found[i] for i in chunk]))
                self.catalog.set_embeddings(chunk, vectors, model_id)
                self.summary.rederived += len(chunk)
            progress.done = min(len(ids), start + step)
            yield progress
            if cancel.cancelled:
                self.summary.cancelled = True
                return

    def _read(self, item: _Work, known: dict[str, KnownContent], model_id: str) -> _Result:
        path = item.file.path
        try:
            if item.resume:  # the hash of these very bytes is in the catalog already
                row = self.catalog.row_for_path(path)
                stored = row.hash if row is not None else None
                match = stored and (known.get(stored) or self.catalog.known_content(stored, model_id))
                if match:
                    return _Result(item, content_hash=stored, known=match)
            with PhotoFile(path) as photo:  # a regular file whose header is an image's
                size, mtime_ns = photo.stat.st_size, photo.stat.st_mtime_ns
                # The EXIF facts from the header Pillow parsed on opening (decoding reads
                # the same EXIF block for the orientation: it is parsed once).
                info = image_info(photo.image, path, size)
                content_hash = photo.content_hash()  # streamed, never the whole file at once
                match = known.get(content_hash) or self.catalog.known_content(content_hash, model_id)
                if match is not None:
                    decoded = None
                else:
                    decoded = photo.decode_for_model(self.embedder.input_size, content_hash)
                if photo.changed():
                    raise DecodeError("the file changed while it was being read (it is read again next time)")
            if match is not None:
                return _Result(item, content_hash=content_hash, known=match, size=size, mtime_ns=mtime_ns, info=info)
            return _Result(item, decoded, content_hash, size=size, mtime_ns=mtime_ns, info=info)
        except DecodeError as exc:
            return _Result(item, error=exc.reason)
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop a scan
            return _Result(item, error=f"unexpected error: {type(exc).__name__}: {exc}")

    def _process(self, work: list[_Work], model_id: str, cancel: CancelToken) -> Iterator[Progress]:
        progress = Progress("index", 0, len(work), message="reading and embedding photos")
        yield progress
        known: dict[str, KnownContent] = {}  # content embedded earlier in this run
        in_flight: deque[Future[_Result]] = deque()
        waiting: deque[_Result] = deque()  # facts committed, embedding not made yet
        taken: list[_Result] = []  # read, facts not committed yet
        limit = self.in_flight
        size = self.first_batch
        _warm_up(self.embedder)
        pending = iter(work)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="imgfinder-decode") as pool:
            try:
                while True:
                    while len(in_flight) + len(waiting) + len(taken) < limit:
                        nxt = next(pending, None)
                        if nxt is None:
                            break
                        in_flight.append(pool.submit(self._read, nxt, known, model_id))
                    if not in_flight and not waiting and not taken:
                        break
                    if in_flight:
                        taken.append(in_flight.popleft().result())
                    if len(taken) + len(waiting) < size and in_flight:
                        continue
                    # The model may be about to load (seconds): first commit the facts of
                    # this batch and of every photo already read behind it.
                    while in_flight and in_flight[0].done():
                        taken.append(in_flight.popleft().result())
                    progress.done += self._commit_facts(taken, known, waiting)
                    taken = []
                    batch = [waiting.popleft() for _ in range(min(size, len(waiting)))]
                    self._commit(batch, model_id, known)
                    size = min(self.batch_size, 2 * size)
                    progress.done += len(batch)
                    yield progress
                    cancel.raise_if_cancelled()
            finally:
                for fut in in_flight:
                    fut.cancel()

    def _count(self, r: _Result) -> None:
        if r.work.is_new:
            self.summary.added += 1
            self.summary.resumed += r.work.resume
        else:
            self.summary.updated += 1

    def _commit_facts(self, results: list[_Result], known: dict[str, KnownContent], waiting: deque[_Result]) -> int:
        """Commit what reading ``results`` found, in one transaction; those that need the
        model go on ``waiting``. Returns how many are finished (unreadable, or identical
        to content with an embedding)."""
        if not results:
            return 0
        summary = self.summary
        records: list[FileRecord] = []
        finished = 0
        for r in results:
            if r.error is not None:
                summary.failed += 1
                records.append(r.record())
                finished += 1
            elif r.decoded is None:
                assert r.known is not None
                summary.reused += 1
                self._count(r)
                records.append(r.record(r.known))
                finished += 1
            else:
                records.append(r.record())
                r.info = None  # stored with the facts: the embedding's write leaves it alone
                waiting.append(r)
        self.catalog.write_batch(records, self.embedder.model_id, feature_id_of(self.embedder))
        return finished

    def _commit(self, batch: list[_Result], model_id: str, known: dict[str, KnownContent]) -> None:
        """Embed decoded photos (their facts are committed) and commit the embeddings."""
        if not batch:
            return
        summary = self.summary
        descriptors = describe(self.embedder, np.stack([r.decoded.pixels for r in batch]))  # type: ignore[union-attr]
        vectors = copy_vectors(self.embedder, descriptors)
        records: list[FileRecord] = []
        for n, r in enumerate(batch):
            assert r.decoded is not None
            summary.decoded += 1
            self._count(r)
            content = KnownContent(vectors[n], r.decoded.width, r.decoded.height, r.decoded.layout, descriptors[n],
                                   r.decoded.chroma)
            known[r.decoded.content_hash] = content
            records.append(r.record(content))
            r.decoded = None  # the pixels are no longer needed
        self.catalog.write_batch(records, model_id, feature_id_of(self.embedder))

    def ensure_index(self, cancel: CancelToken | None = None) -> Iterator[Progress]:
        """Rebuild the copy-vector index and the retrieval index if the catalog or the model
        changed since they were built (each on its own: a new head leaves similar search alone)."""
        generation = self.catalog.generation
        model_id = self.embedder.model_id
        retrieval_id = retrieval_id_of(self.embedder)
        stale_copy = not self.store.is_current(model_id, generation)
        stale_retrieval = self.retrieval_store is not None and not self.retrieval_store.is_current(retrieval_id, generation)
        if not stale_copy and not stale_retrieval:
            return
        progress = Progress("build index", 0, int(stale_copy) + int(stale_retrieval), message="building the similarity index")
        yield progress
        kwargs = {"trees": self.trees} if self.trees else {}
        if stale_copy:
            ids, vectors = self.catalog.embeddings(model_id)
            self.store.build(ids, vectors, model_id, generation, **kwargs)
            del vectors
            progress.done += 1
            yield progress
        if stale_retrieval:
            assert self.retrieval_store is not None
            ids, descriptors = self.catalog.descriptors(feature_id_of(self.embedder))
            vectors = retrieval_vectors(self.embedder, descriptors) if len(ids) else descriptors
            del descriptors
            self.retrieval_store.build(ids, vectors, retrieval_id, generation, **kwargs)
            progress.done += 1
            yield progress
        self.summary.index_rebuilt = True
