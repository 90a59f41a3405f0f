"""Read a legacy (pre-1.6, non-zip) PyTorch ``torch.save`` file with numpy alone.

Why: the EfficientNet-Lite0 weights we ship come as such a file, and we do not
want PyTorch as a dependency (hundreds of MB) only to read ~19 MB of floats.
Why a restricted unpickler: ``pickle`` executes whatever callables a file names,
so a model file must never be loaded with the plain ``pickle.load``. Here every
global the file refers to is checked against a short allow-list; anything else
(``os.system``, ``builtins.eval``, ...) raises :class:`UnsafePickleError`
before it can be called.

Legacy layout (a sequence of pickles followed by raw storage bytes)::

    pickle(MAGIC_NUMBER) pickle(PROTOCOL_VERSION) pickle(sys_info)
    pickle(state_dict)            # tensors reference storages by persistent id
    pickle([storage keys])        # order of the raw blocks that follow
    for each key: int64 LE element count, then count * itemsize raw bytes
"""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = [
    "LegacyFormatError",
    "UnsafePickleError",
    "load_legacy_state_dict",
]

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# torch storage class name -> numpy element type (byte order applied later).
_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype(np.float32),
    "DoubleStorage": np.dtype(np.float64),
    "HalfStorage": np.dtype(np.float16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
}


class LegacyFormatError(ValueError):
    """The file is not a well-formed legacy torch.save file."""


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list (possible code execution)."""


# slots=True everywhere: a pickle's BUILD opcode cannot then add or (for the
# frozen ones) change attributes of the objects we hand to it.
@dataclass(frozen=True, slots=True)
class _StorageType:
    """Stand-in for ``torch.FloatStorage`` & co.: only carries the dtype."""

    name: str
    dtype: np.dtype


@dataclass(slots=True)
class _Storage:
    """A storage whose bytes are read after the pickle (they follow it in the file)."""

    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class _StorageView:
    """Very old files may reference a slice of another storage (``view_metadata``)."""

    root: _Storage
    offset: int
    numel: int

    @property
    def dtype(self) -> np.dtype:
        return self.root.dtype


@dataclass(frozen=True, slots=True)
class _PendingTensor:
    """Recorded call to ``_rebuild_tensor_v2``; materialised once storages are read."""

    storage: _Storage | _StorageView
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise LegacyFormatError(f"bad tensor {what}: {value!r}")
    return value


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, *_: Any) -> _PendingTensor:
    """Replacement for torch._utils._rebuild_tensor(_v2); extra args (requires_grad,
    backward_hooks, metadata) are irrelevant for inference and ignored."""
    if not isinstance(storage, (_Storage, _StorageView)):
        raise LegacyFormatError(f"tensor built from a non-storage object: {type(storage).__name__}")
    if not isinstance(storage_offset, int) or storage_offset < 0:
        raise LegacyFormatError(f"bad storage offset: {storage_offset!r}")
    size_t = _int_tuple(size, "size")
    stride_t = _int_tuple(stride, "stride")
    if len(size_t) != len(stride_t):
        raise LegacyFormatError("size and stride lengths differ")
    return _PendingTensor(storage, storage_offset, size_t, stride_t)


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None, *_: Any) -> Any:
    """Replacement for torch._utils._rebuild_parameter: a Parameter is just its data."""
    if not isinstance(data, _PendingTensor):
        raise LegacyFormatError("parameter built from a non-tensor object")
    return data


# (module, name) -> object handed to the unpickler. Nothing else is reachable.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}
for _name, _dtype in _STORAGE_DTYPES.items():
    _ALLOWED_GLOBALS[("torch", _name)] = _StorageType(_name, _dtype)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only allow-listed globals and torch storage ids."""

    def __init__(self, file: BinaryIO, storages: dict[str, _Storage] | None = None) -> None:
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load global {module}.{name!s} from a model file: "
                "only torch tensors/storages and OrderedDict are allowed"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        if self._storages is None:
            raise UnsafePickleError("unexpected persistent id in a header pickle")
        if not isinstance(pid, tuple) or len(pid) < 1:
            raise LegacyFormatError(f"bad persistent id: {pid!r}")
        if pid[0] != "storage":
            # "module" ids carry source code of whole pickled nn.Modules: not a state dict.
            raise UnsafePickleError(f"unsupported persistent id type {pid[0]!r} (only 'storage')")
        if len(pid) != 6:
            raise LegacyFormatError(f"bad storage id: {pid!r}")
        _, storage_type, key, _location, numel, view_metadata = pid
        if not isinstance(storage_type, _StorageType):
            raise LegacyFormatError(f"bad storage type: {storage_type!r}")
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise LegacyFormatError(f"bad storage id: {pid!r}")
        storage = self._storages.get(key)
        if storage is None:
            storage = _Storage(key, storage_type.dtype, numel)
            self._storages[key] = storage
        elif storage.dtype != storage_type.dtype:
            raise LegacyFormatError(f"storage {key} used with two dtypes")
        if view_metadata is None:
            return storage
        if (
            not isinstance(view_metadata, tuple)
            or len(view_metadata) != 3
            or not all(isinstance(v, (int, str)) for v in view_metadata)
        ):
            raise LegacyFormatError(f"bad view metadata: {view_metadata!r}")
        _view_key, offset, view_size = view_metadata
        if not isinstance(offset, int) or not isinstance(view_size, int) or offset < 0 or view_size < 0:
            raise LegacyFormatError(f"bad view metadata: {view_metadata!r}")
        return _StorageView(storage, offset, view_size)


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise LegacyFormatError(f"file truncated while reading {what}")
    return data


def _materialise(t: _PendingTensor) -> np.ndarray:
    """Turn a recorded tensor into an independent, contiguous numpy array."""
    if isinstance(t.storage, _StorageView):
        base = t.storage.root.data
        start = t.storage.offset
        numel = t.storage.numel
    else:
        base = t.storage.data
        start = 0
        numel = t.storage.numel
    if base is None:
        raise LegacyFormatError("tensor refers to a storage without data")
    if start + numel > base.size:
        raise LegacyFormatError("storage view exceeds its storage")
    flat = base[start : start + numel]
    count = math.prod(t.size)
    if count == 0:
        return np.zeros(t.size, dtype=flat.dtype.newbyteorder("="))
    # Bounds checks before as_strided: a crafted file must neither read outside
    # the buffer nor make us allocate far more than the file holds. (This also
    # refuses broadcast/overlapping views, which state dicts do not contain.)
    last = t.offset + sum((n - 1) * s for n, s in zip(t.size, t.stride))
    if last >= flat.size:
        raise LegacyFormatError("tensor view exceeds its storage")
    if count > flat.size:
        raise LegacyFormatError("tensor has more elements than its storage (broadcast views unsupported)")
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[t.offset :],
        shape=t.size,
        strides=tuple(s * item for s in t.stride),
        writeable=False,
    )
    # Copy: contiguous, native byte order, no reference to the big file buffer.
    # (np.ascontiguousarray would turn 0-d tensors into 1-d arrays.)
    return np.array(view, dtype=flat.dtype.newbyteorder("="), order="C", copy=True)


def _load(f: BinaryIO) -> dict[str, np.ndarray]:
    def header() -> Any:
        return _RestrictedUnpickler(f).load()

    start = f.tell()
    if f.read(4) == b"PK\x03\x04":
        raise LegacyFormatError("this is a zip-format torch file (torch >= 1.6); only the legacy format is supported")
    f.seek(start)
    magic = header()
    if magic != MAGIC_NUMBER:
        raise LegacyFormatError("not a legacy torch file (bad magic number; zip-format files are not supported)")
    version = header()
    if version != PROTOCOL_VERSION:
        raise LegacyFormatError(f"unsupported torch file protocol version {version!r}")
    sys_info = header()
    little_endian = True
    if isinstance(sys_info, dict):
        little_endian = bool(sys_info.get("little_endian", True))
    byteorder = "<" if little_endian else ">"

    try:  # to refuse absurd sizes before allocating memory for them
        file_size: int | None = os.fstat(f.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        file_size = None

    storages: dict[str, _Storage] = {}
    result = _RestrictedUnpickler(f, storages).load()
    keys = header()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise LegacyFormatError("bad storage key list")

    for key in keys:
        storage = storages.get(key)
        if storage is None:
            raise LegacyFormatError(f"data for unknown storage {key}")
        (count,) = np.frombuffer(_read_exact(f, 8, "storage size"), dtype="<i8")
        count = int(count)
        if count != storage.numel:
            raise LegacyFormatError(f"storage {key}: {count} elements, expected {storage.numel}")
        if not isinstance(storage.dtype, np.dtype):
            raise LegacyFormatError(f"storage {key}: bad dtype")
        dtype = storage.dtype.newbyteorder(byteorder)
        nbytes = count * dtype.itemsize
        if file_size is not None and f.tell() + nbytes > file_size:
            raise LegacyFormatError(f"file truncated in storage {key}")
        buf = bytearray(nbytes)
        if f.readinto(buf) != len(buf):  # type: ignore[attr-defined]
            raise LegacyFormatError(f"file truncated in storage {key}")
        storage.data = np.frombuffer(buf, dtype=dtype)
    missing = [k for k, s in storages.items() if s.data is None]
    if missing:
        raise LegacyFormatError(f"storages without data: {missing[:3]}")

    if not isinstance(result, dict):
        raise LegacyFormatError(f"file holds a {type(result).__name__}, not a state dict")
    out: dict[str, np.ndarray] = {}
    for name, value in result.items():
        if isinstance(name, str) and isinstance(value, _PendingTensor):
            out[name] = _materialise(value)
    return out


def load_legacy_state_dict(path: str | Path | BinaryIO, *, include_integer: bool = True) -> dict[str, np.ndarray]:
    """Read a legacy ``torch.save(state_dict)`` file into ``{name: ndarray}``.

    Arrays are C-contiguous copies in native byte order with torch's layout
    (e.g. conv weights OIHW). Non-tensor entries are dropped. With
    ``include_integer=False`` integer/bool tensors such as BatchNorm's
    ``num_batches_tracked`` counters are left out (they carry no weights).

    Raises :class:`UnsafePickleError` if the file names any global outside the
    allow-list, :class:`LegacyFormatError` if it is malformed.
    """
    try:
        if isinstance(path, (str, Path)):
            with open(path, "rb") as fh:
                tensors = _load(fh)
        else:
            tensors = _load(path)
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError, ValueError) as exc:
        if isinstance(exc, LegacyFormatError):
            raise
        # Garbage or a different pickle: say so instead of a bare pickle error.
        raise LegacyFormatError(f"not a valid legacy torch file: {exc}") from exc
    if not include_integer:
        tensors = {k: v for k, v in tensors.items() if v.dtype.kind == "f"}
    return tensors
