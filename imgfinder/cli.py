"""Command line: ``imgfinder index|similar|duplicates|repair`` (JSON with ``--json``), and the
GUI when run without a command. Uses the same core as the GUI.

Exit codes: 0 success, 1 usage or environment error (also: nothing indexed yet),
2 some files could not be read, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .cli_text import ProgressPrinter, display_path, human_size, percent, table
from .core.catalog import CatalogDamaged
from .core.duplicates import DEFAULT_FLOOR, DEFAULT_THRESHOLD
from .core.embedding import Embedder
from .core.skip_reasons import describe_skipped

EXIT_OK, EXIT_ERROR, EXIT_UNREADABLE, EXIT_INTERRUPTED = 0, 1, 2, 130

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
)


class UsageError(Exception):
    """A mistake on the command line or in the environment: one line, exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


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
            "Exit codes: 0 success, 1 usage or environment error (also: nothing indexed yet), "
            "2 some files could not be read, 130 interrupted."
        ),
    ]
    return "\n".join(lines)


def _pct(value: float) -> str:
    """A similarity in help text (argparse needs % doubled): 0.85 -> 85%%."""
    return f"{value * 100:g}%%"


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
    p.add_argument("roots", nargs="+", type=Path, metavar="FOLDER", help="photo folders (or files) to index")
    p.add_argument("--batch-size", type=_count, default=32, help=argparse.SUPPRESS)
    p.add_argument("--workers", type=_count, default=None, help="decoder threads (default: one per core)")

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
    p.add_argument("--shots", action="store_true",
                   help="also list bursts: different exposures of one moment (EXIF times seconds apart)")

    sub.add_parser(
        "repair", parents=[common], formatter_class=formatter, epilog=see_env,
        help="make a damaged catalog usable again",
        description=_wrap("Check the catalog; if it is damaged, keep it aside (renamed with the date, never "
        "deleted), start a new one with the 'not duplicates' marks and the undo log that can still be read "
        "from it, and say which folders to index again. Photos are never touched; the index files are "
        "rebuilt by themselves."),
    )

    sub.add_parser(
        "gui", parents=[_options(True, outputs=False, data_default=data_default)],
        help="open the desktop app (the default without a command)", description="Open the desktop app.",
        formatter_class=formatter, epilog=see_env,
    )
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


def main(argv: Sequence[str] | None = None, embedder_factory: Callable[[], Embedder] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in (None, "gui"):
        if args.json or args.quiet:
            parser.error("--json and --quiet apply to index, similar and duplicates, not to the desktop app")
        from .gui.app import run_gui

        return run_gui(data_dir=args.data_dir)
    progress = ProgressPrinter(sys.stderr, args.quiet)
    data_dir = args.data_dir
    try:
        if data_dir is None:
            from .core.library import default_data_dir

            data_dir = default_data_dir()
        if args.command == "repair":
            return _cmd_repair(data_dir, args)
        if embedder_factory is None:
            from .embedders import default_embedder

            embedder_factory = default_embedder
        return _run_command(args, data_dir, embedder_factory, progress)
    except UsageError as exc:
        progress.end()
        _error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        progress.end()
        _error("interrupted", prefix="")
        return EXIT_INTERRUPTED
    except OSError as exc:
        progress.end()
        _error(_os_error(exc, data_dir))
        return EXIT_ERROR
    except CatalogDamaged as exc:
        progress.end()
        _error(_damaged(exc, args.data_dir))
        return EXIT_ERROR
    except sqlite3.Error as exc:
        progress.end()
        _error(f"cannot use the catalog in {display_path(str(data_dir))}: {exc}")
        return EXIT_ERROR
    except (RuntimeError, ImportError) as exc:
        progress.end()
        _error(str(exc))
        return EXIT_ERROR


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
        }, indent=2))
        return EXIT_OK
    where = display_path(str(report.data_dir))
    if not report.damaged:
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
    from .core.library import Library

    if args.command == "index":
        missing = [r for r in args.roots if not r.exists()]
        if missing:
            raise UsageError(f"no such folder: {display_path(str(missing[0]))}")
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
    with Library(data_dir, _ForegroundModel(embedder_factory())) as library:  # type: ignore[arg-type]
        if args.command == "index":
            return _cmd_index(library, args, progress)
        if library.catalog.count() == 0:
            raise _empty_library(library.data_dir)
        if args.command == "similar":
            return _cmd_similar(library, args)
        return _cmd_duplicates(library, args, progress)


def _photo_hints(roots: list[Path]) -> list[str]:
    """Why a root added nothing: an empty folder, or a file that is not a photo."""
    from .core.scanner import IMAGE_EXTENSIONS, is_image_name, scan

    kinds = " ".join(sorted(IMAGE_EXTENSIONS))
    hints = []
    for root in roots:
        if root.is_dir():
            if next(scan([root]), None) is None:
                hints.append(
                    f"no photos found in {display_path(str(root))}: photos are files ending in {kinds} "
                    "(in the folder or its subfolders; hidden and system folders are skipped)"
                )
        elif not is_image_name(root.name):
            hints.append(f"{display_path(str(root))} is not a photo: photos are files ending in {kinds}")
    return hints


def _cmd_index(library, args: argparse.Namespace, progress: ProgressPrinter) -> int:
    options = {"batch_size": args.batch_size, "first_batch": 2}  # the first photos embedded within a second
    if args.workers:
        options["workers"] = args.workers
    indexer = library.indexer(**options)
    started = time.monotonic()
    for p in indexer.run([str(r) for r in args.roots]):
        progress(p)
    progress.end()
    summary = indexer.summary
    elapsed = time.monotonic() - started
    for hint in _photo_hints(args.roots):
        _note(hint)
    if args.json:
        out = summary.as_dict()
        out["seconds"] = round(elapsed, 3)
        out["data_dir"] = str(library.data_dir)
        print(json.dumps(out, indent=2))
    else:
        resumed = f" ({summary.resumed} finished from an interrupted run)" if summary.resumed else ""
        skipped = describe_skipped(summary.skipped)
        print(
            f"added {summary.added}{resumed}, updated {summary.updated}, unchanged {summary.unchanged}, "
            f"removed {summary.removed}, failed {summary.failed} in {elapsed:.1f}s"
            + (f"; {skipped}" if skipped else "")
        )
        sys.stdout.flush()
        for path, reason in summary.problems:
            _note(f"cannot read {display_path(path)}: {reason}")
    return EXIT_UNREADABLE if summary.problems else EXIT_OK


def _cmd_similar(library, args: argparse.Namespace) -> int:
    """One query: ``{"query", "results"}``; several: ``{"queries": [{"query", "results"}, ...]}``,
    a query that cannot be read carrying ``"error"`` instead of results (exit code 2)."""
    from .core.decoder import DecodeError

    paths = [os.path.abspath(q) for q in args.queries]
    answers: list[dict] = []
    rows: list[list[list[str]]] = []  # per answer: the text table's rows
    failed = False
    for path, found in zip(paths, library.describe_paths(paths)):
        if os.path.isdir(path):
            found = DecodeError("is a folder, not a photo")
        if isinstance(found, DecodeError):
            if len(paths) == 1:
                raise UsageError(f"cannot read {display_path(str(args.queries[0]))}: {found.reason}")
            answers.append({"query": path, "error": found.reason})
            rows.append([])
            failed = True
            continue
        hits = [h for h in library.similar_to_descriptor(found, args.k, exclude=path) if h.score >= args.min_score]
        answers.append({"query": path, "results": [{"path": h.row.path, "score": round(h.score, 6)} for h in hits]})
        rows.append([
            [percent(h.score), f"{h.row.width}x{h.row.height}", human_size(h.row.size), display_path(h.row.path)]
            for h in hits
        ])
    if args.json:
        print(json.dumps(answers[0] if len(answers) == 1 else {"queries": answers}, indent=2))
        return EXIT_UNREADABLE if failed else EXIT_OK
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
    return EXIT_UNREADABLE if failed else EXIT_OK


def _cmd_duplicates(library, args: argparse.Namespace, progress: ProgressPrinter) -> int:
    from .core.group_kind import KIND_SHOTS, LABELS

    threshold = 1.01 if args.exact_only else args.threshold
    finder = library.duplicate_finder(floor=min(DEFAULT_FLOOR, args.threshold), progress=progress)
    groups = []
    for item in finder.iter_groups(threshold, shots=args.shots and not args.exact_only):
        if isinstance(item, list):
            groups = item
        else:  # the layout checks: live progress rather than minutes of silence
            progress(item)
    progress.end()
    problems = library.catalog.problems()
    if args.json:
        from .core.export import groups_json

        print(json.dumps(groups_json(groups, args.threshold, problems), indent=2))
        return EXIT_OK
    rows = [
        [
            "keep" if i == 0 else ("same" if m.exact else percent(m.score)),
            f"{m.row.width}x{m.row.height}", human_size(m.row.size), display_path(m.row.path),
        ]
        for g in groups for i, m in enumerate(g.members)
    ]
    lines = iter(table(rows, right=(True, True, True), indent="  "))
    for n, g in enumerate(groups, 1):
        print(f"group {n} [{g.kind}] ({len(g.members)} {LABELS[g.kind].lower()}):")
        for _ in g.members:
            print(next(lines))
    shots = sum(1 for g in groups if g.kind == KIND_SHOTS)
    copies = sum(len(g.members) - 1 for g in groups if g.kind != KIND_SHOTS)
    print(
        f"{len(groups)} group{'' if len(groups) == 1 else 's'}, {copies} removable "
        f"cop{'y' if copies == 1 else 'ies'}" + (f", {shots} groups of burst shots" if shots else "")
    )
    sys.stdout.flush()
    for path, reason in problems:
        _note(f"cannot read {display_path(path)}: {reason}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
