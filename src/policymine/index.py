"""Stage 5b: the FAISS vector index, whose ids are the store's passage ids.

Inner-product search over unit vectors (cosine). The index type follows the corpus size
(measured by benchmarks/ann_scale.py on 1M passages made from real ones):
- up to EXACT_MAX passages, exact search (IndexFlatIP): 6 ms per query at 50k, 12 ms at 100k;
- above, IVF with 8-bit scalar quantisation ("IVF4096,SQ8" at 1M, nprobe 64): recall@10
  0.97 against exact at 2 ms and 380 MB, where exact needs 120 ms and 1.5 GB; at 100k
  ("IVF1024,SQ8") recall@10 0.98 at 0.7 ms.
The threshold is low because a warm query's budget is ~20 ms and embedding the query takes
~8 of them (onnxruntime in serve, one core) and the rest of the search ~4, leaving the vector search a few ms.
A filtered search on an IVF index scores the allowed passages exactly instead: their
vectors sit in lists the query would not probe, so a selector alone returned 4 of 10.

The index is a cache of the vectors in SQLite, which is the truth: `open_index` compares
the FAISS ids with the stored passage ids (after a crash between a database commit and an
index save, say, they differ) and repairs the difference, adding the missing vectors from
the store and removing ids the store no longer has; it rebuilds when the file is missing or
unreadable or the index type no longer fits the size. Only the writer (ingest) saves the
repaired file; a reader (search, serve) repairs its copy in memory and never writes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from .store import Store

INDEX_FILE = "passages.faiss"
EXACT_MAX = 50_000  # exact search up to here (~6 ms a query); IVF above
NPROBE = 64  # IVF lists searched; 32 reached recall@10 0.95 at 100k and 1M, 64 leaves a margin
TRAIN_PER_LIST = 64  # k-means training vectors per IVF list
FILTER_EXACT_MAX = 100_000  # a filter allowing at most this many passages is scored exactly


def nlist_for(n: int) -> int:
    """IVF list count for n vectors: the power of two nearest 4*sqrt(n) (4096 at 1M)."""
    return 2 ** max(4, round(math.log2(4 * math.sqrt(n))))


def factory_for(n: int) -> str:
    """The FAISS index type for a corpus of n passages."""
    return "Flat" if n <= EXACT_MAX else f"IVF{nlist_for(n)},SQ8"


def build(dim: int, ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
    """A new index of the type that fits the number of vectors, holding them."""
    factory = factory_for(len(ids))
    if factory == "Flat":
        index = VectorIndex(dim)
    else:
        ivf = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(
            len(ids), min(len(ids), TRAIN_PER_LIST * ivf.nlist), replace=False
        )
        ivf.train(np.ascontiguousarray(vectors[np.sort(sample)], dtype=np.float32))
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct and remove by passage id
        index = VectorIndex(dim, ivf)
    index.add(ids, vectors)
    return index


class VectorIndex:
    """A FAISS index keyed by passage id: IndexIDMap2 over a flat index, or an IVF index."""

    def __init__(self, dim: int, index: faiss.Index | None = None):
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.ivf = (
            faiss.try_extract_index_ivf(self.index) if "IVF" in type(self.index).__name__ else None
        )
        if self.ivf is not None:
            self.ivf.nprobe = NPROBE
        # Search parameters excluding a set of ids, by the id of that (never modified) array:
        # search passes the same fragment ids every time, and building the selector over
        # thousands of ids took a few ms a query. The array is kept, so its id stays unique.
        self._exclusions: dict[int, tuple] = {}  # id -> (array, parameters, selectors kept alive)

    @property
    def factory(self) -> str:
        """The index type, as factory_for names it."""
        return f"IVF{self.ivf.nlist},SQ8" if self.ivf is not None else "Flat"

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
        """The ids held (in insertion order for a flat index)."""
        if self.ivf is None:
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)
        invlists = self.ivf.invlists
        parts = [
            faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
            for i in range(self.ivf.nlist)
            if invlists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Add vectors under the given ids."""
        if len(ids):
            self.index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )

    def remove(self, ids: Sequence[int]) -> None:
        """Remove the given ids (unknown ids are ignored)."""
        if len(ids):
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(
        self,
        vector: np.ndarray,
        k: int,
        allowed: Sequence[int] | None = None,
        excluded: Sequence[int] = (),
    ) -> list[tuple[int, float]]:
        """The k nearest (id, score) pairs, restricted to `allowed` ids when given, never `excluded` ones."""
        if len(excluded) and allowed is not None:
            allowed = np.setdiff1d(
                np.asarray(allowed, dtype=np.int64), np.asarray(excluded, dtype=np.int64)
            )
        if not len(self) or k < 1 or (allowed is not None and not len(allowed)):
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        selector = params = None  # a selector must outlive the search that uses it
        if allowed is not None:
            if self.ivf is not None and len(allowed) <= FILTER_EXACT_MAX:
                return self._exact(query[0], k, np.asarray(allowed, dtype=np.int64))
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            params = self._params(selector)
            k = min(k, len(allowed))
        elif len(excluded):
            params = self._excluding(excluded)
        scores, ids = self.index.search(query, min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def _params(self, selector: faiss.IDSelector) -> faiss.SearchParameters:
        if self.ivf is not None:
            return faiss.SearchParametersIVF(sel=selector, nprobe=NPROBE)
        return faiss.SearchParameters(sel=selector)

    def _excluding(self, excluded: Sequence[int]) -> faiss.SearchParameters:
        """Search parameters that skip the `excluded` ids, built once per array."""
        if id(excluded) not in self._exclusions:
            batch = faiss.IDSelectorBatch(np.asarray(excluded, dtype=np.int64))
            selector = faiss.IDSelectorNot(batch)
            self._exclusions[id(excluded)] = (excluded, self._params(selector), (batch, selector))
        return self._exclusions[id(excluded)][1]

    def _exact(self, query: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
        """Score the allowed passages' (decoded) vectors one by one: exact for small filtered sets."""
        vectors = self.ivf.reconstruct_batch(allowed)
        scores = vectors @ query
        top = np.argsort(-scores)[:k]
        return [(int(allowed[i]), float(scores[i])) for i in top]

    def save(self, path: Path) -> None:
        """Write atomically and durably: a reader, or the next run after a crash or power
        loss, sees the old file or the new one, never a half-written one. A failed write
        (a full disk) raises, and leaves the old file and no temporary one."""
        tmp = path.with_name(path.name + ".tmp")
        try:
            # Through Python's file, not FAISS's own: FAISS reports a failed close (a full disk)
            # on stderr only, and leaves a truncated file that would pass for a saved index.
            with open(tmp, "wb") as fh:
                faiss.write_index(self.index, faiss.PyCallbackIOWriter(fh.write))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:  # a full disk, say: no half-written file left behind
            tmp.unlink(missing_ok=True)
            raise
        _fsync(path.parent)


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_index(store: Store, dim: int, save: bool = False) -> VectorIndex:
    """The vector index of a store, made to hold exactly the stored passages.

    A stale file is repaired (missing vectors added from the store, stray ids removed), and
    rebuilt when missing, unreadable, or outgrown by the corpus (exact -> IVF, or IVF lists
    too few). `save=True` (the writer, holding the ingest lock) writes a repaired index
    back; readers keep their repair in memory.
    """
    path = store.path.parent / INDEX_FILE
    index = VectorIndex.load(path, dim)
    with store.snapshot():  # the ids and the vectors from one state of the database
        stored = store.passage_ids()
        if index is None or index.factory != factory_for(len(stored)):
            ids, vectors = store.vectors()
            index = build(dim, ids, vectors) if len(ids) else VectorIndex(dim)
        else:
            held = index.ids()
            missing = np.setdiff1d(stored, held)
            stray = np.setdiff1d(held, stored)
            if not len(missing) and not len(stray):
                return index
            index.remove(stray)
            index.add(*store.vectors(missing))
    if save:
        index.save(path)
    return index


def save_index(store: Store, index: VectorIndex) -> None:
    """Save the vector index next to the store's database."""
    index.save(store.path.parent / INDEX_FILE)
