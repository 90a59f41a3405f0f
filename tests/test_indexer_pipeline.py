"""The indexing pipeline's guarantees: bounded memory, at most one batch lost to a crash,
background model warm-up, and decoding identical to what a query photo gets."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FakeEmbedder, small_copy
from imgfinder.core.decoder import decode_for_model, hash_bytes
from imgfinder.core.indexer import Indexer
from imgfinder.core.library import Library


@pytest.fixture
def many_photos(tmp_path: Path, photo_paths: list[Path]) -> list[Path]:
    """40 distinct small JPEGs (several sizes of each real photo)."""
    out = []
    for n in range(40):
        src = photo_paths[n % len(photo_paths)]
        out.append(small_copy(src, tmp_path / "lib" / f"p{n:02d}.jpg", max_side=120 + 8 * (n // len(photo_paths))))
    return out


def test_indexer_decode_matches_decode_for_model(tmp_path: Path, photo_paths: list[Path]) -> None:
    rgba = tmp_path / "alpha.png"
    Image.new("RGBA", (300, 200), (10, 200, 30, 128)).save(rgba)
    rotated = tmp_path / "rotated.jpg"
    with Image.open(photo_paths[0]) as img:
        exif = Image.Exif()
        exif[0x0112] = 6
        img.convert("RGB").resize((640, 400)).save(rotated, exif=exif)
    for path in [*photo_paths[:3], rgba, rotated]:
        data = path.read_bytes()
        for size in (64, 224):
            want = decode_for_model(str(path), size, data)
            got = decode_for_model(str(path), size, data, hash_bytes(data))
            assert got.content_hash == want.content_hash
            assert (got.width, got.height) == (want.width, want.height)
            assert np.array_equal(got.pixels, want.pixels), path


class CountingIndexer(Indexer):
    """Records how many files were read but not yet handed to the model."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reads = 0
        self.embedded = 0
        self.max_pending = 0
        self._lock = threading.Lock()

    def _read(self, item, known, model_id):
        with self._lock:
            self.reads += 1
            self.max_pending = max(self.max_pending, self.reads - self.embedded)
        return super()._read(item, known, model_id)

    def _commit(self, batch, model_id, known):
        super()._commit(batch, model_id, known)
        with self._lock:
            self.embedded += len(batch)


def test_files_in_flight_are_bounded(library: Library, many_photos, tmp_path: Path) -> None:
    ix = CountingIndexer(library.catalog, library.store, library.embedder, batch_size=4, workers=2, in_flight=6)
    list(ix.run([str(tmp_path / "lib")]))
    assert ix.summary.added == 40
    # At most the in-flight window plus the batch being assembled.
    assert 0 < ix.max_pending <= ix.in_flight + ix.batch_size


def test_default_in_flight_is_a_constant_not_the_folder_size(library: Library) -> None:
    ix = library.indexer(batch_size=32, workers=2)
    assert ix.in_flight == 128


class CrashingEmbedder(FakeEmbedder):
    def __init__(self, crash_on_call: int) -> None:
        super().__init__()
        self.crash_on_call = crash_on_call

    def embed(self, images: np.ndarray) -> np.ndarray:
        if self.calls + 1 == self.crash_on_call:
            raise RuntimeError("simulated crash")
        return super().embed(images)


def test_a_crash_loses_at_most_the_current_batch(tmp_path: Path, many_photos) -> None:
    data = tmp_path / "data"
    with Library(data, CrashingEmbedder(crash_on_call=4)) as lib:
        with pytest.raises(RuntimeError, match="simulated crash"):
            list(lib.indexer(batch_size=5, workers=2).run([str(tmp_path / "lib")]))
    # Reopen as after a restart: the three embedded batches are there, and the facts
    # (hash, size, layout) of the batch the model crashed on were committed before it.
    fresh = FakeEmbedder()
    with Library(data, fresh) as lib:
        ids, _ = lib.catalog.embeddings(fresh.model_id)
        assert len(ids) == 15
        facts = lib.catalog.count()
        assert facts >= 20 and all(r.hash for r in lib.catalog.rows())
        ix = lib.indexer(batch_size=5, workers=2)
        list(ix.run([str(tmp_path / "lib")]))
        assert (ix.summary.unchanged, ix.summary.added, ix.summary.decoded) == (15, 25, 25)
        assert ix.summary.resumed == facts - 15
        assert fresh.images == 25


class LazyEmbedder(FakeEmbedder):
    """Like KerasEmbedder: ``load()`` is slow and ``embed`` loads on first use."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False
        self.load_thread: str | None = None
        self.load_calls = 0

    def load(self) -> None:
        self.load_calls += 1
        if not self.loaded:
            self.load_thread = threading.current_thread().name
            self.loaded = True

    def embed(self, images: np.ndarray) -> np.ndarray:
        self.load()
        return super().embed(images)


def test_model_is_warmed_up_in_the_background_only_when_needed(tmp_path: Path, many_photos) -> None:
    embedder = LazyEmbedder()
    with Library(tmp_path / "data", embedder) as lib:
        list(lib.indexer(batch_size=8, workers=2).run([str(tmp_path / "lib")]))
    assert embedder.load_thread == "imgfinder-model-load"
    again = LazyEmbedder()
    with Library(tmp_path / "data", again) as lib:
        list(lib.indexer(batch_size=8, workers=2).run([str(tmp_path / "lib")]))
    assert again.load_calls == 0  # nothing changed: the model is never loaded


_KILLED_RUN = """
import sys, time
sys.path[:0] = [sys.argv[3], sys.argv[4]]
from conftest import FakeEmbedder
from imgfinder.core.library import Library

class SlowToLoad(FakeEmbedder):
    def embed(self, images):
        time.sleep(120)  # like the real model's first call: it loads (seconds), here for ever
        return super().embed(images)

with Library(sys.argv[1], SlowToLoad()) as lib:
    for _ in lib.indexer(batch_size=8, workers=2).run([sys.argv[2]]):
        pass
"""


def test_a_kill_while_the_model_loads_keeps_what_was_read(tmp_path: Path, many_photos) -> None:
    """The first commit must not wait for the model: a run killed while it loads keeps the
    facts of every photo read so far, and the next run finishes them without losing them."""
    import sqlite3
    import subprocess
    import sys
    import time

    repo = Path(__file__).resolve().parent.parent
    data = tmp_path / "data"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, str(data), str(tmp_path / "lib"), str(repo), str(repo / "tests")],
    )
    facts = 0
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.2)
            try:
                with sqlite3.connect(data / "catalog.sqlite3", timeout=5) as db:
                    facts = db.execute("SELECT COUNT(*) FROM files WHERE hash IS NOT NULL AND layout IS NOT NULL").fetchone()[0]
            except sqlite3.Error:
                continue
            if facts >= 8:
                break
    finally:
        child.kill()
        child.wait()
    assert facts >= 8, "nothing was committed while the model loaded"
    fresh = FakeEmbedder()
    with Library(data, fresh) as lib:
        assert lib.catalog.embeddings(fresh.model_id)[0].size == 0  # killed before any embedding
        kept = {r.path: r.hash for r in lib.catalog.rows()}
        ix = lib.indexer(batch_size=8, workers=2)
        list(ix.run([str(tmp_path / "lib")]))
        s = ix.summary
        assert (s.added, s.updated, s.failed) == (40, 0, 0)
        assert s.resumed == len(kept) and s.resumed >= 8
        after = {r.path: r.hash for r in lib.catalog.rows()}
        assert all(after[p] == h for p, h in kept.items())
        assert lib.catalog.embeddings(fresh.model_id)[0].size == 40
