"""What the CLI prints on stderr reaches stderr (issue #11): TensorFlow's quiet import
must not swallow the process's fd 2 from a background thread, so an error or Ctrl+C
during the model's start-up is reported, with the right exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import FakeEmbedder, small_copy
from imgfinder.cli import main

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "imgfinder", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO,
    )


def test_a_broken_data_folder_is_reported_on_stderr(tmp_path: Path) -> None:
    """The run fails within a second, while the real model would still be starting: the
    error must be printed (it used to vanish into TensorFlow's captured stderr)."""
    photos, data = tmp_path / "photos", tmp_path / "data"
    photos.mkdir()
    (photos / "broken.jpg").write_bytes(b"not a jpeg")  # something to index, nothing to embed
    data.mkdir()
    (data / "index").write_text("a file where the index folder should be")
    proc = run_cli("index", str(photos), "--data-dir", str(data))
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "imgfinder: error:" in proc.stderr, proc.stderr
    assert str(data / "index") in proc.stderr and "is a file where a folder is needed" in proc.stderr
    assert "--data-dir" in proc.stderr  # what to do about it
    assert "Traceback" not in proc.stderr


class LazyEmbedder(FakeEmbedder):
    """Loads on first use like the Keras model, and notes which thread loaded it."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False
        self.loaded_in: list[str] = []

    def load(self) -> None:
        self.loaded_in.append(threading.current_thread().name)
        self.loaded = True

    def embed(self, images):
        if not self.loaded:
            self.load()
        return super().embed(images)


def test_the_cli_loads_the_model_on_the_main_thread(capsys, tmp_path: Path, photo_paths) -> None:
    """No background warm-up: TensorFlow is quiet only when imported on the main thread, and
    a load still running when the run ends could abort the exit."""
    for p in photo_paths[:3]:
        small_copy(p, tmp_path / "photos" / p.name)
    embedder = LazyEmbedder()
    code = main(["index", str(tmp_path / "photos"), "--data-dir", str(tmp_path / "d"), "-q"],
                embedder_factory=lambda: embedder)
    assert code == 0, capsys.readouterr().err
    assert embedder.loaded_in == [threading.main_thread().name]
    assert [t for t in threading.enumerate() if t.name.startswith("imgfinder")] == []


@pytest.mark.slow
def test_import_keras_in_a_thread_leaves_fd_2_alone() -> None:
    """Capturing fd 2 from a background thread swallowed what other threads printed."""
    code = (
        "import os, threading, time\n"
        "from imgfinder.model.efficientnet_lite import import_keras\n"
        "before = os.fstat(2)\n"
        "thread = threading.Thread(target=import_keras)\n"
        "thread.start()\n"
        "moved = False\n"
        "while thread.is_alive():\n"
        "    now = os.fstat(2)\n"
        "    moved |= (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino)\n"
        "    time.sleep(0.002)\n"
        "thread.join()\n"
        "import sys\n"
        "assert 'keras' in sys.modules\n"
        "print('moved' if moved else 'kept')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "kept"


def _sigint_as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.mark.slow
def test_ctrl_c_while_the_model_starts_says_interrupted(tmp_path: Path, photo_paths) -> None:
    photos = tmp_path / "photos"
    small_copy(photo_paths[0], photos / "one.jpg")
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgfinder", "index", str(photos), "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        # The TensorFlow runtime, whose start takes seconds (TFLite's takes ~0.2 s: no time to press Ctrl+C).
        env=dict(os.environ, IMGFINDER_BACKBONE_TFLITE="none"),
        # As from a terminal: Ctrl+C's default action, not blocked. Something earlier in
        # the same pytest process can leave SIGINT ignored or blocked, which a child
        # inherits, and Python then never raises KeyboardInterrupt (seen in full runs
        # only, never when this file runs alone).
        preexec_fn=_sigint_as_from_a_terminal,
    )
    here = (signal.getsignal(signal.SIGINT), signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))
    try:
        lines = []
        while True:  # the embedding stage has begun: the model is starting now
            line = proc.stderr.readline()
            assert line, f"ended early: {''.join(lines)}"
            lines.append(line)
            if line.startswith("index: 0/1"):
                break
        # The rest of stderr is read by a thread, so the presses can stop the moment the
        # CLI has answered: a further Ctrl+C during its shutdown (TensorFlow's teardown can
        # take a second) kills the process by SIGINT, as it should from a terminal.
        rest: list[str] = []
        answered = threading.Event()

        def read_rest() -> None:
            for text in proc.stderr:
                rest.append(text)
                if "interrupted" in text:
                    answered.set()
            answered.set()  # stderr closed: the process has ended

        reader = threading.Thread(target=read_rest, daemon=True)
        reader.start()
        time.sleep(0.2)  # inside TensorFlow's import (1-2 s with a warm disk cache, several cold)
        # Pressed again while the run goes on, as a user would: a Ctrl+C that lands inside
        # some C call of TensorFlow's import can be swallowed there (seen under load).
        for _ in range(40):
            proc.send_signal(signal.SIGINT)
            if answered.wait(timeout=0.5):
                break
        proc.wait(timeout=120)
        reader.join(timeout=30)
        err = "".join(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (proc.returncode, err, f"SIGINT in the test process (handler, blocked): {here}")
    assert "imgfinder: interrupted" in err
    assert "Traceback" not in err
