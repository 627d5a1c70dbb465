"""What every executor shares: its signature and the order it hands out files in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ..analyse import Analysed
from ..config import Settings
from ..tag import Taxonomy

# (paths, settings, taxonomy, explain) -> each file's Analysed, as it finishes
Executor = Callable[[list[Path], Settings, "Taxonomy | None", bool], Iterator[Analysed]]


def largest_first(paths: list[Path]) -> list[Path]:
    """Biggest files first, so no worker is left with a long file at the end (missing ones last)."""
    return sorted(paths, key=lambda p: -p.stat().st_size if p.is_file() else 0)
