"""Practice records: which passages describe a concrete measure, and what the text says of it.

A practice is an actor doing something specific ("the City will require...", "Hannover
fördert...", "we launched a resident panel..."), as opposed to context, statistics or
general intent (eval/README.md has the labelling rules). `detect` scores a passage with
transparent English and German cues (an actor next to an action verb, an action item's
imperative, a named instrument; statistics, assumptions and references count against),
weighted by a logistic regression fitted on the dev split of eval/practices.jsonl
(eval/train_practices.py writes data/practice_weights.json).

`record` turns a practice passage into a record whose every field carries its evidence: the
substring of the passage it was read from, or "document metadata" for the city and country.
A field the text does not support stays empty. Records are computed once from what ingest
already stored (text, section, entities, topics) and kept in the `practices` table; no
model runs here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from . import classify
from .clean import SENTENCE_END_RE, YEAR_RE, comparable
from .config import Settings
from .cues import (
    CUES,
    INSTRUMENTS,
    features,
    instrument_matches,
    instrument_of,
    passage_features,
    status_of,
    word_at,
)
from .errors import PolicymineError
from .filters import resolve_filters
from .store import Row, Store, write_lock
from .tag import TermMatcher, load_taxonomy
from .types import Document, Entity, Filters, Passage, Practice

INSTRUMENT_LABELS = {
    "regulation": "regulation",
    "funding_incentive": "funding or incentive",
    "programme_service": "programme or service",
    "infrastructure_investment": "infrastructure or investment",
    "partnership": "partnership",
    "participation_process": "participation process",
    "information_education": "information or education",
    "target_plan": "target or plan",
}
MIN_PRACTICE_SCORE = 0.5  # the cue detector's threshold; a learned one carries its own
DETECTOR_VERSION = "1"  # the cue detector's; bump when cues or weights change (records rebuilt)


def detector_version(model: str) -> str:
    """The version of the detector an index of this embedding model gets: the learned
    classifiers' weights digest where they ship for the model, else the cue detector's."""
    learned = classify.load(model)
    return f"2-{learned.version}" if learned else DETECTOR_VERSION


@dataclass(frozen=True)
class Verdict:
    """What the detector says of one passage."""

    score: float  # how likely it is a practice (calibrated when learned)
    is_practice: bool
    instrument: str | None
    status: str | None
    how: str  # "classifier" or "cues"


@cache
def _terms() -> TermMatcher:
    return TermMatcher(load_taxonomy())


def judge(
    texts: Sequence[str], vectors: np.ndarray | None, document: str, model: str
) -> list[Verdict]:
    """Practice, instrument and status of each passage: by the learned classifiers when they
    ship for `model` and the vectors are given, else by the transparent cues.

    Args:
        texts: the passages.
        vectors: their embeddings under `model` (rows in the order of `texts`), or None.
        document: the document's file name and title (a draft plan, a code, a report).
        model: the embedding model's registry name.
    """
    learned = classify.load(model) if vectors is not None and len(texts) else None
    if learned is None or np.asarray(vectors).shape[1] != learned.dense_dim:
        out = []
        for text in texts:
            score = detect(text)
            out.append(
                Verdict(
                    score,
                    score >= MIN_PRACTICE_SCORE,
                    instrument_of(text)[0],
                    status_of(text)[0],
                    "cues",
                )
            )
        return out
    feats = [passage_features(t, document, _terms().counts(t)) for t in texts]
    x = learned.matrix(vectors, feats)
    practice = learned.predict("practice", x)[:, 0]
    threshold = float(learned.heads["practice"].thresholds[0])
    instruments = learned.heads["instrument"].classes
    statuses = learned.heads["status"].classes
    inst = learned.predict("instrument", x).argmax(axis=1)
    stat = learned.predict("status", x).argmax(axis=1)
    return [
        Verdict(float(p), bool(p >= threshold), instruments[i], statuses[j], "classifier")
        for p, i, j in zip(practice, inst, stat)
    ]


@cache
def _weights() -> dict:
    """The logistic-regression weights over the cue features (eval/train_practices.py)."""
    path = resources.files("policymine").joinpath("data/practice_weights.json")
    return json.loads(path.read_text("utf-8"))


def detect(text: str, section: str | None = None) -> float:
    """How clearly a passage describes a concrete practice: a probability-like 0..1 score."""
    w = _weights()
    z = w["bias"] + sum(
        w["coef"].get(name, 0.0) * value for name, value in features(text, section).items()
    )
    return 1.0 / (1.0 + math.exp(-z))


_QUANTITY_RE = re.compile(
    r"(?:(?:US)?\$|€|£|EUR\s?)\s?\d[\d.,]*(?:\s?(?:million|billion|mio\.?|mrd\.?|k|m|bn))?"
    r"|\d[\d.,]*\s?(?:million|billion|mio\.?|millionen|mrd\.?|milliarden)?\s?(?:euros?|€|dollars|eur|usd)\b"
    r"|\d[\d.,]*\s?(?:%|percent|per cent|prozent)"
    r"|\d[\d.,]*\s?(?:t|tonnes|tons|kt|mt|tonnen)\s?(?:of\s)?(?:co2e?|co₂e?|cO2)(?:-?äquivalente?n?|-?eq)?"
    r"|\d[\d.,]*\s?(?:kwh|mwh|gwh|kwp|kw|mw|gw)\b"
    r"|\d[\d.,]*\s?(?:km|kilometres|kilometers|miles|hectares|ha|m²|m2|acres)\b"
    r"|\d[\d.,]*\s?(?:[^\W\d][\w-]* )?(?:households|homes|units|dwellings|apartments|flats|buildings|trees|residents|jobs|projects|heat pumps"
    r"|panels|participants|stations|chargers|vehicles|buses|bikes|wohnungen|haushalte|gebäude|bäume|einwohner|projekte|ladepunkte|fahrzeuge"
    r"|wärmepumpen|teilnehmende)\b",
    re.IGNORECASE,
)
_ORG_PATTERN_RE = re.compile(
    r"\b(the City( of [A-Z][\w-]+)?|City Council|the Council|[A-Z][\w-]+ (City |County )?Council|Stadtwerke( [A-ZÄÖÜ][\w-]+)?|Stadtverwaltung"
    r"|Landeshauptstadt [A-ZÄÖÜ][\w-]+|Stadt [A-ZÄÖÜ][\w-]+|Gemeinderat|Stadtrat|[A-Z][\w-]+ (Department|Agency|Authority) of [A-Z][\w ]+?(?=[,.;)]| and| to)"
    r"|Department of [A-Z][\w ]+?(?=[,.;)]| and| to)|Metro [A-Z][\w]+( [A-Z][\w]+)?)"
)


@dataclass
class Record:
    """A practice record: every field with the evidence it was read from (empty when unsupported)."""

    passage_id: int
    score: float
    title: str
    instrument: str | None
    status: str | None
    actors: list[str]
    years: list[int]
    quantities: list[str]
    quote: str
    page: int  # the page the quote is on
    evidence: dict[str, str | list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def record(
    passage_id: int,
    text: str,
    section: str | None,
    entities: list[Entity],
    pages: dict[int, str],
    page: int,
    page_end: int | None = None,
    score: float | None = None,
    verdict: Verdict | None = None,
) -> Record | None:
    """The practice record of a passage, or None when it is no practice or no quote sits on one page.

    Args:
        passage_id: the stored passage.
        text, section: its text and section heading.
        entities: its stored entities (ORG, GPE, ...).
        pages: page number -> extracted page text passed through `comparable`, at least for `page`..`page_end`.
        page, page_end: the passage's page span.
        score: the cue detector's score, when already known.
        verdict: the detector's verdict (see `judge`); by default the cue detector's.
    """
    if verdict is None:
        score = detect(text, section) if score is None else score
        verdict = Verdict(
            score, score >= MIN_PRACTICE_SCORE, instrument_of(text)[0], status_of(text)[0], "cues"
        )
    if not verdict.is_practice:
        return None
    score = verdict.score
    quote, quote_page = _quote(text, pages, page, page_end or page)
    if not quote:
        return None
    instrument, status = verdict.instrument, verdict.status
    instrument_words = _evidence(text, instrument_matches(text).get(instrument or "", []))
    status_words = status_of(text)[1] if status_of(text)[0] == status else None
    years = sorted({int(y) for y in YEAR_RE.findall(text)})
    quantities = _unique(
        m.group(0).strip()
        for m in _QUANTITY_RE.finditer(text)
        if not YEAR_RE.fullmatch(m.group(0).strip())
    )
    actors = _unique(
        [e.text for e in entities if e.label in ("ORG", "GPE") and e.text in text]
        + [m.group(0) for m in _ORG_PATTERN_RE.finditer(text)]
    )
    actors = [
        a for a in actors if not any(a.lower() in b.lower() and a != b for b in actors)
    ]  # "Council" in "City Council"
    title, title_from = _title(section, quote)
    evidence: dict[str, str | list[str]] = {
        "title": title_from,
        "city": "document metadata",
        "country": "document metadata",
        "topics": "topic tagger (passage text)",
        "instrument": instrument_words or "",
        "status": status_words or "",
        "actors": actors,
        "years": [str(y) for y in years],
        "quantities": quantities,
    }
    return Record(
        passage_id,
        round(score, 3),
        title,
        instrument,
        status,
        actors[:8],
        years,
        quantities[:8],
        quote,
        quote_page,
        evidence,
    )


def document_records(
    doc: Document, passages: Sequence[Passage], vectors: np.ndarray | None, model: str
) -> list[tuple[int, dict]]:
    """The practice records of an analysed document before it is stored: (the passage's
    position in `passages`, its record); the store fills in the passage id it assigns."""
    pages = {page.number: comparable(page.text) for page in doc.pages}
    chosen = [i for i, p in enumerate(passages) if p.kind == "text"]
    verdicts = judge(
        [passages[i].text for i in chosen],
        None if vectors is None else np.asarray(vectors)[chosen],
        f"{doc.name} {doc.title}",
        model,
    )
    found = (
        (
            i,
            record(
                0, p.text, p.section, p.entities, pages, p.page, p.page_end or p.page, verdict=v
            ),
        )
        for i, v in zip(chosen, verdicts)
        for p in [passages[i]]
    )
    return [(i, rec.to_dict()) for i, rec in found if rec]


def practice_records(store: Store, doc_id: int) -> list[dict]:
    """The practice records of one stored document (see `record`), as ingest computes them."""
    passages, entities, raw_pages = store.document_passages(doc_id)
    pages = {number: comparable(text) for number, text in raw_pages.items()}
    _, vectors = store.vectors([pid for pid, *_ in passages])
    model = store.index_meta().model or ""
    verdicts = judge(
        [text for _, text, *_ in passages],
        vectors if len(passages) else None,
        store.document_label(doc_id),
        model,
    )
    records = (
        record(pid, text, section, entities.get(pid, []), pages, page, page_end, verdict=v)
        for (pid, text, section, page, page_end), v in zip(passages, verdicts)
    )
    return [rec.to_dict() for rec in records if rec]


def build_practices(store: Store, doc_ids: list[int] | None = None) -> int:
    """Compute and store the practice records of some documents (all when None); returns how many.
    The store must be open for writing, under `write_lock`."""
    records = [
        r
        for doc_id in (store.doc_ids() if doc_ids is None else doc_ids)
        for r in practice_records(store, doc_id)
    ]
    store.replace_practices(doc_ids, records)
    if doc_ids is None:
        store.set_meta(practices=detector_version(store.index_meta().model or ""))
    return len(records)


def ensure_practices(store: Store, rebuild: bool = False) -> None:
    """Backfill, by the writer that holds the lock: build every record when the index has none
    from this detector version (or when asked)."""
    meta = store.index_meta()
    if rebuild or meta.practices != detector_version(meta.model or ""):
        build_practices(store)


def backfill_practices(index_dir: Path, rebuild: bool = False) -> None:
    """For a reading command (`practices`, `digest`): when the stored records are missing or
    from another detector version, take the writer lock and build them, once."""
    with Store(index_dir) as store:
        meta = store.index_meta()
        current = meta.practices == detector_version(meta.model or "")
    if rebuild or not current:
        with write_lock(index_dir), Store(index_dir, write=True) as store:
            ensure_practices(store, rebuild)


def to_practice(row: Row, rec: dict, rank: int = 1, score: float | None = None) -> Practice:
    """A Practice from a stored passage row and its stored record."""
    hit = row.to_hit(rank, rec["score"] if score is None else score)
    fields = ("title", "status", "actors", "years", "quantities", "quote", "evidence")
    return Practice(
        hit=hit,
        score=rec["score"],
        instrument=rec["instrument"],
        quote_page=rec["page"],
        **{k: rec[k] for k in fields},
    )


def list_practices(
    settings: Settings,
    filters: Filters | None = None,
    instrument: str | None = None,
    limit: int | None = None,
    rebuild: bool = False,
) -> list[Practice]:
    """Stored practice records, best first, filtered by topic, city, ... and instrument type."""
    if instrument and instrument not in INSTRUMENTS:
        raise PolicymineError(
            f"unknown instrument {instrument!r}: use one of {', '.join(INSTRUMENTS)}"
        )
    backfill_practices(settings.index_dir, rebuild)
    with Store(settings.index_dir) as store:
        found = store.practices(resolve_filters(filters or Filters(), store), instrument, limit)
    return [to_practice(row, rec, rank) for rank, (row, rec) in enumerate(found, start=1)]


def _quote(text: str, pages: dict[int, str], page: int, page_end: int) -> tuple[str, int]:
    """The passage's best one to three sentences that stand on one page, and that page."""
    sentences = [
        s.strip() for s in SENTENCE_END_RE.split(" ".join(text.split())) if len(s.split()) >= 4
    ]
    if not sentences:
        return "", page
    ranked = sorted(range(len(sentences)), key=lambda i: -_sentence_weight(sentences[i]))
    targets = {p: pages.get(p, "") for p in range(page, page_end + 1)}
    for i in ranked[:4]:
        for width in (
            3,
            2,
            1,
        ):  # the best sentence with what follows it, if that stays on the page and short
            quote = " ".join(sentences[i : i + width])
            if len(quote.split()) > 70 and width > 1:
                continue
            found = next((p for p, t in targets.items() if comparable(quote) in t), None)
            if found is not None:
                return _trim(quote), found
    return "", page


def _sentence_weight(sentence: str) -> float:
    return sum(
        1.0
        for name in (
            "actor_action",
            "named_actor_action",
            "german_action",
            "imperative",
            "past_action",
        )
        if CUES[name].search(sentence)
    ) + (0.5 if _QUANTITY_RE.search(sentence) else 0.0)


def _trim(quote: str, limit: int = 70) -> str:
    words = quote.split()
    return quote if len(words) <= limit else " ".join(words[:limit]) + " …"


def _title(section: str | None, quote: str) -> tuple[str, str]:
    """A short title: a specific section heading, else the quote's opening words."""
    section = re.sub(r"^\d+(\.\d+)*\.?\s+", "", section or "") or None
    if (
        section
        and 2 <= len(section.split()) <= 14
        and section[:1].isalpha()
        and not section.rstrip().endswith((":", "-", ","))
        and not re.search(
            r"\(\d+\)|^(chapter|kapitel|section|teil|table|tabelle|figure|abbildung)\b|\.{3,}",
            section,
            re.IGNORECASE,
        )
    ):
        return section, section
    words = re.sub(r"^(\d+(\.\d+)*\.?|[•▪\-–])\s*", "", quote).split()
    title = " ".join(words[:10]).rstrip(",;:") + (" …" if len(words) > 10 else "")
    return title, " ".join(words[:10])


def _evidence(text: str, found: list[re.Match]) -> str | None:
    """The whole word(s) of the first cue match, in the text's own case."""
    if not found:
        return None
    source = text if len(text) == len(text.lower()) else text.lower()
    return word_at(source, found[0].start(), found[0].end())


def _unique(items) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        key = " ".join(item.split()).lower()
        if key and key not in seen:
            seen[key] = " ".join(item.split())
    return list(seen.values())
