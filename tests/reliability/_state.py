"""Helpers of the reliability tests: a photo folder with known duplicates, CLI runs in this
process or in a child process, damage done to a state file, and fingerprints of the
photos, the catalog and the index folder.

Child processes come from a ``forkserver`` that has imported imgfinder and the tests' fake
embedder once, so each one starts in milliseconds (a fresh interpreter takes ~1 s here)
and the kill and concurrency tests fit in their time budget. They are real processes:
their own SQLite connections, file descriptors and locks, killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import random
import shutil
import signal
import sqlite3
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from conftest import FakeEmbedder, small_copy  # noqa: E402

from imgfinder.cli import main  # noqa: E402

ORIGINALS = 10  # distinct photos; each also has a reduced copy, so 10 groups of duplicates


def make_photos(root: Path, photo_paths: list[Path]) -> Path:
    """``root/orig`` (10 small photos) and ``root/copies`` (a reduced copy of each)."""
    for p in photo_paths[:ORIGINALS]:
        small_copy(p, root / "orig" / p.name, max_side=240)
        small_copy(p, root / "copies" / f"small_{p.name}", max_side=120, quality=70)
    return root


def sha256_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


# -- the command line in this process ----------------------------------------------------
def cli(*args: str | os.PathLike[str], data: Path) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``imgfinder ARGS --data-dir DATA`` with the fake model."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*map(str, args), "--data-dir", str(data)], embedder_factory=FakeEmbedder)
    return code, out.getvalue(), err.getvalue()


def results(data: Path, query: Path) -> tuple[list, list]:
    """(duplicate groups, similar hits) as path lists: what a user sees, in order."""
    code, out, err = cli("duplicates", "--json", data=data)
    assert code == 0, err
    groups = [[(m["path"], m["score"]) for m in g["files"]] for g in json.loads(out)["groups"]]
    code, out, err = cli("similar", query, "-k", "8", "--json", data=data)
    assert code == 0, err
    hits = [(h["path"], round(h["score"], 5)) for h in json.loads(out)["results"]]
    return groups, hits


def catalog_rows(data: Path) -> list[tuple]:
    """Every file row's content (not its id), by path: what a clean run must also produce."""
    conn = sqlite3.connect(data / "catalog.sqlite3")
    try:
        return conn.execute(
            "SELECT path, size, mtime_ns, hash, width, height, model_id, embedding, error, layout, descriptor, "
            "feature_id FROM files ORDER BY path"
        ).fetchall()
    finally:
        conn.close()


LEGACY = {"ann": ".ann", "ids": ".ids.npy", "vectors": ".vectors.npy", "projection": ".projection.npy"}


def index_file(data: Path, store: str, role: str) -> Path:
    """The file of index ``store`` ("embeddings" or "retrieval") in ``role`` (ann, ids,
    vectors) that its manifest names (fixed names in manifests older than version 3)."""
    files = json.loads((data / "index" / f"{store}.json").read_text()).get("files")
    return data / "index" / (files[role]["name"] if files else store + LEGACY[role])


def index_leftovers(data: Path) -> list[str]:
    """Files in the index folder that no manifest names (besides manifests and locks)."""
    folder = data / "index"
    named = set()
    for manifest in folder.glob("*.json"):
        files = json.loads(manifest.read_text()).get("files")
        named |= {f["name"] for f in files.values()} if files else {manifest.stem + s for s in LEGACY.values()}
        named.add(manifest.name)
    return sorted(p.name for p in folder.iterdir() if p.name not in named and not p.name.endswith(".lock"))


# -- damage ---------------------------------------------------------------------------------
DAMAGE = ("zero", "half", "garbage", "delete", "folder")


def damage(path: Path, kind: str, seed: int = 0) -> None:
    """Damage one file the way disks, crashes and people do."""
    rng = random.Random(seed)
    if kind == "zero":
        path.write_bytes(b"")
    elif kind == "half":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "garbage":  # the second half overwritten, the size unchanged
        data = bytearray(path.read_bytes())
        for i in range(len(data) // 2, len(data)):
            data[i] = rng.randrange(256)
        path.write_bytes(bytes(data))
    elif kind == "header":  # the first 100 bytes overwritten
        data = bytearray(path.read_bytes())
        data[:100] = bytes(rng.randrange(256) for _ in range(100))
        path.write_bytes(bytes(data))
    elif kind == "flip":  # a few bytes in the middle changed (the kind of damage nothing notices)
        data = bytearray(path.read_bytes())
        for i in range(8):
            data[len(data) // 2 + 3 * i] ^= 0x5A
        path.write_bytes(bytes(data))
    elif kind == "delete":
        path.unlink()
    elif kind == "folder":
        path.unlink(missing_ok=True)
        path.mkdir()
        (path / "something").write_text("x")
    else:
        raise ValueError(kind)


# -- child processes ----------------------------------------------------------------------------
_CONTEXT: multiprocessing.context.BaseContext | None = None


def context() -> multiprocessing.context.BaseContext:
    """The fork server, started once with this module (and so imgfinder) imported."""
    global _CONTEXT
    if _CONTEXT is None:
        from multiprocessing import forkserver

        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["_state"])
        # The server is a new interpreter that finds its preloads on PYTHONPATH (Python 3.11
        # does not pass it this process's sys.path); the variables are restored after.
        saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), str(TESTS), saved["PYTHONPATH"]]))
        os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"
        try:
            forkserver.ensure_running()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        _CONTEXT = ctx
    return _CONTEXT


def _child(argv: list[str], report: str, pause: tuple[str, int] | None, marker: str | None,
           start_at: float | None, env: dict[str, str] | None = None, step: int | None = None) -> None:
    os.environ.update(env or {})
    if pause is not None:
        _install_pause(pause[0], pause[1], marker)
    calls = count_steps() if step == -1 else None  # -1: count the steps, do not stop
    if step is not None and step > 0:
        _install_step_pause(step, marker)
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.time()))
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv, embedder_factory=FakeEmbedder)
    except BaseException:  # noqa: BLE001 - a crash is what the tests look for
        code = -1
        err.write(traceback.format_exc())
    Path(report).write_text(json.dumps({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue(),
                                        "steps": len(calls) if calls is not None else None}))
    sys.stdout.flush()
    os._exit(0)


class Child:
    """An ``imgfinder`` command running in a child process."""

    def __init__(self, argv: list[str], workdir: Path, pause: tuple[str, int] | None = None,
                 start_at: float | None = None, env: dict[str, str] | None = None, step: int | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.report = workdir / f"report-{os.getpid()}-{time.monotonic_ns()}.json"
        self.marker = workdir / f"paused-{time.monotonic_ns()}"
        self.process = context().Process(
            target=_child, args=(argv, str(self.report), pause, str(self.marker), start_at, env, step), daemon=True,
        )
        self.process.start()

    def paused(self, timeout: float = 30.0) -> bool:
        """Wait until the child reached its pause point (False if it finished first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.marker.exists():
                return True
            if not self.process.is_alive():
                return self.marker.exists()
            time.sleep(0.002)
        raise TimeoutError("the child never reached its pause point")

    def resume(self) -> None:
        """Let a paused child go on."""
        Path(str(self.marker) + ".resume").touch()

    def kill(self, signum: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signum)
        self.process.join(30)

    def result(self, timeout: float = 60.0) -> dict:
        self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
            raise TimeoutError("the child hung")
        return json.loads(self.report.read_text())


# Named moments of an ``index`` run where a test can stop it (and kill it), each the n-th time
# it comes: inside a catalog write transaction, and at each step of an index build.
PAUSE_POINTS = ("build", "catalog-write", "annoy-saved", "npy-saved", "manifest-replace", "manifest-replaced", "cleanup")


def _install_pause(point: str, nth: int, marker: str | None) -> None:
    """Make the n-th arrival at ``point`` create ``marker`` and wait there (to be killed, or
    resumed by ``Child.resume``)."""
    from imgfinder.core import ann_index
    from imgfinder.core.catalog import Catalog

    count = {"n": 0}

    def arrive() -> None:
        count["n"] += 1
        if count["n"] == nth and marker:
            Path(marker).touch()
            resume = Path(marker + ".resume")
            deadline = time.monotonic() + 60
            while not resume.exists() and time.monotonic() < deadline:  # until resumed or killed
                time.sleep(0.005)

    if point == "build":  # an index build is about to start (before its lock)
        build = ann_index.IndexStore.build

        def paused_build(self: object, *a: object, **k: object) -> None:
            arrive()
            build(self, *a, **k)

        ann_index.IndexStore.build = paused_build  # type: ignore[method-assign]
    elif point == "catalog-write":  # rows written, transaction not committed
        bump = Catalog._bump_generation

        def paused_bump(self: Catalog) -> None:
            bump(self)
            arrive()

        Catalog._bump_generation = paused_bump  # type: ignore[method-assign]
    elif point == "annoy-saved":
        from imgfinder.core import vector_search  # where the trees are built (split off ann_index)

        real = vector_search.AnnoyIndex

        class Pausing:
            def __init__(self, *a: object) -> None:
                self._inner = real(*a)

            def save(self, *a: object, **k: object) -> object:
                done = self._inner.save(*a, **k)
                arrive()
                return done

            def __getattr__(self, name: str) -> object:
                return getattr(self._inner, name)

        vector_search.AnnoyIndex = Pausing  # type: ignore[misc]
    elif point == "npy-saved":
        save = ann_index.np.save

        def paused_save(*a: object, **k: object) -> None:
            save(*a, **k)
            arrive()

        ann_index.np.save = paused_save
    elif point in ("manifest-replace", "manifest-replaced"):
        replace = ann_index.os.replace

        def paused_replace(src: object, dst: object) -> None:
            if point == "manifest-replace":
                arrive()
            replace(src, dst)
            if point == "manifest-replaced":
                arrive()

        ann_index.os.replace = paused_replace
    elif point == "cleanup":
        remove = getattr(ann_index, "_remove", None)
        if remove is None:  # a version without stale-file removal: nothing to pause at
            return

        def paused_remove(path: Path) -> None:
            arrive()
            remove(path)

        ann_index._remove = paused_remove
    else:
        raise ValueError(point)


def copy_state(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


# File-system steps of a clean-up or an undo (counted once ``FileMover`` starts acting): a
# test stops the child just after the n-th one, to kill it there.
STEP_CALLS = ("link", "unlink", "rename", "fsync", "mkdir", "rmdir", "open", "utime", "chmod")


def count_steps() -> list[int]:
    """Install the step counter in this (child) process, for a run that measures; returns
    the list whose length is the count so far."""
    calls: list[int] = []
    _wrap_steps(lambda: calls.append(1))
    return calls


def _wrap_steps(on_step) -> None:
    from imgfinder.core import file_actions

    armed = [False]
    for name in STEP_CALLS:
        real = getattr(os, name)

        def step(*args, _real=real, **kwargs):
            out = _real(*args, **kwargs)
            if armed[0]:
                on_step()
            return out

        setattr(os, name, step)
    for method in ("_run", "undo_last"):
        real_method = getattr(file_actions.FileMover, method)

        def acting(self, *args, _real=real_method, **kwargs):
            armed[0] = True
            try:
                return _real(self, *args, **kwargs)
            finally:
                armed[0] = False

        setattr(file_actions.FileMover, method, acting)


def _install_step_pause(nth: int, marker: str | None) -> None:
    """Stop just after the n-th file-system step of a file action: create ``marker`` and
    wait there to be killed (a SIGTERM raises from this very point)."""
    seen = [0]
    real_open = os.open

    def on_step() -> None:
        seen[0] += 1
        if seen[0] == nth and marker is not None:
            os.close(real_open(marker, os.O_WRONLY | os.O_CREAT, 0o600))
            while True:
                time.sleep(0.01)

    _wrap_steps(on_step)
