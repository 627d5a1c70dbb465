"""The Ray executor for `ingest` and `tag` (`--executor ray`): the heavy stages on a Ray cluster.

Ray Data streams the file list through two stages. Extraction runs as function tasks, one
file per task: pdfplumber is CPU bound and files differ a hundredfold in size, so small
tasks keep every core busy to the end. segment -> embed -> tag runs in actors that load
spaCy and the embedding model once (analyse.Analyser, the same code the local executor
runs). Each file comes back to the driver as soon as it is done, where pipeline.py's one
writer stores it; nothing here touches the index. Documents cross process and node
boundaries pickled into a bytes column, and a failure stays a per-file value.

Ray is an optional extra (`pip install 'policymine[ray]'`), imported only when asked for.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..analyse import Analysed, Analyser, extract_safely
from ..config import OFFLINE_ENV, Settings
from ..errors import ConfigError, ExtractionError
from ..tag import Taxonomy, load_taxonomy
from .base import largest_first

# Documents per analysis call. The batching that pays (64 passages per embedding call)
# happens inside a document; more documents per call would only hold results back longer
# and keep more of them in the object store.
ANALYSE_BATCH = 1
# On one core, segment+embed+tag takes about as long per page as extraction (3.5-4.2 against
# 4.1-6.7 pages/s: benchmarks/executor_speed.py --stages), so half the CPUs analyse.
CPUS_PER_ANALYSER = 2
# What an analysis actor holds (spaCy NER, the embedding model, torch): the scheduler packs
# no more actors on a node than its memory takes. Differing resources also keep Ray Data
# from fusing extraction into the actors, which would leave extraction to the few actors.
ANALYSER_MEMORY = 1 << 30
# The worker processes need the same code as the driver, and must never reach for the hub.
WORKER_ENV = OFFLINE_ENV


def _ray():
    """Ray and Ray Data, or a one-line error naming the extra to install."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'policymine[ray]'") from None
    return ray


def runtime_env() -> dict:
    """What Ray workers need: this policymine's code, shipped to every node, and offline models.

    Pass it to your own `ray.init(runtime_env=...)` when you start Ray yourself.
    """
    package = Path(__file__).parent.parent  # policymine/, this file being executors/ray.py
    return {"py_modules": [str(package)], "env_vars": WORKER_ENV}


def _connect(ray, settings: Settings) -> bool:
    """Join the cluster at `settings.ray_address`, or start one here; True if we started it."""
    if ray.is_initialized():  # the caller's own ray.init() (a notebook, a test) wins
        return False
    options = {
        "runtime_env": runtime_env(),
        "logging_level": logging.WARNING,
        "include_dashboard": False,
    }
    if settings.ray_address:
        try:
            ray.init(address=settings.ray_address, **options)
        except ConnectionError as exc:  # unreachable, or refused (token authentication)
            root: BaseException = exc
            while root.__cause__ is not None:  # Ray wraps the reason (e.g. a missing auth token)
                root = root.__cause__
            reason = (str(root).strip() or type(root).__name__).split(". ")[0].splitlines()[0]
            raise ConfigError(
                f"cannot join the Ray cluster at {settings.ray_address}: {reason}"
                " (check the address and, if the cluster uses token authentication, its token)"
            ) from None
    else:
        # The local executor's layout: `workers` extraction processes plus the analysing one.
        ray.init(num_cpus=settings.workers + 1, **options)
    return True


def _extract_batch(batch: dict[str, np.ndarray], settings: Settings) -> dict[str, np.ndarray]:
    """Ray Data stage 1: extract each file; the Document (or its ExtractionError) pickled."""
    results = [pickle.dumps(extract_safely(Path(p), settings)) for p in batch["path"]]
    return {"path": batch["path"], "result": np.array(results, dtype=object)}


class _AnalyseBatch:
    """Ray Data stage 2, an actor: segment -> embed -> tag with models loaded once in __init__."""

    def __init__(self, settings: Settings, taxonomy: Taxonomy, explain: bool):
        self.analyser = Analyser(settings, taxonomy, explain)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = []
        for raw_path, blob in zip(batch["path"], batch["result"]):
            path, result = Path(raw_path), pickle.loads(blob)
            item = (
                Analysed(path, error=result)
                if isinstance(result, ExtractionError)
                else self.analyser(path, result)
            )
            out.append(pickle.dumps(item))
        return {"path": batch["path"], "result": np.array(out, dtype=object)}


def analysed(
    paths: list[Path], settings: Settings, taxonomy: Taxonomy | None = None, explain: bool = False
) -> Iterator[Analysed]:
    """executors.analysed() on Ray: each file's Analysed, streamed back as it finishes.

    The files must be readable at the same path on every node (a shared file system).
    """
    if not paths:
        return
    ray = _ray()
    started = _connect(ray, settings)
    try:
        yield from _run(ray, paths, settings, taxonomy or load_taxonomy(settings.taxonomy), explain)
    finally:
        if started:
            ray.shutdown()


def _run(
    ray, paths: list[Path], settings: Settings, taxonomy: Taxonomy, explain: bool
) -> Iterator[Analysed]:
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the CLI draws its own
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(
        logging.ERROR
    )  # its INFO and "progress bars disabled" lines
    context.max_errored_blocks = -1  # a worker that dies takes one file with it, not the run
    cpus = int(ray.cluster_resources().get("CPU", 1))
    # Workers resolve paths in their own working directory, so they get absolute ones; the
    # writer gets back the paths it was given. Biggest files first, so no task is left with a
    # long file at the end; one block per file.
    pending = {os.path.realpath(p): p for p in largest_first(paths)}  # no raise on a link loop
    dataset = ray.data.from_items(
        [{"path": sent} for sent in pending], override_num_blocks=len(pending)
    )
    dataset = dataset.map_batches(
        _extract_batch, fn_kwargs={"settings": settings}, batch_size=1, num_cpus=1
    )
    dataset = dataset.map_batches(
        _AnalyseBatch,
        fn_constructor_kwargs={"settings": settings, "taxonomy": taxonomy, "explain": explain},
        batch_size=ANALYSE_BATCH,
        compute=ray.data.ActorPoolStrategy(size=max(1, cpus // CPUS_PER_ANALYSER)),
        num_cpus=1,
        memory=ANALYSER_MEMORY,
    )
    for row in dataset.iter_rows():
        item = pickle.loads(row["result"])
        item.path = pending.pop(str(row["path"]))
        if item.error is not None:
            item.error = ExtractionError(item.path, item.error.reason)
        yield item
    for path in pending.values():
        yield Analysed(
            path,
            error=ExtractionError(
                path, "lost on the Ray cluster (a worker died); run again to retry"
            ),
        )
