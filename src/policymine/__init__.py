"""policymine: mine city policy PDFs for comparable practices across cities.

The public API, one entry point per stage; no model is loaded at import time.
"""

from .config import Settings, load
from .digest import build_digest, write_digest
from .errors import PolicymineError
from .extract import extract
from .pipeline import ingest, tag_files
from .search import Filters, search, similar
from .segment import segment

__version__ = "0.1.0"

__all__ = [
    "Filters",
    "PolicymineError",
    "Settings",
    "build_digest",
    "extract",
    "ingest",
    "load",
    "search",
    "segment",
    "similar",
    "tag_files",
    "write_digest",
]
