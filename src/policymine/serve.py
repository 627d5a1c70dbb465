"""A small HTTP JSON API over one open index, for tools that search all day.

`policymine serve` opens the index and the query model once, warm (search.SearchResources: the
keyword postings in memory, the query model in onnxruntime; a few seconds per 100k passages);
each request then costs only the search itself (milliseconds instead of a process start).
When another process (an ingest) writes to the index, the keyword list answers from SQLite
at once, and once the writes have stopped for RELOAD_QUIET_S the vector index and postings
are loaded again, so new documents are found by every mode without a restart.
The parameters are the CLI's:

    GET /search?q=rooftop+solar&k=5&mode=hybrid&country=DE&per_doc=1&explain=1
    GET /similar?id=42&k=5            GET /similar?text=citizens+climate+council
    GET /health

Answers are JSON: {"hits": [...], "took_ms": 3.1}, or {"error": "...", "status": N} for
every error: 400 (a bad or unknown parameter; messages name query parameters, not the CLI's
flags), 404 (unknown passage or endpoint), 405 (a method other than GET and HEAD, with an
Allow header), and http.server's own refusals (414 a request line over 64 KiB, 431 headers
too large, 501 an unknown method). Every parameter is checked before any search runs. It
listens on 127.0.0.1 by default.

Each connection gets a thread, at most `settings.serve_connections` at once: over that the
server accepts no more until one ends (they wait in the listen backlog, not refused), and a
client silent for `settings.serve_timeout` seconds is closed, so idle clients cannot hold the
threads for long. A pool of `threads` searchers (each with its own SQLite connection, all
sharing the one SearchResources: vector index, query model, keyword postings) bounds how many
search at once, the rest queue.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterable
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from .config import Settings
from .errors import NotFoundError, Option, OptionError, PolicymineError
from .search import Searcher, SearchResources
from .store import Store
from .types import Filters

THREADS = os.cpu_count() or 2  # searchers answering at once; more only queue inside the CPU
RELOAD_POLL_S = 1.0  # how often serve looks for writes by another process
RELOAD_QUIET_S = 5.0  # and how long they must have stopped before it reloads
MAX_K = 1000
MAX_PER_DOC = 100
MAX_QUERY_CHARS = 1000  # a query, not a document: longer texts go to /similar?text=
MAX_TEXT_CHARS = 20_000
_PROTOCOL_HINTS = {  # what to do, for the refusals http.server makes before any of our code
    414: f"a request line is at most 65536 bytes (a query {MAX_QUERY_CHARS} characters,"
    f" a /similar text {MAX_TEXT_CHARS})",
    431: "at most 100 header lines, each under 64 KiB",
    501: "this server takes GET and HEAD",
}
_BOUNDS = {
    "k": (1, MAX_K),
    "per_doc": (1, MAX_PER_DOC),
    "year_from": (1000, 9999),
    "year_to": (1000, 9999),
}
_INT_PARAMS = (*_BOUNDS, "id")
_FILTERS = ("topic", "city", "country", "doc", "lang", "year_from", "year_to")
ALLOWED_METHODS = "GET, HEAD"  # the Allow header of a 405 or 501: the API and the pages only read
MAX_DISCARDED_BODY = 2**16  # a refused request's body read and dropped, so the answer arrives
JSON_TYPE = "application/json; charset=utf-8"
_ENDPOINTS = {
    "/search": {"q", "k", "mode", "per_doc", "explain", *_FILTERS},
    "/similar": {"id", "text", "k", "per_doc", *_FILTERS},
    "/health": set(),
}


def parse_params(query: str) -> dict[str, Any]:
    """Request parameters by name ("year-from" and "year_from" alike), numbers as checked ints."""
    params: dict[str, Any] = {}
    for key, values in parse_qs(query, keep_blank_values=False).items():
        name = key.replace("-", "_")
        value: Any = values[-1]
        if name in _INT_PARAMS:
            try:
                value = int(value)
            except ValueError:
                raise PolicymineError(
                    f"parameter {key!r} expects a whole number, got {value!r}"
                ) from None
            low, high = _BOUNDS.get(name, (0, 2**63 - 1))
            if not low <= value <= high:
                raise PolicymineError(
                    f"parameter {key!r} must be within {low}..{high}, got {value}"
                )
        params[name] = value
    return params


def check_known(names: Iterable[str], known: Collection[str], path: str | None = None) -> None:
    """PolicymineError naming the first parameter not in `known`, and those that are."""
    unknown = sorted(set(names) - set(known))
    if unknown:
        where = f" for {path}" if path else ""
        takes = f"known: {', '.join(sorted(known))}" if known else "it takes no parameters"
        raise PolicymineError(f"unknown parameter {unknown[0]!r}{where}; {takes}")


def check_params(path: str, params: dict[str, Any]) -> None:
    """PolicymineError (NotFoundError for an unknown endpoint) naming the first bad parameter."""
    if path not in _ENDPOINTS:
        raise NotFoundError(f"no such endpoint {path}: use {', '.join(_ENDPOINTS)}")
    check_known(params, _ENDPOINTS[path], path)
    if path == "/search":
        if not params.get("q", "").strip():
            raise PolicymineError("missing parameter q: /search?q=rooftop+solar")
        if len(params["q"]) > MAX_QUERY_CHARS:
            raise PolicymineError(
                f"q is {len(params['q'])} characters; at most {MAX_QUERY_CHARS} (use /similar?text= for passages)"
            )
    if path == "/similar" and len(params.get("text", "")) > MAX_TEXT_CHARS:
        raise PolicymineError(f"text is {len(params['text'])} characters; at most {MAX_TEXT_CHARS}")


def query_parameter(option: Option) -> str:
    """The HTTP spelling of an option a message names: `mode=dense`, `text`."""
    return option.name + (f"={option.value}" if option.value else "")


def error_message(exc: PolicymineError) -> str:
    """An error's message for an HTTP client: options named as query parameters, not flags."""
    return exc.spelled(query_parameter) if isinstance(exc, OptionError) else str(exc)


def error_body(status: int, message: str) -> dict[str, Any]:
    """The JSON body of every error the server answers."""
    return {"error": message, "status": status}


class Service:
    """The request logic, apart from HTTP: parameters in, JSON-ready dict out. Thread-safe."""

    def __init__(self, settings: Settings, threads: int = THREADS):
        self.settings = settings
        # Loaded now, not by the first request; shared by the searchers, reloaded after ingests.
        self.resources = SearchResources.load(settings, warm=True)
        self.query_model = getattr(self.resources.embedder, "backend", settings.model)
        self._searchers = [Searcher(settings, self.resources) for _ in range(threads)]
        self._idle: queue.SimpleQueue[Searcher] = queue.SimpleQueue()
        for searcher in self._searchers:
            self._idle.put(searcher)
        self.reloads, self.reload_error = 0, None
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="reload", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        """Close the index."""
        self._stop.set()
        self._watcher.join()
        for searcher in self._searchers:
            searcher.close()
        self.resources.close()

    def _watch(self) -> None:
        """Reload the vector index and keyword postings once an ingest into the index has
        written and then been quiet for RELOAD_QUIET_S: not after every document it commits."""
        with Store(
            self.settings.index_dir, follow=True
        ) as watch:  # its data_version moves with every commit
            last, quiet_since = watch.data_version(), time.monotonic()
            while not self._stop.wait(RELOAD_POLL_S):
                version = watch.data_version()
                if version != last:
                    last, quiet_since = version, time.monotonic()
                elif (
                    time.monotonic() - quiet_since >= RELOAD_QUIET_S
                    and not self.resources.keywords.current()
                ):
                    try:
                        self.resources.reload()
                    except Exception as exc:  # noqa: BLE001 - keep serving what was loaded; retry when quiet again
                        self.reload_error, quiet_since = (
                            f"{type(exc).__name__}: {exc}",
                            time.monotonic(),
                        )
                        continue
                    self.reloads, self.reload_error = self.reloads + 1, None

    @contextmanager
    def _searcher(self):
        searcher = self._idle.get()
        try:
            yield searcher
        finally:
            self._idle.put(searcher)

    def handle(self, path: str, params: dict[str, Any]) -> dict:
        """Answer one request; PolicymineError for bad input."""
        start = time.perf_counter()
        check_params(path, params)  # the topic and mode are checked first thing by the search
        k, per_doc = params.get("k", 10), params.get("per_doc")
        filters = Filters(**{name: params[name] for name in _FILTERS if name in params})
        with self._searcher() as searcher:
            if path == "/health":
                return {
                    "status": "ok",
                    "index_dir": str(self.settings.index_dir),
                    "passages": len(self.resources.index),
                    "query_model": self.query_model,  # "numpy" for an index without the ONNX export
                    "reloads": self.reloads,  # after ingests into the index while serving
                    "reload_error": self.reload_error,
                    # "sqlite" once another process has written to the index since serve started
                    "keyword_postings": "memory" if self.resources.keywords.current() else "sqlite",
                }
            if path == "/search":
                explain = str(params.get("explain", "0")).lower() in ("1", "true", "yes")
                hits = searcher.search(
                    params["q"], k, filters, params.get("mode", "hybrid"), explain, per_doc
                )
            else:
                hits = searcher.similar(params.get("id"), params.get("text"), k, filters, per_doc)
        return {
            "hits": [h.to_dict() for h in hits],
            # False: nothing matched closely, the hits are only the nearest (search's floor)
            "close": not (hits and hits[0].nearest),
            "took_ms": round((time.perf_counter() - start) * 1000, 2),
        }


class _Server(ThreadingHTTPServer):
    """A thread per connection, at most `connections` at once; the next ones wait to be accepted."""

    daemon_threads = True  # a stuck client must not keep the process alive on Ctrl-C
    request_queue_size = 128  # the listen backlog: bursts of clients wait instead of being refused

    def __init__(self, address: tuple[str, int], handler: type, connections: int):
        self.slots = threading.BoundedSemaphore(connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.slots.acquire()  # all taken: wait here; the silent clients time out and free theirs
        try:
            super().process_request(request, client_address)  # starts the thread
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def make_server(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8765,
    threads: int = THREADS,
    pages: Callable[[Service], Any] | None = None,
) -> ThreadingHTTPServer:
    """An HTTP server answering from the index in `settings.index_dir` (call serve_forever).

    `pages(service)` makes the app that answers the paths other than the API's (web.WebApp):
    its answer(path, query, headers) gives (status, content type, body, headers), or None to
    leave the path to the API."""
    service = Service(settings, threads)
    app = pages(service) if pages else None

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = (
            True  # headers and body go out as two writes; don't hold the second
        )
        timeout = settings.serve_timeout  # per read and write: a silent client is closed

        def do_GET(self) -> None:  # the name http.server calls; HEAD too, without the body
            url = urlparse(self.path)
            page = app.answer(url.path, url.query, self.headers) if app else None
            if page is not None:  # the browser app's pages, images, files and schema
                self.send_answer(*page)
                return
            try:
                status, body = 200, service.handle(url.path, parse_params(url.query))
            except NotFoundError as exc:
                status, body = 404, error_body(404, error_message(exc))
            except PolicymineError as exc:
                status, body = 400, error_body(400, error_message(exc))
            except Exception as exc:  # noqa: BLE001 - a bug answers 500 with its name, the server goes on
                message = f"internal error ({type(exc).__name__}: {exc})"
                status, body = 500, error_body(500, message)
            self.send_answer(status, JSON_TYPE, json.dumps(body, ensure_ascii=False).encode(), {})

        do_HEAD = do_GET

        def refuse_method(self) -> None:
            """405 for the methods HTTP knows but this server does not take (it only reads)."""
            length = self.headers.get("Content-Length", "")
            if length.isdigit() and int(length) <= MAX_DISCARDED_BODY:
                self.rfile.read(int(length))  # unread, closing would reset the connection
            self.send_error(405, f"method {self.command} is not allowed: use GET or HEAD")

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = refuse_method

        def send_error(self, code: int, message: str | None = None, explain: str | None = None):
            """Every refusal as JSON, http.server's own too (a malformed request line, 414,
            431, 501 for an unknown method); `explain` is http.server's detail, if any."""
            text = message or self.responses.get(code, ("error",))[0]
            if explain:
                text += f" ({explain})"
            if code in _PROTOCOL_HINTS:
                text += f": {_PROTOCOL_HINTS[code]}"
            if self.command is None:  # the request line made no sense: still send a status line
                self.request_version = "HTTP/1.0"
            headers = {"Connection": "close"}
            if code in (405, 501):
                headers["Allow"] = ALLOWED_METHODS
            data = json.dumps(error_body(code, text), ensure_ascii=False).encode()
            self.send_answer(code, JSON_TYPE, data, headers)

        def send_answer(
            self, status: int, content_type: str, data: bytes, headers: dict[str, str]
        ) -> None:
            """Status, headers and, unless the request was HEAD, the body."""
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # one line per request is noise for an API
            pass

    server = _Server((host, port), Handler, settings.serve_connections)
    server.service = service  # type: ignore[attr-defined]
    return server
