"""policymine: mine city policy PDFs for comparable practices across cities.

The public API, one entry point per stage. No model is loaded, and nothing heavy
(torch, spaCy, pdfplumber) is imported, at import time: the stages import those when they
run, so that `policymine search` starts fast (tests/test_cold_start.py keeps it so).
"""

from .config import Settings, load
from .digest import build_digest, write_digest
from .errors import PolicymineError
from .extract import extract
from .pipeline import ingest, reembed, tag_files
from .search import search, similar
from .segment import segment
from .types import Filters

__version__ = "0.1.0"

__all__ = [
    "Filters",
    "PolicymineError",
    "Settings",
    "build_digest",
    "extract",
    "ingest",
    "load",
    "reembed",
    "search",
    "segment",
    "similar",
    "tag_files",
    "write_digest",
]
