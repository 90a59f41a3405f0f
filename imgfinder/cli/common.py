"""What every command shares: exit codes, the one-line error, notes on stderr, the
library's settings and catalog, output writers and counts in words."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..cli_text import display_path

EXIT_OK, EXIT_ERROR, EXIT_UNREADABLE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A mistake on the command line or in the environment: one line, exit code 1."""


def _acting(args: argparse.Namespace) -> bool:
    """Whether ``duplicates`` was asked to clean up (trash, move or link)."""
    return bool(args.trash or args.move_to is not None or getattr(args, "link", False))


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a reader that went away


class DataFolderGone(Exception):
    """The data folder (or its catalog) was deleted or moved away while the command ran."""


def _error(message: str, prefix: str = "error: ") -> None:
    try:
        print(f"imgfinder: {prefix}{message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed: nothing left to tell
        pass


def _note(message: str) -> None:
    print(f"imgfinder: {message}", file=sys.stderr, flush=True)


def _empty_library(data_dir: Path) -> UsageError:
    return UsageError(
        f"the library in {display_path(str(data_dir))} is empty (nothing indexed yet): "
        "run 'imgfinder index FOLDER' first"
    )


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
    from ..core.file_filter import FileFilter

    found = FileFilter(args.exclude, args.min_size)
    return found if found else None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


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


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _settings(data_dir: Path, purpose: str):  # -> core.settings.Settings
    """The library's shared choices, as the desktop app stored them (``core.settings``:
    no Qt needed)."""
    from ..core.settings import Settings, SettingsError

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


def _files(n: int) -> str:
    return f"{n:,} file{'' if n == 1 else 's'}"


# -- undo and forget: the catalog only, no model --------------------------------------------
def _open_catalog(data_dir: Path):  # -> Catalog | None (None: no library in data_dir)
    from ..core.catalog import Catalog
    from ..core.library import CATALOG_NAME

    path = Path(data_dir) / CATALOG_NAME
    return Catalog(path) if path.is_file() else None
