"""The command line's grammar: every command, option and value type, and the help texts."""

from __future__ import annotations

import argparse
import math
import os
import textwrap
from pathlib import Path
from typing import Any, NoReturn

from .. import __version__
from ..cli_text import display_path
from ..core.duplicates import DEFAULT_FLOOR, DEFAULT_THRESHOLD, KeepPreference
from ..core.group_kind import KINDS
from .common import EXIT_ERROR

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
    from ..core.file_filter import parse_size

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
    from ..core.library import default_data_dir

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
        "percent. PHOTO need not be in the library. With several photos, one list each. A result proven an "
        "edited copy of a better one (by matching detail, as duplicates proves copies) is listed under it "
        "as one of its copies, so the list shows different photos."),
    )
    p.add_argument("queries", type=Path, nargs="+", metavar="PHOTO",
                   help="photos to find similar ones to (the model is loaded once for all)")
    p.add_argument("-k", type=_k, default=20, help="how many results per photo, at least 1 (default 20)")
    p.add_argument(
        "--min-score", type=similarity, default=0.0, metavar="SIMILARITY",
        help="drop results below this similarity: a percentage (90 or 90%%) or a fraction (0.9); "
        "numbers above 1 are percentages (default 0)",
    )
    p.add_argument("--each-copy", action="store_true",
                   help="list edited copies as results of their own instead of under the photo they copy")
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


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:  # argparse keeps its subparsers only there
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    raise KeyError(command)
