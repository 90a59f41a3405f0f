"""Full layout checks on every core: the pairs a grouping is about to ask about, computed
ahead in worker processes.

Why: on a large library nearly all of the duplicate search's time is full layout checks
(``core.layout.match``, a few milliseconds each, pure numpy on small arrays, so threads
would mostly wait on the GIL), and the grouping asks them one at a time on one core.
The grouping still decides everything in the same order with the same budgets
(``core.grouping``); the pool only fills the verifier's answer cache with the matches of
pairs that passed the cheap filter, ``PREFETCH`` pairs ahead. ``match`` is deterministic
and the pairs are put in the verifier's order (lower row first), so a match computed in a
worker is the match the verifier would have computed.

Processes are spawned (never forked: the app runs Qt threads) on first use only, and only
for groupings with at least ``PARALLEL_MIN`` pairs at the threshold: a small library does
not pay the start-up (~0.3 s a worker). They and multiprocessing's resource tracker start
with stdout and stderr on /dev/null (``_children_without_stdio``), so nothing of theirs is
ever printed raw on the caller's terminal. A worker that dies (killed, out of memory) costs
only speed: the verifier checks the pairs it had itself, with the same answers.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .cpus import usable_cores
from .layout import Layout, LayoutVerifier, Match, match
from .progress import CancelToken

PARALLEL_MIN = 2_000  # pairs at or above the threshold from which checks run in workers
CHUNK = 48  # pairs per task: ~0.15 s of work, a cancel is noticed within that


WORKER_LAYOUTS = 512  # layouts a worker keeps between tasks (~200 KB each)
_kept: dict[bytes, Layout] = {}  # in a worker: its layouts, least recently used first


def _layout(raw: bytes) -> Layout:
    found = _kept.pop(raw, None)
    if found is None:
        found = Layout.from_bytes(raw)
        if len(_kept) >= WORKER_LAYOUTS:
            _kept.pop(next(iter(_kept)))
    _kept[raw] = found
    return found


WATCH_SECONDS = 0.5  # how often a worker looks whether its parent is still alive


def _die_with_parent(parent: int) -> None:
    """Worker start-up: end with the parent, however it ends (SIGKILL runs no clean-up),
    and let go of its stdout and stderr (``out=$(imgfinder duplicates)`` waits for every
    holder of the pipe). A watchdog thread sees the parent gone (the worker is re-parented)
    within ``WATCH_SECONDS``. (Not PR_SET_PDEATHSIG: it fires when the *thread* that
    started the worker ends, and the app starts pools from job threads.)"""
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass
    if os.getppid() != parent:  # the parent died before the above
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


_STDIO_LOCK = threading.Lock()


@contextlib.contextmanager
def _children_without_stdio() -> Iterator[None]:
    """While worker processes (and multiprocessing's resource tracker) are started, fds 1
    and 2 point at /dev/null, which the children inherit. Why: multiprocessing offers no
    other way to start them without the caller's stdout and stderr, and from there they
    printed raw: the tracker's "There appear to be N leaked semaphore objects" once the
    caller was killed, a spawn traceback from a worker interrupted while starting. The
    swap lasts the few milliseconds of the spawns; Python's buffers are flushed first."""
    with _STDIO_LOCK:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            yield
            return
        saved: dict[int, int] = {}  # fd -> its duplicate, to put back
        try:
            for fd in (1, 2):
                try:
                    saved[fd] = os.dup(fd)
                except OSError:  # closed: nothing to hide
                    continue
                os.dup2(devnull, fd)
            yield
        finally:
            for fd, old in saved.items():
                with contextlib.suppress(OSError):
                    os.dup2(old, fd)
                os.close(old)
            os.close(devnull)


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM), MB; 0 where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _match_chunk(pairs: list[tuple[bytes, bytes]]) -> tuple[int, float, list[tuple[float, float, int, float, bool]]]:
    """The worker's task: ``match`` of each (signature, signature) pair, with the worker's
    pid and peak memory. A photo's layout is built once and kept (``WORKER_LAYOUTS``):
    the pairs of one group of copies come in the same or the next tasks."""
    out = []
    for a, b in pairs:
        m = match(_layout(a), _layout(b))
        out.append((m.score, m.coarse, m.dihedral, m.scale, m.flat))
    return os.getpid(), _peak_mb(), out


def by_component(pairs: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """``pairs`` ordered so the pairs of photos linked to each other come together (the
    pairs of one group of copies), so a worker builds each photo's layout about once.
    Why: sorted by row alone, nearly every pair brought a photo the worker had not seen,
    and building a layout costs about a third of a check."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for i, j in pairs:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return sorted(pairs, key=lambda p: (root(p[0]), p))


class CheckPool:
    """Worker processes for full layout checks, started on first use; a context manager."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else usable_cores()
        self._pool: ProcessPoolExecutor | None = None
        self.broken = False  # a worker died: no more work is sent, the verifier checks the rest
        self.computed = 0  # matches computed in workers
        self.peak_mb: dict[int, float] = {}  # worker pid -> its peak resident memory (MB)

    def __enter__(self) -> CheckPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _start(self) -> ProcessPoolExecutor:
        """The workers' pool, made on first use: spawned, each ending with this process."""
        if self._pool is None:
            with _children_without_stdio():
                if os.name == "posix":  # started now, without our stdio, not by the first lock
                    from multiprocessing import resource_tracker

                    resource_tracker.ensure_running()
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_die_with_parent, initargs=(os.getpid(),))
        return self._pool

    def fill(
        self, verifier: LayoutVerifier, first: Sequence[int], second: Sequence[int],
        cancel: CancelToken | None = None,
    ) -> int:
        """Compute, in the workers, the matches of the pairs (first[n], second[n]) the
        verifier does not know yet, and hand them to it; returns how many."""
        return self.submit(verifier, first, second, cancel)()

    def submit(
        self, verifier: LayoutVerifier, first: Sequence[int], second: Sequence[int],
        cancel: CancelToken | None = None,
    ) -> Callable[[], int]:
        """``fill`` in two steps: start the work now, and return the function that waits
        for it, hands the matches to the verifier and says how many (so the caller can
        do other work meanwhile: the grouping merges one batch while the next is checked)."""
        todo = by_component({(min(i, j), max(i, j)) for i, j in zip(first, second) if verifier.needs_match(i, j)})
        if not todo or self.broken:
            return lambda: 0
        pool = self._start()
        signatures = verifier.signatures
        chunks = [todo[k : k + CHUNK] for k in range(0, len(todo), CHUNK)]
        futures: list[Future] = []
        try:
            with _children_without_stdio():  # workers are spawned by submit, as they are needed
                for chunk in chunks:
                    futures.append(pool.submit(_match_chunk, [(signatures[i], signatures[j]) for i, j in chunk]))
        except BrokenProcessPool:
            self.broken = True
            chunks = chunks[: len(futures)]
        done = [False] * len(chunks)

        def take(n: int) -> None:
            """Hand chunk n's matches to the verifier (waiting for them if need be)."""
            if done[n]:
                return
            done[n] = True
            try:
                pid, peak, found = futures[n].result()
            except BrokenProcessPool:  # a worker died: its pairs are checked by the verifier itself
                self.broken = True
                return
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            self.peak_mb[pid] = max(self.peak_mb.get(pid, 0.0), peak)
            for (i, j), fields in zip(chunks[n], found):
                verifier.remember(i, j, Match(*fields))
            self.computed += len(chunks[n])

        for n, chunk in enumerate(chunks):
            # A pair the grouping asks about before its batch is collected waits for its
            # chunk instead of being checked a second time here.
            verifier.expect(chunk, lambda n=n: take(n))

        def collect() -> int:
            for n in range(len(chunks)):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                take(n)
            return len(todo)  # (after a worker died, some are left to the verifier)

        return collect
