"""The index's files on disk: the manifest that names them with their size and CRC-32, read
back only when every file checks, and the arrays memory-mapped from them."""

from __future__ import annotations

import io
import json
import os
import shutil
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

MANIFEST_VERSION = 3  # 3: files named by the manifest, with their size and CRC-32


CHECK_CHUNK = 1 << 20


@dataclass(frozen=True)
class IndexFile:
    """One file of a built index, as its manifest names it: verified before it is used."""

    name: str
    size: int
    crc32: int


@dataclass(frozen=True)
class Manifest:
    model_id: str
    generation: int
    count: int
    dim: int
    trees: int
    projected_dim: int = 0  # 0: Annoy holds the vectors themselves
    catalog_id: str | None = None  # the catalog it was built from (Catalog.catalog_id)
    files: dict[str, IndexFile] = field(default_factory=dict)  # kind -> the file and its checksum


def _parse_manifest(raw: bytes, name: str) -> Manifest | None:
    """A manifest of this format with fields of the right types, or None."""
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
            return None
        ints = {k: data[k] for k in ("generation", "count", "dim", "trees", "projected_dim")}
        if not all(type(v) is int and v >= 0 for v in ints.values()):
            return None
        model_id, catalog_id, files = data["model_id"], data.get("catalog_id"), data["files"]
        if not isinstance(model_id, str) or not (catalog_id is None or isinstance(catalog_id, str)):
            return None
        if not isinstance(files, dict):
            return None
        needed = {"ann", "ids", "vectors"} | ({"projection"} if ints["projected_dim"] else set())
        if set(files) != needed:
            return None
        entries = {}
        for kind, entry in files.items():
            f_name, size, crc = entry["name"], entry["size"], entry["crc32"]
            if not (
                isinstance(f_name, str) and f_name.startswith(name + ".") and os.path.basename(f_name) == f_name
                and f_name not in (".", "..") and type(size) is int and size >= 0 and type(crc) is int
            ):
                return None
            entries[kind] = IndexFile(f_name, size, crc)
        return Manifest(model_id, ints["generation"], ints["count"], ints["dim"], ints["trees"],
                        ints["projected_dim"], catalog_id, entries)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def _checksum(handle: BinaryIO) -> tuple[int, int]:
    """(size, CRC-32) of an open file's contents, read in 1 MB pieces."""
    crc, size = 0, 0
    while chunk := handle.read(CHECK_CHUNK):
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
    return size, crc


def _read_npy(path: Path, expected: IndexFile) -> np.ndarray | None:
    data = path.read_bytes()
    if len(data) != expected.size or zlib.crc32(data) != expected.crc32:
        return None
    return np.load(io.BytesIO(data), allow_pickle=False)


def _map_npy(path: Path, expected: IndexFile, shape: tuple[int, int]) -> np.ndarray | None:
    """The float32 array of a verified .npy file, memory-mapped from the very file checked."""
    with open(path, "rb") as handle:
        if _checksum(handle) != (expected.size, expected.crc32):
            return None
        handle.seek(0)
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            header = np.lib.format.read_array_header_2_0(handle)
        else:
            return None
        file_shape, fortran, dtype = header
        if tuple(file_shape) != shape or fortran or dtype != np.dtype(np.float32):
            return None
        if not shape[0] or not shape[1]:
            return np.zeros(shape, np.float32)
        # A plain ndarray over the map: np.memmap's indexing costs ~30 us a call in Python.
        return np.memmap(handle, np.float32, mode="r", offset=handle.tell(), shape=shape).view(np.ndarray)


def _remove(path: Path) -> None:
    """Remove a derived file (or a folder in its place); never follows a link."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass  # e.g. still mapped by a reader on Windows: removed by a later build
