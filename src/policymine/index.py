"""Stage 5b: the FAISS vector index, whose ids are the store's passage ids.

Exact inner-product search over unit vectors (cosine). The index is a cache of the vectors
in SQLite: `open_index` checks that both agree and rebuilds the FAISS file from the store
when they do not (after a crash between a database commit and an index save, say).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from .errors import IndexMismatchError
from .store import Store

INDEX_FILE = "passages.faiss"


class VectorIndex:
    """A FAISS IndexIDMap2 over a flat inner-product index."""

    def __init__(self, dim: int, index: faiss.Index | None = None):
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def load(cls, path: Path, dim: int) -> VectorIndex | None:
        """The index saved at `path`, or None when missing, unreadable or of another dimension."""
        if not path.exists():
            return None
        try:
            index = faiss.read_index(str(path))
        except RuntimeError:
            return None
        return cls(dim, index) if index.d == dim else None

    def __len__(self) -> int:
        return self.index.ntotal

    def ids(self) -> np.ndarray:
        """The ids held, in insertion order."""
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Add vectors under the given ids."""
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> None:
        """Remove the given ids (unknown ids are ignored)."""
        if len(ids):
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, vector: np.ndarray, k: int, allowed: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """The k nearest (id, score) pairs, restricted to `allowed` ids when given."""
        if not len(self) or k < 1 or (allowed is not None and not len(allowed)):
            return []
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
            k = min(k, len(allowed))
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        scores, ids = self.index.search(query, min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def save(self, path: Path) -> None:
        """Write atomically: a reader never sees a half-written file."""
        tmp = path.with_suffix(".tmp")
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, path)


def check_model(store: Store, model: str, dim: int) -> None:
    """Raise IndexMismatchError if the index was built with another embedding model."""
    meta = store.meta()
    if "model" in meta and (meta["model"] != model or int(meta["dim"]) != dim):
        raise IndexMismatchError(
            f"{store.path.parent} was built with model {meta['model']} (dim {meta['dim']}), not {model} (dim {dim}):"
            f" use --model {meta['model']}, or ingest into a new --index-dir"
        )


def open_index(store: Store, dim: int) -> VectorIndex:
    """The vector index of a store, rebuilt from the stored vectors if it is missing or stale."""
    path = store.path.parent / INDEX_FILE
    index = VectorIndex.load(path, dim)
    if index is not None and np.array_equal(np.sort(index.ids()), store.passage_ids()):
        return index
    index = VectorIndex(dim)
    ids, vectors = store.vectors()
    index.add(ids, vectors)
    index.save(path)
    return index


def save_index(store: Store, index: VectorIndex) -> None:
    """Save the vector index next to the store's database."""
    index.save(store.path.parent / INDEX_FILE)
