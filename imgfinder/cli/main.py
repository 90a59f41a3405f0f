"""The entry points (``imgfinder``, ``imgfinder-gui``): parse, dispatch to one command's
module, and turn interruptions and errors into exit codes."""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..cli_text import ProgressPrinter, display_path
from ..core.catalog import CatalogDamaged
from ..core.duplicates import DEFAULT_FLOOR
from ..core.embedding import Embedder
from .common import (
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    DataFolderGone,
    UsageError,
    _empty_library,
    _error,
    _output_format,
)
from .duplicates import _check_cleanup, _cmd_duplicates
from .errors import (
    _damaged,
    _data_folder_gone,
    _disk_full,
    _os_error,
    _quiet_closed_stdout,
    _read_only_refused,
    _refuse_writes_read_only,
    _writes,
)
from .forget import _cmd_forget
from .index import _cmd_index
from .parser import _subparser, build_parser
from .problems import _cmd_problems
from .repair import _cmd_repair
from .similar import _cmd_similar
from .undo import _cmd_undo


class _ForegroundModel:
    """The embedder without its ``load`` hook, so the indexer does not warm the model up in
    a background thread and it loads on first use in the main thread instead.

    Why: TensorFlow's import is quieted (fd 2 captured) only on the main thread; from a
    background thread its start-up noise would be printed, and an import still running
    when a short run ends (an error, Ctrl+C) can abort the process at exit. On 2 cores the
    overlap of loading with decoding measured no gain (12.1-13.9 s vs 10.1-12.3 s, 24 photos).
    """

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name in ("load", "loaded", "_inner"):
            raise AttributeError(name)
        return getattr(self._inner, name)


def gui_main() -> int:
    """The ``imgfinder-gui`` entry point (a gui-script: no console window on Windows): the
    same as ``imgfinder gui`` with this command's arguments (``--data-dir``, paths). Here,
    not in ``gui/``: the app's package never calls back into the CLI (no import cycle)."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:  # pythonw.exe and windowed frozen builds have no console
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - for the process's life
    return main(["gui", *sys.argv[1:]], gui_prog="imgfinder-gui")


def main(argv: Sequence[str] | None = None, embedder_factory: Callable[[], Embedder] | None = None,
         gui_prog: str | None = None) -> int:
    """``gui_prog``: the name the ``gui`` command's usage and errors give (``imgfinder-gui``
    when run as that entry point, so a usage line copied from it works)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if gui_prog:
        _subparser(parser, "gui").prog = gui_prog
    args = parser.parse_args(argv)
    if args.command in (None, "gui"):
        if args.json or args.quiet:
            parser.error("--json and --quiet apply to index, similar and duplicates, not to the desktop app")
        from ..gui.app import run_gui

        return run_gui(data_dir=args.data_dir, paths=getattr(args, "paths", None))
    progress = ProgressPrinter(sys.stderr, args.quiet)
    data_dir = args.data_dir
    with _stop_signals_as_interrupts():
        return _main(args, data_dir, embedder_factory, progress)


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP (``kill``, ``timeout``, systemd, closing the terminal): stopped as
    Ctrl+C stops, so a clean-up under way settles its current file and its log."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _stop_signals_as_interrupts():  # -> Iterator[None]
    """While a command runs, SIGTERM and SIGHUP raise :class:`Stopped` in the main thread
    (by default they end the process at once, between any two steps)."""
    import signal

    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise Stopped(signum)

    previous = {}
    for name in names:
        number = getattr(signal, name)
        previous[number] = signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _main(args: argparse.Namespace, data_dir: Path | None, embedder_factory: Callable[[], Embedder] | None,
          progress: ProgressPrinter) -> int:
    try:
        if data_dir is None:
            from ..core.library import default_data_dir

            data_dir = default_data_dir()
        _refuse_writes_read_only(args, data_dir)
        if args.command == "repair":
            return _cmd_repair(data_dir, args)
        if args.command == "undo":
            return _cmd_undo(data_dir, args)
        if args.command == "forget":
            return _cmd_forget(data_dir, args)
        if args.command == "problems":
            return _cmd_problems(data_dir, args)
        if embedder_factory is None:
            from ..embedders import default_embedder

            embedder_factory = default_embedder
        return _run_command(args, data_dir, embedder_factory, progress)
    except UsageError as exc:
        progress.end()
        _error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        progress.end()
        if isinstance(exc, Stopped):
            import signal

            _error(f"stopped by {signal.Signals(exc.signum).name}", prefix="")
            return 128 + exc.signum
        _error("interrupted", prefix="")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_closed_stdout()
        return EXIT_BROKEN_PIPE
    except DataFolderGone as exc:
        progress.end()
        _error(str(exc))
        return EXIT_ERROR
    except OSError as exc:
        progress.end()
        _error(_disk_full(exc, data_dir) or _data_folder_gone(data_dir) or _read_only_refused(exc, args, data_dir)
               or _os_error(exc, data_dir))
        return EXIT_ERROR
    except CatalogDamaged as exc:
        progress.end()
        _error(_damaged(exc, args.data_dir))
        return EXIT_ERROR
    except sqlite3.Error as exc:
        progress.end()
        _error(_disk_full(exc, data_dir) or _data_folder_gone(data_dir) or _read_only_refused(exc, args, data_dir)
               or f"cannot use the catalog in {display_path(str(data_dir))}: {exc}")
        return EXIT_ERROR
    except (RuntimeError, ImportError) as exc:
        progress.end()
        _error(str(exc))
        return EXIT_ERROR


def _run_command(
    args: argparse.Namespace, data_dir: Path, embedder_factory: Callable[[], Embedder], progress: ProgressPrinter,
) -> int:
    from ..core.library import CATALOG_NAME, Library

    if args.command == "index":
        missing = [r for r in args.roots if not r.exists()]
        if missing:
            raise UsageError(f"no such folder or photo: {display_path(str(missing[0]))}")
    if args.command in ("similar", "duplicates"):
        args.format = _output_format(args)
    if args.command == "similar" and len(args.queries) == 1:
        query = args.queries[0]
        if query.is_dir():
            q = display_path(str(query))
            raise UsageError(
                f"{q} is a folder, not a photo: give photos to compare (e.g. {q}{os.sep}*.jpg), "
                f"or add the folder to the library with 'imgfinder index {q}'"
            )
        if not query.is_file():
            raise UsageError(f"no such photo: {display_path(str(query))}")
    if args.command == "duplicates" and not (DEFAULT_FLOOR <= args.threshold <= 1.0):
        raise UsageError(
            f"--threshold must be between {DEFAULT_FLOOR * 100:g}% and 100% (got {args.threshold * 100:g}%)"
        )
    if args.command == "duplicates":
        _check_cleanup(args, data_dir)  # before minutes of searching, not after
    read_only = None if not _writes(args) else False  # None: read-only if the folder cannot be written
    if not _writes(args) and not (Path(data_dir) / CATALOG_NAME).exists():
        from ..core.library import data_folder_read_only

        if data_folder_read_only(data_dir):  # no catalog, and none can be made: nothing indexed
            raise _empty_library(data_dir)
    with Library(data_dir, _ForegroundModel(embedder_factory()), read_only=read_only) as library:  # type: ignore[arg-type]
        if args.command == "index":
            return _cmd_index(library, args, progress)
        if library.catalog.count() == 0:
            raise _empty_library(library.data_dir)
        if args.command == "similar":
            return _cmd_similar(library, args)
        return _cmd_duplicates(library, args, progress)
