"""policymine: mine city policy PDFs for comparable practices across cities.

The public API, one entry point per stage. Names are imported on first use (PEP 562), so
that `policymine search` loads only the query path, never PDF parsing, spaCy or torch.
"""

from importlib import import_module

__version__ = "0.1.0"

_API = {
    "Filters": "types",
    "PolicymineError": "errors",
    "Settings": "config",
    "build_digest": "digest",
    "extract": "extract",
    "ingest": "pipeline",
    "load": "config",
    "reembed": "pipeline",
    "search": "search",
    "segment": "segment",
    "similar": "search",
    "tag_files": "pipeline",
    "write_digest": "digest",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'policymine' has no attribute {name!r}")
    return getattr(import_module(f".{_API[name]}", __name__), name)
