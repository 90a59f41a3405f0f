"""Command line: ``imgfinder index|similar|duplicates`` (JSON with ``--json``), and the GUI
when run without a command. Uses the same core as the GUI.

Exit codes: 0 success, 1 usage or environment error, 2 some files could not be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from . import __version__
from .core.duplicates import DEFAULT_FLOOR, DEFAULT_THRESHOLD
from .core.embedding import Embedder
from .core.progress import Progress

EXIT_OK, EXIT_ERROR, EXIT_UNREADABLE = 0, 1, 2


class UsageError(Exception):
    """A mistake on the command line or in the environment: one line, exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=None, help="where the catalog and index live (default: the user data folder)")
    common.add_argument("--json", action="store_true", help="machine-readable output on stdout; progress goes to stderr")
    common.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")

    parser = _Parser(prog="imgfinder", description="Find similar and duplicate photos with a CNN, locally.", parents=[common])
    parser.add_argument("--version", action="version", version=f"imgfinder {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("index", parents=[common], help="scan folders and embed new or changed photos")
    p.add_argument("roots", nargs="+", type=Path, metavar="FOLDER", help="photo folders (or files) to index")
    p.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=None, help="decoder threads (default: one per core)")

    p = sub.add_parser("similar", parents=[common], help="rank indexed photos by similarity to one or more photos")
    p.add_argument("queries", type=Path, nargs="+", metavar="PHOTO",
                   help="photos to find similar ones to (the model is loaded once for all)")
    p.add_argument("-k", type=int, default=20, help="how many results (default 20)")
    p.add_argument("--min-score", type=float, default=0.0, help="drop results below this similarity")

    p = sub.add_parser("duplicates", parents=[common], help="list groups of duplicate photos, best copy first")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"similarity needed to call two photos duplicates, {DEFAULT_FLOOR}..1 (default {DEFAULT_THRESHOLD})")
    p.add_argument("--exact-only", action="store_true", help="only byte-identical copies")
    p.add_argument("--shots", action="store_true",
                   help="also list bursts: different exposures of one moment (EXIF times seconds apart)")

    sub.add_parser("gui", parents=[common], help="open the desktop app (the default without a command)")
    return parser


class _ProgressPrinter:
    """Progress on stderr: a live line on a terminal, a line every few seconds otherwise."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self._last = 0.0
        self._stage = ""

    def __call__(self, p: Progress) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        finished = p.total and p.done >= p.total
        if p.stage == self._stage and not finished and now - self._last < (0.2 if self.tty else 5.0):
            return
        self._stage, self._last = p.stage, now
        text = f"{p.stage}: {p.done}" + (f"/{p.total}" if p.total else "")
        if p.total and p.done and p.stage == "index":
            eta = p.eta_seconds
            text += f"  {p.rate:.1f}/s" + (f"  {eta:.0f}s left" if eta is not None else "")
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if finished else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def main(argv: Sequence[str] | None = None, embedder_factory: Callable[[], Embedder] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in (None, "gui"):
        from .gui.app import run_gui

        return run_gui(data_dir=args.data_dir)
    if embedder_factory is None:
        from .embedders import default_embedder

        embedder_factory = default_embedder
    try:
        return _run_command(args, embedder_factory)
    except UsageError as exc:
        print(f"imgfinder: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("imgfinder: interrupted", file=sys.stderr)
        return 130
    except (OSError, RuntimeError, ImportError) as exc:
        print(f"imgfinder: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _run_command(args: argparse.Namespace, embedder_factory: Callable[[], Embedder]) -> int:
    from .core.library import Library, default_data_dir

    data_dir = args.data_dir or default_data_dir()
    progress = _ProgressPrinter(sys.stderr, args.quiet)
    if args.command == "index":
        missing = [str(r) for r in args.roots if not r.exists()]
        if missing:
            raise UsageError(f"no such folder: {missing[0]}")
    if args.command == "similar" and len(args.queries) == 1 and not args.queries[0].is_file():
        raise UsageError(f"no such photo: {args.queries[0]}")
    if args.command == "duplicates" and not (DEFAULT_FLOOR <= args.threshold <= 1.0):
        raise UsageError(f"--threshold must be between {DEFAULT_FLOOR} and 1.0")
    with Library(data_dir, embedder_factory()) as library:
        if args.command == "index":
            return _cmd_index(library, args, progress)
        if args.command == "similar":
            return _cmd_similar(library, args)
        return _cmd_duplicates(library, args, progress)


def _cmd_index(library, args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    options = {"batch_size": args.batch_size}
    if args.workers:
        options["workers"] = args.workers
    indexer = library.indexer(**options)
    started = time.monotonic()
    for p in indexer.run([str(r) for r in args.roots]):
        progress(p)
    summary = indexer.summary
    elapsed = time.monotonic() - started
    if args.json:
        out = summary.as_dict()
        out["seconds"] = round(elapsed, 3)
        out["data_dir"] = str(library.data_dir)
        print(json.dumps(out, indent=2))
    else:
        print(
            f"added {summary.added}, updated {summary.updated}, unchanged {summary.unchanged}, "
            f"removed {summary.removed}, failed {summary.failed} in {elapsed:.1f}s"
        )
        for path, reason in summary.problems:
            print(f"  cannot read {path}: {reason}")
    return EXIT_UNREADABLE if summary.problems else EXIT_OK


def _cmd_similar(library, args: argparse.Namespace) -> int:
    """One query: ``{"query", "results"}``; several: ``{"queries": [{"query", "results"}, ...]}``,
    a query that cannot be read carrying ``"error"`` instead of results (exit code 2)."""
    from .core.decoder import DecodeError

    if library.catalog.count() == 0:
        raise UsageError(f"the library in {library.data_dir} is empty: run 'imgfinder index FOLDER' first")
    paths = [os.path.abspath(q) for q in args.queries]
    answers: list[dict] = []
    failed = False
    for path, found in zip(paths, library.describe_paths(paths)):
        if isinstance(found, DecodeError):
            if len(paths) == 1:
                raise UsageError(f"cannot read {args.queries[0]}: {found.reason}")
            answers.append({"query": path, "error": found.reason})
            failed = True
            continue
        hits = library.similar_to_descriptor(found, max(1, args.k), exclude=path)
        answers.append({"query": path, "results": [
            {"path": h.row.path, "score": round(h.score, 6)} for h in hits if h.score >= args.min_score
        ]})
    if args.json:
        print(json.dumps(answers[0] if len(answers) == 1 else {"queries": answers}, indent=2))
    else:
        for answer in answers:
            if len(answers) > 1:
                print(f"{answer['query']}:")
            if "error" in answer:
                print(f"  cannot read: {answer['error']}")
            for hit in answer.get("results", []):
                print(f"{hit['score'] * 100:6.2f}%  {hit['path']}")
    return EXIT_UNREADABLE if failed else EXIT_OK


def _cmd_duplicates(library, args: argparse.Namespace, progress: _ProgressPrinter) -> int:
    from .core.group_kind import KIND_SHOTS, LABELS

    threshold = 1.01 if args.exact_only else args.threshold
    finder = library.duplicate_finder(floor=min(DEFAULT_FLOOR, args.threshold), progress=progress)
    groups = []
    for item in finder.iter_groups(threshold, shots=args.shots and not args.exact_only):
        if isinstance(item, list):
            groups = item
        else:  # the layout checks: live progress rather than minutes of silence
            progress(item)
    problems = library.catalog.problems()
    if args.json:
        from .core.export import groups_json

        print(json.dumps(groups_json(groups, args.threshold, problems), indent=2))
    else:
        for n, g in enumerate(groups, 1):
            print(f"group {n} [{g.kind}] ({len(g.members)} {LABELS[g.kind].lower()}):")
            for i, m in enumerate(g.members):
                tag = "keep" if i == 0 else ("same " if m.exact else f"{m.score * 100:4.1f}%")
                print(f"  {tag:>6}  {m.row.width}x{m.row.height}  {m.row.size:>10}  {m.row.path}")
        shots = sum(1 for g in groups if g.kind == KIND_SHOTS)
        copies = sum(len(g.members) - 1 for g in groups if g.kind != KIND_SHOTS)
        print(f"{len(groups)} groups, {copies} removable copies" + (f", {shots} groups of burst shots" if shots else ""))
        for path, reason in problems:
            print(f"  cannot read {path}: {reason}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
