"""GUI library grid with 100,000 photos: time to open and frame times while scrolling.

    .venv/bin/python benchmarks/gui_grid.py              # 100,000 rows, offscreen
    .venv/bin/python benchmarks/gui_grid.py --rows 20000 --frames 200

Builds (and caches) a synthetic catalog of ``--rows`` fake photos with fake embeddings
and paths that do not exist, so every thumbnail load fails fast and the delegate paints
its placeholder (which is also what the first paint of a real library looks like before
thumbnails arrive). Opens the real ``MainWindow`` offscreen at 1280x800 and measures:

* ``open``: from ``show()`` to the grid holding every row (the catalog is listed and
  sorted in a worker), with the GUI thread's worst event-loop stall meanwhile;
* ``first frame``: the synchronous repaint of the full grid right after the rows arrive;
* ``scroll``: ``--frames`` smooth steps (a third of a page each) then ``--frames`` jumps
  to random positions; a frame is setting the scroll bar + a synchronous viewport repaint
  + processing pending events.

Prints a table and writes ``benchmarks/out/gui_grid.json``. Target: < 100 ms per frame.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from _data import machine, synthetic_catalog, table, write_json  # noqa: E402

DIM = 64
MODEL_ID = "gui-grid-bench"


class StubEmbedder:
    """Never called: no folders are indexed; it only carries the catalog's model id."""

    model_id, input_size, dim = MODEL_ID, 64, DIM

    def embed(self, images: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise AssertionError("the grid benchmark must not embed")


def stats(ms: list[float]) -> dict:
    ordered = sorted(ms)
    return {
        "frames": len(ms), "median_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2), "worst_ms": round(max(ms), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--thumb", type=int, default=160, help="thumbnail size in the grid")
    args = ap.parse_args()

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from imgfinder.core.library import CATALOG_NAME
    from imgfinder.gui.app import make_app
    from imgfinder.gui.main_window import MainWindow

    source = synthetic_catalog(args.rows, DIM, MODEL_ID)
    work = Path(tempfile.mkdtemp(prefix="imgfinder-gui-grid-"))
    try:
        shutil.copy(source / CATALOG_NAME, work / CATALOG_NAME)
        app = make_app(["gui_grid"])
        window = MainWindow(work, StubEmbedder)
        window.settings.thumb_size = args.thumb
        window.library_view.size_slider.setValue(args.thumb)
        window.resize(1280, 800)
        grid = window.library_view.grid
        model = window.library_view.model

        stalls: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            stalls.append(now - last[0])
            last[0] = now

        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)
        timer.start()
        t0 = time.perf_counter()
        window.show()
        while model.rowCount() < args.rows:
            app.processEvents()
            if time.perf_counter() - t0 > 300:
                raise SystemExit(f"timed out: {model.rowCount()} rows shown")
            time.sleep(0.001)
        opened = time.perf_counter() - t0
        for _ in range(20):  # let the batched layout finish
            app.processEvents()
        timer.stop()
        open_stall = (max(stalls) - 0.010) * 1000 if stalls else 0.0

        t = time.perf_counter()
        grid.viewport().repaint()
        first_frame = (time.perf_counter() - t) * 1000

        bar = grid.verticalScrollBar()
        step = max(1, bar.pageStep() // 3)

        def frame(value: int) -> float:
            t = time.perf_counter()
            bar.setValue(value)
            grid.viewport().repaint()
            app.processEvents()
            return (time.perf_counter() - t) * 1000

        smooth = [frame(min(bar.maximum(), (i + 1) * step)) for i in range(args.frames)]
        rng = random.Random(1)
        jumps = [frame(rng.randint(0, bar.maximum())) for _ in range(args.frames)]
        visible = len({grid.indexAt(grid.viewport().rect().center()).row()})
        cells = (grid.viewport().width() // grid.gridSize().width()) * (grid.viewport().height() // grid.gridSize().height() + 1)
        window.close()
        app.processEvents()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "machine": machine(),
        "rows": args.rows, "window": "1280x800", "thumb": args.thumb, "cells_on_screen": cells,
        "open_seconds": round(opened, 3), "open_max_event_loop_stall_ms": round(open_stall, 1),
        "first_frame_ms": round(first_frame, 2),
        "smooth_scroll": stats(smooth), "jump_scroll": stats(jumps),
    }
    assert visible
    rows = [
        ("open (rows listed in a worker)", f"{opened:.2f} s", f"max stall {open_stall:.1f} ms", "", ""),
        ("first frame", f"{first_frame:.1f} ms", "", "", ""),
        ("smooth scroll", result["smooth_scroll"]["frames"], result["smooth_scroll"]["median_ms"],
         result["smooth_scroll"]["p95_ms"], result["smooth_scroll"]["worst_ms"]),
        ("jump scroll", result["jump_scroll"]["frames"], result["jump_scroll"]["median_ms"],
         result["jump_scroll"]["p95_ms"], result["jump_scroll"]["worst_ms"]),
    ]
    print(f"GUI grid, {args.rows:,} photos, 1280x800, {cells} cells on screen")
    print(table(rows, ("step", "frames / time", "median ms", "p95 ms", "worst ms")))
    path = write_json("gui_grid", result)
    print(f"wrote {path}")
    worst = max(result["smooth_scroll"]["worst_ms"], result["jump_scroll"]["worst_ms"], first_frame)
    return 0 if worst < 100 else 1


if __name__ == "__main__":
    raise SystemExit(main())
