"""How many CPU cores this process may use: the model runtimes' thread count and the
duplicate search's check workers (``parallel_checks``) both follow it."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on (its affinity on Linux, else the machine's count).
    Why the affinity: a container or ``taskset`` gives a process fewer cores than
    ``os.cpu_count()`` reports, and more threads or workers than cores only compete."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
