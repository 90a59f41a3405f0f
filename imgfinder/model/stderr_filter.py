"""Drop a runtime's known start-up chatter from fd 2 while it loads; keep everything else.

TensorFlow and LiteRT print from C++ straight to file descriptor 2, which Python's
``sys.stderr`` cannot filter. fd 2 belongs to the whole process, so it is only captured on
the main thread: capturing it from a background thread would swallow what other threads
print meanwhile (issue #12).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def filtered_stderr(noise: re.Pattern[str]) -> Iterator[None]:
    """Run the body with fd 2 captured, then print every captured line ``noise`` does not match."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode("utf-8", "replace").splitlines():
                if line and not noise.match(line):
                    print(line, file=sys.stderr)
