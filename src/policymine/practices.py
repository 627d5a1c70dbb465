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
from .clean import SENTENCE_END_RE, STOPWORDS, YEAR_RE, comparable
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
DUPLICATE_COSINE = 0.92  # passages this close within one document describe one measure
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
    title, title_from = _title(section, text, quote, instrument)
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
    # Positions stand in for the passage ids the store assigns (it maps `passage_id` and `merged`).
    found = [
        record(i, p.text, p.section, p.entities, pages, p.page, p.page_end or p.page, verdict=v)
        for i, v in zip(chosen, verdicts)
        for p in [passages[i]]
    ]
    records = [rec.to_dict() for rec in found if rec]
    near = {} if vectors is None else {r["passage_id"]: vectors[r["passage_id"]] for r in records}
    return [(r["passage_id"], r) for r in merge_duplicates(records, near)]


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
    found = (
        record(pid, text, section, entities.get(pid, []), pages, page, page_end, verdict=v)
        for (pid, text, section, page, page_end), v in zip(passages, verdicts)
    )
    records = [rec.to_dict() for rec in found if rec]
    near = dict(zip([pid for pid, *_ in passages], vectors)) if len(passages) else {}
    return merge_duplicates(records, near)


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
        pages=rec.get("pages", [rec["page"]]),
        **{k: rec[k] for k in fields},
    )


def list_practices(
    settings: Settings,
    filters: Filters | None = None,
    instrument: str | None = None,
    limit: int | None = None,
    rebuild: bool = False,
    min_score: float | None = None,
) -> list[Practice]:
    """Stored practice records, best first, filtered by topic, city, ..., instrument type and
    the detector's probability (`min_score`)."""
    if instrument and instrument not in INSTRUMENTS:
        raise PolicymineError(
            f"unknown instrument {instrument!r}: use one of {', '.join(INSTRUMENTS)}"
        )
    backfill_practices(settings.index_dir, rebuild)
    filters = filters or Filters()
    with Store(settings.index_dir) as store:
        found = store.practices(
            resolve_filters(filters, store), instrument, limit, min_score=min_score
        )
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


# "Maßnahme 3.2: Solardachkataster", "Action E-4: Adopt a benchmarking ordinance", "Policy H3 -
# Affordable housing": a measure's own code and name.
_MEASURE_NAME_RE = re.compile(
    r"\b((?:Maßnahme|Massnahme|Maßnahmen-Nr\.?|Measure|Action|Policy|Strategy|Objective|Program(?:me)?|Projekt"
    r"|Handlungsfeld)\s*(?:Nr\.\s*)?[A-Z]{0,4}[- .]?\d+(?:\.\d+)*[a-z]?|[A-Z]{1,4}[- ]?\d+(?:\.\d+)*[a-z]?)"
    r"\s*[:–—-]\s*([A-ZÄÖÜ\d„\"][^\n.;:!?]{3,90})"
)
# A title that is only a topic or a framing phrase, not a measure.
_GENERIC_TITLE_RE = re.compile(
    r"^(introduction|background|overview|summary|context|equity|health|energy|climate|housing|mobility"
    r"|environment|governance|economy|conclusion|einleitung|hintergrund|zusammenfassung|ausgangslage|fazit)\b",
    re.IGNORECASE,
)
_GERMAN_RE = re.compile(r"\b(der|die|das|und|mit|für|wird|werden)\b")
# A heading that argues or asks ("Subsidies that fill the gaps", "How we pay for it").
_RHETORICAL_RE = re.compile(
    r"\b(that|which|how|why|what|who|wie|warum|was|welche)\b", re.IGNORECASE
)
# Nouns that complete an instrument's name: "rebate programme", "Förder richtlinie".
_MEASURE_NOUNS = {
    "program",
    "programme",
    "programs",
    "programmes",
    "ordinance",
    "fund",
    "scheme",
    "grant",
    "grants",
    "initiative",
    "project",
    "plan",
    "policy",
    "standard",
    "requirement",
    "requirements",
    "code",
    "campaign",
    "service",
    "network",
    "partnership",
    "council",
    "board",
    "pilot",
    "strategy",
    "programm",
    "richtlinie",
    "satzung",
    "konzept",
    "kampagne",
    "projekt",
    "netzwerk",
}
_TITLE_STOP = STOPWORDS | {
    "new",
    "all",
    "each",
    "every",
    "its",
    "their",
    "this",
    "these",
    "those",
    "during",
    "across",
    "within",
    "through",
    "under",
    "while",
    "when",
    "where",
    "per",
    "während",
    "sowie",
}


def _title(section: str | None, text: str, quote: str, instrument: str | None) -> tuple[str, str]:
    """A title that names the measure, and where it came from: the measure's own code and name
    (a measure sheet, a numbered policy), else the words around the instrument in the text
    ("tree protection ordinance", "Förderprogramm Dachbegrünung"), else a specific section
    heading, else the action the quote states ("require new buildings to install solar")."""
    for source in (section or "", text):
        m = _MEASURE_NAME_RE.search(source)
        if m:
            name = _cut(m.group(2), 10)
            if len(name.split()) >= 1 and not name[:1].isdigit():
                return f"{m.group(1)}: {name}", m.group(0)
    heading = re.sub(r"^\d+(\.\d+)*\.?\s+", "", section or "").strip()
    if (
        heading
        and 2 <= len(heading.split()) <= 12
        and heading[:1].isalpha()
        and not heading.rstrip().endswith((":", "-", ",", "?"))
        and not _GENERIC_TITLE_RE.search(heading)
        and not _RHETORICAL_RE.search(heading)
        and (instrument_matches(heading).get(instrument or "") or _MEASURE_NAME_RE.search(heading))
    ):
        return heading, heading
    phrase = _instrument_phrase(text, instrument)
    if phrase:
        return phrase[:1].upper() + phrase[1:], phrase
    action = _action_phrase(quote)
    if action:
        return action[:1].upper() + action[1:], action
    words = re.sub(r"^(\d+(\.\d+)*\.?|[•▪\-–])\s*", "", quote).split()
    title = " ".join(words[:10]).rstrip(",;:") + (" …" if len(words) > 10 else "")
    return title, " ".join(words[:10])


def _cut(text: str, limit: int) -> str:
    """At most `limit` words, never cut inside a word, without a dangling joiner."""
    words = " ".join(text.split()).split()[:limit]
    while words and words[-1].lower().strip(",") in _TITLE_STOP:
        words.pop()
    return " ".join(words).rstrip(",;:-–")


def _instrument_phrase(text: str, instrument: str | None) -> str | None:
    """The noun phrase around the first cue of the instrument: the cue word with up to three
    content words before it and a short "for/für ..." after it; None when too thin."""
    found = instrument_matches(text).get(instrument or "", [])
    lower = text.lower()
    for m in found[:3]:
        start, end = m.start(), m.end()
        while start > 0 and (lower[start - 1].isalnum() or lower[start - 1] == "-"):
            start -= 1
        while end < len(lower) and (lower[end].isalnum() or lower[end] == "-"):
            end += 1
        head = text[start:end]
        if _GERMAN_RE.search(text) and head[:1].islower():
            continue  # a German verb ("fördert"), not the measure's name (a noun, capitalised)
        before = text[:start].split()[-3:]
        kept: list[str] = []
        for word in reversed(before):
            bare = word.strip("()„\"'").lower()
            if not bare.isalpha() or bare in _TITLE_STOP or word.endswith((",", ".", ";", ":")):
                break
            kept.insert(0, word.strip("()„\"'"))
        noun = re.match(r"\s+([\w-]+)", text[end:])
        if noun and noun.group(1).lower() in _MEASURE_NOUNS:
            head, end = f"{head} {noun.group(1)}", end + noun.end()
        after = re.match(r"\s+(for|für|zur|zum|on|of)((?:\s+[\w-]+){1,3})", text[end:])
        tail_words = []
        for word in after.group(2).split() if after else []:
            if word.lower() in _TITLE_STOP:
                break
            tail_words.append(word)
        tail = f" {after.group(1)} {' '.join(tail_words)}" if tail_words else ""
        phrase = " ".join([*kept, head]) + tail
        if len(phrase.split()) >= 2 or len(head) >= 12:
            return phrase.strip(" ,;:")
    return None


_ACTION_RE = re.compile(
    r"\b(?:will|shall|to|would|has|have|had|is|are|was|were)?\s*"
    r"((?:require|adopt|establish|create|launch|introduce|fund|install|build|provide|offer|expand|develop"
    r"|implement|retrofit|convert|replace|plant|subsidi[sz]e|prohibit|ban|set up|pilot|update|prepare)\w*"
    r"\s+(?:[^\s.;:,]+\s+){1,7}[^\s.;:,]+)",
    re.IGNORECASE,
)


def _action_phrase(quote: str) -> str | None:
    """The action the quote states: its verb and up to eight words after it."""
    m = _ACTION_RE.search(quote)
    return _cut(m.group(1), 9) if m else None


def merge_duplicates(records: list[dict], vectors: dict[int, np.ndarray]) -> list[dict]:
    """One record per measure within a document: records with the same title, or whose passages
    are near copies (cosine >= DUPLICATE_COSINE: a measure sheet, its summary table, its cost
    table), become the best-scored one, which then cites every page (`pages`, `merged`)."""
    kept: list[dict] = []
    for rec in sorted(records, key=lambda r: -r["score"]):
        key = " ".join(rec["title"].lower().split())
        vector = vectors.get(rec["passage_id"])
        for other in kept:
            same_title = key == " ".join(other["title"].lower().split()) and len(key.split()) >= 2
            near = (
                vector is not None
                and vectors.get(other["passage_id"]) is not None
                and float(vector @ vectors[other["passage_id"]]) >= DUPLICATE_COSINE
            )
            if same_title or near:
                other["merged"].append(rec["passage_id"])
                other["pages"] = sorted(set(other["pages"]) | {rec["page"]})
                break
        else:
            kept.append({**rec, "pages": [rec["page"]], "merged": []})
    return sorted(kept, key=lambda r: r["passage_id"])


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
