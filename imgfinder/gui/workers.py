"""Background work: a per-kind task runner on a QThreadPool and a lazy thumbnail loader.

Task functions never see a widget: they get a ``TaskContext`` (cancel token + a
throttled ``report``) and return plain data or QImages; results reach the GUI thread
as queued signals. One task per kind runs at a time; a new request of a busy kind
waits as the single follow-up (latest wins), optionally cancelling the running one.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from ..core.catalog import CatalogDamaged
from ..core.decoder import DecodeError
from ..core.progress import CancelToken, Cancelled
from ..core.thumbnails import ThumbnailCache
from .images import pil_to_qimage


class _TaskSignals(QObject):
    progress = Signal(str, object)
    done = Signal(str, object, object)  # kind, result, error (None | str | Cancelled)


class TaskContext:
    """What a task function may use: a cancel token and a throttled progress report."""

    def __init__(self, kind: str, signals: _TaskSignals, interval: float = 0.1) -> None:
        self.kind = kind
        self.cancel = CancelToken()
        self._signals = signals
        self._interval = interval
        self._last = 0.0
        self._last_stage: object = None

    def report(self, payload: Any, stage: object = None, force: bool = False) -> None:
        now = time.monotonic()
        if force or stage != self._last_stage or now - self._last >= self._interval:
            self._last, self._last_stage = now, stage
            self._signals.progress.emit(self.kind, payload)


TaskFn = Callable[[TaskContext], Any]


class _Task(QRunnable):
    def __init__(self, fn: TaskFn, ctx: TaskContext, signals: _TaskSignals) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.fn, self.ctx, self.signals = fn, ctx, signals

    def run(self) -> None:
        try:
            result, error = self.fn(self.ctx), None
        except Cancelled as exc:
            result, error = None, exc
        except DecodeError as exc:  # a photo that cannot be read: told to the user, not a bug to trace
            result, error = None, exc.reason
        except CatalogDamaged as exc:  # the window offers to rebuild the catalog
            result, error = None, exc
        except Exception as exc:  # noqa: BLE001 - reported to the user, never lost
            traceback.print_exc()
            result, error = None, f"{type(exc).__name__}: {exc}"
        self.signals.done.emit(self.ctx.kind, result, error)


class TaskRunner(QObject):
    """Runs task functions off the GUI thread, one at a time per kind."""

    finished = Signal(str, object)  # kind, result
    failed = Signal(str, str)  # kind, message
    cancelled = Signal(str)
    progress = Signal(str, object)
    busy_changed = Signal(str, bool)
    catalog_damaged = Signal(str)  # message; emitted before ``failed`` of the job that found it

    def __init__(self, parent: QObject | None = None, max_threads: int = 4) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._signals = _TaskSignals(self)
        self._signals.done.connect(self._on_done)
        self._signals.progress.connect(self.progress)
        self._running: dict[str, TaskContext] = {}
        self._pending: dict[str, TaskFn] = {}
        self._closing = False

    def submit(self, kind: str, fn: TaskFn, cancel_running: bool = False) -> None:
        if self._closing:
            return
        if kind in self._running:
            self._pending[kind] = fn
            if cancel_running:
                self._running[kind].cancel.cancel()
            return
        self._start(kind, fn)

    def _start(self, kind: str, fn: TaskFn) -> None:
        ctx = TaskContext(kind, self._signals)
        self._running[kind] = ctx
        self.busy_changed.emit(kind, True)
        self.pool.start(_Task(fn, ctx, self._signals))

    def busy(self, kind: str) -> bool:
        return kind in self._running or kind in self._pending

    def idle(self) -> bool:
        """Nothing running and nothing waiting, of any kind."""
        return not self._running and not self._pending

    def cancel(self, kind: str) -> None:
        self._pending.pop(kind, None)
        ctx = self._running.get(kind)
        if ctx is not None:
            ctx.cancel.cancel()

    @Slot(str, object, object)
    def _on_done(self, kind: str, result: object, error: object) -> None:
        self._running.pop(kind, None)
        follow_up = self._pending.pop(kind, None)
        if follow_up is not None and not self._closing:
            self._start(kind, follow_up)
        else:
            self.busy_changed.emit(kind, False)
        if self._closing:
            return
        if isinstance(error, Cancelled):
            self.cancelled.emit(kind)
        elif error is not None:
            if isinstance(error, CatalogDamaged):
                self.catalog_damaged.emit(str(error))
            self.failed.emit(kind, str(error))
        else:
            self.finished.emit(kind, result)

    def shutdown(self, timeout_ms: int = 15000) -> bool:
        """Cancel everything and wait for the threads (called on close)."""
        self._closing = True
        self._pending.clear()
        for ctx in self._running.values():
            ctx.cancel.cancel()
        return self.pool.waitForDone(timeout_ms)


class _LoaderSignals(QObject):
    loaded = Signal(str, int, QImage)
    failed = Signal(str, int, str)


class _LoadThumbs(QRunnable):
    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.loader = loader

    def run(self) -> None:
        self.loader._drain()


class ThumbnailLoader(QObject):
    """Lazily loads thumbnails for what is on screen; the GUI thread makes the QPixmaps.

    Requests are served newest first (what the user scrolled to last), the queue is
    bounded (old requests for items scrolled past are dropped), pixmaps are kept in an
    LRU, and files that cannot be read are remembered so the delegate paints a
    placeholder instead of retrying.
    """

    ready = Signal()  # some pixmaps arrived: repaint (coalesced)

    FAILED = object()

    def __init__(self, cache: ThumbnailCache, threads: int = 2, capacity: int = 3000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache = cache
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._threads = threads
        self._capacity = capacity
        self._pixmaps: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
        self._failed: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, int]] = deque()
        self._queued: set[tuple[str, int]] = set()
        self._active = 0
        self._closing = False
        self._signals = _LoaderSignals(self)
        self._signals.loaded.connect(self._on_loaded)
        self._signals.failed.connect(self._on_failed)
        self._notify = QTimer(self)
        self._notify.setSingleShot(True)
        self._notify.setInterval(30)
        self._notify.timeout.connect(self.ready)

    def pixmap(self, path: str, side: int) -> QPixmap | object | None:
        """The pixmap if loaded, ``FAILED`` if unreadable, else None (and it is requested)."""
        key = (path, side)
        pm = self._pixmaps.get(key)
        if pm is not None:
            self._pixmaps.move_to_end(key)
            return pm
        if key in self._failed:
            return self.FAILED
        self._request(key)
        return None

    def failure(self, path: str, side: int) -> str | None:
        return self._failed.get((path, side))

    def _request(self, key: tuple[str, int]) -> None:
        if self._closing:
            return
        start = False
        with self._lock:
            if key in self._queued:
                return
            self._queue.append(key)
            self._queued.add(key)
            while len(self._queue) > 400:
                self._queued.discard(self._queue.popleft())
            if self._active < self._threads:
                self._active += 1
                start = True
        if start:
            self.pool.start(_LoadThumbs(self))

    def _drain(self) -> None:
        """Worker loop: load the newest request until the queue is empty."""
        while True:
            with self._lock:
                if not self._queue or self._closing:
                    self._active -= 1
                    return
                key = self._queue.pop()
            path, side = key
            try:
                image = pil_to_qimage(self.cache.get(path, side))
            except DecodeError as exc:
                self._signals.failed.emit(path, side, exc.reason)
            except Exception as exc:  # noqa: BLE001 - a placeholder, never a crash
                self._signals.failed.emit(path, side, f"{type(exc).__name__}: {exc}")
            else:
                self._signals.loaded.emit(path, side, image)

    @Slot(str, int, QImage)
    def _on_loaded(self, path: str, side: int, image: QImage) -> None:
        key = (path, side)
        with self._lock:
            self._queued.discard(key)
        self._pixmaps[key] = QPixmap.fromImage(image)
        while len(self._pixmaps) > self._capacity:
            self._pixmaps.popitem(last=False)
        if not self._notify.isActive():
            self._notify.start()

    @Slot(str, int, str)
    def _on_failed(self, path: str, side: int, reason: str) -> None:
        key = (path, side)
        with self._lock:
            self._queued.discard(key)
        self._failed[key] = reason
        if not self._notify.isActive():
            self._notify.start()

    def forget(self, paths: set[str]) -> None:
        """Drop cached pixmaps and failures of moved files."""
        for key in [k for k in self._pixmaps if k[0] in paths]:
            del self._pixmaps[key]
        for key in [k for k in self._failed if k[0] in paths]:
            del self._failed[key]

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        with self._lock:
            self._closing = True
            self._queue.clear()
            self._queued.clear()
        return self.pool.waitForDone(timeout_ms)
