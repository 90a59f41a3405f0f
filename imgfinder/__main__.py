"""``python -m imgfinder``: the command line (the desktop app without a command)."""

from .cli import main

if __name__ == "__main__":  # guarded: the model process is spawned and re-imports the main module
    raise SystemExit(main())
