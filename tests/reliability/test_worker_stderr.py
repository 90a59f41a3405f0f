"""The duplicate search's check workers (``core.parallel_checks``) never print raw on the
command's stderr: not on a clean run (and no semaphore is left to leak), not when a worker
is killed (the command still gives the clean run's groups), not when the command itself is
killed (multiprocessing's resource tracker used to report "leaked semaphore objects" there).

The command runs in a child process started from a script file, so the spawned workers
import the same script: there it slows each check (``SLOW_CHECK`` seconds) and marks the
first one started (``MARK``), and the test kills a worker or the command at that moment.
The workers are forced on for this small library (``PARALLEL_MIN``) and given two cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _state import TESTS, cli, make_photos

pytestmark = pytest.mark.timeout(180)

REPO = TESTS.parent
RAW = ("resource_tracker", "Traceback", "Warning", "warn", "leaked", "terminated abruptly", "BrokenProcessPool")

SCRIPT = r'''
import os, sys, time
os.sched_getaffinity = lambda pid: {0, 1}  # two usable cores, so the search uses workers
import imgfinder.core.parallel_checks as checks

if os.environ.get("SLOW_CHECK"):  # in the workers, which import this file too
    real = checks.match

    def slow(a, b):
        mark = os.environ.get("MARK")
        if mark and not os.path.exists(mark):
            with open(mark + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.replace(mark + ".tmp", mark)
        time.sleep(float(os.environ["SLOW_CHECK"]))
        return real(a, b)

    checks.match = slow

if __name__ == "__main__":
    import gc
    import imgfinder.core.duplicates as duplicates
    from multiprocessing.synchronize import SemLock

    duplicates.PARALLEL_MIN = 1
    # The layout checks' workers are what is under test: the search by layouts alone (the
    # local-features check, the default, runs in this process and starts no workers).
    post_init = duplicates.DuplicateFinder.__post_init__

    def layouts_only(self):
        self.local = False
        post_init(self)

    duplicates.DuplicateFinder.__post_init__ = layouts_only
    close = checks.CheckPool.close

    def report(self):
        if self._pool is not None:
            with open(os.environ["REPORT"], "a") as f:
                f.write(f"computed {self.computed} broken {getattr(self, 'broken', None)}\n")
        close(self)

    checks.CheckPool.close = report
    from conftest import FakeEmbedder
    from imgfinder.cli import main

    code = main(sys.argv[1:], embedder_factory=FakeEmbedder)
    gc.collect()
    with open(os.environ["REPORT"], "a") as f:  # a lock still alive at exit is never unregistered: leaked
        f.write(f"semaphores {sum(isinstance(o, SemLock) for o in gc.get_objects())}\n")
    sys.exit(code)
'''


@pytest.fixture(scope="module")
def world(tmp_path_factory, photo_paths):
    root = tmp_path_factory.mktemp("workers")
    photos = make_photos(root / "photos", photo_paths)
    data = root / "data"
    code, _, err = cli("index", photos, data=data)
    assert code == 0, err
    code, expected, err = cli("duplicates", data=data)
    assert code == 0 and "\n10 groups, 10 removable copies (" in expected, (expected, err)
    script = root / "child.py"
    script.write_text(SCRIPT)
    return {"root": root, "data": data, "expected": expected, "script": script}


def start(world, tmp_path: Path, slow: float) -> tuple[subprocess.Popen, Path, Path]:
    report, mark = tmp_path / "report", tmp_path / "mark"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO)]), "REPORT": str(report),
           "MARK": str(mark), "SLOW_CHECK": str(slow) if slow else ""}
    child = subprocess.Popen(
        [sys.executable, str(world["script"]), "duplicates", "--data-dir", str(world["data"])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    return child, report, mark


def wait_for(path: Path, child: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "no check started in a worker"
        time.sleep(0.02)


def raw_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(word in line for word in RAW)]


def test_a_clean_run_with_workers_prints_nothing_raw_and_leaks_nothing(world, tmp_path: Path) -> None:
    child, report, _ = start(world, tmp_path, slow=0)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert out == world["expected"]
    assert raw_lines(err) == [], err
    lines = report.read_text().splitlines()
    assert lines[0].startswith("computed ") and int(lines[0].split()[1]) > 0, lines  # the workers did the checks
    assert lines[-1] == "semaphores 0", lines


def test_a_killed_worker_costs_nothing_but_time(world, tmp_path: Path) -> None:
    """The command goes on (the verifier checks the dead worker's pairs itself) and gives
    the clean run's groups, with no word of the pool on stderr."""
    child, report, mark = start(world, tmp_path, slow=0.3)
    wait_for(mark, child)
    os.kill(int(mark.read_text()), signal.SIGKILL)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert out == world["expected"]
    assert raw_lines(err) == [], err
    assert "broken True" in report.read_text()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_command_leaves_nothing_raw_on_stderr(world, tmp_path: Path, sig: int) -> None:
    """stderr is read to its end: also what the workers and the resource tracker, which
    outlive the command for a moment, would write to it."""
    child, _, mark = start(world, tmp_path, slow=0.3)
    wait_for(mark, child)
    child.send_signal(sig)
    out, err = child.communicate(timeout=60)
    assert child.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 143), err
    assert raw_lines(err) == [], err
    if sig == signal.SIGTERM:
        assert err.strip().splitlines()[-1] == "imgfinder: stopped by SIGTERM", err
