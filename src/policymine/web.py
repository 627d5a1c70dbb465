"""The browser app: `policymine serve` answers web pages beside its JSON API, on the same port.

Pages: `/` (search), `/page` (a PDF page with the passage's lines highlighted), `/elsewhere`
(similar passages in other documents and cities), `/practices` (practice records with
facets), `/digest` (build, read and download a digest) and `/overview` (what the index holds).
Beside them: page images (`/page.png`), the PDFs (`/pdf/ID`), hits as CSV or JSON
(`/export.csv`, `/export.json`), static files (`/static/NAME`) and the JSON API's schema
(`/openapi.json`).

Search and similar go through `serve.Service.handle`: they take the API's parameters, pass
its checks and use its warm searchers. Files are found by document id in the index, never by
a path from the request, and static files from a list made at start-up. Nothing is written:
every route is a GET, and practice records that are missing or stale are reported, not
rebuilt. Plain HTML rendered here, one stylesheet and a little JavaScript: no build step, no
network.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from .config import Settings
from .cues import INSTRUMENTS, STATUSES
from .errors import NotFoundError, PolicymineError
from .practices import INSTRUMENT_LABELS, detector_version, to_practice
from .search import MODES, query_terms
from .serve import (
    MAX_K,
    MAX_PER_DOC,
    MAX_QUERY_CHARS,
    MAX_TEXT_CHARS,
    THREADS,
    Service,
    check_known,
    error_body,
    error_message,
    parse_params,
)
from .serve import make_server as make_api_server
from .store import Store
from .types import Filters, Practice, explain_line, page_span

STATIC = resources.files("policymine") / "static"
PAGE_SIZES = (10, 20, 50)
IMAGE_WIDTHS = (600, 1000, 1600)  # the srcset a page view offers: phone, laptop, high density
MIN_WIDTH, MAX_WIDTH = 100, 2400
IMAGE_CACHE_BYTES = 64 * 2**20  # rendered page images kept in memory
PRACTICES_PER_PAGE = 20
MAX_DIGEST_PRACTICES = 100
HIGHLIGHT_WINDOW = 6  # words per piece of the passage looked for on the page
YEARS = (1000, 9999)
MAX_TEXT_PARAM = 200  # city, country, document name
MAX_LISTED = 500  # documents offered as you type a document filter (any name may be typed)
_API = ("/search", "/similar", "/health")
_FILTERS = ("topic", "city", "country", "doc", "lang", "year_from", "year_to")
_SEARCH_PARAMS = {"q", "k", "mode", "per_doc", "explain", *_FILTERS}
# How tests/test_web.py, scripts/web_tour.py and benchmarks/web_latency.py launch
# Debian's chromium under Playwright: never a browser that Playwright downloads.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

e = html.escape


@dataclass
class Answer:
    """One HTTP answer: status, content type, body and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str]

    def __iter__(self):
        return iter((self.status, self.content_type, self.body, self.headers))


def make_server(
    settings: Settings, host: str = "127.0.0.1", port: int = 8765, threads: int = THREADS
):
    """serve.make_server with the browser app answering beside the JSON API."""
    return make_api_server(settings, host, port, threads, pages=WebApp)


def html_answer(status: int, body: str) -> Answer:
    return Answer(
        status,
        "text/html; charset=utf-8",
        body.encode("utf-8"),
        {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff"},
    )


def json_answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Answer:
    data = json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")
    headers = {"X-Content-Type-Options": "nosniff", **(headers or {})}
    return Answer(status, "application/json; charset=utf-8", data, headers)


class Params:
    """A request's parameters: the API's (checked by serve.parse_params) and the page's own."""

    def __init__(self, query: str, allowed: set[str]):
        self.values = parse_params(query)
        self.lists = {
            k.replace("-", "_"): v for k, v in parse_qs(query, keep_blank_values=False).items()
        }
        check_known(self.values, allowed)

    def text(self, name: str, limit: int = MAX_TEXT_PARAM) -> str | None:
        value = self.values.get(name)
        if value is None or not str(value).strip():
            return None
        if len(str(value)) > limit:
            raise PolicymineError(f"{name} is {len(value)} characters; at most {limit}")
        return str(value).strip()

    def number(self, name: str, low: int, high: int, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None:
            return default
        try:
            value = int(value)
        except ValueError:
            raise PolicymineError(
                f"parameter {name!r} expects a whole number, got {value!r}"
            ) from None
        if not low <= value <= high:
            raise PolicymineError(f"parameter {name!r} must be within {low}..{high}, got {value}")
        return value

    def choice(self, name: str, choices) -> str | None:
        value = self.text(name)
        if value is not None and value not in choices:
            raise PolicymineError(f"unknown {name} {value!r}: use one of {', '.join(choices)}")
        return value

    def api(self, names) -> dict[str, Any]:
        """The parameters the JSON API takes, as given."""
        return {k: v for k, v in self.values.items() if k in names}


def qs(params: dict[str, Any], **changes: Any) -> str:
    """A query string from params with changes; None and empty values are left out."""
    merged = {**params, **changes}
    return urlencode([(k, v) for k, v in merged.items() if v not in (None, "", [])], doseq=True)


class WebApp:
    """The browser app over one serve.Service: answer(path, query, headers) -> Answer or None
    (None: a JSON API path, which serve answers itself)."""

    def __init__(self, service: Service):
        self.service = service
        self.settings = service.settings
        self.static = {
            entry.name: entry.read_bytes() for entry in STATIC.iterdir() if entry.is_file()
        }
        self.routes: dict[str, tuple[Callable[[str], Answer], bool]] = {
            "/": (self.search_page, True),
            "/page": (self.page_view, True),
            "/elsewhere": (self.similar_page, True),
            "/practices": (self.practices_page, True),
            "/digest": (self.digest_page, True),
            "/overview": (self.overview_page, True),
            "/page.png": (self.page_image, False),
            "/export.csv": (self.export_csv, False),
            "/export.json": (self.export_json, False),
            "/digest.html": (lambda query: self.digest_download(query, "html"), False),
            "/digest.md": (lambda query: self.digest_download(query, "md"), False),
            "/openapi.json": (self.openapi, False),
        }
        self.pdf = PdfPages()
        self._cache: dict[str, tuple[Any, Any]] = {}
        self._digests: OrderedDict[tuple, Any] = OrderedDict()
        self._digest_lock = threading.Lock()

    # ------------------------------------------------------------------ dispatch

    def answer(self, path: str, query: str, headers: Any) -> Answer | None:
        """The answer to GET path?query, or None for the JSON API's own paths."""
        if path in _API:
            return None
        wants_html = "text/html" in (headers.get("Accept") or "")
        route, is_page = self.routes.get(path, (None, wants_html))
        try:
            if route is not None:
                answer = route(query)
            elif path.startswith("/static/"):
                answer = self.static_file(path.removeprefix("/static/"))
            elif path.startswith("/pdf/"):
                answer = self.pdf_file(path.removeprefix("/pdf/"))
            elif wants_html:
                raise NotFoundError(f"no page {path}")
            else:
                return None  # the API's 404 in JSON
        except NotFoundError as exc:
            return self.error(404, error_message(exc), is_page)
        except PolicymineError as exc:
            return self.error(400, error_message(exc), is_page)
        except Exception as exc:  # noqa: BLE001 - a bug answers 500 with its name, the server goes on
            return self.error(500, f"internal error ({type(exc).__name__}: {exc})", is_page)
        etag = answer.headers.get("ETag")
        if etag and etag == headers.get("If-None-Match"):
            return Answer(304, answer.content_type, b"", answer.headers)
        return answer

    def error(self, status: int, message: str, is_page: bool) -> Answer:
        if not is_page:
            return json_answer(status, error_body(status, message))
        title = {400: "Bad request", 404: "Not found"}.get(status, "Server error")
        body = (
            f"<section class=error role=alert><h1>{status} · {title}</h1><p>{e(message)}</p>"
            "<p><a href='/'>Back to search</a> · <a href='/overview'>What the index holds</a></p></section>"
        )
        return html_answer(status, layout(title, body, ""))

    # ------------------------------------------------------------------ index facts, cached

    def cached(self, name: str, compute: Callable[[Store], Any]) -> Any:
        """compute(store), kept until a document is added, replaced or removed."""
        with Store(self.settings.index_dir) as store:
            version = store.version()
            held = self._cache.get(name)
            if held and held[0] == version:
                return held[1]
            value = compute(store)
        self._cache[name] = (version, value)
        return value

    def facets(self) -> dict[str, Any]:
        """The filters' known values with counts: topics (passages), places and languages (documents)."""

        def compute(store: Store) -> dict[str, Any]:
            info, docs = store.info(), store.catalogue()
            count = lambda key: sorted(Counter(d[key] for d in docs if d[key]).items())
            return {
                "topics": info["topics"],
                "cities": count("city"),
                "countries": count("country"),
                "languages": count("lang"),
                "docs": [(d["doc"], d["title"]) for d in docs],
                "documents": len(docs),
                "passages": info["passages"],
            }

        return self.cached("facets", compute)

    # ------------------------------------------------------------------ search

    def search_hits(self, query: str) -> tuple[Params, dict, int, int]:
        """Run the search a search page or an export asks for: (params, API answer, page, k)."""
        params = Params(query, _SEARCH_PARAMS | {"page"})
        k = params.number("k", 1, MAX_K, 10)
        page = params.number("page", 1, MAX_K, 1)
        if page * k > MAX_K:
            raise PolicymineError(f"page {page} of {k} hits goes beyond the first {MAX_K} hits")
        api = {**params.api(_SEARCH_PARAMS), "k": page * k}
        found = self.service.handle("/search", api)
        found["hits"] = found["hits"][(page - 1) * k :]
        return params, found, page, k

    def search_page(self, query: str) -> Answer:
        params = Params(query, _SEARCH_PARAMS | {"page"})
        if not (params.values.get("q") or "").strip():
            return html_answer(200, layout("Search", self.search_form(params) + intro(), "/"))
        params, found, page, k = self.search_hits(query)
        given = params.values
        terms = query_terms(given["q"])
        explain = "explain" in given
        if found["hits"]:
            first = found["hits"][0]["rank"]
            items = "".join(hit_html(h, terms, given, explain) for h in found["hits"])
            export = qs(given)
            listing = (
                (
                    "<p class=summary>No close matches; the nearest passages:</p>"
                    if not found["close"]
                    else ""
                )
                + f"<p class=summary role=status>Hits {first}–{first + len(found['hits']) - 1}"
                f" · {found['took_ms']:.0f} ms · download <a href='/export.csv?{e(export)}' download>CSV</a>"
                f" · <a href='/export.json?{e(export)}' download>JSON</a></p>"
                f"<ol class=hits start={first}>{items}</ol>"
            )
            more = len(found["hits"]) == k and (page + 1) * k <= MAX_K
            listing += pager(given, page, more)
        else:
            listing = (
                "<p class='summary empty' role=status>No passages match"
                f" <q>{e(given['q'])}</q>{' with these filters' if any(f in given for f in _FILTERS) else ''}."
                " Try other words, the dense mode (it finds paraphrases), or fewer filters.</p>"
            )
        title = f"{given['q']} · search"
        return html_answer(200, layout(title, self.search_form(params) + listing, "/"))

    def search_form(self, params: Params, action: str = "/") -> str:
        facets = self.facets()
        v = params.values
        topics = [(t, f"{t} ({n})") for t, n in facets["topics"].items()]
        fields = [
            select("topic", "Topic", topics, v.get("topic"), "any topic"),
            select(
                "country",
                "Country",
                [(c, f"{c} ({n})") for c, n in facets["countries"]],
                v.get("country"),
                "any country",
            ),
            select(
                "city",
                "City",
                [(c, f"{c} ({n})") for c, n in facets["cities"]],
                v.get("city"),
                "any city",
            ),
            select(
                "lang",
                "Language",
                [(c, f"{c} ({n})") for c, n in facets["languages"]],
                v.get("lang"),
                "any language",
            ),
            (
                f"<label>From year <input type=number name=year_from min={YEARS[0]} max={YEARS[1]}"
                f" value='{e(str(v.get('year_from', '')))}' inputmode=numeric></label>"
            ),
            (
                f"<label>To year <input type=number name=year_to min={YEARS[0]} max={YEARS[1]}"
                f" value='{e(str(v.get('year_to', '')))}' inputmode=numeric></label>"
            ),
            f"<label>Document <input name=doc list=docs value='{e(v.get('doc', ''))}'"
            f" placeholder='file name or title' maxlength={MAX_TEXT_PARAM}></label>"
            "<datalist id=docs>"
            + "".join(
                f"<option value='{e(d)}'>{e(t)}</option>" for d, t in facets["docs"][:MAX_LISTED]
            )
            + "</datalist>",
            select("mode", "Mode", [(m, m) for m in MODES], v.get("mode"), None),
            select(
                "k", "Per page", [(str(n), str(n)) for n in PAGE_SIZES], str(v.get("k", 10)), None
            ),
        ]
        opened = " open" if any(f in v for f in _FILTERS) else ""
        return (
            f"<form class=search action='{action}' method=get role=search>"
            "<div class=querybar><label class=sr for=q>Search passages</label>"
            f"<input id=q type=search name=q value='{e(v.get('q', ''))}' maxlength={MAX_QUERY_CHARS}"
            " placeholder='e.g. incentives for rooftop solar' autocomplete=off"
            f"{'' if v.get('q') else ' autofocus'}>"
            "<button type=submit>Search</button></div>"
            f"<details class=filters{opened}><summary>Filters and mode</summary>"
            f"<div class=grid>{''.join(fields)}</div></details></form>"
        )

    def export_csv(self, query: str) -> Answer:
        params, found, _, _ = self.search_hits(query)
        out = io.StringIO()
        columns = [
            "rank",
            "score",
            "passage_id",
            "doc",
            "title",
            "page",
            "page_end",
            "city",
            "country",
            "year",
            "lang",
            "topics",
            "section",
            "text",
        ]
        writer = csv.writer(out)
        writer.writerow(columns)
        for h in found["hits"]:
            writer.writerow(
                ";".join(h[c]) if c == "topics" else ("" if h[c] is None else h[c]) for c in columns
            )
        name = slug(params.values["q"])
        return Answer(
            200,
            "text/csv; charset=utf-8",
            out.getvalue().encode("utf-8"),
            {"Content-Disposition": f'attachment; filename="hits-{name}.csv"'},
        )

    def export_json(self, query: str) -> Answer:
        params, found, _, _ = self.search_hits(query)
        headers = {
            "Content-Disposition": f'attachment; filename="hits-{slug(params.values["q"])}.json"'
        }
        return json_answer(200, {**found, "query": params.values}, headers)

    # ------------------------------------------------------------------ similar

    def similar_page(self, query: str) -> Answer:
        allowed = {"id", "text", "k", "per_doc", *_FILTERS}
        params = Params(query, allowed)
        v = params.values
        source, listing = "", ""
        if "id" in v or (v.get("text") or "").strip():
            found = self.service.handle("/similar", params.api(allowed))
            if "id" in v:
                with Store(self.settings.index_dir) as store:
                    row = store.rows([v["id"]])[v["id"]]
                source = (
                    f"<p class=source>Like passage {row.id} of <a href='/page?passage={row.id}'>{e(row.title)}</a>"
                    f" ({e(place(row.city, row.country))}, p. {page_span(row.page, row.page_end)}):</p>"
                    f"<blockquote>{e(snippet(row.text, []))}</blockquote>"
                )
            items = "".join(hit_html(h, [], {}, False) for h in found["hits"])
            listing = (
                f"<ol class=hits>{items}</ol>"
                if items
                else "<p class='summary empty' role=status>Nothing comparable in other documents.</p>"
            )
        form = (
            "<form class=similar action='/elsewhere' method=get>"
            "<label for=text>Describe a measure, or paste a passage, to find comparable ones in other cities</label>"
            f"<textarea id=text name=text rows=3 maxlength={MAX_TEXT_CHARS}>{e(v.get('text', ''))}</textarea>"
            "<button type=submit>Find similar elsewhere</button></form>"
        )
        return html_answer(200, layout("Similar elsewhere", form + source + listing, "/elsewhere"))

    # ------------------------------------------------------------------ page view

    def page_view(self, query: str) -> Answer:
        params = Params(query, {"passage", "document", "page"})
        passage = params.number("passage", 1, 2**63 - 1)
        doc_id = params.number("document", 1, 2**63 - 1)
        with Store(self.settings.index_dir) as store:
            span = None
            if passage is not None:
                owner, first, last = store.passage_location(passage)
                if doc_id is not None and doc_id != owner:
                    raise PolicymineError(f"passage {passage} is not in document {doc_id}")
                doc_id, span = owner, (first, last)
            if doc_id is None:
                raise PolicymineError("give a passage (/page?passage=42) or a document id")
            doc = store.document(doc_id)
            if doc is None:
                raise NotFoundError(f"no document with id {doc_id}")
            number = params.number("page", 1, max(doc["pages"], 1), span[0] if span else 1)
            row = store.rows([passage])[passage] if passage is not None else None
            page_text = store.page_text(doc["name"], number) or ""
        on_page = bool(span and span[0] <= number <= span[1])
        pdf, why_not = self.pdf.source(doc)
        keep = {"passage": passage, "document": doc_id}
        nav = [
            f"<a rel=prev href='/page?{qs(keep, page=number - 1)}' accesskey=p>← previous page</a>"
            if number > 1
            else "<span class=off>← previous page</span>",
            f"<span>page {number} of {doc['pages']}</span>",
            f"<a rel=next href='/page?{qs(keep, page=number + 1)}' accesskey=n>next page →</a>"
            if number < doc["pages"]
            else "<span class=off>next page →</span>",
        ]
        if pdf:
            nav.append(
                f"<a class=pdf href='/pdf/{doc_id}#page={number}' target=_blank rel=noopener>open the PDF at page {number}</a>"
            )
        if pdf:
            boxes = self.pdf.highlight(pdf, number, row.text) if (row and on_page) else []
            width, height = self.pdf.size(pdf, number)
            src = f"/page.png?document={doc_id}&page={number}"
            srcset = ", ".join(f"{src}&w={w} {w}w" for w in IMAGE_WIDTHS)
            marks = "".join(
                f"<div class=hl style='left:{x0:.3%};top:{y0:.3%};width:{x1 - x0:.3%};height:{y1 - y0:.3%}'></div>"
                for x0, y0, x1, y1 in boxes
            )
            figure = (
                f"<figure class=sheet><div class=paper><img src='{src}&w={IMAGE_WIDTHS[1]}' srcset='{srcset}'"
                f" sizes='(max-width: 60rem) 100vw, 56rem' width={round(width)} height={round(height)}"
                f" alt='Page {number} of {e(doc['title'])}'>{marks}</div>"
                f"<figcaption>{len(boxes)} highlighted line{'s' if len(boxes) != 1 else ''}</figcaption></figure>"
                if on_page
                else f"<figure class=sheet><div class=paper><img src='{src}&w={IMAGE_WIDTHS[1]}' srcset='{srcset}'"
                f" sizes='(max-width: 60rem) 100vw, 56rem' width={round(width)} height={round(height)}"
                f" alt='Page {number} of {e(doc['title'])}'></div></figure>"
            )
        else:
            figure = (
                f"<p class=note>{e(why_not)}: the page's extracted text instead.</p>"
                f"<pre class=pagetext>{e(page_text)}</pre>"
            )
        passage_html = ""
        if row:
            where = (
                "on this page"
                if on_page
                else f"on page {page_span(row.page, row.page_end)}: <a href='/page?passage={row.id}'>go there</a>"
            )
            passage_html = (
                f"<section class=passage><h2>Passage {row.id}, {where}</h2>"
                f"<blockquote>{e(row.text)}</blockquote>"
                f"<p><a href='/elsewhere?id={row.id}'>Similar elsewhere</a></p></section>"
            )
        head = (
            f"<h1>{e(doc['title'])}</h1><p class=meta>{e(doc['name'])} · {e(place(doc['city'], doc['country']))}"
            f"{' · ' + str(doc['year']) if doc['year'] else ''} · {doc['pages']} pages</p>"
            f"<nav class=pager aria-label='Pages'>{' '.join(nav)}</nav>"
        )
        title = f"{doc['title']} · page {number}"
        return html_answer(200, layout(title, head + figure + passage_html, "/page"))

    def page_image(self, query: str) -> Answer:
        params = Params(query, {"document", "page", "w"})
        doc_id = params.number("document", 1, 2**63 - 1)
        if doc_id is None:
            raise PolicymineError("missing parameter document: /page.png?document=3&page=1")
        with Store(self.settings.index_dir) as store:
            doc = store.document(doc_id)
        if doc is None:
            raise NotFoundError(f"no document with id {doc_id}")
        number = params.number("page", 1, max(doc["pages"], 1), 1)
        width = params.number("w", MIN_WIDTH, MAX_WIDTH, IMAGE_WIDTHS[1])
        pdf, why_not = self.pdf.source(doc)
        if not pdf:
            raise NotFoundError(why_not)
        png = self.pdf.png(pdf, doc["sha256"], number, width)
        return Answer(
            200,
            "image/png",
            png,
            {
                "Cache-Control": "private, max-age=86400",
                "ETag": f'"{doc["sha256"][:16]}-{number}-{width}"',
            },
        )

    def pdf_file(self, rest: str) -> Answer:
        if not rest.isdigit() or len(rest) > 18:
            raise NotFoundError("PDFs are served by document id: /pdf/3")
        with Store(self.settings.index_dir) as store:
            doc = store.document(int(rest))
        if doc is None:
            raise NotFoundError(f"no document with id {rest}")
        pdf, why_not = self.pdf.source(doc)
        if not pdf:
            raise NotFoundError(why_not)
        name = re.sub(r"[^\w.-]", "_", doc["name"])
        return Answer(
            200,
            "application/pdf",
            pdf.read_bytes(),
            {
                "Content-Disposition": f'inline; filename="{name}"',
                "Cache-Control": "private, max-age=3600",
                "ETag": f'"{doc["sha256"][:32]}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    def static_file(self, name: str) -> Answer:
        data = self.static.get(name)  # a fixed list: no path from the request reaches the disk
        if data is None:
            raise NotFoundError(f"no static file {name!r}")
        kind = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}
        return Answer(
            200,
            f"{kind.get(name.rsplit('.', 1)[-1], 'application/octet-stream')}; charset=utf-8",
            data,
            {
                "Cache-Control": "max-age=300",
                "ETag": f'"{hashlib.sha1(data).hexdigest()[:16]}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    # ------------------------------------------------------------------ practices

    def practice_records(self) -> list[Practice]:
        """Every stored practice record, best first (cached until the index changes)."""

        def compute(store: Store) -> list[Practice]:
            meta = store.index_meta()
            if meta.practices != detector_version(meta.model or ""):
                raise PolicymineError(
                    "this index has no current practice records: run `policymine practices --rebuild`"
                    " once (the web app writes nothing)"
                )
            return [
                to_practice(row, rec, rank)
                for rank, (row, rec) in enumerate(store.practices(Filters()), start=1)
            ]

        return self.cached("practices", compute)

    def practices_page(self, query: str) -> Answer:
        params = Params(query, {"topic", "city", "country", "instrument", "status", "year", "page"})
        chosen = {
            "topic": params.choice("topic", self.facets()["topics"]),
            "city": params.text("city"),
            "country": params.text("country"),
            "instrument": params.choice("instrument", INSTRUMENTS),
            "status": params.choice("status", STATUSES),
            "year": params.number("year", *YEARS),
        }
        page = params.number("page", 1, 100_000, 1)
        values = {
            "topic": lambda p: p.hit.topics,
            "city": lambda p: [p.hit.city] if p.hit.city else [],
            "country": lambda p: [p.hit.country] if p.hit.country else [],
            "instrument": lambda p: [p.instrument] if p.instrument else [],
            "status": lambda p: [p.status] if p.status else [],
            "year": lambda p: p.years,
        }

        def keep(p: Practice) -> bool:
            return all(
                want is None
                or (
                    str(want).lower() in {str(x).lower() for x in values[name](p)}
                    if name in ("city", "country")
                    else want in values[name](p)
                )
                for name, want in chosen.items()
            )

        found = [p for p in self.practice_records() if keep(p)]
        active = {k: v for k, v in chosen.items() if v is not None}
        groups = []
        for name, of in values.items():
            counts = Counter(x for p in found for x in of(p))
            if not counts:
                continue
            ordered = (
                sorted(counts.items(), reverse=True)
                if name == "year"
                else sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
            )
            links = "".join(
                f"<li><a href='/practices?{e(qs(active, **{name: value}))}'"
                f"{' aria-current=true' if chosen[name] == value else ''}>"
                f"{e(facet_label(name, value))} <span class=n>{n}</span></a></li>"
                for value, n in ordered[:40]
            )
            groups.append(
                f"<details class=facet open><summary>{name}</summary><ul>{links}</ul></details>"
            )
        chips = "".join(
            f"<a class=chip href='/practices?{e(qs(active, **{name: None}))}'"
            f" aria-label='remove {name} {e(facet_label(name, v))}'>{name}: {e(facet_label(name, v))} ✕</a>"
            for name, v in active.items()
        )
        start = (page - 1) * PRACTICES_PER_PAGE
        shown = found[start : start + PRACTICES_PER_PAGE]
        records = "".join(practice_html(p) for p in shown)
        summary = (
            f"<p class=summary role=status>{len(found)} practice records"
            f"{', ' + str(start + 1) + '–' + str(start + len(shown)) + ' shown' if shown else ''}. {chips}</p>"
        )
        body = (
            "<h1>Practices</h1>"
            f"<div class=facets-layout><aside class=facets aria-label='Facets'>{''.join(groups)}</aside>"
            f"<div>{summary}{records}{pager(active, page, start + PRACTICES_PER_PAGE < len(found), '/practices')}</div></div>"
        )
        return html_answer(200, layout("Practices", body, "/practices"))

    # ------------------------------------------------------------------ digests

    def digest_for(self, query: str) -> tuple[Any, dict[str, Any]] | None:
        """The digest a request asks for (None when it asks for none), built once per index state."""
        from .digest import build_digest

        params = Params(query, {"topic", "query", "city", "limit"})
        topic = params.choice("topic", self.facets()["topics"])
        text = params.text("query", MAX_QUERY_CHARS)
        cities = [c.strip() for c in self.lists(params, "city") if c.strip()]
        if any(len(c) > MAX_TEXT_PARAM for c in cities):
            raise PolicymineError(f"a city is at most {MAX_TEXT_PARAM} characters")
        limit = params.number("limit", 1, MAX_DIGEST_PRACTICES, 40)
        given = {"topic": topic, "query": text, "city": cities, "limit": limit}
        if not topic and not text:
            return None
        self.practice_records()  # refuses an index whose records are missing or stale
        with Store(self.settings.index_dir) as store:
            key = (store.version(), topic, text, tuple(cities), limit)
        with self._digest_lock:  # a digest takes seconds; two at once would only share the CPU
            if key not in self._digests:
                self._digests[key] = build_digest(self.settings, topic, text, cities, limit)
                while len(self._digests) > 8:
                    self._digests.popitem(last=False)
            return self._digests[key], given

    @staticmethod
    def lists(params: Params, name: str) -> list[str]:
        return params.lists.get(name, [])

    def digest_page(self, query: str) -> Answer:
        from .digest import heatmap_png

        built = self.digest_for(query)
        params = Params(query, {"topic", "query", "city", "limit"})
        topics = [(t, t) for t in self.facets()["topics"]]
        cities = ", ".join(self.lists(params, "city"))
        form = (
            "<form class=digest action='/digest' method=get><div class=grid>"
            + select("topic", "Topic", topics, params.values.get("topic"), "no topic")
            + f"<label>Question or practice <input name=query value='{e(params.values.get('query', ''))}'"
            f" maxlength={MAX_QUERY_CHARS} placeholder='e.g. protecting residents from extreme heat'></label>"
            f"<label>Only cities <input name=city value='{e(cities)}' placeholder='all cities'"
            " title='one city; repeat the parameter for more'></label>"
            f"<label>Most practices <input type=number name=limit min=1 max={MAX_DIGEST_PRACTICES}"
            f" value='{e(str(params.values.get('limit', 40)))}'></label>"
            "</div><button type=submit>Build digest</button></form>"
        )
        if built is None:
            body = (
                "<h1>Digest</h1><p>Comparable practices across cities on a topic or a question,"
                " clustered, each quoted and cited to its page. Give a topic, a question, or both.</p>"
                + form
            )
            return html_answer(200, layout("Digest", body, "/digest"))
        digest, given = built
        with self._digest_lock:  # matplotlib's figure state is not for two threads at once
            figure = heatmap_png(digest)
        link = e(qs(given))
        parts = [
            f"<h1>{e(digest.title)}</h1>{form}",
            (
                f"<p class=summary role=status>{len(digest.practices)} practices from {len(digest.cities)} places"
                f" in {len(digest.clusters)} clusters · download <a href='/digest.html?{link}' download>HTML</a>"
                f" · <a href='/digest.md?{link}' download>Markdown</a></p>"
            ),
        ]
        if figure:
            uri = "data:image/png;base64," + base64.b64encode(figure).decode()
            parts.append(
                f"<figure class=heatmap><img src='{uri}' alt='Practices of this digest by instrument and city'>"
                "<figcaption>Practices of this digest by instrument (rows) and city (columns).</figcaption></figure>"
            )
        for i, cluster in enumerate(digest.clusters, start=1):
            parts.append(
                f"<section class=cluster id=c{i}><h2>{e(cluster.label)}</h2>"
                f"<p class=meta>{len(cluster.practices)} practices · {e(', '.join(cluster.cities))}</p>"
                + "".join(practice_html(p) for p in cluster.practices)
                + "</section>"
            )
        return html_answer(200, layout(digest.title, "".join(parts), "/digest"))

    def digest_download(self, query: str, kind: str) -> Answer:
        from .digest import heatmap_png, render_html, render_markdown

        built = self.digest_for(query)
        if built is None:
            raise PolicymineError("a digest needs a topic or a query: /digest.html?topic=energy")
        digest, given = built
        with self._digest_lock:
            figure = heatmap_png(digest)
        name = slug(" ".join(filter(None, (given["topic"], given["query"]))))
        if kind == "md":
            uri = figure and "data:image/png;base64," + base64.b64encode(figure).decode()
            data, content_type = render_markdown(digest, uri), "text/markdown"
        else:
            data, content_type = render_html(digest, figure), "text/html"
        return Answer(
            200,
            f"{content_type}; charset=utf-8",
            data.encode("utf-8"),
            {"Content-Disposition": f'attachment; filename="digest-{name}.{kind}"'},
        )

    # ------------------------------------------------------------------ overview and schema

    def overview_page(self, query: str) -> Answer:
        Params(query, set())
        facets = self.facets()
        docs = self.cached("catalogue", lambda store: store.catalogue())
        topic_bars = bars(
            sorted(facets["topics"].items(), key=lambda kv: (-kv[1], kv[0])), "passages"
        )
        city_bars = bars(sorted(facets["cities"], key=lambda kv: (-kv[1], kv[0])), "documents")
        country_bars = bars(
            sorted(facets["countries"], key=lambda kv: (-kv[1], kv[0])), "documents"
        )
        rows = "".join(
            f"<tr><td><a href='/page?document={d['id']}&amp;page=1'>{e(d['title'])}</a>"
            f"<div class=meta>{e(d['doc'])}</div></td><td>{e(d['city'] or '–')}</td><td>{e(d['country'] or '–')}</td>"
            f"<td>{d['year'] or '–'}</td><td>{e(d['lang'])}</td><td class=num>{d['pages']}</td>"
            f"<td>{e(', '.join(d['topics'][:3]))}</td></tr>"
            for d in docs
        )
        body = (
            f"<h1>Index overview</h1><p class=summary>{facets['documents']} documents ·"
            f" {sum(d['pages'] for d in docs)} pages · {facets['passages']} passages ·"
            f" model {e(self.settings.model)}</p>"
            "<div class=charts>"
            f"<section><h2>Passages per topic</h2>{topic_bars}</section>"
            f"<section><h2>Documents per city</h2>{city_bars}</section>"
            f"<section><h2>Documents per country</h2>{country_bars}</section></div>"
            "<h2>Documents</h2><div class=scroll><table class=docs><thead><tr><th>title</th><th>city</th>"
            "<th>country</th><th>year</th><th>lang</th><th>pages</th><th>main topics</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )
        return html_answer(200, layout("Overview", body, "/overview"))

    def openapi(self, query: str) -> Answer:
        Params(query, set())
        return json_answer(200, openapi_schema(self.facets()["topics"]))


# ---------------------------------------------------------------------- page images


class PdfPages:
    """Pages of the indexed PDFs: rendered to PNG, searched for a passage's lines.

    pdfium is not thread-safe: every call into it holds one lock. A file is served only when
    it is still the file that was indexed (its SHA-256, computed once per size and mtime)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: OrderedDict[Path, Any] = OrderedDict()
        self.images: OrderedDict[tuple, bytes] = OrderedDict()
        self.image_bytes = 0
        self.checked: dict[Path, tuple[int, int, str]] = {}

    def source(self, doc: dict) -> tuple[Path | None, str]:
        """(the document's PDF, "") when it is there and unchanged, else (None, why not)."""
        path = Path(doc["path"])
        if path.suffix.lower() != ".pdf":
            return None, f"{doc['name']} is not a PDF"
        try:
            stat = path.stat()
        except OSError:
            return None, f"{doc['name']} is no longer where it was indexed"
        held = self.checked.get(path)
        if not held or held[:2] != (stat.st_size, stat.st_mtime_ns):
            digest = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(2**20), b""):
                    digest.update(block)
            held = (stat.st_size, stat.st_mtime_ns, digest.hexdigest())
            self.checked[path] = held
        if held[2] != doc["sha256"]:
            return None, f"{doc['name']} has changed since it was indexed (ingest it again)"
        return path, ""

    def document(self, path: Path):
        """An open pdfium document (call with the lock held); a few stay open."""
        import pypdfium2

        if path in self.open:
            self.open.move_to_end(path)
            return self.open[path]
        pdf = self.open[path] = pypdfium2.PdfDocument(str(path))
        while len(self.open) > 4:
            self.open.popitem(last=False)[1].close()
        return pdf

    def size(self, path: Path, number: int) -> tuple[float, float]:
        """A page's width and height in points, as rendered."""
        with self.lock:
            return self.document(path)[number - 1].get_size()

    def png(self, path: Path, sha256: str, number: int, width: int) -> bytes:
        """Page `number` rendered `width` pixels wide, as PNG (kept in memory, 64 MB at most)."""
        key = (sha256, number, width)
        with self.lock:
            if key in self.images:
                self.images.move_to_end(key)
                return self.images[key]
            page = self.document(path)[number - 1]
            image = page.render(scale=width / page.get_width()).to_pil()
        out = io.BytesIO()
        image.save(out, "PNG", compress_level=1)  # level 1: a third of the time of the default
        data = out.getvalue()
        with self.lock:
            self.images[key] = data
            self.image_bytes += len(data)
            while self.image_bytes > IMAGE_CACHE_BYTES and len(self.images) > 1:
                self.image_bytes -= len(self.images.popitem(last=False)[1])
        return data

    def highlight(self, path: Path, number: int, text: str) -> list[tuple[float, ...]]:
        """Boxes (left, top, right, bottom as fractions of the page) around the passage's lines.

        The stored text is cleaned (hyphens joined, headers dropped), so it is looked for in
        pieces of HIGHLIGHT_WINDOW words with pdfium's text search; the lines from the first
        piece found to the last are the passage's (a passage running over a page break finds
        only its own part on each page)."""
        words = text.split()
        step = max(1, HIGHLIGHT_WINDOW // 2)
        starts = range(0, max(1, len(words) - HIGHLIGHT_WINDOW + 1), step)
        pieces = [" ".join(words[i : i + HIGHLIGHT_WINDOW]) for i in starts]
        if (
            len(words) > HIGHLIGHT_WINDOW
        ):  # the ends again, shorter: a line-end hyphen may split a piece
            pieces += [
                " ".join(words[-HIGHLIGHT_WINDOW:]),
                " ".join(words[:3]),
                " ".join(words[-3:]),
            ]
        with self.lock:
            page = self.document(path)[number - 1]
            if page.get_rotation():
                return []
            textpage = page.get_textpage()
            found = []
            for piece in pieces:
                match = textpage.search(piece, match_case=False).get_next()
                if match:
                    found.append(match)
            if not found:
                return []
            # a piece that also occurs elsewhere on the page must not stretch the span
            middle = sorted(start for start, _ in found)[len(found) // 2]
            reach = 2 * len(text) + 50
            found = [(s, n) for s, n in found if abs(s - middle) <= reach]
            first = min(s for s, _ in found)
            last = max(s + n for s, n in found)
            rects = [textpage.get_rect(i) for i in range(textpage.count_rects(first, last - first))]
            left, bottom, right, top = page.get_cropbox()
        width, height = right - left, top - bottom
        pad = 1.5
        return [
            (
                max(0.0, (x0 - left - pad) / width),
                max(0.0, (top - y1 - pad) / height),
                min(1.0, (x1 - left + pad) / width),
                min(1.0, (top - y0 + pad) / height),
            )
            for x0, y0, x1, y1 in rects
            if x1 > x0 and y1 > y0
        ]


# ---------------------------------------------------------------------- HTML pieces

NAV = (
    ("/", "Search"),
    ("/elsewhere", "Similar"),
    ("/practices", "Practices"),
    ("/digest", "Digest"),
    ("/overview", "Overview"),
)


def layout(title: str, body: str, here: str) -> str:
    """A whole page: head, navigation, the body."""
    links = "".join(
        f"<a href='{path}'{' aria-current=page' if path == here else ''}>{name}</a>"
        for path, name in NAV
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>{e(title)} · policymine</title><link rel=stylesheet href='/static/web.css'>"
        "<script src='/static/web.js' defer></script></head><body>"
        "<a class=skip href='#main'>Skip to content</a>"
        f"<header><a class=brand href='/'>policymine</a><nav aria-label='Main'>{links}</nav></header>"
        f"<main id=main>{body}</main>"
        "<footer>policymine · <a href='/openapi.json'>JSON API schema</a> · <kbd>/</kbd> to search</footer>"
        "</body></html>"
    )


def select(name: str, label: str, options, chosen: Any, blank: str | None) -> str:
    """A labelled <select>; `blank` is the text of the no-choice option (None: no such option)."""
    chosen = None if chosen is None else str(chosen)
    items = [f"<option value=''>{e(blank)}</option>"] if blank is not None else []
    items += [
        f"<option value='{e(str(value))}'{' selected' if str(value) == chosen else ''}>{e(text)}</option>"
        for value, text in options
    ]
    return f"<label>{e(label)} <select name={name}>{''.join(items)}</select></label>"


def intro() -> str:
    examples = (
        "incentives for rooftop solar",
        "how do cities let residents decide on the budget",
        "affordable housing quotas for new development",
        "protecting residents from urban heat",
    )
    links = "".join(f"<li><a href='/?{e(qs({'q': q}))}'>{e(q)}</a></li>" for q in examples)
    return (
        "<section class=intro><p>Search the passages of the city policy documents in this index,"
        " by meaning and by words. Filters narrow the search; each hit opens on its page.</p>"
        f"<p>For example:</p><ul>{links}</ul></section>"
    )


def facet_label(name: str, value: object) -> str:
    """How a facet's value reads: an instrument by its label ("funding or incentive")."""
    return INSTRUMENT_LABELS.get(str(value), str(value)) if name == "instrument" else str(value)


def place(city: str | None, country: str | None) -> str:
    return ", ".join(x for x in (city, country) if x) or "place unknown"


def marked(text: str, terms: list[str]) -> str:
    """Escaped text with the query's words (and words starting with their stem) in <mark>."""
    if not terms:
        return e(text)
    parts = sorted(
        {
            re.escape(t[: max(4, len(t) - 2)]) + r"\w*" if len(t) > 4 else re.escape(t) + r"\b"
            for t in terms
        },
        key=len,
        reverse=True,
    )
    pattern = re.compile(r"\b(?:" + "|".join(parts) + ")", re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out += [e(text[last : m.start()]), f"<mark>{e(m.group())}</mark>"]
        last = m.end()
    out.append(e(text[last:]))
    return "".join(out)


def snippet(text: str, terms: list[str], width: int = 480) -> str:
    """The passage, or a window of it around the first query word, escaped and marked."""
    flat = " ".join(text.split())
    if len(flat) > width:
        first = min(
            (m.start() for t in terms for m in [re.search(re.escape(t), flat, re.IGNORECASE)] if m),
            default=0,
        )
        start = max(0, first - width // 3)
        start = flat.rfind(" ", 0, start) + 1 if start else 0
        cut = flat[start : start + width].rsplit(" ", 1)[0]
        flat = ("… " if start else "") + cut + " …"
    return marked(flat, terms)


def hit_html(hit: dict, terms: list[str], params: dict, explain: bool) -> str:
    """One hit: title to its page, place, document and page, topics, marked snippet, actions."""
    pid = hit["passage_id"]
    topics = "".join(f"<span class=tag>{e(t)}</span>" for t in hit["topics"])
    why = ""
    if hit.get("explain"):
        why = f"<p class=why><b>why:</b> {e(explain_line(hit['explain']))}</p>"
    elif params.get("q") and not explain:
        why = f"<a class=why-link data-pid={pid} href='/?{e(qs(params, explain=1))}#hit-{pid}'>why?</a>"
    pages = page_span(hit["page"], hit["page_end"])
    return (
        f"<li class=hit id=hit-{pid} data-pid={pid}><h3><a href='/page?passage={pid}'>{e(hit['title'])}</a></h3>"
        f"<p class=meta>{e(place(hit['city'], hit['country']))} · {e(hit['doc'])} p. {pages}"
        f"{' · ' + str(hit['year']) if hit.get('year') else ''} · score {hit['score']:.3f} {topics}</p>"
        f"<p class=text>{snippet(hit['text'], terms)}</p>"
        f"<p class=actions><a href='/page?passage={pid}'>page {pages}</a>"
        f" <a href='/elsewhere?id={pid}'>similar elsewhere</a> {why}</p></li>"
    )


def practice_html(p: Practice) -> str:
    facts = [place(p.hit.city, p.hit.country), INSTRUMENT_LABELS.get(p.instrument or "", "–")]
    facts += [p.status or "", ", ".join(map(str, p.years)), ", ".join(p.quantities[:3])]
    tags = "".join(f"<span class=tag>{e(f)}</span>" for f in facts if f)
    page = p.quote_page or p.hit.page
    return (
        f"<article class=practice data-pid={p.hit.passage_id}><h3>{e(p.title)}</h3><div class=facts>{tags}</div>"
        f"<blockquote>{e(p.quote)}</blockquote><p class=cite>Source: "
        f"<a href='/page?passage={p.hit.passage_id}&amp;page={page}'>{e(p.citation)}</a></p></article>"
    )


def pager(params: dict, page: int, more: bool, path: str = "/") -> str:
    links = []
    if page > 1:
        links.append(f"<a rel=prev href='{path}?{e(qs(params, page=page - 1))}'>← previous</a>")
    if more:
        links.append(f"<a rel=next href='{path}?{e(qs(params, page=page + 1))}'>next →</a>")
    return f"<nav class=pager aria-label='Result pages'>{' '.join(links)}</nav>" if links else ""


def bars(counts, unit: str) -> str:
    """A bar chart in HTML and CSS: one labelled bar per (name, count)."""
    counts = list(counts)
    top = max((n for _, n in counts), default=0) or 1
    rows = "".join(
        f"<div class=bar><span class=label>{e(str(name))}</span>"
        f"<span class=fill style='width:{n / top:.1%}'></span><span class=n>{n}</span></div>"
        for name, n in counts
    )
    return f"<div class=bars role=list aria-label='{unit}'>{rows}</div>"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "all"


# ---------------------------------------------------------------------- OpenAPI


def openapi_schema(topics: Any) -> dict:
    """The JSON API (/search, /similar, /health) described as OpenAPI 3.0."""

    def integer(name: str, low: int, high: int, text: str, default: int | None = None) -> dict:
        schema: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
        if default is not None:
            schema["default"] = default
        return {"name": name, "in": "query", "description": text, "schema": schema}

    def string(name: str, text: str, **schema: Any) -> dict:
        return {
            "name": name,
            "in": "query",
            "description": text,
            "schema": {"type": "string", **schema},
        }

    filters = [
        string("topic", "Only passages tagged with this taxonomy topic.", enum=list(topics)),
        string("city", "Only documents about this city (case-insensitive)."),
        string("country", "Only documents of this country, an ISO code such as DE."),
        string("doc", "Only this document: a file name, or part of it or of the title."),
        string("lang", "Only documents in this language, e.g. de."),
        integer("year_from", *YEARS, "Only documents of this year or later (also year-from)."),
        integer("year_to", *YEARS, "Only documents of this year or earlier (also year-to)."),
    ]
    common = [
        integer("k", 1, MAX_K, "How many hits.", 10),
        integer(
            "per_doc", 1, MAX_PER_DOC, "At most this many hits from one document (also per-doc)."
        ),
    ]
    hits = {"$ref": "#/components/schemas/Hits"}
    errors = {
        "400": {
            "description": "A bad or unknown parameter.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
        "404": {
            "description": "An unknown passage or endpoint.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    }
    nullable = lambda kind: {"type": kind, "nullable": True}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "policymine",
            "version": "1",
            "description": "Search city policy documents: the JSON API of `policymine serve`."
            " Every parameter is checked before a search runs; a parameter not listed is an error."
            " Every error, whatever its status, is JSON (Error); methods other than GET and HEAD"
            " get 405.",
        },
        "paths": {
            "/search": {
                "get": {
                    "summary": "The passages best matching a query (hybrid, dense or keyword).",
                    "parameters": [
                        string(
                            "q",
                            "What to look for, in plain words.",
                            maxLength=MAX_QUERY_CHARS,
                            minLength=1,
                        )
                        | {"required": True},
                        string("mode", "How to rank.", enum=list(MODES), default="hybrid"),
                        string(
                            "explain",
                            "1 to say why each hit matched.",
                            enum=["0", "1", "true", "false", "yes", "no"],
                        ),
                        *common,
                        *filters,
                    ],
                    "responses": {
                        "200": {
                            "description": "Hits, best first.",
                            "content": {"application/json": {"schema": hits}},
                        },
                        **errors,
                    },
                }
            },
            "/similar": {
                "get": {
                    "summary": "Comparable passages in other documents and cities, like a stored passage or a text.",
                    "parameters": [
                        integer("id", 0, 2**63 - 1, "A stored passage (give id or text)."),
                        string(
                            "text",
                            "Any text, e.g. a measure you are drafting.",
                            maxLength=MAX_TEXT_CHARS,
                        ),
                        *common,
                        *filters,
                    ],
                    "responses": {
                        "200": {
                            "description": "Hits, diversified.",
                            "content": {"application/json": {"schema": hits}},
                        },
                        **errors,
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "The index being served and the state of its reloads.",
                    "responses": {
                        "200": {
                            "description": "Status.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "400": errors["400"],  # it takes no parameters
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "status"],
                    "properties": {
                        "error": {"type": "string"},
                        "status": {"type": "integer", "description": "the HTTP status again"},
                    },
                },
                "Hits": {
                    "type": "object",
                    "required": ["hits", "took_ms"],
                    "properties": {
                        "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                        "close": {
                            "type": "boolean",
                            "description": "False: nothing matched closely; the hits are only the nearest.",
                        },
                        "took_ms": {"type": "number"},
                    },
                },
                "Hit": {
                    "type": "object",
                    "properties": {
                        "rank": {"type": "integer"},
                        "passage_id": {"type": "integer"},
                        "doc": {"type": "string"},
                        "title": {"type": "string"},
                        "page": {"type": "integer", "description": "1-based page of the PDF"},
                        "page_end": nullable("integer"),
                        "text": {"type": "string"},
                        "score": {"type": "number"},
                        "topics": {"type": "array", "items": {"type": "string"}},
                        "city": nullable("string"),
                        "country": nullable("string"),
                        "lang": {"type": "string"},
                        "section": nullable("string"),
                        "year": nullable("integer"),
                        "explain": {"type": "object", "description": "with explain=1"},
                        "nearest": {
                            "type": "boolean",
                            "description": "true when nothing matched closely (absent otherwise)",
                        },
                    },
                },
            }
        },
    }
