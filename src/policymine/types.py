"""The plain dataclasses that flow between stages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Block:
    """A run of text on a page: a heading, a paragraph, a list item or a table."""

    kind: str  # "heading" | "paragraph" | "list" | "table"
    text: str
    start: int = 0  # character offsets into Page.text
    end: int = 0
    credit: bool = False  # a byline or cover credit: printed on the page, never in a passage


@dataclass
class Page:
    """One physical page; `number` is the 1-based page index in the PDF (the citation key)."""

    number: int
    text: str
    blocks: list[Block] = field(default_factory=list)
    label: str | None = None  # the printed page label, where the PDF has one
    quality: float = 1.0  # 0 = no text / garbage, 1 = clean prose
    source: str = "text"  # "text": the PDF's text layer | "ocr": read by Tesseract

    def to_dict(self) -> dict:
        """The page as `extract --format json` writes it (without its blocks)."""
        return {
            "page": self.number,
            "label": self.label,
            "text": self.text,
            "quality": self.quality,
            "source": self.source,
        }


@dataclass
class Document:
    """An extracted document: metadata and cleaned pages."""

    path: str
    name: str  # file name, the `doc` users see and filter on
    sha256: str
    title: str
    lang: str
    pages: list[Page]
    year: int | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class Entity:
    """A named entity found in a passage; `norm` is its canonical form."""

    text: str
    label: str
    norm: str | None = None
    country: str | None = None

    def to_dict(self) -> dict:
        """The entity as the JSON outputs write it: text, label and canonical form."""
        return {"text": self.text, "label": self.label, "norm": self.norm}


def page_span(page: int, page_end: int | None) -> str:
    """The page or page span to cite: "12" or "12-13"."""
    return f"{page}-{page_end}" if page_end and page_end != page else str(page)


@dataclass
class Passage:
    """A few sentences from one section of a document, with provenance."""

    doc: str
    page: int
    text: str
    section: str | None = None
    page_end: int | None = None
    char_start: int = 0  # offsets into the text of `page`
    char_end: int = 0
    kind: str = "text"  # "text" | "table"
    id: int | None = None
    topics: dict[str, float] = field(default_factory=dict)
    entities: list[Entity] = field(default_factory=list)

    def to_dict(self, *fields: str) -> dict:
        """The named fields in that order (all by default), entities as dicts."""
        data = {name: getattr(self, name) for name in fields or self.__dataclass_fields__}
        if "entities" in data:
            data["entities"] = [e.to_dict() for e in self.entities]
        return data


@dataclass
class DocumentTags:
    """Document-level tags aggregated from passages."""

    city: str | None
    country: str | None
    topics: dict[str, float]
    entities: list[tuple[str, str, int]]  # (text, label, count)
    region: str | None = None  # the city's state or Land, or a regional document's region


@dataclass(frozen=True)
class Filters:
    """Restrictions on which passages a search may return; applied inside the search."""

    topic: str | None = None
    city: str | None = None
    country: str | None = None
    doc: str | None = None  # file name, or part of the file name or title
    lang: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    exclude_doc: str | None = None  # `similar`: never the passage's own document

    def __bool__(self) -> bool:
        return any(getattr(self, f) is not None for f in self.__dataclass_fields__)


def explain_line(explain: dict) -> str:
    """One line from a hit's explanation: similarity, matched terms with bm25, ranks, topics."""
    parts = []
    if explain.get("dense"):
        d = explain["dense"]
        parts.append(
            f"similarity {d['similarity']:.3f}" + (f" (dense #{d['rank']})" if d["rank"] else "")
        )
    kw = explain.get("keyword") or {}
    if kw.get("terms"):
        terms = ", ".join(f"{t} {s:.1f}" for t, s in kw["terms"].items())
        parts.append(
            f"bm25 {kw['bm25']:.1f} = {terms}" + (f" (keyword #{kw['rank']})" if kw["rank"] else "")
        )
    else:
        parts.append("no query word in the text")
    fused = explain["fused"]
    parts.append(f"{fused['method']} {fused['score']:.4f} → #{fused['rank']}")
    if explain.get("topics"):
        parts.append("topics " + ", ".join(f"{t} {s:.2f}" for t, s in explain["topics"].items()))
    return " · ".join(parts)


@dataclass
class Hit:
    """One search result."""

    rank: int
    passage_id: int
    doc: str
    title: str
    page: int
    text: str
    score: float
    topics: list[str]
    city: str | None
    country: str | None
    lang: str
    section: str | None = None
    page_end: int | None = None  # set when the passage runs on over a page break
    year: int | None = None
    explain: dict | None = None  # why it matched, when asked (search --explain)
    # the query matched nothing closely: this is only the nearest there is (search's floor)
    nearest: bool = False

    @property
    def pages(self) -> str:
        """The page or page span to cite: "12" or "12-13"."""
        return page_span(self.page, self.page_end)

    def to_dict(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if self.explain is None:
            del data["explain"]
        if not self.nearest:
            del data["nearest"]
        return data


@dataclass
class Practice:
    """A passage that describes a concrete measure, with its record: each field as the text states it.

    `evidence` maps each field to the words of the passage it was read from ("document
    metadata" for city and country); a field the text does not support stays empty.
    """

    hit: Hit
    score: float  # 0..1, how clearly the passage describes a concrete practice
    instrument: str | None  # one of practices.INSTRUMENTS: "regulation", "funding_incentive", ...
    title: str = ""
    status: str | None = None  # "planned" | "adopted" | "implemented", where stated
    actors: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    quantities: list[str] = field(default_factory=list)
    quote: str = ""  # the evidence quote: one to three sentences, all on `quote_page`
    quote_page: int | None = None
    evidence: dict = field(default_factory=dict)
    pages: list[int] = field(default_factory=list)  # every page the measure is written on

    @property
    def citation(self) -> str:
        """Where the quote is written: title, file and page."""
        return f"{self.hit.title} ({self.hit.doc}), p. {self.quote_page or self.hit.pages}"

    def to_dict(self) -> dict:
        return {
            "passage_id": self.hit.passage_id,
            "title": self.title,
            "city": self.hit.city,
            "country": self.hit.country,
            "topics": self.hit.topics,
            "instrument": self.instrument,
            "status": self.status,
            "score": round(self.score, 3),
            "actors": self.actors,
            "years": self.years,
            "quantities": self.quantities,
            "quote": self.quote,
            "doc": self.hit.doc,
            "document_title": self.hit.title,
            "page": self.quote_page or self.hit.page,
            "citation": self.citation,
            "practice_score": self.score,
            "evidence": self.evidence,
        }
