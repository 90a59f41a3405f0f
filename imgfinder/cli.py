"""Command line: ``imgfinder index|similar|duplicates|undo|forget|repair`` (JSON with
``--json``; similar and duplicates also CSV or one group per line), and the GUI when run
without a command. Uses the same core as the GUI; ``duplicates --trash / --move-to``
applies the app's rules (``core.cleanup``) and its undoable file mover.

Exit codes: 0 success, 1 usage or environment error (also: nothing indexed yet, nothing
to undo, a clean-up not confirmed), 2 some files could not be read, moved or put back,
130 interrupted (Ctrl+C), 143 stopped by SIGTERM, 129 by SIGHUP (handled as Ctrl+C: every
file moved so far is in the undo log).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sqlite3
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .cli_text import ProgressPrinter, display_path, human_size, percent, table
from .core.catalog import CatalogDamaged
from .core.duplicates import DEFAULT_FLOOR, DEFAULT_THRESHOLD, KeepPreference
from .core.group_kind import KINDS
from .core.embedding import Embedder
from .core.skip_reasons import describe_skipped

EXIT_OK, EXIT_ERROR, EXIT_UNREADABLE, EXIT_INTERRUPTED = 0, 1, 2, 130
KIND_CHOICES = KINDS
PREFER_CHOICES = tuple(p.value for p in KeepPreference)

# Every IMGFINDER_* variable the app reads (tests/test_cli_options.py checks the list is complete).
ENVIRONMENT = (
    ("IMGFINDER_DATA_DIR", "the data folder when --data-dir is not given"),
    ("IMGFINDER_MODEL_HEAD",
     "another projection head (.npz) for the duplicate vectors, or 'none' for the bare backbone"),
    ("IMGFINDER_RETRIEVAL_WHITENING", "another whitening (.npz) for similar search, or 'none'"),
    ("IMGFINDER_BACKBONE_TFLITE",
     "another converted backbone (.tflite with its .convert.json), or 'none' to run the model on TensorFlow"),
    ("IMGFINDER_BACKBONE_WEIGHTS",
     "the EfficientNet-Lite0 weights file (.pth) instead of the installed one (TensorFlow runtime only)"),
    ("IMGFINDER_QUIT_AFTER_MS",
     "the desktop app closes by itself after this many milliseconds, once its jobs are done (scripted checks)"),
)


class UsageError(Exception):
    """A mistake on the command line or in the environment: one line, exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, as every other error, with where to look (argparse would print its
        usage block of up to ten lines first, burying the message)."""
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _CommandParser(_Parser):
    """A subcommand's parser: an unknown option after the command is reported with the
    command's usage (argparse would leave it to the top-level parser and its usage)."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error("unrecognized arguments: " + " ".join(extras))
        return namespace, extras


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written; option help wrapped without breaking a path."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_long_words=False, break_on_hyphens=False)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {value})")
    return value


def _k(text: str) -> int:
    try:
        return _count(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"k {exc}") from None


def _size(text: str) -> int:
    from .core.file_filter import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def similarity(text: str) -> float:
    """A similarity as typed: a fraction (``0.9``) or a percentage (``90`` or ``90%``).

    Numbers above 1 are read as percentages, so ``1`` means 100% (write ``1%`` for one
    percent). Returns the fraction 0..1 that the core and the JSON output use.
    """
    s = text.strip()
    is_percent = s.endswith("%")
    if is_percent:
        s = s[:-1].strip()
    try:
        value = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a similarity: {text!r} (give e.g. 0.9, 90 or 90%)") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"not a similarity: {text!r} (give e.g. 0.9, 90 or 90%)")
    if is_percent or value > 1:
        value /= 100.0
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} is above 100%")
    return value


def _data_dir_default() -> str:
    from .core.library import default_data_dir

    where = display_path(str(default_data_dir()))
    return f"{where}, from IMGFINDER_DATA_DIR" if os.environ.get("IMGFINDER_DATA_DIR") else where


def _options(after_command: bool, outputs: bool = True, data_default: str = "") -> argparse.ArgumentParser:
    """The options accepted both before and after the command.

    Before the command they have real defaults; after it their default is SUPPRESS, so
    a value given after the command wins and one given before is kept.
    """
    unset = argparse.SUPPRESS if after_command else None
    group = argparse.ArgumentParser(add_help=False)
    group.add_argument(
        "--data-dir", type=Path, default=unset, metavar="FOLDER",
        help=f"where the catalog and index live (default: {data_default})",
    )
    if outputs:
        group.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS if after_command else False,
            help="machine-readable output on stdout (similarities as fractions 0..1); progress and notes go to stderr",
        )
        group.add_argument(
            "--quiet", "-q", action="store_true", default=argparse.SUPPRESS if after_command else False,
            help="no progress on stderr",
        )
    return group


def _wrap(text: str) -> str:
    return textwrap.fill(text, 79)


def _epilog() -> str:
    width = max(len(name) for name, _ in ENVIRONMENT)
    lines = ["environment variables:"]
    for name, what in ENVIRONMENT:
        lines.append(textwrap.fill(
            what, 79, initial_indent=f"  {name:<{width}}  ", subsequent_indent=" " * (width + 4),
        ))
    lines += [
        "",
        _wrap("The options --data-dir, --json and --quiet may come before or after the command."),
        _wrap(
            "Exit codes: 0 success, 1 usage or environment error (also: nothing indexed yet, nothing to "
            "undo, a clean-up not confirmed), 2 some files could not be read, moved or put back, 130 interrupted "
            "(Ctrl+C), 143 stopped by SIGTERM, 129 by SIGHUP."
        ),
    ]
    return "\n".join(lines)


def _pct(value: float) -> str:
    """A similarity in help text (argparse needs % doubled): 0.85 -> 85%%."""
    return f"{value * 100:g}%%"


FORMATS = ("text", "json", "csv", "lines")


def _add_filters(p: argparse.ArgumentParser, what: str, note: str = "") -> None:
    g = p.add_argument_group("leaving photos out", note or None)
    g.add_argument(
        "--exclude", action="append", default=[], metavar="PATTERN",
        help=f"{what} photos matching PATTERN, a glob matched (ignoring case) against the file's name and "
        "full path and each folder above it: '*.png', '*/thumbnails/*', 'thumbnails', '/media/usb/old'. "
        "May be repeated. Quote it so the shell does not expand it.",
    )
    g.add_argument(
        "--min-size", type=_size, default=0, metavar="SIZE",
        help=f"{what} photos smaller than SIZE: bytes, or with a unit as sizes are shown (100k = 100,000 "
        "bytes, 1.5M, 2MB; KiB, MiB for 1024)",
    )


def _add_format(p: argparse.ArgumentParser, lines: str) -> None:
    g = p.add_argument_group("output")
    g.add_argument(
        "--format", choices=FORMATS, default=None,
        help=f"text (default): aligned columns; json: as --json; csv: a header row, then one row per file; "
        f"lines: {lines}, paths as they are, separated by a TAB (a path holding a TAB or a newline needs -0)",
    )
    g.add_argument(
        "-0", "--null", action="store_true",
        help="with --format lines (implied): end each path with a NUL, as find -print0 does (for xargs -0), "
        "and each line with one more NUL",
    )
    # An option named like a negative number makes argparse read every "-5" as an option,
    # so "-k -5" would say "expected one argument" instead of "k must be >= 1": "-0" itself
    # is still matched by name.
    negative_optionals = getattr(p, "_has_negative_number_optionals", None)
    if isinstance(negative_optionals, list):
        negative_optionals.clear()


def build_parser() -> argparse.ArgumentParser:
    data_default = _data_dir_default()
    formatter = _Formatter
    parser = _Parser(
        prog="imgfinder", description="Find similar and duplicate photos with a CNN, locally.",
        epilog=_epilog(), formatter_class=formatter, parents=[_options(False, data_default=data_default)],
    )
    parser.add_argument("--version", action="version", version=f"imgfinder {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    common = _options(True, data_default=data_default)
    see_env = "Environment variables and exit codes: see 'imgfinder --help'."

    p = sub.add_parser(
        "index", parents=[common], formatter_class=formatter, epilog=see_env,
        help="scan folders and embed new or changed photos",
        description=_wrap("Add photos to the library, or bring it up to date: new and changed photos are read "
        "and embedded, unchanged ones are skipped, deleted ones are forgotten."),
    )
    p.add_argument("roots", nargs="+", type=Path, metavar="PATH",
                   help="photo folders to index (their subfolders too), or single photos")
    p.add_argument("--batch-size", type=_count, default=32, help=argparse.SUPPRESS)
    p.add_argument("--workers", type=_count, default=None, help="decoder threads (default: one per core)")
    _add_filters(p, "do not index (and forget, if indexed before)", textwrap.fill(
        "Left-out photos are counted in the summary. The options are not remembered: a later index "
        "without them (or the desktop app's next scan) adds those photos back.", 77))

    p = sub.add_parser(
        "similar", parents=[common], formatter_class=formatter, epilog=see_env,
        help="rank indexed photos by similarity to one or more photos",
        description=_wrap("List the indexed photos most similar to PHOTO, best first, with their similarity in "
        "percent. PHOTO need not be in the library. With several photos, one list each."),
    )
    p.add_argument("queries", type=Path, nargs="+", metavar="PHOTO",
                   help="photos to find similar ones to (the model is loaded once for all)")
    p.add_argument("-k", type=_k, default=20, help="how many results per photo, at least 1 (default 20)")
    p.add_argument(
        "--min-score", type=similarity, default=0.0, metavar="SIMILARITY",
        help="drop results below this similarity: a percentage (90 or 90%%) or a fraction (0.9); "
        "numbers above 1 are percentages (default 0)",
    )
    _add_filters(p, "never show")
    _add_format(p, "one line per photo asked about: the photo, then its results best first")

    p = sub.add_parser(
        "duplicates", parents=[common], formatter_class=formatter, epilog=see_env,
        help="list groups of duplicate photos, best copy first",
        description=_wrap("List groups of copies of the same photo (resized, re-compressed, cropped, edited), "
        "the copy to keep first, then the others with their similarity to it."),
    )
    p.add_argument(
        "--threshold", type=similarity, default=DEFAULT_THRESHOLD, metavar="SIMILARITY",
        help=f"similarity needed to call two photos duplicates, {_pct(DEFAULT_FLOOR)}..100%% (a percentage "
        f"or a fraction, as for similar --min-score; default {_pct(DEFAULT_THRESHOLD)})",
    )
    p.add_argument("--exact-only", action="store_true", help="only byte-identical copies")
    p.add_argument("--shots", action=argparse.BooleanOptionalAction, default=True,
                   help="list bursts too, as the app does: different exposures of one moment (EXIF times "
                   "seconds apart), never moved with the copies (default: listed; --no-shots: copies only)")
    p.add_argument(
        "--kind", action="append", choices=KIND_CHOICES, default=None,
        help="list only groups of this kind (may be repeated): exact (same bytes), copies (edited copies), "
        "shots (bursts), raw+jpeg (a camera RAW file and the camera's JPEG of the same shot)",
    )
    p.add_argument(
        "--prefer", choices=PREFER_CHOICES, default="best",
        help="the copy to keep (listed first): best (the original, by the evidence: colour, the whole "
        "picture, no border, real resolution, JPEG quality, EXIF; the default), raw or jpeg (of a camera's "
        "RAW + JPEG pair), oldest, largest, exif (one with camera facts); a reference folder's file is "
        "always kept",
    )
    p.add_argument(
        "--prefer-folder", action="append", type=Path, default=[], metavar="FOLDER",
        help="keep a copy in FOLDER when the group has one (may be repeated; unlike --reference, "
        "its other files may be moved)",
    )
    p.add_argument(
        "--prefer-path", metavar="PATTERN",
        help="keep a copy whose path matches this shell pattern (case-insensitive), e.g. '*/DCIM/*'",
    )
    _add_filters(p, "leave out (in no group: never kept, never moved)")
    _add_format(p, "one line per group, the copy to keep first")
    g = p.add_argument_group(
        "cleaning up",
        textwrap.fill(
        "The copy to keep (listed first) and files in reference folders are never moved. Burst shots are "
        "different photos: their groups are moved only when they are all that is listed (--kind shots). "
        "Each file is checked against the catalog (size, time, content) before it is moved, and a group "
        "whose copy to keep changed or is gone is left alone. Moves are logged: 'imgfinder undo' puts "
        "them back.", 77),
    )
    act = g.add_mutually_exclusive_group()
    act.add_argument("--trash", action="store_true",
                     help="move every listed copy but the one to keep to the trash (the freedesktop.org "
                          "trash; on Windows and macOS the system's, from which undo cannot take them back)")
    act.add_argument("--move-to", type=Path, default=None, metavar="FOLDER",
                     help="move them into FOLDER instead (made if missing; a name taken there gets ' (1)')")
    act.add_argument("--link", action="store_true",
                     help="replace each listed copy that is byte-identical to the one kept by a hard link to it "
                          "(same file system): the photo stays at its path and takes its space once; the copy "
                          "goes to the trash, where 'imgfinder undo' takes it back from; edited copies are left "
                          "alone")
    g.add_argument("--keep-folders", action="store_true",
                   help="with --move-to: keep each file's folders below the folder all moved files share "
                   "(a/x.jpg and b/x.jpg land in FOLDER/a/ and FOLDER/b/)")
    g.add_argument(
        "--reference", action="append", type=Path, default=[], metavar="FOLDER",
        help="never move photos in FOLDER (may be repeated); added to the reference folders chosen in "
        "the desktop app",
    )
    g.add_argument("--dry-run", "-n", action="store_true",
                   help="only print what would be moved, touch nothing")
    g.add_argument("--yes", "-y", action="store_true",
                   help="do not ask first (without it, the command asks on the terminal, and refuses when "
                   "input is not a terminal)")

    p = sub.add_parser(
        "undo", parents=[common], formatter_class=formatter, epilog=see_env,
        help="put back the files the last clean-up moved",
        description=_wrap("Put back the files of the last trash or move (by 'duplicates --trash/--move-to' "
        "or the desktop app) that was not undone yet, each at its old path; a path taken by another "
        "file meanwhile is not overwritten (that file stays where it is, and a later undo tries again). "
        "Run it again to undo the clean-up before that. A clean-up that was interrupted (Ctrl+C, kill, "
        "a power cut) is settled first: each file it moved is back or in the log."),
    )
    p.add_argument("--skip", action="store_true",
                   help="set aside the entries of the last clean-up that cannot be put back (they stay where "
                   "they are, and the log no longer offers them) and undo the clean-up before it")

    p = sub.add_parser(
        "forget", parents=[common], formatter_class=formatter, epilog=see_env,
        help="take folders out of the library (the photos are not touched)",
        description=_wrap("Remove the photos below FOLDER from the catalog and the indexes: they are no "
        "longer searched or listed. The files are not touched. The desktop app's list of folders loses "
        "FOLDER too, so it does not index it again."),
    )
    p.add_argument("folders", nargs="+", type=Path, metavar="FOLDER",
                   help="folders to forget (they need not exist any more)")

    sub.add_parser(
        "problems", parents=[common], formatter_class=formatter, epilog=see_env,
        help="list the photos that cannot be read, and why",
        description=_wrap("List the library's files that could not be read when they were indexed (damaged, "
        "truncated, of a kind that needs a missing plugin ...), one per line with the reason; 'index' counts "
        "them as known and does not fail again on them until they change. Exit code 0 with or without problems."),
    )

    sub.add_parser(
        "repair", parents=[common], formatter_class=formatter, epilog=see_env,
        help="make a damaged catalog usable again",
        description=_wrap("Check the catalog; if it is damaged, keep it aside (renamed with the date, never "
        "deleted), start a new one with the 'not duplicates' marks and the undo log that can still be read "
        "from it, and say which folders to index again. Photos are never touched; the index files are "
        "rebuilt by themselves."),
    )

    p = sub.add_parser(
        "gui", parents=[_options(True, outputs=False, data_default=data_default)],
        help="open the desktop app (the default without a command)",
        description=_wrap("Open the desktop app. Folders given are added to the library and indexed; the first "
        "photo given is searched for, as when they are dropped on the window."),
        formatter_class=formatter, epilog=see_env,
    )
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="photo folders to add, or a photo to search for")
    return parser


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
        from .gui.app import run_gui

        return run_gui(data_dir=args.data_dir, paths=getattr(args, "paths", None))
    progress = ProgressPrinter(sys.stderr, args.quiet)
    data_dir = args.data_dir
    with _stop_signals_as_interrupts():
        return _main(args, data_dir, embedder_factory, progress)


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:  # argparse keeps its subparsers only there
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    raise KeyError(command)


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
            from .core.library import default_data_dir

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
            from .embedders import default_embedder

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


def _acting(args: argparse.Namespace) -> bool:
    """Whether ``duplicates`` was asked to clean up (trash, move or link)."""
    return bool(args.trash or args.move_to is not None or getattr(args, "link", False))


def _writes(args: argparse.Namespace) -> bool:
    """Whether the command writes the data folder (listings and searches only read it)."""
    if args.command == "duplicates":
        return bool(_acting(args) and not args.dry_run)
    return args.command in ("index", "undo", "repair", "forget")


def _read_only_message(args: argparse.Namespace, data_dir: Path) -> str:
    what = "duplicates --trash" if getattr(args, "trash", False) else (
        "duplicates --move-to" if args.command == "duplicates" else args.command)
    return (f"the data folder {display_path(str(data_dir))} is read-only: '{what}' needs to write to it "
            "(listings and searches still work; make it writable, or choose another --data-dir)")


def _refuse_writes_read_only(args: argparse.Namespace, data_dir: Path) -> None:
    """Stop a command that must write before it starts when the data folder is read-only."""
    from .core.library import data_folder_read_only

    if _writes(args) and data_folder_read_only(data_dir):
        raise UsageError(_read_only_message(args, data_dir))


def _read_only_refused(exc: BaseException, args: argparse.Namespace, data_dir: Path | None) -> str | None:
    """One line when SQLite or the OS refused a write as read-only (``data_folder_read_only``
    cannot see every case: ACLs, a mount made read-only meanwhile), else None."""
    import errno

    from .core.catalog import is_read_only_error

    if data_dir is None or not (is_read_only_error(exc) or getattr(exc, "errno", None) == errno.EROFS):
        return None
    return _read_only_message(args, data_dir)


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a reader that went away


class DataFolderGone(Exception):
    """The data folder (or its catalog) was deleted or moved away while the command ran."""


def _quiet_closed_stdout() -> None:
    """stdout's reader went away (``imgfinder undo | head -1``): end quietly, and keep
    Python's final flush from reporting the closed pipe too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _disk_full(exc: BaseException, data_dir: Path | None) -> str | None:
    """One line for a full disk (which disk, how much is free and how much more was
    needed when that is known), or None if ``exc`` is not about a full disk. numpy says
    "5760 requested and 992 written", SQLite "database or disk is full"."""
    import errno
    import re
    import shutil

    text = str(exc)
    short = re.search(r"(\d+) requested and (\d+) written", text)
    full = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or short is not None \
        or "database or disk is full" in text
    if not full:
        return None
    name = getattr(exc, "filename", None)
    where = os.fsdecode(name) if name else str(data_dir or ".")
    folder = Path(where)
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    mount = folder.resolve()
    while mount.parent != mount and not os.path.ismount(mount):
        mount = mount.parent
    try:
        free = human_size(shutil.disk_usage(folder).free)
    except OSError:
        free = "?"
    needed = f"; at least {human_size(int(short.group(1)) - int(short.group(2)))} more was needed" if short else ""
    return (f"the disk holding {display_path(str(where))} (mounted at {mount}) is full: {free} free{needed}. "
            "Free some space there (or choose another --data-dir) and run the command again")


def _data_folder_gone(data_dir: Path | None) -> str | None:
    if data_dir is None or os.path.isdir(data_dir):
        return None
    return (f"the data folder {display_path(str(data_dir))} was deleted or moved away while imgfinder was "
            "running: nothing was kept")


def _error(message: str, prefix: str = "error: ") -> None:
    try:
        print(f"imgfinder: {prefix}{message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed: nothing left to tell
        pass


def _os_error(exc: OSError, data_dir: Path | None) -> str:
    if not exc.filename:
        return str(exc)
    name = os.fsdecode(exc.filename) if isinstance(exc.filename, bytes) else str(exc.filename)
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and os.path.isfile(name):
        text = f"{display_path(name)} is a file where a folder is needed"
    else:
        text = f"{exc.strerror or exc}: {display_path(name)}"
    if data_dir is not None:
        folder = os.path.abspath(data_dir)
        if os.path.abspath(name) == folder or os.path.abspath(name).startswith(folder + os.sep):
            text = (
                f"cannot use the data folder {display_path(folder)}: {text} "
                "(move that away, or choose another folder with --data-dir)"
            )
    return text


def _damaged(exc: CatalogDamaged, data_dir: Path | None) -> str:
    """One line: which file, SQLite's reason, and the command that repairs it."""
    command = "imgfinder repair" + (f" --data-dir {display_path(str(data_dir))}" if data_dir is not None else "")
    return (
        f"the catalog {display_path(str(exc.path))} is damaged ({exc.reason}): run '{command}' "
        "to keep it aside and start a new one (photos are not touched)"
    )


def _cmd_repair(data_dir: Path, args: argparse.Namespace) -> int:
    from .core.library import repair

    report = repair(data_dir)
    if args.json:
        print(json.dumps({
            "data_dir": str(report.data_dir), "damaged": report.damaged, "reason": report.reason,
            "kept": [str(p) for p in report.kept], "ignored_pairs": report.ignored_pairs,
            "undo_entries": report.actions, "photos": report.photos, "folders": report.folders,
            "future_schema": report.future_schema, "damaged_undo_entries": report.journal,
            "settled": report.settled, "sound": report.sound,
        }, indent=2))
        return EXIT_ERROR if report.future_schema is not None else EXIT_OK
    where = display_path(str(report.data_dir))
    if report.future_schema is not None:
        from .core.catalog import SCHEMA_VERSION

        print(f"the catalog in {where} is of a newer imgfinder (schema {report.future_schema}; this one "
              f"understands {SCHEMA_VERSION}): left as it is. Upgrade imgfinder to use it, or choose another "
              "--data-dir")
        return EXIT_ERROR
    for line in report.journal:
        print(f"damaged undo entry set aside (its file is not touched): {display_path(line)}")
    if report.settled:
        print(f"settled {_files(report.settled)} that an interrupted clean-up or undo left in flight")
    if not report.damaged:
        if report.sound:
            print(f"the catalog in {where} is sound: nothing to repair")
        return EXIT_OK
    kept = display_path(str(report.kept[0])) if report.kept else "(nothing left to keep)"
    print(f"the catalog was damaged ({report.reason}); it is kept as {kept}")
    print(
        f"a new catalog was made; carried over from the damaged one: {report.ignored_pairs} "
        f"'not duplicates' mark{'' if report.ignored_pairs == 1 else 's'} and {report.actions} "
        f"undo entr{'y' if report.actions == 1 else 'ies'}"
    )
    target = f" --data-dir {where}" if args.data_dir is not None else ""
    if report.folders:
        shown = " ".join(display_path(f) for f in report.folders[:5]) + (" ..." if len(report.folders) > 5 else "")
        print(f"now index your photos again: imgfinder index{target} {shown}")
        print(f"(the damaged catalog still listed {report.photos} photo{'' if report.photos == 1 else 's'} "
              f"in {len(report.folders)} folder{'' if len(report.folders) == 1 else 's'})")
    else:
        print(f"now index your photos again: imgfinder index{target} FOLDER")
    return EXIT_OK


def _note(message: str) -> None:
    print(f"imgfinder: {message}", file=sys.stderr, flush=True)


def _empty_library(data_dir: Path) -> UsageError:
    return UsageError(
        f"the library in {display_path(str(data_dir))} is empty (nothing indexed yet): "
        "run 'imgfinder index FOLDER' first"
    )


def _run_command(
    args: argparse.Namespace, data_dir: Path, embedder_factory: Callable[[], Embedder], progress: ProgressPrinter,
) -> int:
    from .core.library import CATALOG_NAME, Library

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
        from .core.library import data_folder_read_only

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


def _output_format(args: argparse.Namespace) -> str:
    """--format, with --json as its alias and -0 implying lines."""
    fmt = args.format
    if args.json and fmt not in (None, "json"):
        raise UsageError(f"--json is --format json: give either --json or --format {fmt}")
    if fmt is None:
        fmt = "json" if args.json else ("lines" if args.null else "text")
    if args.null and fmt != "lines":
        raise UsageError(f"-0/--null goes with --format lines, not with --format {fmt}")
    return fmt


def _leave_out(args: argparse.Namespace):  # -> FileFilter | None
    from .core.file_filter import FileFilter

    found = FileFilter(args.exclude, args.min_size)
    return found if found else None


def _photo_hints(roots: list[Path], leave_out=None) -> list[str]:
    """Why a root added nothing: an empty folder, a file that is not a photo, or every photo
    left out by --exclude / --min-size."""
    from collections import Counter

    from .core.scanner import IMAGE_EXTENSIONS, is_image_name, scan

    kinds = " ".join(sorted(IMAGE_EXTENSIONS))
    hints = []
    for root in roots:
        if root.is_dir():
            skipped: Counter[str] = Counter()
            if next(scan([root], skipped=skipped, leave_out=leave_out), None) is None:
                if skipped["excluded"] or skipped["too_small"]:
                    hints.append(f"every photo in {display_path(str(root))} was left out by --exclude or --min-size")
                else:
                    hints.append(
                        f"no photos found in {display_path(str(root))}: photos are files ending in {kinds} "
                        "(in the folder or its subfolders; hidden and system folders are skipped)"
                    )
        elif not is_image_name(root.name):
            hints.append(f"{display_path(str(root))} is not a photo: photos are files ending in {kinds}")
    return hints


def _cmd_index(library, args: argparse.Namespace, progress: ProgressPrinter) -> int:
    leave_out = _leave_out(args)
    options: dict[str, Any] = {"batch_size": args.batch_size, "first_batch": 2}  # the first photos within a second
    if args.workers:
        options["workers"] = args.workers
    if leave_out is not None:
        options["leave_out"] = leave_out
    from .core.file_actions import recover

    _report_recovery(recover(library.catalog))  # before the scan: a photo half-moved is settled
    catalog_id = _identity(library.catalog.path)
    indexer = library.indexer(**options)
    started = time.monotonic()
    for p in indexer.run([str(r) for r in args.roots]):
        progress(p)
    progress.end()
    if _identity(library.catalog.path) != catalog_id:
        raise DataFolderGone(_data_folder_gone(library.data_dir) or (
            f"the catalog {display_path(str(library.catalog.path))} was deleted or replaced while indexing: "
            "nothing of this run was kept; index again"))
    summary = indexer.summary
    elapsed = time.monotonic() - started
    for hint in _photo_hints(args.roots, leave_out):
        _note(hint)
    if args.json:
        out = summary.as_dict()
        out["seconds"] = round(elapsed, 3)
        out["data_dir"] = str(library.data_dir)
        print(json.dumps(out, indent=2))
    else:
        resumed = f" ({summary.resumed} finished from an interrupted run)" if summary.resumed else ""
        skipped = describe_skipped(summary.skipped)
        known = len(summary.known_unreadable)
        print(
            f"added {summary.added}{resumed}, updated {summary.updated}, unchanged {summary.unchanged}, "
            f"removed {summary.removed}, failed {summary.failed} in {elapsed:.1f}s"
            + (f"; {known:,} known unreadable (see 'imgfinder problems')" if known else "")
            + (f"; {skipped}" if skipped else "")
        )
        sys.stdout.flush()
        for path, reason in summary.new_problems:
            _note(f"cannot read {display_path(path)}: {reason}")
    # Exit 2 only for something new that cannot be read: files known unreadable from an
    # earlier run are listed by 'imgfinder problems', not failed again on every run.
    return EXIT_UNREADABLE if summary.new_problems else EXIT_OK


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _cmd_similar(library, args: argparse.Namespace) -> int:
    """One query: ``{"query", "results"}``; several: ``{"queries": [{"query", "results"}, ...]}``,
    a query that cannot be read carrying ``"error"`` instead of results (exit code 2)."""
    from .core.decoder import DecodeError
    from .core.export import hits_json

    leave_out = _leave_out(args)
    paths = [os.path.abspath(q) for q in args.queries]
    answers: list[dict] = []
    found_hits: list[list] = []  # per answer: its SimilarHits
    failed = False
    for path, found in zip(paths, library.describe_paths(paths)):
        if os.path.isdir(path):
            found = DecodeError("is a folder, not a photo")
        if isinstance(found, DecodeError):
            if len(paths) == 1:
                raise UsageError(f"cannot read {display_path(str(args.queries[0]))}: {found.reason}")
            answers.append({"query": path, "error": found.reason})
            found_hits.append([])
            failed = True
            continue
        hits = [h for h in library.similar_to_descriptor(found, args.k, exclude=path, leave_out=leave_out)
                if h.score >= args.min_score]
        answers.append({"query": path, "results": hits_json(library.catalog, hits)})
        found_hits.append(hits)
    code = EXIT_UNREADABLE if failed else EXIT_OK
    if args.format == "json":
        print(json.dumps(answers[0] if len(answers) == 1 else {"queries": answers}, indent=2))
        return code
    if args.format in ("csv", "lines"):
        if args.format == "csv":
            _write_csv(SIMILAR_CSV, [
                [a["query"], n, f"{h.score:.6f}", h.row.path, h.row.size, _cell(h.row.width), _cell(h.row.height)]
                for a, hits in zip(answers, found_hits) for n, h in enumerate(hits, 1)
            ])
        else:
            _write_lines([[a["query"], *(h.row.path for h in hits)]
                          for a, hits in zip(answers, found_hits) if "error" not in a], args.null)
        for a in answers:
            if "error" in a:
                _note(f"cannot read {display_path(a['query'])}: {a['error']}")
        return code
    rows = [
        [[percent(h.score), f"{h.row.width}x{h.row.height}", human_size(h.row.size),
          display_path(h.row.path) + (f"  (and {len(h.same_files)} identical: {', '.join(map(display_path, h.same_files))})"
                                      if h.same_files else "")]
         for h in hits]
        for hits in found_hits
    ]
    indent = "  " if len(answers) > 1 else ""
    lines = iter(table([r for answer_rows in rows for r in answer_rows], right=(True, True, True), indent=indent))
    for answer, answer_rows in zip(answers, rows):
        query = display_path(answer["query"])
        if "error" in answer:
            sys.stdout.flush()
            _note(f"cannot read {query}: {answer['error']}")
            continue
        if len(answers) > 1:
            print(f"{query}:")
        for _ in answer_rows:
            print(next(lines))
        if not answer_rows and args.min_score > 0:
            sys.stdout.flush()
            _note(f"no indexed photo is at least {percent(args.min_score)} similar to {query}")
        elif not answer_rows:  # every file indexed was unreadable, or the query is the only photo
            sys.stdout.flush()
            _note(f"nothing to compare {query} with: the library holds no other photo that could be read "
                  "('imgfinder index' lists what could not be read)")
    return code


# -- machine output: CSV and one group per line ------------------------------------------------
SIMILAR_CSV = ["query", "rank", "similarity", "path", "size", "width", "height"]


def _cell(value: int | None) -> int | str:
    return "" if value is None else value


def _write_bytes(data: bytes) -> None:
    """Paths exactly as the file system has them (a name that is not UTF-8 included)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(os.fsdecode(data))
    else:
        buffer.write(data)
        buffer.flush()


def _write_csv(header: list[str], rows: list[list[Any]]) -> None:
    import csv
    import io

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    _write_bytes(os.fsencode(text.getvalue()))


def _write_lines(lines: list[list[str]], null: bool) -> None:
    """Each list of paths on one line, separated by a TAB; with ``null`` each path ends with
    a NUL and each line with one more. A path a TAB line cannot carry is refused whole
    (before anything is written), never written so that it reads as two paths."""
    if not null:
        bad = next((p for paths in lines for p in paths if "\t" in p or "\n" in p), None)
        if bad is not None:
            raise UsageError(f"{display_path(bad)} holds a TAB or a newline, which --format lines separates "
                             "paths and groups with: add -0 to separate them with NULs")
        _write_bytes(b"".join(b"\t".join(os.fsencode(p) for p in paths) + b"\n" for paths in lines))
    else:
        _write_bytes(b"".join(b"".join(os.fsencode(p) + b"\0" for p in paths) + b"\0" for paths in lines))


# -- duplicates and clean-up -------------------------------------------------------------------
def _check_cleanup(args: argparse.Namespace, data_dir: Path) -> None:
    """Check the clean-up options before the search (which can take minutes) and read the
    reference folders (``args.reference_folders``)."""
    acting = _acting(args)
    args.reference_folders = []
    if getattr(args, "keep_folders", False) and args.move_to is None:
        raise UsageError("--keep-folders goes with --move-to")
    if not acting:
        given = [name for name, value in (("--dry-run", args.dry_run), ("--yes", args.yes),
                                          ("--reference", args.reference)) if value]
        if given:
            raise UsageError(f"{' and '.join(given)} go{'es' if len(given) == 1 else ''} with --trash, --move-to "
                             "or --link")
        return
    for folder in args.reference:
        if not folder.is_dir():
            raise UsageError(f"no such reference folder: {display_path(str(folder))}")
    args.reference_folders = _stored_reference_folders(data_dir) + [os.path.abspath(f) for f in args.reference]
    if args.move_to is not None:
        from .core.file_actions import is_under

        if args.move_to.exists() and not args.move_to.is_dir():
            raise UsageError(f"{display_path(str(args.move_to))} is a file, not a folder to move photos into")
        if is_under(str(args.move_to), args.reference_folders):
            raise UsageError(f"{display_path(str(args.move_to))} is in a reference folder: nothing is moved there")
    if not (args.dry_run or args.yes or _stdin_is_terminal()):
        what = ("to the trash" if args.trash or args.link else f"to {display_path(str(args.move_to))}")
        raise UsageError(
            f"cannot ask before moving photos {what}: input is not a terminal. Add --yes to move them "
            "without asking, or --dry-run to see what would be moved"
        )


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _settings(data_dir: Path, purpose: str):  # -> core.settings.Settings
    """The library's shared choices, as the desktop app stored them (``core.settings``:
    no Qt needed)."""
    from .core.settings import Settings, SettingsError

    try:
        settings = Settings(Path(data_dir))
    except SettingsError as exc:
        raise UsageError(f"cannot read the library's settings for {purpose}: {exc}") from exc
    for note in settings.notes:
        _note(note)
    return settings


def _stored_reference_folders(data_dir: Path) -> list[str]:
    return [os.path.abspath(f) for f in _settings(data_dir, "its reference folders").reference_folders]


def _count_of(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _group_words(g) -> str:  # g: DuplicateGroup
    """What a group holds, in words: "the file to keep and 1 edited copy", not "2 edited copies"."""
    from .core.group_kind import KIND_EXACT, KIND_RAW_JPEG, KIND_SHOTS

    n = len(g.members)
    if g.kind == KIND_SHOTS:
        return f"{n} burst shots of one moment, not copies"
    if g.kind == KIND_RAW_JPEG:
        return f"{n} files of one shot: RAW + JPEG"
    if g.kind == KIND_EXACT:
        return f"{n} identical files"
    return f"the file to keep and {_count_of(n - 1, 'edited copy', 'edited copies')}"


def _files(n: int) -> str:
    return f"{n:,} file{'' if n == 1 else 's'}"


def _cmd_duplicates(library, args: argparse.Namespace, progress: ProgressPrinter) -> int:
    from .core.duplicates import KeepPreference, removable_copies
    from .core.group_kind import KIND_SHOTS

    kinds = set(args.kind or KIND_CHOICES)
    shots = (args.shots or (args.kind is not None and KIND_SHOTS in kinds)) and not args.exact_only
    threshold = 1.01 if args.exact_only else args.threshold
    finder = library.duplicate_finder(floor=min(DEFAULT_FLOOR, args.threshold), progress=progress,
                                      leave_out=_leave_out(args))
    finder.keep = KeepPreference(args.prefer)
    finder.reference = list(getattr(args, "reference_folders", None) or [])
    finder.prefer_folders = [os.path.abspath(f) for f in args.prefer_folder]
    finder.prefer_pattern = args.prefer_path
    groups = []
    for item in finder.iter_groups(threshold, shots=shots):
        if isinstance(item, list):
            groups = item
        else:  # the layout checks: live progress rather than minutes of silence
            progress(item)
    progress.end()
    groups = [g for g in groups if g.kind in kinds]
    problems = library.catalog.problems()
    plan = None
    if _acting(args):
        from .core.cleanup import only_identical, plan_cleanup

        plan = plan_cleanup(
            groups, args.reference_folders, shots=set(args.kind or ()) == {KIND_SHOTS},
            destination=str(args.move_to) if args.move_to is not None else None,
        )
        if args.link:
            args.link_pairs = only_identical(plan)
    if args.format == "json":
        from .core.export import groups_json

        out = groups_json(groups, args.threshold, problems, library.catalog)
        code = EXIT_OK
        if plan is not None:
            code, out["action"] = _clean_up(library, args, plan, None)
        print(json.dumps(out, indent=2))
        return code
    if args.format == "csv":
        from .core.export import groups_csv

        _write_bytes(groups_csv(groups))  # the app's export, byte for byte
    elif args.format == "lines":
        _write_lines([[m.row.path for m in g.members] for g in groups], args.null)
    else:
        rows = [
            [
                "keep" if i == 0 else ("same" if m.exact else percent(m.score)),
                f"{m.row.width}x{m.row.height}", human_size(m.row.size), display_path(m.row.path),
            ]
            for g in groups for i, m in enumerate(g.members)
        ]
        lines = iter(table(rows, right=(True, True, True), indent="  "))
        for n, g in enumerate(groups, 1):
            print(f"group {n} [{g.kind}] ({_group_words(g)}):")
            for _ in g.members:
                print(next(lines))
        bursts = sum(1 for g in groups if g.kind == KIND_SHOTS)
        copies, reclaim = removable_copies(groups)
        print(
            f"{_count_of(len(groups), 'group')}, {_count_of(copies, 'removable copy', 'removable copies')}"
            f" ({human_size(reclaim)} to reclaim)"
            + (f", of them {_count_of(bursts, 'group')} of burst shots (kept: not copies)" if bursts else "")
        )
        sys.stdout.flush()
    for path, reason in problems:
        _note(f"cannot read {display_path(path)}: {reason}")
    if plan is None:
        return EXIT_OK
    code, _ = _clean_up(library, args, plan, sys.stdout if args.format == "text" else sys.stderr)
    return code


def _clean_up(library, args: argparse.Namespace, plan, out) -> tuple[int, dict]:
    """Dry run, or ask, move and report. ``out``: where the report goes (None: only the
    returned dict, for the JSON output). Returns (exit code, the JSON "action" object)."""
    from .core.cleanup import DIFFERENT, KEEPER, REFERENCE, SHOTS, THERE

    def say(text: str = "") -> None:
        if out is not None:
            print(text, file=out, flush=True)

    from .core.system_trash import restore_hint, trash_name, uses_system_trash

    link = bool(getattr(args, "link", False))
    destination = os.path.abspath(args.move_to) if args.move_to is not None else None
    where = (f"to {trash_name()}" if args.trash else "by hard links to the copies kept (the copies to the trash)"
             if link else f"to {display_path(destination)}")
    no_undo = args.trash and uses_system_trash()  # the system's trash (Windows, macOS)
    verb, verbed = ("replace", "replaced") if link else ("move", "moved")
    action: dict[str, Any] = {
        "action": "trash" if args.trash else "link" if link else "move", "destination": destination,
        "dry_run": args.dry_run,
        "files": [{"path": m.row.path, "size": m.row.size, "group": n} for n, m in plan.moves],
        "bytes": plan.bytes, "left_alone": [{"path": p, "reason": why} for p, _, why in plan.left_alone],
        "moved": [], "failed": [], "batch": None,
    }
    left = []
    if plan.count(REFERENCE):
        left.append(f"{_files(plan.count(REFERENCE))} in reference folders")
    if plan.count(SHOTS):
        left.append(f"{plan.count(SHOTS):,} burst shot{'' if plan.count(SHOTS) == 1 else 's'} (different photos; "
                    "to move them, list bursts alone: --kind shots)")
    if plan.count(THERE):
        left.append(f"{_files(plan.count(THERE))} already in {display_path(destination or '')}")
    if plan.count(KEEPER):
        left.append(f"{_files(plan.count(KEEPER))} whose copy to keep changed or is gone")
    if plan.count(DIFFERENT):
        left.append(f"{_files(plan.count(DIFFERENT))} not byte-identical to the copy kept (a link would change "
                    "their picture)")
    for why in dict.fromkeys(why for _, code, why in plan.left_alone if code == KEEPER):
        _note(f"left a group alone: {display_path(why)} (index its folder again to list it anew)")
    if left:
        say("left alone: " + "; ".join(left))
    if not plan.moves:
        say(f"nothing to {verb}")
        return EXIT_OK, action
    count, size = _files(len(plan.moves)), human_size(plan.bytes)
    if args.dry_run:
        say(f"dry run: would {verb} {count} ({size}) {where}; nothing is touched:")
        for line in table([[human_size(m.row.size), display_path(m.row.path)] for _, m in plan.moves],
                          right=(True,), indent="  "):
            say(line)
        return EXIT_OK, action
    if not args.yes and not _confirm(f"{verb.capitalize()} {count} ({size}) {where}? [y/N] "):
        _note(f"nothing was {verbed}")
        return EXIT_ERROR, action
    from .core.file_actions import ActionResult, FileMover, RefusedError, shared_folder

    planned = len(plan.moves)
    dropped = plan.recheck()
    mover = FileMover(library.catalog, args.reference_folders)
    try:
        if not plan.moves:
            result = ActionResult()
        else:
            shared = [shared_folder(plan.paths)] if args.keep_folders else []
            if link:
                still = set(plan.paths)
                result = mover.replace_with_links([(c, k) for c, k in args.link_pairs if c in still])
            elif args.trash:
                result = mover.trash(plan.paths)
            else:
                result = mover.move_to(plan.paths, destination, shared)
    except RefusedError as exc:  # the plan leaves reference folders out: only if they changed meanwhile
        raise UsageError(f"nothing was moved: {exc}") from exc
    result.failed[:0] = dropped
    action["moved"] = [{"path": src, "to": dst} for src, dst in result.done]
    action["failed"] = [{"path": p, "reason": why} for p, why in result.failed]
    action["bytes"], action["batch"] = result.bytes, result.batch
    if result.done:
        back = (f"imgfinder cannot put them back from there; to restore them, {restore_hint()}" if no_undo
                else "'imgfinder undo' puts them back")
        say(f"{verbed} {_files(len(result.done))} ({human_size(result.bytes)}) {where}; {back}:")
        for src, dst in result.done:
            say(f"  {display_path(src)} -> {display_path(dst)}")
    for path, why in result.failed:
        _note(f"not {verbed} {display_path(path)}: {why}")
    if result.failed:
        _note(f"{_files(len(result.failed))} of {planned:,} could not be {verbed} (see above)")
    return (EXIT_UNREADABLE if result.failed else EXIT_OK), action


def _confirm(question: str) -> bool:
    """Ask on the terminal (the question on stderr, the answer from stdin); only y or yes
    (any case) is a yes, and end of input is a no."""
    sys.stdout.flush()
    sys.stderr.write(question)
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


# -- undo and forget: the catalog only, no model --------------------------------------------
def _open_catalog(data_dir: Path):  # -> Catalog | None (None: no library in data_dir)
    from .core.catalog import Catalog
    from .core.library import CATALOG_NAME

    path = Path(data_dir) / CATALOG_NAME
    return Catalog(path) if path.is_file() else None


def _cmd_problems(data_dir: Path, args: argparse.Namespace) -> int:
    """The catalog's unreadable files (not those a clean-up moved to the trash)."""
    from .core.catalog import Catalog
    from .core.file_actions import in_trash
    from .core.library import CATALOG_NAME, data_folder_read_only

    path = Path(data_dir) / CATALOG_NAME
    if not path.is_file():
        raise _empty_library(data_dir)
    with Catalog(path, read_only=data_folder_read_only(data_dir)) as catalog:
        listed = [(p, r) for p, r in catalog.problems() if not in_trash(p)]
    if args.json:
        print(json.dumps({"problems": [{"path": p, "reason": r} for p, r in listed]}, indent=2))
    elif not listed:
        print("no problems: every indexed file could be read")
    else:
        for p, r in listed:
            print(f"{display_path(p)}: {r}")
        _note(f"{_files(len(listed))} cannot be read; they are left out of searches until they change")
    return EXIT_OK


def _cmd_undo(data_dir: Path, args: argparse.Namespace) -> int:
    from .core.file_actions import FileMover

    catalog = _open_catalog(data_dir)
    if catalog is None:
        raise UsageError(f"nothing to undo: there is no library in {display_path(str(data_dir))}")
    with catalog:
        mover = FileMover(catalog)
        result = mover.undo_last(skip=args.skip)
    recovery = mover.recovery
    if recovery is not None:
        _report_recovery(recovery)
    for src, dst in result.skipped:
        _note(f"set aside {display_path(src)} (it stays at {display_path(dst)}; the log no longer offers it)")
    if result.in_system_trash:
        from .core.system_trash import cannot_undo

        for path in result.in_system_trash:
            _note(f"not put back {display_path(path)}: it is in the system's trash")
        _note(cannot_undo(len(result.in_system_trash)))
    if result.batch is None:
        raise UsageError("nothing to undo: every clean-up logged in this library was undone already "
                         "(or none was made)")
    if args.json:
        print(json.dumps({
            "batch": result.batch, "restored": [{"path": src, "from": dst} for dst, src in result.done],
            "failed": [{"path": p, "reason": why} for p, why in result.failed], "bytes": result.bytes,
            "in_system_trash": result.in_system_trash,
        }, indent=2))
    else:
        if result.done:
            print(f"put back {_files(len(result.done))} ({human_size(result.bytes)}):")
            for dst, src in result.done:
                print(f"  {display_path(src)} (from {display_path(dst)})")
        else:
            print("put back no file")
        sys.stdout.flush()
    for path, why in result.failed:
        _note(f"not put back {display_path(path)}: {why}")
    if result.failed:
        _note(f"{_files(len(result.failed))} of this clean-up could not be put back and stay in the log; "
              "'imgfinder undo' tries them again, 'imgfinder undo --skip' sets them aside and undoes the "
              "clean-up before it")
    return EXIT_UNREADABLE if result.failed or result.in_system_trash else EXIT_OK


def _report_recovery(recovery) -> None:
    """Say what an interrupted clean-up left and how it was settled (stderr)."""
    if recovery.finished:
        _note(f"an interrupted clean-up or undo was finished: {_files(len(recovery.finished))} settled in the log")
    if recovery.rolled_back:
        _note(f"an interrupted clean-up or undo was rolled back: {_files(len(recovery.rolled_back))} left in place")
    for note in recovery.notes:
        _note(note)


def _cmd_forget(data_dir: Path, args: argparse.Namespace) -> int:
    from .core.file_actions import is_under

    catalog = _open_catalog(data_dir)
    if catalog is None:
        raise _empty_library(data_dir)
    folders = [os.path.abspath(f) for f in args.folders]
    for folder, given in zip(folders, args.folders):
        if os.path.isfile(folder):
            raise UsageError(f"{display_path(str(given))} is a file: forget takes folders")
    with catalog:
        counts = [catalog.remove_folder(folder) for folder in folders]
    kept_by_app: list[tuple[str, str]] = []  # (forgotten folder, app folder that holds it)
    settings = _settings(data_dir, "its list of folders")
    listed = settings.folders
    remaining = [f for f in listed if not is_under(f, folders)]
    if remaining != listed:
        try:
            settings.folders = remaining
        except OSError as exc:
            raise UsageError(f"the photos were forgotten, but the app's list of folders could not be "
                             f"saved: {exc}") from exc
    kept_by_app = [(f, top) for f in folders for top in remaining if is_under(f, [top])]
    if not any(counts) and not args.json:
        # An error, on stderr as every error: the folder was probably mistyped.
        raise UsageError("nothing to forget: no photo in the library is in "
                         + ", ".join(display_path(f) for f in folders))
    if args.json:
        print(json.dumps({
            "forgotten": [{"folder": f, "photos": n} for f, n in zip(folders, counts)], "photos": sum(counts),
        }, indent=2))
    else:
        for folder, n in zip(folders, counts):
            print(f"forgot {n:,} photo{'' if n == 1 else 's'} in {display_path(folder)}"
                  + ("" if n else " (none were in the library)"))
        if len(folders) > 1:
            print(f"forgot {sum(counts):,} photo{'' if sum(counts) == 1 else 's'} in all")
        sys.stdout.flush()
    for folder, top in kept_by_app:
        _note(f"the desktop app indexes {display_path(top)}, which holds {display_path(folder)}: its photos "
              "come back at the app's next scan (remove the folder in File > Manage folders instead)")
    return EXIT_OK if any(counts) else EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
