"""A small HTTP JSON API over one open index, for tools that search all day.

`policymine serve` opens the index and the query model once; each request then costs only
the search itself (milliseconds instead of a process start). The parameters are the CLI's:

    GET /search?q=rooftop+solar&k=5&mode=hybrid&country=DE&per_doc=1&explain=1
    GET /similar?id=42&k=5            GET /similar?text=citizens+climate+council
    GET /health

Answers are JSON: {"hits": [...], "took_ms": 3.1}, or {"error": "..."} with status 400
(bad parameters) or 404 (unknown passage). It listens on 127.0.0.1 only by default and
serves one request at a time: the SQLite connection and FAISS index belong to one thread.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from .config import Settings
from .errors import NotFoundError, PolicymineError
from .search import Searcher
from .types import Filters

_INT_PARAMS = ("k", "per_doc", "year_from", "year_to", "id")
_FILTERS = ("topic", "city", "country", "doc", "lang", "year_from", "year_to")


def parse_params(query: str) -> dict[str, Any]:
    """Request parameters by name ("year-from" and "year_from" alike), numbers as ints."""
    params: dict[str, Any] = {}
    for key, values in parse_qs(query, keep_blank_values=False).items():
        name = key.replace("-", "_")
        value: Any = values[-1]
        if name in _INT_PARAMS:
            try:
                value = int(value)
            except ValueError:
                raise PolicymineError(f"parameter {key!r} expects a whole number, got {value!r}") from None
        params[name] = value
    return params


class Service:
    """The request logic, apart from HTTP: parameters in, JSON-ready dict out."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.searcher = Searcher(settings)
        self.searcher.embedder.embed_batch(["warm up"])  # load the query model before the first request

    def close(self) -> None:
        """Close the index."""
        self.searcher.close()

    def handle(self, path: str, params: dict[str, Any]) -> dict:
        """Answer one request; PolicymineError for bad input."""
        start = time.perf_counter()
        k = params.get("k", 10)
        if not 1 <= k <= 1000:
            raise PolicymineError("k must be within 1..1000")
        filters = Filters(**{name: params[name] for name in _FILTERS if name in params})
        if "per_doc" in params:
            self.searcher.settings = replace(self.settings, per_doc=params["per_doc"])
        try:
            if path == "/search":
                if "q" not in params:
                    raise PolicymineError("missing parameter q: /search?q=rooftop+solar")
                explain = params.get("explain", "0").lower() in ("1", "true", "yes")
                hits = self.searcher.search(params["q"], k, filters, params.get("mode", "hybrid"), explain)
            elif path == "/similar":
                hits = self.searcher.similar(params.get("id"), params.get("text"), k, filters)
            elif path == "/health":
                return {"status": "ok", "index_dir": str(self.settings.index_dir), "passages": len(self.searcher.index)}
            else:
                raise NotFoundError(f"no such endpoint {path}: use /search, /similar or /health")
        finally:
            self.searcher.settings = self.settings
        return {"hits": [h.to_dict() for h in hits], "took_ms": round((time.perf_counter() - start) * 1000, 2)}


def make_server(settings: Settings, host: str = "127.0.0.1", port: int = 8765) -> HTTPServer:
    """An HTTP server answering from the index in `settings.index_dir` (call serve_forever)."""
    service = Service(settings)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server name)
            url = urlparse(self.path)
            try:
                status, body = 200, service.handle(url.path, parse_params(url.query))
            except NotFoundError as exc:
                status, body = 404, {"error": str(exc)}
            except PolicymineError as exc:
                status, body = 400, {"error": str(exc)}
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # one line per request is noise for an API
            pass

    server = HTTPServer((host, port), Handler)
    server.service = service  # type: ignore[attr-defined]
    return server
