"""Executors: where `ingest` and `tag` run extract -> segment -> embed -> tag.

Each is a function `(paths, settings, taxonomy, explain) -> Iterator[Analysed]`, chosen by
`settings.executor`: "local" (extraction worker processes on this machine, analysis in this
process: local.py) or "ray" (a Ray cluster: ray.py, which imports Ray only when it runs).
Either way every file comes back once, analysed or with its error, to the one writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..analyse import Analysed
from ..config import Settings
from ..errors import ConfigError
from ..tag import Taxonomy
from . import local, ray
from .base import Executor, largest_first

EXECUTORS: dict[str, Executor] = {"local": local.analysed, "ray": ray.analysed}

__all__ = ["EXECUTORS", "Executor", "analysed", "largest_first"]


def analysed(
    paths: list[Path], settings: Settings, taxonomy: Taxonomy | None = None, explain: bool = False
) -> Iterator[Analysed]:
    """Files through extract -> segment -> embed -> tag on `settings.executor`, each as it finishes.

    Args:
        paths: the files (every one comes back once, analysed or with its error).
        settings: executor, model, workers, OCR.
        taxonomy: the topics to tag with (default: `settings.taxonomy`).
        explain: also give, per passage, the terms and similarities behind each topic.
    """
    run = EXECUTORS.get(settings.executor)
    if run is None:
        raise ConfigError(
            f"executor must be one of {', '.join(EXECUTORS)}, got {settings.executor!r}"
        )
    return run(paths, settings, taxonomy, explain)
