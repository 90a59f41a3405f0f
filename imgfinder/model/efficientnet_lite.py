"""EfficientNet-Lite0 in Keras 3, loading the weights of the PyTorch port.

Why Lite0: 4.7 M parameters and ~0.4 GFLOPs per 224x224 image, so it runs at
useful speed on an ordinary CPU, and (unlike EfficientNet-B0) has no
squeeze-excite blocks and uses ReLU6, which keeps inference simple and fast.

Architecture (Tan & Le 2019, "lite" variant): EfficientNet-B0's block table
without squeeze-excite, ReLU6 activations, stem 32 / head 1280 channels,
BatchNorm epsilon 1e-3, TF "SAME" padding (the weights were trained in TF with
it; Keras ``padding="same"`` is identical), identity shortcut when stride is 1
and in/out channels match. Inputs are raw RGB pixels in 0..255; the model
normalises them itself with ``(x - 127) / 128`` as the original Lite models do.

Layer names are stable and meant to be used by fine-tuning code:

- ``normalize``: the (x-127)/128 rescaling.
- ``stem_conv``, ``stem_bn``, ``stem_relu``.
- ``block{S}_{R}_{part}`` for stage S (1..7) and repeat R (1..n), part in
  ``expand_conv``, ``expand_bn``, ``expand_relu`` (absent in stage 1),
  ``dwconv``, ``dwconv_bn``, ``dwconv_relu``, ``project_conv``, ``project_bn``
  and ``add`` (only where there is a shortcut). The last block is ``block7_1``.
- ``head_conv``, ``head_bn``, ``head_relu`` (the 7x7x1280 feature map, see
  :data:`FEATURE_MAP_LAYER`), ``avg_pool`` (the 1280-d feature, see
  :data:`POOLED_LAYER`), ``predictions`` (1000 ImageNet logits, only with the top).

Keras/TensorFlow are imported inside the functions so that importing this module
stays cheap (the GUI imports it long before it needs the network).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = [
    "BLOCKS",
    "FEATURE_MAP_LAYER",
    "POOLED_LAYER",
    "LOGITS_LAYER",
    "STEM_CHANNELS",
    "HEAD_CHANNELS",
    "ARCH_ID",
    "BlockSpec",
    "block_layer_names",
    "build_efficientnet_lite0",
    "import_keras",
    "feature_map_model",
    "set_trainable_from",
]

ARCH_ID = "efficientnet-lite0-keras-v1"
"""Changes whenever the graph or preprocessing here changes (part of model ids)."""

STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99  # Only matters when fine-tuning BatchNorm; TF training value.
FEATURE_MAP_LAYER = "head_relu"
POOLED_LAYER = "avg_pool"
LOGITS_LAYER = "predictions"
NORMALIZE_LAYER = "normalize"


_IMPORT_LOCK = threading.Lock()
# Lines TensorFlow prints at import even with TF_CPP_MIN_LOG_LEVEL=2: absl INFO
# lines logged before absl is initialised (oneDNN notice), and absl's preamble.
_TF_IMPORT_NOISE = re.compile(r"^(I\d{4} .*|WARNING: All log messages before absl::InitializeLog\(\) is called.*)$")


def import_keras() -> Any:
    """Import TensorFlow/Keras quietly and return the ``keras`` module.

    Why: TF prints several INFO lines at import (some before its log level is
    read), which would clutter the app's console. We set
    ``TF_CPP_MIN_LOG_LEVEL=2`` unless the user chose a level, and when TF is
    first imported on the main thread its stderr output is captured; lines
    other than the known INFO noise are written back afterwards, so real
    warnings are not lost.

    From any other thread TF is imported as it is (only the environment quiets
    it; its oneDNN notice has no switch but ``TF_ENABLE_ONEDNN_OPTS``, which
    would change the numbers): file descriptor 2 belongs to the whole process,
    and capturing it from a background thread swallowed what the main thread
    printed meanwhile (errors, "interrupted"), and lost it for good when the
    process ended before the import did. Callers that care about the noise
    load the model on the main thread (the CLI does).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "keras" not in sys.modules:
        from importlib.util import find_spec

        if find_spec("keras") is None or find_spec("tensorflow") is None:
            raise ModuleNotFoundError(
                "TensorFlow is not installed: the app runs its model on TensorFlow Lite without it, but "
                "training and converting the model need it: pip install 'imgfinder[train]'",
                name="tensorflow",
            )
    with _IMPORT_LOCK:
        if (
            "tensorflow" in sys.modules
            or os.environ["TF_CPP_MIN_LOG_LEVEL"] in ("0", "1")
            or threading.current_thread() is not threading.main_thread()
        ):
            import keras

            return keras
        from imgfinder.model.stderr_filter import filtered_stderr

        with filtered_stderr(_TF_IMPORT_NOISE):
            import keras
    return keras


@dataclass(frozen=True)
class BlockSpec:
    """One stage of the EfficientNet-B0 block table."""

    expand_ratio: int
    kernel: int
    stride: int
    repeats: int
    channels: int


# (expand ratio, kernel, stride, repeats, output channels) for stages 1..7.
BLOCKS: tuple[BlockSpec, ...] = (
    BlockSpec(1, 3, 1, 1, 16),
    BlockSpec(6, 3, 2, 2, 24),
    BlockSpec(6, 5, 2, 2, 40),
    BlockSpec(6, 3, 2, 3, 80),
    BlockSpec(6, 5, 1, 3, 112),
    BlockSpec(6, 5, 2, 4, 192),
    BlockSpec(6, 3, 1, 1, 320),
)


@dataclass(frozen=True)
class _Block:
    prefix: str  # e.g. "block6_3"
    torch_prefix: str  # e.g. "_blocks.12"
    in_ch: int
    out_ch: int
    expand_ratio: int
    kernel: int
    stride: int

    @property
    def has_shortcut(self) -> bool:
        return self.stride == 1 and self.in_ch == self.out_ch


def _iter_blocks() -> Iterator[_Block]:
    """Expand the stage table into individual blocks with torch/Keras names."""
    in_ch = STEM_CHANNELS
    flat = 0
    for stage, spec in enumerate(BLOCKS, start=1):
        for rep in range(spec.repeats):
            yield _Block(
                prefix=f"block{stage}_{rep + 1}",
                torch_prefix=f"_blocks.{flat}",
                in_ch=in_ch,
                out_ch=spec.channels,
                expand_ratio=spec.expand_ratio,
                kernel=spec.kernel,
                stride=spec.stride if rep == 0 else 1,
            )
            in_ch = spec.channels
            flat += 1


def block_layer_names() -> list[str]:
    """Prefixes of all MBConv blocks in order (``block1_1`` ... ``block7_1``)."""
    return [b.prefix for b in _iter_blocks()]


def _conv_kernel(w: np.ndarray) -> np.ndarray:
    """torch OIHW -> Keras HWIO."""
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def _dw_kernel(w: np.ndarray) -> np.ndarray:
    """torch depthwise (C, 1, H, W) -> Keras (H, W, C, 1)."""
    return np.ascontiguousarray(w.transpose(2, 3, 0, 1))


def _bn(weights: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    return [weights[f"{prefix}.{n}"] for n in ("weight", "bias", "running_mean", "running_var")]


def _keras_weight_map(weights: dict[str, np.ndarray], include_top: bool) -> dict[str, list[np.ndarray]]:
    """Map torch state-dict arrays to ``{keras layer name: layer.get_weights() list}``."""
    m: dict[str, list[np.ndarray]] = {
        "stem_conv": [_conv_kernel(weights["_conv_stem.weight"])],
        "stem_bn": _bn(weights, "_bn0"),
        "head_conv": [_conv_kernel(weights["_conv_head.weight"])],
        "head_bn": _bn(weights, "_bn1"),
    }
    for b in _iter_blocks():
        t, k = b.torch_prefix, b.prefix
        if b.expand_ratio != 1:
            m[f"{k}_expand_conv"] = [_conv_kernel(weights[f"{t}._expand_conv.weight"])]
            m[f"{k}_expand_bn"] = _bn(weights, f"{t}._bn0")
        m[f"{k}_dwconv"] = [_dw_kernel(weights[f"{t}._depthwise_conv.weight"])]
        m[f"{k}_dwconv_bn"] = _bn(weights, f"{t}._bn1")
        m[f"{k}_project_conv"] = [_conv_kernel(weights[f"{t}._project_conv.weight"])]
        m[f"{k}_project_bn"] = _bn(weights, f"{t}._bn2")
    if include_top:
        m[LOGITS_LAYER] = [np.ascontiguousarray(weights["_fc.weight"].T), weights["_fc.bias"]]
    return m


def build_efficientnet_lite0(
    weights: dict[str, np.ndarray] | None,
    include_top: bool,
    input_size: int | None = 224,
) -> "keras.Model":
    """Build EfficientNet-Lite0 and optionally load a torch state dict into it.

    ``weights`` is the dict from :func:`imgfinder.model.weights.load_backbone_weights`
    (torch names/layouts); ``None`` leaves random initialisation (tests, training
    from scratch). The model takes float RGB pixels 0..255 of shape
    ``(N, input_size, input_size, 3)`` (``input_size=None`` accepts any size).
    Output: 1000 ImageNet logits with ``include_top``, else the 1280-d
    global-average-pooled feature.
    """
    keras = import_keras()
    from keras import layers

    def bn(name: str) -> Any:
        return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)

    def relu6(name: str) -> Any:
        return layers.ReLU(max_value=6.0, name=name)

    inputs = keras.Input(shape=(input_size, input_size, 3), name="image", dtype="float32")
    # (x - 127) / 128 as x * (1/128) - 127/128: both constants exact in float32.
    x = layers.Rescaling(scale=1.0 / 128.0, offset=-127.0 / 128.0, name=NORMALIZE_LAYER)(inputs)
    x = layers.Conv2D(STEM_CHANNELS, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = bn("stem_bn")(x)
    x = relu6("stem_relu")(x)

    for b in _iter_blocks():
        shortcut = x
        if b.expand_ratio != 1:
            x = layers.Conv2D(
                b.in_ch * b.expand_ratio, 1, padding="same", use_bias=False, name=f"{b.prefix}_expand_conv"
            )(x)
            x = bn(f"{b.prefix}_expand_bn")(x)
            x = relu6(f"{b.prefix}_expand_relu")(x)
        x = layers.DepthwiseConv2D(
            b.kernel, strides=b.stride, padding="same", use_bias=False, name=f"{b.prefix}_dwconv"
        )(x)
        x = bn(f"{b.prefix}_dwconv_bn")(x)
        x = relu6(f"{b.prefix}_dwconv_relu")(x)
        x = layers.Conv2D(b.out_ch, 1, padding="same", use_bias=False, name=f"{b.prefix}_project_conv")(x)
        x = bn(f"{b.prefix}_project_bn")(x)
        if b.has_shortcut:
            x = layers.Add(name=f"{b.prefix}_add")([x, shortcut])

    x = layers.Conv2D(HEAD_CHANNELS, 1, padding="same", use_bias=False, name="head_conv")(x)
    x = bn("head_bn")(x)
    x = relu6(FEATURE_MAP_LAYER)(x)
    x = layers.GlobalAveragePooling2D(name=POOLED_LAYER)(x)
    if include_top:
        # Dropout (0.2 in training) is a no-op at inference and omitted.
        x = layers.Dense(1000, name=LOGITS_LAYER)(x)

    model = keras.Model(inputs, x, name="efficientnet_lite0" + ("" if include_top else "_features"))
    if weights is not None:
        _set_weights(model, weights, include_top)
    return model


def _set_weights(model: "keras.Model", weights: dict[str, np.ndarray], include_top: bool) -> None:
    try:
        mapping = _keras_weight_map(weights, include_top)
    except KeyError as exc:
        raise ValueError(f"weights are missing tensor {exc.args[0]!r}: not an EfficientNet-Lite0 state dict?") from None
    for name, arrays in mapping.items():
        layer = model.get_layer(name)
        expected = [tuple(v.shape) for v in layer.weights]
        got = [a.shape for a in arrays]
        if expected != got:
            raise ValueError(f"layer {name}: weight shapes {got} do not match the model's {expected}")
        layer.set_weights([a.astype(np.float32, copy=False) for a in arrays])


def feature_map_model(model: "keras.Model") -> "keras.Model":
    """A model sharing ``model``'s layers that outputs the 7x7x1280 map before pooling.

    Why: a later projection head or spatial pooling variant can be trained on
    top of it without rebuilding or re-loading the backbone.
    """
    keras = import_keras()

    return keras.Model(model.inputs, model.get_layer(FEATURE_MAP_LAYER).output, name="efficientnet_lite0_map")


def set_trainable_from(model: "keras.Model", first_trainable: str | None) -> None:
    """Freeze every layer before the first one whose name starts with ``first_trainable``.

    E.g. ``set_trainable_from(m, "block7_1")`` fine-tunes the last block and the
    head conv; ``None`` freezes everything. BatchNorm layers stay frozen in all
    cases: with small fine-tuning batches their statistics would be destroyed.
    """
    keras = import_keras()

    trainable = False
    for layer in model.layers:
        if first_trainable is not None and layer.name.startswith(first_trainable):
            trainable = True
        layer.trainable = trainable and not isinstance(layer, keras.layers.BatchNormalization)
    if first_trainable is not None and not trainable:
        raise ValueError(f"no layer name starts with {first_trainable!r}")
