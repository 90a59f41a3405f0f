"""Entry script of the frozen ``imgfinder-gui`` executable (packaging/imgfinder.spec): the
desktop app only, as ``imgfinder gui [--data-dir DIR] [PATH ...]``, built without a console
window on Windows (``imgfinder-gui`` of ``[project.gui-scripts]`` for a pip install)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the model's child process (spawn) runs this executable again
    from imgfinder.cli import gui_main

    sys.exit(gui_main())
