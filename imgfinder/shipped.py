"""The files that ship inside the package (``imgfinder.resources``): model files and icons.

They live in the repository's top-level ``resources/`` folder, which pyproject.toml maps to
the package ``imgfinder.resources``; looking them up through :mod:`importlib.resources`
finds the same files in a wheel and in an editable install. A missing file is an error:
running on without the Siamese head or the whitening would silently be another model.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = [
    "RESOURCE_PACKAGE",
    "HEAD_FILE",
    "WHITENING_FILE",
    "BACKBONE_FILE",
    "MissingResourceError",
    "resource_path",
    "require_resource",
]

RESOURCE_PACKAGE = "imgfinder.resources"
HEAD_FILE = "models/siamese_head.npz"
WHITENING_FILE = "models/retrieval_whitening.npz"
BACKBONE_FILE = "models/efficientnet_lite0_s160.tflite"
"""The backbone converted to TensorFlow Lite (``python -m imgfinder.model.tflite_convert``);
its provenance is in the ``.convert.json`` beside it."""


class MissingResourceError(RuntimeError):
    """A model file imgfinder needs is missing (an incomplete installation, or a bad override)."""


def resource_path(relative: str) -> Path:
    """Where ``relative`` (e.g. ``"icons"``, ``"models/siamese_head.npz"``) is installed.

    Not checked for existence; raises :class:`MissingResourceError` if the resource package
    itself is not installed (e.g. the source folder on ``sys.path`` without ``pip install``).
    """
    try:
        root = files(RESOURCE_PACKAGE)
    except ModuleNotFoundError:
        raise MissingResourceError(
            f"{RESOURCE_PACKAGE} (the model files and icons) is not installed: the installation "
            f"is incomplete; reinstall imgfinder with pip (`pip install -e .` from a checkout)"
        ) from None
    for part in relative.split("/"):
        root = root / part
    return Path(str(root))


def require_resource(relative: str) -> Path:
    """:func:`resource_path` of a file that must exist (:class:`MissingResourceError` if not)."""
    path = resource_path(relative)
    if not path.is_file():
        raise MissingResourceError(
            f"{relative} is missing from the installed imgfinder (looked at {path}): the "
            f"installation is incomplete; reinstall imgfinder"
        )
    return path
