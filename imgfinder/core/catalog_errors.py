"""What can be wrong with a catalog file, told apart: damaged (rebuild it), read-only
(answer without writing), or in use."""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

SQLITE_MAGIC = b"SQLite format 3\x00"


_DAMAGE_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB (primary codes)


# SQLite's words for a damaged file, and Python's for a text value that is not text (the
# catalog stores paths as BLOBs and writes only ASCII text, so only damage makes one).
_DAMAGE_TEXTS = ("malformed", "file is not a database", "file is encrypted or is not a database",
                 "could not decode to utf-8")


class ReadOnlyCatalog(RuntimeError):
    """The catalog is opened read-only and what was asked needs to write it (an upgrade of
    its schema): one line naming the file and why."""


def is_read_only_error(exc: BaseException) -> bool:
    """True when SQLite refused a write because the file or its folder is read-only
    (SQLITE_READONLY and its extended codes: "attempt to write a readonly database")."""
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    return (code is not None and (code & 0xFF) == 8) or "readonly database" in str(exc).lower()


class CatalogDamaged(sqlite3.DatabaseError):
    """The catalog database is damaged: it cannot be used until it is repaired.

    ``str()`` is one line naming the file and SQLite's reason; the command line adds what
    to do (``imgfinder repair``), the app offers the same in a dialog.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = _one_line(reason)
        super().__init__(f"the catalog {self.path} is damaged ({self.reason})")


def _one_line(reason: str) -> str:
    """SQLite's reason, printable on one line (a damaged value quoted in it may be anything)."""
    reason = reason.split(" with text '")[0]  # "Could not decode to UTF-8 column 'x' with text '<garbage>'"
    text = "".join(ch if ch.isprintable() else " " for ch in reason)
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "…"


def is_damage(exc: BaseException) -> bool:
    """True when an SQLite error means the database file itself is damaged (not locked,
    not a full disk, not a permission)."""
    if isinstance(exc, CatalogDamaged):
        return True
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None and (code & 0xFF) in _DAMAGE_CODES:
        return True
    text = str(exc).lower()
    return any(t in text for t in _DAMAGE_TEXTS)


_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(fn: _F) -> _F:
    """Turn SQLite's damage errors raised by a Catalog method into ``CatalogDamaged``."""

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:  # self: a Catalog
        try:
            return fn(self, *args, **kwargs)
        except CatalogDamaged:
            raise
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise CatalogDamaged(self.path, str(exc)) from exc
            raise

    return wrapper  # type: ignore[return-value]


def _guard_all(cls: type) -> None:
    """Every method and property of ``cls`` reports a damaged file as ``CatalogDamaged``."""
    for name, attr in list(vars(cls).items()):
        if name.startswith("__") or name in ("_read_snapshot",):
            continue
        if isinstance(attr, property) and attr.fget is not None:
            setattr(cls, name, property(_guarded(attr.fget), attr.fset, attr.fdel, attr.__doc__))
        elif callable(attr) and not isinstance(attr, (staticmethod, classmethod)):
            setattr(cls, name, _guarded(attr))
