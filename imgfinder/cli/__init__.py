"""Command line: ``imgfinder index|similar|duplicates|undo|forget|problems|repair`` (JSON
with ``--json``; similar and duplicates also CSV or one group per line), and the desktop
app when run without a command. One module per command over a shared grammar
(``parser``), shared helpers (``common``) and the wording of environment errors
(``errors``); ``main`` dispatches. Uses the same core as the app; the clean-ups apply the
app's rules (``core.cleanup``) and its undoable file mover. No module here imports Qt:
only the ``gui`` command loads it, through ``gui.app``.

Exit codes: 0 success, 1 usage or environment error (also: nothing indexed yet, nothing
to undo, a clean-up not confirmed), 2 some files could not be read, moved or put back,
130 interrupted (Ctrl+C), 143 stopped by SIGTERM, 129 by SIGHUP (handled as Ctrl+C: every
file moved so far is in the undo log).
"""

from ..core.duplicates import DEFAULT_THRESHOLD
from .main import gui_main, main
from .parser import build_parser

__all__ = ["DEFAULT_THRESHOLD", "build_parser", "gui_main", "main"]
