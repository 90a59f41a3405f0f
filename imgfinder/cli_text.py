"""Text output of the command line: human sizes, percentages, aligned tables, file names
that are safe to print, and the progress line. Nothing here imports the model or Qt."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from typing import TextIO

from .core.progress import Progress


def human_size(size: int | None) -> str:
    """``2_400_000`` -> ``"2.4 MB"`` (decimal units, as file managers show them)."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 999.5 or unit == "TB":
            break
        value /= 1000.0
    if unit == "B":
        return f"{int(value)} B"
    return f"{value:.1f} {unit}" if value < 9.95 else f"{value:.0f} {unit}"


def percent(score: float) -> str:
    """A similarity as the text output shows it everywhere: ``0.973`` -> ``"97.3%"``."""
    return f"{score * 100:.1f}%"


def _printable(ch: str) -> bool:
    if "\udc80" <= ch <= "\udcff":  # a byte that is not UTF-8 (os.fsdecode's surrogate escape)
        return False
    return unicodedata.category(ch)[0] != "C"  # control, format, surrogate, private, unassigned


_C_ESCAPES = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r"}


def _escape_char(ch: str) -> str:
    if "\udc80" <= ch <= "\udcff":
        return f"\\{ord(ch) - 0xDC00:03o}"
    if ch in _C_ESCAPES:
        return _C_ESCAPES[ch]
    return "".join(f"\\{b:03o}" for b in ch.encode("utf-8", "surrogatepass"))


def display_path(path: str) -> str:
    """``path`` as it can always be printed.

    A name that is not valid UTF-8 (Python keeps its bytes as surrogate escapes) or that
    holds control characters such as a newline is quoted the way ``ls`` does on a terminal,
    ``'photo'$'\\377''.jpg'``, which a shell turns back into the same name; every other
    name is printed as it is.
    """
    if all(_printable(ch) for ch in path):
        return path
    out: list[str] = []
    run: list[str] = []
    bad: list[str] = []

    def flush() -> None:
        if run:
            out.append("'" + "".join(run).replace("'", "'\\''") + "'")
            run.clear()
        if bad:
            out.append("$'" + "".join(bad) + "'")
            bad.clear()

    for ch in path:
        if _printable(ch):
            if bad:
                flush()
            run.append(ch)
        else:
            if run:
                flush()
            bad.append(_escape_char(ch))
    flush()
    return "".join(out)


def table(rows: Sequence[Sequence[str]], right: Sequence[bool], indent: str = "") -> list[str]:
    """Rows of cells as aligned lines: every column but the last is padded to its widest
    cell (right-aligned where ``right`` says so); the last one (a path) is not padded."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for r in rows:
        cells = [c.rjust(w) if right[i] else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append(indent + "  ".join([*cells, r[-1]]))
    return lines


def format_eta(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class ProgressPrinter:
    """Progress on stderr: a live line on a terminal, a line every few seconds otherwise.

    The scan stage is shown only once it has counted something (the scanner reports every
    1000 files: a small folder would show a ``scan: 0`` that never moves). The rate and the
    time left appear once ``Progress`` has measured a rate (after the model has started).
    """

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        try:
            self.tty = stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self._last = 0.0
        self._stage = ""
        self._open_line = False  # a live line is on screen and needs ending

    def __call__(self, p: Progress) -> None:
        if self.quiet:
            return
        if p.stage == "scan" and not p.done:
            return
        now = time.monotonic()
        finished = bool(p.total) and p.done >= p.total
        if p.stage == self._stage and not finished and now - self._last < (0.2 if self.tty else 5.0):
            return
        if self.tty and self._open_line and p.stage != self._stage:
            self.stream.write("\n")  # keep the last state of the previous stage on screen
        self._stage, self._last = p.stage, now
        if p.stage == "scan":
            text = f"scan: {p.done} photos found"
        else:
            text = f"{p.stage}: {p.done}" + (f"/{p.total}" if p.total else "")
        if p.total and p.done and p.stage == "index":
            eta = p.eta_seconds
            if eta is not None:
                text += f"  {p.rate:.1f}/s  {format_eta(eta)} left"
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if finished else ""))
            self._open_line = not finished
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        """End a live line left open (before other output is printed)."""
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False
