"""``imgfinder duplicates``: the groups, and the clean-ups (--trash, --move-to, --link)
with the app's rules, asked first, checked again and logged for undo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..cli_text import ProgressPrinter, display_path, human_size, percent, table
from ..core.duplicates import DEFAULT_FLOOR
from .common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_UNREADABLE,
    UsageError,
    _acting,
    _count_of,
    _files,
    _leave_out,
    _note,
    _stdin_is_terminal,
    _stored_reference_folders,
    _write_bytes,
    _write_lines,
)
from .parser import KIND_CHOICES


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
        from ..core.file_actions import is_under

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


def _group_words(g) -> str:  # g: DuplicateGroup
    """What a group holds, in words: "the file to keep and 1 edited copy", not "2 edited copies"."""
    from ..core.group_kind import KIND_EXACT, KIND_RAW_JPEG, KIND_SHOTS

    n = len(g.members)
    if g.kind == KIND_SHOTS:
        return f"{n} burst shots of one moment, not copies"
    if g.kind == KIND_RAW_JPEG:
        return f"{n} files of one shot: RAW + JPEG"
    if g.kind == KIND_EXACT:
        return f"{n} identical files"
    return f"the file to keep and {_count_of(n - 1, 'edited copy', 'edited copies')}"


def _cmd_duplicates(library, args: argparse.Namespace, progress: ProgressPrinter) -> int:
    from ..core.duplicates import KeepPreference, removable_copies
    from ..core.group_kind import KIND_SHOTS

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
        from ..core.cleanup import only_identical, plan_cleanup

        plan = plan_cleanup(
            groups, args.reference_folders, shots=set(args.kind or ()) == {KIND_SHOTS},
            destination=str(args.move_to) if args.move_to is not None else None,
        )
        if args.link:
            args.link_pairs = only_identical(plan)
    if args.format == "json":
        from ..core.export import groups_json

        out = groups_json(groups, args.threshold, problems, library.catalog)
        code = EXIT_OK
        if plan is not None:
            code, out["action"] = _clean_up(library, args, plan, None)
        print(json.dumps(out, indent=2))
        return code
    if args.format == "csv":
        from ..core.export import groups_csv

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
    from ..core.cleanup import DIFFERENT, KEEPER, REFERENCE, SHOTS, THERE

    def say(text: str = "") -> None:
        if out is not None:
            print(text, file=out, flush=True)

    from ..core.system_trash import restore_hint, trash_name, uses_system_trash

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
        n = plan.count(DIFFERENT)
        left.append(f"{_files(n)} not byte-identical to the copy kept (a link would change "
                    f"{'its' if n == 1 else 'their'} picture)")
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
    from ..core.file_actions import ActionResult, FileMover, RefusedError, shared_folder

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
