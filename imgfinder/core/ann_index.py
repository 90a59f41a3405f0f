"""The Annoy nearest-neighbour index over the catalog's embeddings.

Annoy item numbers are dense positions 0..N-1; a sidecar array maps them back to catalog
ids, so deleted rows never leave phantom zero vectors in the index. Files are written
under temporary names and ``os.replace``d, then a small JSON manifest that names the
catalog generation and model they were built from is replaced last: a crash at any point
leaves either the old index or a manifest that no longer matches, which triggers a rebuild.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

DEFAULT_TREES = 16
MANIFEST_VERSION = 1


def cosine_from_angular(distance: np.ndarray | float) -> np.ndarray | float:
    """Annoy's angular distance is sqrt(2 - 2 cos); invert it and clip to [0, 1]."""
    return np.clip(1.0 - np.square(distance) / 2.0, 0.0, 1.0)


@dataclass(frozen=True)
class Manifest:
    model_id: str
    generation: int
    count: int
    dim: int
    trees: int


class VectorIndex:
    """A loaded (memory-mapped) Annoy index plus the id map."""

    def __init__(self, annoy: AnnoyIndex, ids: np.ndarray, manifest: Manifest) -> None:
        self._annoy = annoy
        self.ids = ids
        self.manifest = manifest
        self._position = {int(i): p for p, i in enumerate(ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def position_of(self, file_id: int) -> int | None:
        return self._position.get(int(file_id))

    def query_vector(self, vector: np.ndarray, k: int, search_k: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """(catalog ids, cosine scores) of the ``k`` nearest items, best first."""
        if len(self.ids) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        positions, distances = self._annoy.get_nns_by_vector(
            np.asarray(vector, dtype=np.float32).tolist(), k, search_k=search_k, include_distances=True
        )
        return self.ids[np.asarray(positions, dtype=np.int64)], np.asarray(
            cosine_from_angular(np.asarray(distances, dtype=np.float32)), dtype=np.float32
        )

    def query_position(self, position: int, k: int, search_k: int = -1) -> np.ndarray:
        """Positions of the ``k`` nearest items to the item at ``position`` (itself included)."""
        return np.asarray(self._annoy.get_nns_by_item(position, k, search_k=search_k), dtype=np.int64)

    def unload(self) -> None:
        self._annoy.unload()


class IndexStore:
    """Where an index lives on disk, and how it is built, validated and loaded."""

    def __init__(self, directory: str | os.PathLike[str], name: str = "embeddings") -> None:
        self.directory = Path(directory)
        self.ann_path = self.directory / f"{name}.ann"
        self.ids_path = self.directory / f"{name}.ids.npy"
        self.manifest_path = self.directory / f"{name}.json"

    def manifest(self) -> Manifest | None:
        try:
            data = json.loads(self.manifest_path.read_text())
            if data.get("version") != MANIFEST_VERSION:
                return None
            return Manifest(data["model_id"], int(data["generation"]), int(data["count"]), int(data["dim"]), int(data["trees"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def is_current(self, model_id: str, generation: int) -> bool:
        m = self.manifest()
        return (
            m is not None
            and m.model_id == model_id
            and m.generation == generation
            and self.ann_path.exists()
            and self.ids_path.exists()
        )

    def build(
        self,
        ids: np.ndarray,
        vectors: np.ndarray,
        model_id: str,
        generation: int,
        trees: int = DEFAULT_TREES,
        seed: int = 42,
    ) -> None:
        """Build from (ids, vectors) and atomically replace whatever was on disk."""
        self.directory.mkdir(parents=True, exist_ok=True)
        count = len(ids)
        dim = int(vectors.shape[1]) if count else 0
        ann_tmp = self.ann_path.with_suffix(".ann.tmp")
        ids_tmp = self.directory / (self.ids_path.name + ".tmp")
        manifest_tmp = self.manifest_path.with_suffix(".json.tmp")
        if count:
            annoy = AnnoyIndex(dim, "angular")
            annoy.set_seed(seed)
            for position, vector in enumerate(vectors):
                annoy.add_item(position, vector)
            annoy.build(trees, n_jobs=1)
            annoy.save(os.fspath(ann_tmp))
            annoy.unload()
        else:
            ann_tmp.write_bytes(b"")
        with open(ids_tmp, "wb") as handle:
            np.save(handle, np.asarray(ids, dtype=np.int64))
        manifest = {
            "version": MANIFEST_VERSION, "model_id": model_id, "generation": generation,
            "count": count, "dim": dim, "trees": trees,
        }
        manifest_tmp.write_text(json.dumps(manifest))
        # A stale manifest must never describe a half-replaced index: drop it first.
        self.manifest_path.unlink(missing_ok=True)
        os.replace(ann_tmp, self.ann_path)
        os.replace(ids_tmp, self.ids_path)
        os.replace(manifest_tmp, self.manifest_path)

    def load(self) -> VectorIndex | None:
        """Memory-map the index, or None when it is missing or inconsistent."""
        m = self.manifest()
        if m is None:
            return None
        try:
            ids = np.load(self.ids_path)
        except (OSError, ValueError):
            return None
        if len(ids) != m.count:
            return None
        annoy = AnnoyIndex(max(m.dim, 1), "angular")
        if m.count:
            try:
                annoy.load(os.fspath(self.ann_path), prefault=False)
            except OSError:
                return None
            if annoy.get_n_items() != m.count:
                annoy.unload()
                return None
        return VectorIndex(annoy, ids, m)
