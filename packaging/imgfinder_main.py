"""Entry script of the frozen ``imgfinder`` executable (packaging/imgfinder.spec): the
command line, and the desktop app when no command is given, as the pip-installed
``imgfinder``. A console program (on Windows it opens or uses a console window)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # The desktop app runs the model in a child process started with "spawn", which runs
    # this executable again: freeze_support() turns that run into the child.
    multiprocessing.freeze_support()
    from imgfinder.cli import main

    sys.exit(main())
