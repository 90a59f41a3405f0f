"""The window appears fast and before TensorFlow is imported (the model loads later, in
a worker)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.timeout(120)

SCRIPT = r"""
import os, sys, time
t0 = time.perf_counter()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from imgfinder.gui.app import default_factory, make_app
from imgfinder.gui.main_window import MainWindow
app = make_app()
w = MainWindow(sys.argv[1], default_factory)
w.show()
app.processEvents()
shown = time.perf_counter() - t0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "torch"))
print(f"SHOWN {shown:.3f} {len(heavy)}", flush=True)
w.close()
"""


def test_window_shows_before_tensorflow_and_fast(tmp_path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "data")], capture_output=True,
                          text=True, timeout=100, env=env)
    total = time.perf_counter() - started
    line = next((x for x in proc.stdout.splitlines() if x.startswith("SHOWN")), None)
    assert line, proc.stdout + proc.stderr
    _, shown, heavy = line.split()
    print(f"\ntime to first window: {float(shown) * 1000:.0f} ms after the interpreter started "
          f"(process start to shown + exit: {total:.2f} s)")
    assert int(heavy) == 0, "the window must not wait for TensorFlow"
    assert float(shown) < 2.0


def test_gui_modules_do_not_import_tensorflow() -> None:
    code = (
        "import sys\nimport imgfinder.gui.app, imgfinder.gui.main_window, imgfinder.gui.jobs\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\nassert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_no_display_gives_a_clear_error_not_a_crash() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "imgfinder"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1
    assert "no display" in proc.stderr and "Traceback" not in proc.stderr
