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
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path

from .clean import YEAR_RE
from .config import Settings
from .errors import PolicymineError
from .segment import SENTENCE_END_RE
from .store import Row, Store, write_lock
from .types import Document, Entity, Filters, Passage, Practice

# The eight instrument types of issue 6, with English and German cues. Order breaks ties.
INSTRUMENTS: dict[str, str] = {
    "regulation": r"ordinance|by-?laws?|regulations?\b|regulat(e|es|ing)\b|mandat(e|ory|es)|requir(e|es|ed|ing|ement)s?\b|prohibit|\bbans?\b"
    r"|zoning|building code|\bcodes?\b|standards?\b|\blaws?\b|pflicht|satzung|verordnung|gesetz|vorschrift|festsetzung|bebauungsplan|verbot|vorgaben?",
    "funding_incentive": r"subsid|grants?\b|rebates?|incentives?|tax credit|voucher|\bloans?\b|\bfund(s|ed|ing)?\b|financ|förder|zuschu|prämie|finanzier",
    "programme_service": r"program|pilot|service|scheme|initiative|projekt|angebot|car ?shar|bike ?shar|shuttle|hotline|carsharing",
    "infrastructure_investment": r"install|\bbuil[dt]|construct|retrofit|infrastructure|invest|renovat|upgrad|charging|stations?\b|plant(ed|ing)? \w* ?trees"
    r"|network|\bbau|saniert|sanierung|ausbau|errichte|netz|anlagen?\b|investi|umbau|neubau",
    "partnership": r"partner|collaborat|cooperat|coalition|alliance|agreements? with|memorand|kooperation|zusammenarbeit|bündnis|netzwerk|vereinbarung",
    "participation_process": r"participat|consultation|residents? (vote|decide)|public (meeting|hearing|comment)|engagement|advisory (panel|board|committee)"
    r"|assembl|\bjury|beteiligung|bürgerrat|bürgerhaushalt|bürgerforum|mitwirk|dialog",
    "information_education": r"campaign|awareness|educat|outreach|inform(ation|ing)? |training|workshop|advice|advis(e|ing|ory service)|brochure|website"
    r"|exhibition|kampagne|öffentlichkeitsarbeit|beratung|broschüre|informations|schulung|bildung|veranstaltung|flyer|vortr",
    "target_plan": r"targets?\b|goals?\b|strateg|\bplan\b|roadmap|inventor|monitor|net[- ]zero|climate[- ]neutral|baseline|ziel|konzept|klimaneutral"
    r"|bilanz|leitbild",
}
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
# Matched against lower-cased text: about twice as fast as IGNORECASE over these alternations.
_INSTRUMENT_RES = {name: re.compile(rx.lower()) for name, rx in INSTRUMENTS.items()}
# A cue of a specific instrument (an ordinance, a jury) says more than one of a broad one (a
# plan, a project, building): weights set by hand on the dev split.
_INSTRUMENT_WEIGHT = {
    "regulation": 1.6,
    "participation_process": 1.6,
    "information_education": 1.4,
    "partnership": 1.3,
    "funding_incentive": 1.2,
    "programme_service": 0.8,
    "infrastructure_investment": 0.8,
    "target_plan": 0.7,
}

STATUSES: dict[str, str] = {
    "adopted": r"\b(adopted|approved|passed|enacted|ratified|in force|took effect|signed|beschlossen|verabschiedet|in kraft)\b",
    "implemented": r"\b(launched|introduced|installed|built|completed|opened|established|created|started|began|funded|has been|have been"
    r"|was (set up|rolled out)|since (19|20)\d\d|in operation|eingeführt|umgesetzt|gestartet|eingerichtet|durchgeführt|realisiert"
    r"|eröffnet|errichtet|fortlaufend|wurden?|seit (19|20)\d\d)\b",
    "planned": r"\b(will|plans? to|planned|propos(e|ed|es)|intends?|aims? to|shall|to be|by (19|20)\d\d|develop|establish|soll(en)?|geplant"
    r"|vorgesehen|künftig|zukünftig|mittelfristig|langfristig|kurzfristig|wird .{0,60} werden)\b",
}
_STATUS_RES = {name: re.compile(rx, re.IGNORECASE) for name, rx in STATUSES.items()}

_ACTOR = (
    r"(the )?(city|council|county|municipality|metro|mayor|department|administration|government|agency|authority|utility|we|our"
    r"|stadt|gemeinde|kommune|landeshauptstadt|verwaltung|stadtwerke|rat|bezirk|wir|region)"
)
_VERB = (
    r"(will|shall|has|have|had|is|are|was|were|would)?\s*(now\s+)?(launch|introduc|adopt|establish|creat|implement|install|pilot|began|begin|start"
    r"|set up|pass|fund|buil[dt]|requir|offer|provid|expand|retrofit|convert|support|develop|partner|work|invest|plant|subsidi|promot|encourag"
    r"|coordinat|conduct|update|prohibit|ban|run|operat|organi[sz]|host|hold|held|financ|award|grant|train|publish|commit|prepar|replac|upgrad)"
)
_GERMAN_ACTION = (
    r"(eingeführt|beschlossen|gestartet|umgesetzt|eingerichtet|gefördert|gebaut|saniert|eröffnet|eingesetzt|erarbeitet|durchgeführt"
    r"|erstellt|angeboten|unterstützt|realisiert|ausgebaut|errichtet|fördert|unterstützt|bietet|richtet|plant|baut|saniert|setzt|startet)"
)
_IMPERATIVE = (
    r"(develop|establish|create|implement|provide|support|expand|install|promote|encourage|coordinate|require|adopt|update|conduct"
    r"|partner|work with|continue|explore|investigate|identify|increase|reduce|ensure|launch|offer|pursue|prepare|review|amend|build|fund"
    r"|incentivi[sz]e|plant|replace|upgrade|retrofit|consider|evaluate|undertake|engage|educate|integrate|prioriti[sz]e|advocate|seek)"
)
CUES: dict[str, re.Pattern] = {
    "actor_action": re.compile(rf"\b{_ACTOR}\b[^.;:]{{0,60}}?\b{_VERB}\w*", re.IGNORECASE),
    "named_actor_action": re.compile(
        r"\b[A-ZÄÖÜ][\w-]+\b[^.;:]{0,30}?\b(launched|introduced|adopted|established|funds|funded|installed"
        r"|built|created|requires|required|offers|provides|runs|opened|fördert|bietet|hat|haben)\b"
    ),
    "german_action": re.compile(rf"\b{_GERMAN_ACTION}\b", re.IGNORECASE),
    "imperative": re.compile(
        rf"(^|\n|[•▪\-–]\s*|\b\d+(\.\d+)*\.?\s+|\b[A-Z][\w-]*-\d+(\.\d+)?:\s*)\s*{_IMPERATIVE}\b"
    ),
    "action_item": re.compile(
        r"\b(action|measure|maßnahme|strategy|policy|massnahme)\s*[A-Z]*[- ]?\d+(\.\d+)*\b|^\s*\d+(\.\d+){1,}\s",
        re.IGNORECASE | re.MULTILINE,
    ),
    "future": re.compile(r"\b(will|shall|soll(en)?|wird|werden)\b", re.IGNORECASE),
    "past_action": re.compile(
        r"\b(launched|introduced|adopted|established|installed|built|completed|opened|created|started|began|piloted|eingeführt|gestartet|umgesetzt|eingerichtet|durchgeführt)\b",
        re.IGNORECASE,
    ),
    "quantity": re.compile(
        r"\d[\d.,]*\s?(%|percent|per cent|prozent|households|homes|units|tonnes|tons|t\s?co2|kwh|mwh|mw|kw|km|residents|buildings|trees|euro|€|\$|dollars|wohnungen)",
        re.IGNORECASE,
    ),
    "statistic": re.compile(
        r"\b(accounts? for|accounted|compared (to|with)|per capita|increased by|decreased by|rose|fell|is expected|are expected|estimated|projected|liegt bei|lag bei|betr[äa]gt|betrug|anteil|prognose|stieg|sank)\b",
        re.IGNORECASE,
    ),
    "hedge": re.compile(
        r"\b(we assume|assum|could|might|may|should|would|consider|recommend|können|könnte|sollte|empfehl|in general|generally|typically|often)\b",
        re.IGNORECASE,
    ),
    "reference": re.compile(
        r"(et al\.|\(\d{4}\)|\bdirective\b|\bsee (also )?(section|chapter|table|figure)|https?://|www\.|\bvgl\.|\bquelle\b|\babbildung\b|\bfigure \d|\btable \d)",
        re.IGNORECASE,
    ),
    "definition": re.compile(
        r"\b(is defined as|refers to|means|definition|bezeichnet|versteht man|ist definiert)\b",
        re.IGNORECASE,
    ),
    "number": re.compile(r"\d"),
}
MIN_PRACTICE_SCORE = 0.5
DETECTOR_VERSION = "1"  # bump when cues or weights change: stored practices are then rebuilt


@cache
def _weights() -> dict:
    """The logistic-regression weights over the cue features (eval/train_practices.py)."""
    path = resources.files("policymine").joinpath("data/practice_weights.json")
    return json.loads(path.read_text("utf-8"))


def features(text: str, section: str | None = None) -> dict[str, float]:
    """The cue features of a passage: counts squashed to 0..1, and length-normalised densities."""
    words = max(len(text.split()), 1)
    feats = {
        name: 1.0 - 0.5 ** len(rx.findall(text)) for name, rx in CUES.items() if name != "number"
    }
    feats["instrument"] = min(1.0, sum(map(len, _instrument_matches(text).values())) / 3)
    feats["number_density"] = min(1.0, 10 * len(CUES["number"].findall(text)) / words)
    feats["short"] = 1.0 if words < 30 else 0.0
    feats["section_action"] = (
        1.0
        if section
        and re.search(
            r"\b(action|measure|maßnahme|programm|program|initiative|projekt)",
            section,
            re.IGNORECASE,
        )
        else 0.0
    )
    return feats


def detect(text: str, section: str | None = None) -> float:
    """How clearly a passage describes a concrete practice: a probability-like 0..1 score."""
    w = _weights()
    z = w["bias"] + sum(
        w["coef"].get(name, 0.0) * value for name, value in features(text, section).items()
    )
    return 1.0 / (1.0 + math.exp(-z))


def _instrument_matches(text: str) -> dict[str, list[re.Match]]:
    lower = text.lower()
    return {name: list(rx.finditer(lower)) for name, rx in _INSTRUMENT_RES.items()}


def instrument_of(text: str) -> tuple[str | None, str | None]:
    """(instrument type, the matched words) by the most (weighted) cue matches; (None, None) when nothing matches."""
    best, weight, evidence = None, 0.0, None
    for name, found in _instrument_matches(text).items():
        if found and len(found) * _INSTRUMENT_WEIGHT[name] > weight:
            best, weight, evidence = name, len(found) * _INSTRUMENT_WEIGHT[name], found[0]
    if evidence is None:
        return None, None
    source = (
        text if len(text) == len(text.lower()) else text.lower()
    )  # offsets hold unless lower() changed the length
    return best, _word_at(source, evidence.start(), evidence.end())


def status_of(text: str) -> tuple[str | None, str | None]:
    """(planned | adopted | implemented, the status words) as the text states it; adopted wins over the rest."""
    for name in ("adopted", "implemented", "planned"):
        m = _STATUS_RES[name].search(text)
        if m:
            return name, m.group(0)
    return None, None


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
) -> Record | None:
    """The practice record of a passage, or None when it is no practice or no quote sits on one page.

    Args:
        passage_id: the stored passage.
        text, section: its text and section heading.
        entities: its stored entities (ORG, GPE, ...).
        pages: page number -> extracted page text passed through `normalise`, at least for `page`..`page_end`.
        page, page_end: the passage's page span.
        score: the detector score, when already known.
    """
    score = detect(text, section) if score is None else score
    if score < MIN_PRACTICE_SCORE:
        return None
    quote, quote_page = _quote(text, pages, page, page_end or page)
    if not quote:
        return None
    instrument, instrument_words = instrument_of(text)
    status, status_words = status_of(text)
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


def document_records(doc: Document, passages: Sequence[Passage]) -> list[tuple[int, dict]]:
    """The practice records of an analysed document before it is stored: (the passage's
    position in `passages`, its record); the store fills in the passage id it assigns."""
    pages = {page.number: normalise(page.text) for page in doc.pages}
    found = (
        (i, record(0, p.text, p.section, p.entities, pages, p.page, p.page_end or p.page))
        for i, p in enumerate(passages)
        if p.kind == "text"
    )
    return [(i, rec.to_dict()) for i, rec in found if rec]


def practice_records(store: Store, doc_id: int) -> list[dict]:
    """The practice records of one stored document (see `record`)."""
    passages, entities, raw_pages = store.document_passages(doc_id)
    pages = {number: normalise(text) for number, text in raw_pages.items()}
    records = (
        record(pid, text, section, entities.get(pid, []), pages, page, page_end)
        for pid, text, section, page, page_end in passages
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
        store.set_meta(practices=DETECTOR_VERSION)
    return len(records)


def ensure_practices(store: Store, rebuild: bool = False) -> None:
    """Backfill, by the writer that holds the lock: build every record when the index has none
    from this detector version (or when asked)."""
    if rebuild or store.index_meta().practices != DETECTOR_VERSION:
        build_practices(store)


def backfill_practices(index_dir: Path, rebuild: bool = False) -> None:
    """For a reading command (`practices`, `digest`): when the stored records are missing or
    from another detector version, take the writer lock and build them, once."""
    with Store(index_dir) as store:
        current = store.index_meta().practices == DETECTOR_VERSION
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
    filters = filters or Filters()
    with Store(settings.index_dir) as store:
        filters = replace(filters, topic=store.index_meta().check_topic(filters.topic))
        found = store.practices(filters, instrument, limit)
    return [to_practice(row, rec, rank) for rank, (row, rec) in enumerate(found, start=1)]


def normalise(text: str) -> str:
    """Text compared for quote checks: whitespace collapsed, a line-end hyphen joined as the extractor joins it."""
    return " ".join(re.sub(r"(?<=[a-zäöüß])-\s+(?=[a-zäöüß])", "", text).split())


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
            found = next((p for p, t in targets.items() if normalise(quote) in t), None)
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


def _word_at(text: str, start: int, end: int) -> str:
    """The whole word(s) around a match: "förder" in "Förderprogramm" gives "Förderprogramm"."""
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "-"):
        start -= 1
    while end < len(text) and (text[end].isalnum() or text[end] == "-"):
        end += 1
    return text[start:end].strip()


def _unique(items) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        key = " ".join(item.split()).lower()
        if key and key not in seen:
            seen[key] = " ".join(item.split())
    return list(seen.values())
