"""The progress/cancel protocol shared by every long-running core operation.

Long operations are generators that yield ``Progress`` and check a ``CancelToken``
between units of work, so a CLI can print them and a GUI worker can forward them as
signals without the core knowing about either.
"""

from __future__ import annotations

import threading
import time
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


@dataclass
class Progress:
    """One progress report: ``done`` of ``total`` units in ``stage`` (total 0 = unknown)."""

    stage: str
    done: int = 0
    total: int = 0
    message: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def rate(self) -> float:
        """Units per second since the stage started."""
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate
        if not self.total or rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / rate)
