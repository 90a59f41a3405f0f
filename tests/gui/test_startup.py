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


def test_window_shows_before_tensorflow(tmp_path) -> None:
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
    # How fast is measured by benchmarks/startup.py (timings are not unit tests).


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


# -- when Qt cannot open a window: one line on what to do, exit 1, never Qt's abort ----------
def _start_without_display(tmp_path, env_changes: dict[str, str], code: str | None = None) -> str:
    """Start the app (``python -m imgfinder``, or ``code``) in an environment without a
    display plus ``env_changes``; return its one error line after checking the exit."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE")}
    env.update(env_changes)
    args = ["-c", code, str(tmp_path / "data")] if code else ["-m", "imgfinder", "--data-dir", str(tmp_path / "data")]
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)  # Qt's abort is 134
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("imgfinder: error: "), proc.stderr
    assert "Traceback" not in proc.stderr and "qt.qpa" not in proc.stderr
    return lines[0]


def _display_without_server() -> str:
    n = next(n for n in range(87, 200) if not os.path.exists(f"/tmp/.X11-unix/X{n}"))
    return f":{n}"


def test_a_display_nobody_answers_on_gives_a_clear_error(tmp_path) -> None:
    display = _display_without_server()
    line = _start_without_display(tmp_path, {"DISPLAY": display})
    assert f"no display answers at DISPLAY={display}" in line and "ssh -X" in line and "imgfinder --help" in line


def test_an_unknown_qt_platform_gives_a_clear_error(tmp_path) -> None:
    line = _start_without_display(tmp_path, {"QT_QPA_PLATFORM": "nonsense", "DISPLAY": ":0"})
    assert "QT_QPA_PLATFORM=nonsense" in line and "xcb" in line and "unset QT_QPA_PLATFORM" in line


MISSING_LIBRARY = r"""
import sys
from imgfinder.gui import platform_check
real = platform_check.can_load
platform_check.can_load = lambda name: False if name == "libxcb-cursor.so.0" else real(name)
platform_check.can_connect = lambda *args, **kwargs: True  # an X server that answers
from imgfinder.cli import main
sys.exit(main(["--data-dir", sys.argv[1]]))
"""


def test_a_missing_system_library_names_the_package_to_install(tmp_path) -> None:
    line = _start_without_display(tmp_path, {"DISPLAY": ":0"}, MISSING_LIBRARY)
    assert "libxcb-cursor.so.0" in line
    assert "sudo apt install libxcb-cursor0" in line and "sudo dnf install xcb-util-cursor" in line


# -- the check itself, on PySide6's real plugins ------------------------------------------------
def test_the_check_reads_the_real_plugins() -> None:
    from imgfinder.gui import platform_check as pc

    platforms_dir, qt_lib = pc.qt_dirs()
    available = pc.available_platforms(platforms_dir)
    assert {"xcb", "offscreen", "wayland"} <= set(available)
    assert "wayland-egl" in available  # a key from the plugin's metadata, not its file name
    needed = pc.needed_libraries(available["xcb"])
    assert "libQt6XcbQpa.so.6" in needed and "libxcb.so.1" in needed
    # Through libQt6XcbQpa (shipped with PySide6) down to the system's xcb libraries:
    absent = pc.missing_libraries(available["xcb"], qt_lib, lambda name: name not in ("libxcb-cursor.so.0", "libEGL.so.1"))
    assert absent == ["libxcb-cursor.so.0", "libEGL.so.1"] or sorted(absent) == ["libEGL.so.1", "libxcb-cursor.so.0"]
    assert pc.missing_libraries(available["xcb"], qt_lib, lambda name: True) == []


def test_the_check_decides_per_platform(tmp_path) -> None:
    from imgfinder.gui import platform_check as pc

    calls = []

    def connect(family, address, timeout=1.0):
        calls.append(address)
        return address == "/tmp/.X11-unix/X0" or address == ("remote", 6010)

    ok = lambda name: True  # noqa: E731
    assert pc.platform_problem({"DISPLAY": ":0"}, loadable=ok, connect=connect) is None
    assert pc.platform_problem({"DISPLAY": "remote:10.0"}, loadable=ok, connect=connect) is None
    assert calls[-1] == ("remote", 6010)
    assert "nothing listens on other port 6000" in pc.platform_problem({"DISPLAY": "other:0"}, loadable=ok, connect=connect)
    assert pc.platform_problem({}, loadable=ok, connect=connect).startswith("no display")
    assert pc.platform_problem({}, loadable=ok, connect=connect, system="win32") is None
    # A Wayland session falls back to X11 when the wayland plugin lacks a library, as Qt does ...
    session = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "XDG_RUNTIME_DIR": str(tmp_path), "DISPLAY": ":0"}
    no_wayland = lambda name: name != "libwayland-client.so.0"  # noqa: E731
    assert pc.platform_problem(session, loadable=no_wayland, connect=lambda *a, **k: True) is None
    # ... and when neither works, says what the first one needs; a loader's message names the
    # library really missing (here one that libxkbcommon-x11 needs).
    problem = pc.platform_problem(session, loadable=lambda n: "libxcb-xkb.so.1" if n == "libwayland-client.so.0" else True,
                                  connect=lambda *a, **k: False)
    assert "no Wayland compositor answers" in problem and "libxcb-xkb1" in problem and "libxcb" in problem
    # An explicit platform list is honoured; offscreen needs no display.
    assert pc.platform_problem({"QT_QPA_PLATFORM": "offscreen"}, loadable=ok, connect=lambda *a, **k: False) is None
    assert pc.platform_problem({"QT_QPA_PLATFORM": "nonsense;xcb", "DISPLAY": ":0"}, loadable=ok, connect=connect) is None
    # A library the table does not know still gets a way to find its package.
    hint = pc.install_hint(["libfoo.so.3"])
    assert "apt-file search libfoo.so.3" in hint and "'libfoo.so.3()(64bit)'" in hint
