"""The work behind each button, as plain functions run by ``TaskRunner`` off the GUI
thread. They take a ``TaskContext`` and explicit data, return plain data or QImages,
and never touch a widget. ``Engine`` holds the one Library and the lock that keeps
jobs which use its index (index, similar, duplicates, file moves) from overlapping.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops

from ..core.alignment import Alignment, align, by_frames
from ..core.catalog import FileRow
from ..core.cleanup import check_kept
from ..core.decoder import open_image, read_file, to_rgb
from ..core.duplicates import DEFAULT_FLOOR, DuplicateFinder, DuplicateGroup, GroupMember, KeepPreference
from ..core.embedding import Embedder
from ..core.file_actions import ActionResult, FileMover, Recovery, in_trash, recover
from ..core.group_kind import kind_after_removal
from ..core.indexer import IndexSummary
from ..core.library import Library, RepairReport, SimilarHit, repair
from ..core.metadata import PhotoInfo, read_metadata
from ..core.progress import Progress
from .images import pil_to_qimage
from .workers import TaskContext


@dataclass(frozen=True)
class ProgressInfo:
    """A snapshot of core ``Progress`` that is safe to hand to the GUI thread."""

    stage: str
    done: int
    total: int
    rate: float
    eta: float | None
    message: str = ""

    @classmethod
    def of(cls, p: Progress) -> ProgressInfo:
        return cls(p.stage, p.done, p.total, p.rate, p.eta_seconds, p.message)


class Engine:
    """The Library (opened in a worker) and the lock serialising jobs that use its index."""

    def __init__(self, data_dir: Path, embedder_factory: Callable[[], Embedder]) -> None:
        self.data_dir = Path(data_dir)
        self.embedder_factory = embedder_factory
        self.library: Library | None = None
        self.lock = threading.Lock()
        self.date_cache: dict[tuple[str, int], str] = {}
        # Problems the last index run met that are not catalog rows (a FIFO named like a
        # photo, a broken symlink, a folder that could not be read): shown until next run.
        self.scan_problems: dict[str, str] = {}
        self.recovery: Recovery | None = None  # what opening settled of an interrupted clean-up

    def open(self, ctx: TaskContext) -> int:
        """Open the catalog (cheap embedder constructor: the model loads lazily), and settle
        what an interrupted clean-up or undo left in flight (``recover``)."""
        self.library = Library(self.data_dir, self.embedder_factory())
        try:
            self.recovery = recover(self.library.catalog)
        except Exception:  # noqa: BLE001 - a read-only catalog: the next undo settles it
            self.recovery = None
        return self.library.catalog.readable_count()

    def close(self) -> None:
        if self.library is not None:
            with self.lock:
                self.library.close()
            self.library = None

    def repair(self, ctx: TaskContext) -> tuple[RepairReport, int]:
        """Set a damaged catalog aside, start a new one (``core.library.repair``) and open it."""
        with self.lock:
            if self.library is not None:
                library, self.library = self.library, None
                library.close()
            report = repair(self.data_dir)
        return report, self.open(ctx)

    @property
    def lib(self) -> Library:
        if self.library is None:
            raise RuntimeError("the library is not open yet")
        return self.library

    # -- model warm-up -----------------------------------------------------------------
    def warm_up(self, ctx: TaskContext) -> str:
        """Load the model in the background so the first 'find similar' is quick."""
        load = getattr(self.lib.embedder, "load", None)
        if callable(load):
            with self.lock:
                load()
        return getattr(self.lib.embedder, "model_id", "")

    def model_id(self, ctx: TaskContext | None = None) -> str:
        """The embedder's model id (the real one hashes its weight files the first time)."""
        return str(getattr(self.lib.embedder, "model_id", "") or "unknown")

    # -- indexing --------------------------------------------------------------------
    def index(
        self, ctx: TaskContext, roots: Sequence[str], workers: int | None = None, forget: Sequence[str] = ()
    ) -> IndexSummary:
        """Index ``roots``, after dropping the catalog rows of folders the user removed."""
        with self.lock:
            for folder in forget:
                self.lib.forget_folder(folder)
            # A first batch of 2: the first photos are embedded (and shown as indexed)
            # within a second of the model being ready, as in the CLI.
            ix = self.lib.indexer(workers=workers or min(2, os.cpu_count() or 1), first_batch=2)
            for p in ix.run(list(roots), ctx.cancel):
                ctx.report(ProgressInfo.of(p), stage=p.stage)
            self.scan_problems = dict(ix.summary.problems)
            return ix.summary

    # -- listing -----------------------------------------------------------------------
    def rows(self, ctx: TaskContext, sort_key: str) -> list[FileRow]:
        """Readable, non-trashed rows sorted for the grid (sorting 100k rows is not GUI work)."""
        rows = [r for r in self.lib.catalog.rows() if r.error is None and not in_trash(r.path)]
        stored = self.lib.catalog.capture_dates(r.id for r in rows) if sort_key == "date" else None
        return sort_rows(rows, sort_key, self.date_cache, ctx, stored)

    def problems(self, ctx: TaskContext) -> list[tuple[str, str]]:
        """Files of the catalog that could not be read, then what the last scan could not
        even look at (those have no catalog row)."""
        listed = [(p, r) for p, r in self.lib.catalog.problems() if not in_trash(p)]
        seen = {p for p, _ in listed}
        # What the scan saw is as of the scan: a file trashed or deleted since is no problem.
        return listed + sorted((p, r) for p, r in self.scan_problems.items()
                               if p not in seen and os.path.lexists(p))

    # -- similar -------------------------------------------------------------------------
    def similar(self, ctx: TaskContext, path: str, k: int) -> tuple[str, list[SimilarHit]]:
        with self.lock:
            hits = self.lib.similar(path, k=k + 8)
        hits = [h for h in hits if not in_trash(h.row.path)][:k]
        return path, hits

    # -- duplicates ----------------------------------------------------------------------
    def duplicates(self, ctx: TaskContext, threshold: float, hidden: set[str],
                   keep: KeepPreference = KeepPreference.BEST_PIXELS,
                   reference: Sequence[str] | None = None) -> tuple[DuplicateFinder, list[DuplicateGroup]]:
        with self.lock:
            finder = None
            for item in self.lib.iter_duplicate_finder(DEFAULT_FLOOR, ctx.cancel):
                if isinstance(item, DuplicateFinder):
                    finder = item
                else:
                    ctx.report(ProgressInfo.of(item), stage=item.stage)
        assert finder is not None
        return finder, regroup(finder, threshold, hidden, ctx, keep, reference)

    def ignore_pair(self, ctx: TaskContext, hash_a: str, hash_b: str) -> None:
        self.lib.catalog.ignore_pair(hash_a, hash_b)

    # -- file actions -----------------------------------------------------------------------
    def trash(self, ctx: TaskContext, paths: Sequence[str], reference: Sequence[str],
              kept: Sequence[tuple[Sequence[GroupMember], Sequence[str]]] | None = None) -> ActionResult:
        with self.lock:
            paths, dropped = _recheck(paths, kept)
            result = FileMover(self.lib.catalog, reference).trash(paths) if paths else ActionResult()
            result.failed[:0] = dropped
            return result

    def move(self, ctx: TaskContext, paths: Sequence[str], folder: str, reference: Sequence[str],
             kept: Sequence[tuple[Sequence[GroupMember], Sequence[str]]] | None = None,
             keep_folders_of: Sequence[str] = ()) -> ActionResult:
        with self.lock:
            paths, dropped = _recheck(paths, kept)
            mover = FileMover(self.lib.catalog, reference)
            result = mover.move_to(paths, folder, keep_folders_of) if paths else ActionResult()
            result.failed[:0] = dropped
            return result

    def link(self, ctx: TaskContext, pairs: Sequence[tuple[str, str]], reference: Sequence[str],
             kept: Sequence[tuple[Sequence[GroupMember], Sequence[str]]] | None = None) -> ActionResult:
        """Replace copies by hard links to the copies kept (``FileMover.replace_with_links``),
        once each group's copies that stay are checked again."""
        with self.lock:
            paths, dropped = _recheck([c for c, _ in pairs], kept)
            still = set(paths)
            mover = FileMover(self.lib.catalog, reference)
            todo = [(c, k) for c, k in pairs if c in still]
            result = mover.replace_with_links(todo) if todo else ActionResult()
            result.failed[:0] = dropped
            return result

    def undo(self, ctx: TaskContext) -> ActionResult:
        with self.lock:
            return FileMover(self.lib.catalog).undo_last()


def _recheck(paths: Sequence[str], kept: Sequence[tuple[Sequence[GroupMember], Sequence[str]]] | None,
             ) -> tuple[list[str], list[tuple[str, str]]]:
    """The paths that may still move once each group's copies that stay are checked again."""
    if kept is None:
        return list(paths), []
    grouped = {p for _, moving in kept for p in moving}
    movable, dropped = check_kept(kept)
    return movable + [p for p in paths if p not in grouped], dropped


def sort_rows(rows: list[FileRow], sort_key: str, date_cache: dict[tuple[str, int], str] | None = None,
              ctx: TaskContext | None = None, stored: Mapping[int, str | None] | None = None) -> list[FileRow]:
    """``rows`` by name, size or date taken (newest first; a photo without a date by its
    modification time): the date the catalog stored (``stored``: row id -> date), else
    read from the file's header once (``date_cache``)."""
    if sort_key == "size":
        return sorted(rows, key=lambda r: (-r.size, r.path))
    if sort_key == "date":
        cache = date_cache if date_cache is not None else {}

        def taken(r: FileRow) -> str:
            key = (r.path, r.mtime_ns)
            value = cache.get(key)
            if value is None:
                if stored is not None and r.id in stored:
                    value = stored[r.id]
                else:
                    if ctx is not None:
                        ctx.cancel.raise_if_cancelled()
                    value = read_metadata(r.path).date_taken
                value = value or time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.mtime_ns / 1e9))
                cache[key] = value
            return value

        return sorted(rows, key=lambda r: (taken(r), r.path), reverse=True)
    return sorted(rows, key=lambda r: (os.path.basename(r.path).lower(), r.path))


def _groups(finder: DuplicateFinder, threshold: float, ctx: TaskContext | None) -> list[DuplicateGroup]:
    """``finder.groups`` with the layout checks' progress reported and cancellable."""
    for item in finder.iter_groups(threshold, ctx.cancel if ctx is not None else None):
        if isinstance(item, list):
            return item
        if ctx is not None:
            ctx.report(ProgressInfo.of(item), stage=item.stage)
    raise AssertionError("unreachable")


def regroup(finder: DuplicateFinder, threshold: float, hidden: set[str], ctx: TaskContext | None = None,
            keep: KeepPreference | None = None, reference: Sequence[str] | None = None) -> list[DuplicateGroup]:
    """Groups at ``threshold`` without files the user moved away (``hidden``) or trashed,
    the copy ``keep`` prefers first and a reference folder's file always first (None: as
    the finder was told before)."""
    if keep is not None:
        finder.keep = KeepPreference(keep)
    if reference is not None:
        finder.reference = list(reference)
    groups = []
    for g in _groups(finder, max(threshold, finder.floor), ctx):
        members = [m for m in g.members if m.row.path not in hidden and not in_trash(m.row.path)]
        if len(members) < 2:
            continue
        # The members stay in the finder's keeper order: with the first one gone, the
        # next best is kept (the evidence ranking needs the removed files no more).
        # Without the moved files a group of copies may be exact copies now; shots stay shots.
        kind = kind_after_removal(g.kind, [m.row.hash for m in members], [m.row.path for m in members])
        groups.append(DuplicateGroup(members, kind))
    return groups


def regroup_task(finder: DuplicateFinder, threshold: float, hidden: set[str], keep: KeepPreference | None = None,
                 reference: Sequence[str] | None = None) -> Callable[[TaskContext], tuple[float, list[DuplicateGroup]]]:
    return lambda ctx: (threshold, regroup(finder, threshold, hidden, ctx, keep, reference))


# -- pictures for the details panel, preview and compare views ---------------------------
def load_sized(path: str, max_side: int = 2048) -> tuple[Image.Image, tuple[int, int]]:
    """The photo at most ``max_side`` px, and its full shown size (orientation applied)."""
    img, width, height = open_image(read_file(path), min_side=max_side, name=path)
    img = to_rgb(img)
    img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return img, (width or img.width, height or img.height)


def load_picture(path: str, max_side: int = 2048) -> Image.Image:
    return load_sized(path, max_side)[0]


def details(ctx: TaskContext, path: str) -> PhotoInfo:
    return read_metadata(path)


def dates(ctx: TaskContext, paths: Sequence[str]) -> dict[str, str]:
    """What the group at a glance says under each photo about when it was made: the date
    taken (EXIF), else the file's modification time, said as such."""
    out = {}
    for p in paths:
        try:
            taken = read_metadata(p).date_taken
        except Exception:  # noqa: BLE001 - an unreadable header: the file's time says something
            taken = None
        if taken:
            out[p] = f"taken {taken}"
            continue
        try:
            out[p] = "file date " + time.strftime("%Y-%m-%d %H:%M", time.localtime(os.stat(p).st_mtime))
        except OSError:
            out[p] = "no date"
    return out


@dataclass
class CompareData:
    infos: list[PhotoInfo]
    images: list[object] = field(default_factory=list)  # QImage or None
    errors: list[str | None] = field(default_factory=list)
    sizes: list[tuple[int, int] | None] = field(default_factory=list)  # full shown sizes
    alignment: Alignment | None = None  # left photo's pixels -> right photo's
    diffs: list[object] = field(default_factory=lambda: [None, None])  # QImage overlays, one per side
    diff_fraction: float | None = None  # of the overlap

    @property
    def diff(self) -> object:
        return self.diffs[0]


def _display_map(alignment: Alignment, sizes, shown) -> Alignment:
    """``alignment`` restated between the two shown (reduced) pictures."""
    to_full_a = np.diag([sizes[0][0] / shown[0][0], sizes[0][1] / shown[0][1], 1.0])
    to_shown_b = np.diag([shown[1][0] / sizes[1][0], shown[1][1] / sizes[1][1], 1.0])
    return Alignment(to_shown_b @ alignment.matrix @ to_full_a, alignment.matched)


def _overlays(a: Image.Image, b: Image.Image, m: Alignment) -> tuple[Image.Image, Image.Image, float]:
    """Where the pictures differ, drawn on each side, and the share of the overlap that does:
    b is drawn into a's frame through ``m`` (a's shown pixels -> b's), so a crop or a turned
    copy is compared with the part of the other it shows."""
    warped = b.transform(a.size, Image.Transform.AFFINE, m.affine(), Image.Resampling.BILINEAR)
    inside = Image.new("L", b.size, 255).transform(a.size, Image.Transform.AFFINE, m.affine(),
                                                   Image.Resampling.NEAREST, fillcolor=0)
    diff = np.asarray(ImageChops.difference(a, warped).convert("L"))
    valid = np.asarray(inside) > 0
    mask = (diff > 40) & valid
    fraction = float(mask.sum()) / max(1, int(valid.sum()))
    red = Image.fromarray(np.where(mask, 170, 0).astype(np.uint8))
    back = red.transform(b.size, Image.Transform.AFFINE, m.inverse().affine(),
                         Image.Resampling.NEAREST, fillcolor=0)
    sides = []
    for alpha, size in ((red, a.size), (back, b.size)):
        overlay = Image.new("RGBA", size, (255, 30, 60, 0))
        overlay.putalpha(alpha)
        sides.append(overlay)
    return sides[0], sides[1], fraction


def compare(ctx: TaskContext, paths: Sequence[str], max_side: int = 1600) -> CompareData:
    """Both photos, their facts, the map between them (``core.alignment``: by shared detail,
    else by their frames) and where they differ over the overlap."""
    data = CompareData([read_metadata(p) for p in paths])
    pils: list[Image.Image | None] = []
    for p in paths:
        try:
            pil, size = load_sized(p, max_side)
            pils.append(pil)
            data.images.append(pil_to_qimage(pil))
            data.sizes.append(size)
            data.errors.append(None)
        except Exception as exc:  # noqa: BLE001 - shown in the view
            pils.append(None)
            data.images.append(None)
            data.sizes.append(None)
            data.errors.append(getattr(exc, "reason", str(exc)))
    if len(pils) != 2 or pils[0] is None or pils[1] is None:
        return data
    try:
        data.alignment = align(paths[0], paths[1])
    except Exception:  # noqa: BLE001 - no detail to match: lay the frames on each other
        data.alignment = by_frames(data.sizes[0], data.sizes[1])
    shown = [pils[0].size, pils[1].size]
    left, right, data.diff_fraction = _overlays(pils[0], pils[1], _display_map(data.alignment, data.sizes, shown))
    data.diffs = [pil_to_qimage(left), pil_to_qimage(right)]
    return data


def preview(ctx: TaskContext, path: str) -> tuple[str, object, str | None]:
    try:
        return path, pil_to_qimage(load_picture(path, 2048)), None
    except Exception as exc:  # noqa: BLE001
        return path, None, getattr(exc, "reason", str(exc))


PASTED_KEEP = 3  # pasted images kept in the data folder: the query shown and the two before


def save_pasted(ctx: TaskContext, image: object, folder: Path) -> str:
    """Save a pasted QImage as PNG in the data folder so it can be queried like a file; only
    the newest PASTED_KEEP stay (each is a megabyte or more, and nobody asked to keep them)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = next(p for n in range(1000) if not (p := folder / f"pasted-{stamp}{f'-{n}' if n else ''}.png").exists())
    if not image.save(str(path), "PNG"):  # type: ignore[attr-defined]
        raise OSError(f"cannot save the pasted image to {path}")
    older = sorted((p for p in folder.glob("pasted-*.png") if p != path), key=lambda p: (p.stat().st_mtime_ns, p.name))
    for old in older[: max(0, len(older) - (PASTED_KEEP - 1))]:
        try:
            old.unlink()
        except OSError:
            pass  # still open elsewhere, or gone: the next paste tries again
    return str(path)


def member_bytes(members: Sequence[GroupMember]) -> int:
    return sum(m.row.size for m in members)
