"""The progress/cancel protocol shared by every long-running core operation.

Long operations are generators that yield ``Progress`` and check a ``CancelToken``
between units of work, so a CLI can print them and a GUI worker can forward them as
signals without the core knowing about either.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field


class Cancelled(Exception):
    """Raised inside an operation when its cancel token was set."""


class CancelToken:
    """A thread-safe flag: set by the caller, polled by the operation."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


RATE_WINDOW = 30.0
"""Seconds of recent work the rate is measured over (a sliding window)."""
MIN_MEASURED = 1.0
"""Seconds of measured work needed before a rate and a time left are given."""


@dataclass
class Progress:
    """One progress report: ``done`` of ``total`` units in ``stage`` (total 0 = unknown).

    The producer keeps one object per stage and assigns ``done``; each assignment is
    timed, so the rate is measured from the first unit done onwards, over the last
    :data:`RATE_WINDOW` seconds. Why: the time before the first unit is start-up (a model
    loading, the first photos decoding), and counting it made the first time left of a
    cold index three times too long.
    """

    stage: str
    done: int = 0
    total: int = 0
    message: str = ""
    started: float = field(default_factory=lambda: time.monotonic())
    _marks: deque[tuple[float, int]] = field(default_factory=deque, init=False, repr=False, compare=False)

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        if name == "done" and "_marks" in self.__dict__:
            self._mark(int(value))  # type: ignore[call-overload]

    def _mark(self, done: int) -> None:
        now = time.monotonic()
        marks = self._marks
        if marks and done < marks[-1][1]:  # counted again from lower: measure afresh
            marks.clear()
        marks.append((now, done))
        while len(marks) > 2 and (marks[1][0] <= now - RATE_WINDOW or len(marks) > 512):
            marks.popleft()

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def measured_rate(self) -> float | None:
        """Units per second between reports, start-up excluded; None until measured."""
        marks = self._marks
        if len(marks) < 2:
            return None
        (t0, d0), (t1, d1) = marks[0], marks[-1]
        if t1 - t0 < MIN_MEASURED or d1 <= d0:
            return None
        return (d1 - d0) / (t1 - t0)

    @property
    def rate(self) -> float:
        """Units per second: measured (see :attr:`measured_rate`), else since the stage started."""
        measured = self.measured_rate
        if measured is not None:
            return measured
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the measured rate; None until a rate has been measured."""
        rate = self.measured_rate
        if not self.total or rate is None:
            return None
        since_last = time.monotonic() - self._marks[-1][0]
        return max(0.0, (self.total - self.done) / rate - since_last)
