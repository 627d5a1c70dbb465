"""Stage 7: practice digests: what cities did on a question or topic, compared measure by measure.

A practice enters a digest only when it answers what was asked, never to fill a count:
- a query digest keeps the practice records whose passage passes a relevance gate: a logistic
  score over the passage's cosine similarity to the query and the share of the query's words
  it contains, fitted on the judged (query, page) pairs of the dev queries of eval/qrels.tsv
  (eval/calibrate_digest.py; the test queries only report how it holds);
- a topic digest keeps the practice records whose passage is strongly about the topic: the
  topic is the passage's first topic and scores at least STRONG_TOPIC.
`limit` is a maximum. Nothing qualifying gives an empty digest, which `write_digest` refuses.

Like measures are grouped across places (average linkage over the stored passage embeddings,
a bonus for the same instrument); groups from several cities come first, each labelled by the
measure: the phrase its practices' titles and quotes share most widely, and its most common
instrument ("Tree canopy: targets and plans"). One-city leftovers go to "Other practices".
Each group is a comparison table (city, what, instrument, status, year, key figure, citation)
followed by its quotes. The figure counts this digest's practices by city and instrument.
In HTML each citation links to the PDF at its page. Nothing here runs a model over the corpus:
it reads the database and, for a query, embeds the query once.

HTML is one self-contained file (inline CSS, the figure as a data URI); Markdown holds the
same content, with the figure written as a PNG next to it.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .clean import STOPWORDS, YEAR_RE, comparable
from .config import Settings
from .errors import PolicymineError
from .practices import INSTRUMENT_LABELS, backfill_practices, to_practice
from .search import Searcher, fts_query, query_terms
from .store import Row
from .types import Filters, Practice

CANDIDATES = 400  # passages a query digest looks at (hybrid search), before the gate
CANDIDATE_PER_DOC = 25
MAX_PRACTICES = 40
PER_DOC = 4  # at most this many practices from one document
CLUSTER_SIMILARITY = 0.55  # average cosine similarity at which two groups of practices merge
SAME_INSTRUMENT = 0.08  # added to the similarity of two practices of the same instrument
NEAR_DUPLICATE = 0.92  # a practice this similar to one already chosen repeats it
# A topic digest: the topic is the passage's first topic and scores at least this. The tagger
# assigns a topic from 0.15 (config.topic_threshold). On the dev rows of eval/topics.jsonl found
# in a 17-PDF real-corpus index (eval/calibrate_digest.py), a first topic is right for 78 % of
# passages at 0.15, 85 % at 0.5 and 94 % at 0.6.
STRONG_TOPIC = 0.6
UNKNOWN_CITY = "Other or unknown place"
OTHERS = "Other practices (one city each)"
INSTRUMENT_GROUPS = {  # how a group of practices of one instrument is named in its label
    "regulation": "rules and requirements",
    "funding_incentive": "funding and incentives",
    "programme_service": "programmes and services",
    "infrastructure_investment": "infrastructure and investment",
    "partnership": "partnerships",
    "participation_process": "participation",
    "information_education": "information and education",
    "target_plan": "targets and plans",
}
# Words that never start or end a measure's label (function words and plan boilerplate).
LABEL_STOPWORDS = STOPWORDS | frozenset(
    [
        "also",
        "bereits",
        "dabei",
        "damit",
        "dass",
        "diese",
        "dieser",
        "dieses",
        "dort",
        "durch",
        "each",
        "einem",
        "einer",
        "hier",
        "ihre",
        "ihrer",
        "jahr",
        "jahre",
        "jahren",
        "kann",
        "können",
        "many",
        "more",
        "much",
        "neue",
        "neuen",
        "shall",
        "sind",
        "soll",
        "sollen",
        "sollte",
        "sowie",
        "their",
        "there",
        "these",
        "those",
        "weitere",
        "weiteren",
        "well",
        "werden",
        "where",
        "which",
        "will",
        "wird",
        "within",
        "without",
        "would",
        "wurde",
        "wurden",
        "year",
        "years",
        "city",
        "stadt",
        "must",
        "should",
        "including",
        "include",
        "includes",
        "such",
        "other",
        "new",
        "action",
        "actions",
        "measure",
        "measures",
        "maßnahme",
        "maßnahmen",
        "strategy",
        "strategies",
        "goal",
        "goals",
        "plan",
        "plans",
        "page",
        "table",
        "maßnahmenvorschläge",
        "handlungsfeld",
        "handlungsfelder",
        "handlungsfeldern",
        "initiatives",
        "initiative",
        "objectives",
        "objective",
        "priorities",
        "policy",
        "policies",
        "ghg",
        "ziel",
        "ziele",
    ]
)


@dataclass(frozen=True)
class Gate:
    """Whether a passage answers a query: a logistic score over its cosine similarity to the
    query and the share of the query's words it contains, and the probability it must reach."""

    bias: float
    dense: float
    terms: float
    threshold: float

    def probability(self, similarity: float, coverage: float) -> float:
        return 1.0 / (
            1.0 + math.exp(-(self.bias + self.dense * similarity + self.terms * coverage))
        )


# Fitted by eval/calibrate_digest.py on the dev queries of eval/qrels.tsv over a 17-PDF index of
# the real corpus (minilm): logistic regression on the judged grade of the quote's page, the
# threshold the lowest at which the judged dev candidates reach precision 0.85 (0.86; the test
# queries: 0.87). Unjudged pages count as not relevant.
GATES = {"minilm": Gate(bias=-6.084, dense=7.467, terms=3.086, threshold=0.396)}
# Any other model (no judged calibration for its similarities): at least half the query's
# words, stemmed as keyword search stems them; not calibrated.
WORDS_GATE = Gate(bias=-3.0, dense=0.0, terms=6.0, threshold=0.5)


@dataclass
class Candidate:
    """A practice record among a query's nearest passages, with what the gate reads."""

    row: Row
    record: dict
    similarity: float  # cosine similarity of the passage to the query
    coverage: float  # share of the query's words in the passage (stemmed, as keyword search)
    relevance: float  # the gate's probability


@dataclass
class Cluster:
    """Like practices, from one or more cities, labelled by the measure they share."""

    label: str
    practices: list[Practice]
    phrase: str = ""  # the shared phrase of the label
    instrument: str | None = None  # the most common instrument
    compared: bool = True  # a measure compared across cities (False: the one-city leftovers)

    @property
    def cities(self) -> list[str]:
        return sorted({p.hit.city or UNKNOWN_CITY for p in self.practices})

    @property
    def terms(self) -> list[str]:
        return [self.phrase] if self.phrase else []


@dataclass
class Digest:
    """A practice digest, ready to render."""

    title: str
    topic: str | None
    query: str | None
    clusters: list[Cluster]
    matrix: tuple[list[str], list[str], list[list[int]]]  # instruments, cities, counts[i][c]
    searched: str = ""  # what was searched, in words (for "nothing qualifies")
    rule: str = ""  # which practices qualified, in words
    links: dict[str, str] = field(default_factory=dict)  # doc name -> file URI of the source
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%d"))

    @property
    def practices(self) -> list[Practice]:
        return [p for c in self.clusters for p in c.practices]

    @property
    def cities(self) -> list[str]:
        return sorted({p.hit.city or UNKNOWN_CITY for p in self.practices})

    @property
    def compared(self) -> list[Cluster]:
        """The measures compared across cities (without the one-city leftovers)."""
        return [c for c in self.clusters if c.compared]

    @property
    def empty_message(self) -> str:
        """The one line that says nothing qualified, and what was searched."""
        return f"no practice record answers {self.searched}: no digest written"

    def link(self, p: Practice) -> str | None:
        """Where the quote can be read: the source file at the cited page (None when unknown)."""
        uri = self.links.get(p.hit.doc)
        if not uri:
            return None
        return f"{uri}#page={p.quote_page or p.hit.page}" if uri.lower().endswith(".pdf") else uri

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "topic": self.topic,
            "query": self.query,
            "created": self.created,
            "clusters": [
                {
                    "label": c.label,
                    "phrase": c.phrase,
                    "instrument": c.instrument,
                    "cities": c.cities,
                    "compared": c.compared,
                    "practices": [
                        {**p.to_dict(), "relevance": p.hit.score, "link": self.link(p)}
                        for p in c.practices
                    ],
                }
                for c in self.clusters
            ],
            "matrix": {
                "instruments": self.matrix[0],
                "cities": self.matrix[1],
                "counts": self.matrix[2],
            },
        }


def gate_for(model: str) -> Gate:
    """The relevance gate calibrated for an embedding model, else the words-only gate."""
    return GATES.get(model, WORDS_GATE)


def query_candidates(searcher: Searcher, query: str, topic: str | None = None) -> list[Candidate]:
    """The practice records among the query's nearest passages (hybrid search), each with the
    gate's inputs and probability, most relevant first. Not yet gated."""
    hits = searcher.search(query, CANDIDATES, Filters(topic=topic), per_doc=CANDIDATE_PER_DOC)
    store = searcher.store
    found = store.practices(ids=[h.passage_id for h in hits])
    if not found:
        return []
    ids = [row.id for row, _ in found]
    stored, vectors = store.vectors(ids)
    vector = searcher.resources.embedder.embed_batch([query])[0]
    vector = vector / (np.linalg.norm(vector) or 1.0)
    norms = np.linalg.norm(vectors, axis=1)
    norms[norms == 0] = 1.0
    similarity = dict(zip(stored.tolist(), ((vectors @ vector) / norms).tolist()))
    terms = query_terms(query)
    matched = [set(store.keyword_scores(fts_query([t]), ids)) for t in terms]
    gate = gate_for(searcher.settings.model)
    out = []
    for row, rec in found:
        sim = float(similarity.get(row.id, 0.0))
        coverage = sum(row.id in m for m in matched) / len(terms) if terms else 0.0
        out.append(Candidate(row, rec, sim, coverage, gate.probability(sim, coverage)))
    return sorted(out, key=lambda c: (-c.relevance, c.row.id))


def strong_topic(row: Row, topic: str) -> bool:
    """Whether the passage is strongly about the topic: its first topic, scoring STRONG_TOPIC."""
    first = max(row.topics, key=lambda t: row.topics[t], default=None)
    return first == topic and row.topics.get(topic, 0.0) >= STRONG_TOPIC


def build_digest(
    settings: Settings,
    topic: str | None = None,
    query: str | None = None,
    cities: list[str] | None = None,
    max_practices: int = MAX_PRACTICES,
    min_relevance: float | None = None,
) -> Digest:
    """Collect the practices that answer a query or are about a topic, grouped across cities.

    Args:
        settings: which index to read.
        topic: a taxonomy topic id: practices strongly about it (with a query: only among
            passages tagged with it).
        query: a question or description: practices that pass the relevance gate.
        cities: only practices from these cities (case-insensitive).
        max_practices: at most this many practices in the digest.
        min_relevance: the gate's threshold for a query digest (default: the calibrated one).

    Returns:
        The Digest: groups of several cities first; empty when nothing qualifies.
    """
    if not topic and not query:
        raise PolicymineError("a digest needs --topic or --query (or both)")
    wanted = {c.lower() for c in cities or []}
    backfill_practices(settings.index_dir)
    with Searcher(settings.with_(per_doc=CANDIDATE_PER_DOC)) as searcher:
        topic = searcher.check_topic(topic)
        store = searcher.store
        if query:
            gate = gate_for(settings.model)
            threshold = gate.threshold if min_relevance is None else min_relevance
            rule = (
                f"that answer the query (relevance ≥ {threshold}, calibrated on judged queries)"
                if settings.model in GATES
                else f"that name the query's words (no calibrated gate for model {settings.model})"
            )
            scored = [
                to_practice(c.row, c.record, score=c.relevance)
                for c in query_candidates(searcher, query, topic)
                if c.relevance >= threshold
            ]
        else:
            rule = f"strongly about the topic (its first topic, scoring ≥ {STRONG_TOPIC})"
            found = [
                (r, rec)
                for r, rec in store.practices(Filters(topic=topic))
                if strong_topic(r, topic)
            ]
            found.sort(key=lambda rr: (-rr[0].topics[topic] * (0.5 + rr[1]["score"]), rr[0].id))
            scored = [to_practice(row, rec, score=row.topics[topic]) for row, rec in found]
        scored = [p for p in scored if not wanted or (p.hit.city or "").lower() in wanted]
        ids, vectors = store.vectors([p.hit.passage_id for p in scored])
        chosen, chosen_vectors = _select(scored, dict(zip(ids.tolist(), vectors)), max_practices)
        names = {p.hit.doc for p in chosen}
        links = {d.name: _uri(d.path) for d in store.documents() if d.name in names}
    subject = " / ".join(x for x in (topic, query and f"“{query}”") if x)
    where = f" in {', '.join(cities)}" if cities else ""
    searched = (
        f"the query “{query}”" + (f" within topic {topic}" if topic else "")
        if query
        else f"topic {topic}"
    ) + f"{where} (index {settings.index_dir})"
    clusters = group_practices(chosen, chosen_vectors)
    digest = Digest(
        title=f"Practice digest: {subject}",
        topic=topic,
        query=query,
        clusters=clusters,
        matrix=([], [], []),
        searched=searched,
        rule=rule,
        links=links,
    )
    digest.matrix = _matrix(digest)
    return digest


def _uri(path: str) -> str:
    try:
        return Path(path).resolve().as_uri()
    except ValueError:
        return ""


def _select(
    scored: list[Practice], vectors: dict[int, np.ndarray], limit: int
) -> tuple[list[Practice], np.ndarray]:
    """The best practices, at most PER_DOC per document, without near-duplicates or junk quotes."""
    chosen: list[Practice] = []
    kept: list[np.ndarray] = []
    per_doc: Counter[str] = Counter()
    seen_quotes: set[str] = set()
    for p in scored:
        v = vectors.get(p.hit.passage_id)
        key = comparable(p.quote).lower()
        if (
            v is None
            or per_doc[p.hit.doc] >= PER_DOC
            or key in seen_quotes
            or not _readable(p.quote)
        ):
            continue
        v = v / (np.linalg.norm(v) or 1.0)
        if kept and float(np.max(np.vstack(kept) @ v)) >= NEAR_DUPLICATE:
            continue
        chosen.append(p)
        kept.append(v)
        per_doc[p.hit.doc] += 1
        seen_quotes.add(key)
        if len(chosen) >= limit:
            break
    return chosen, (np.vstack(kept) if kept else np.zeros((0, 1), dtype=np.float32))


def _readable(quote: str) -> bool:
    """A quote worth showing: enough words, mostly letters (not a table row, a list of sources or contents)."""
    words = quote.split()
    letters = sum(ch.isalpha() for ch in quote)
    return (
        len(words) >= 10
        and letters >= 0.7 * len(quote.replace(" ", ""))
        and not re.search(r"\.{4,}|https?://", quote)
    )


def group_practices(practices: list[Practice], vectors: np.ndarray) -> list[Cluster]:
    """Average-linkage groups of like measures; groups from several cities first, then the rest
    as one "Other practices" group."""
    groups = [[i] for i in range(len(practices))]
    sims = vectors @ vectors.T if len(practices) else np.zeros((0, 0))
    instruments = [p.instrument for p in practices]
    same = np.array([[a is not None and a == b for b in instruments] for a in instruments])
    if len(practices):
        sims = sims + SAME_INSTRUMENT * same
    while len(groups) > 1:
        best, pair = -1.0, None
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                s = float(sims[np.ix_(groups[a], groups[b])].mean())
                if s > best:
                    best, pair = s, (a, b)
        if best < CLUSTER_SIMILARITY or pair is None:
            break
        a, b = pair
        groups[a] = groups[a] + groups.pop(b)
    city = lambda i: practices[i].hit.city or UNKNOWN_CITY
    shared = [g for g in groups if len({city(i) for i in g}) > 1]
    others = sorted(
        (i for g in groups if len({city(i) for i in g}) == 1 for i in g),
        key=lambda i: (city(i), -practices[i].hit.score),
    )
    members = [[practices[i] for i in g] for g in shared]
    phrases = _phrases(members)
    clusters = []
    for group, phrase in zip(members, phrases):
        group.sort(key=lambda p: (p.hit.city or UNKNOWN_CITY, -p.hit.score))
        instrument = _common_instrument(group)
        clusters.append(Cluster(_label(phrase, instrument), group, phrase, instrument))
    clusters.sort(
        key=lambda c: (-len(c.cities), -float(np.mean([p.hit.score for p in c.practices])), c.label)
    )
    if others:
        clusters.append(Cluster(OTHERS, [practices[i] for i in others], compared=False))
    return clusters


def _common_instrument(group: list[Practice]) -> str | None:
    counts = Counter(p.instrument for p in group if p.instrument)
    return counts.most_common(1)[0][0] if counts else None


def _label(phrase: str, instrument: str | None) -> str:
    kind = INSTRUMENT_GROUPS.get(instrument or "", "")
    if phrase and kind:
        return f"{phrase[:1].upper()}{phrase[1:]}: {kind}"
    return (phrase[:1].upper() + phrase[1:]) if phrase else (kind.capitalize() or "Like practices")


_TOKEN_RE = re.compile(r"[^\W\d_][\w'’-]*")


def _ngrams(text: str) -> set[str]:
    """The phrases of one to three words in a text that neither start nor end with a function word."""
    words = [w.lower() for w in _TOKEN_RE.findall(text)]
    out = set()
    for n in (1, 2, 3):
        for i in range(len(words) - n + 1):
            gram = words[i : i + n]
            if (
                gram[0] in LABEL_STOPWORDS
                or gram[-1] in LABEL_STOPWORDS
                or len(gram[0]) < 3
                or len(gram[-1]) < 3
            ):
                continue
            out.add(" ".join(gram))
    return out


def _phrases(groups: list[list[Practice]]) -> list[str]:
    """Per group, the phrase that names its measure: the one found in the titles and quotes of
    the most of its cities, then of its practices, preferring titles, longer phrases and phrases
    that other groups do not share."""
    grams = [[(_ngrams(p.title), _ngrams(p.quote)) for p in g] for g in groups]
    spread: Counter[str] = Counter()
    for g in grams:
        spread.update({x for title, quote in g for x in title | quote})
    out = []
    for g, group in zip(grams, groups):
        cities: dict[str, set[str]] = {}
        practices: Counter[str] = Counter()
        in_titles: Counter[str] = Counter()
        for (title, quote), p in zip(g, group):
            for x in title | quote:
                cities.setdefault(x, set()).add(p.hit.city or UNKNOWN_CITY)
                practices[x] += 1
            in_titles.update(title)
        if not practices:
            out.append("")
            continue
        best = max(
            practices,
            key=lambda x: (
                len(cities[x])
                + 0.8 * (sum(w not in LABEL_STOPWORDS for w in x.split()) - 1)
                + in_titles[x] / len(group)
                - 0.3 * (spread[x] - 1),
                practices[x],
                x,
            ),
        )
        out.append(best if practices[best] >= 2 else "")
    return out


def _matrix(digest: Digest) -> tuple[list[str], list[str], list[list[int]]]:
    """This digest's practices per instrument and city."""
    counts = Counter((p.instrument or "", p.hit.city or UNKNOWN_CITY) for p in digest.practices)
    instruments = [i for i in [*INSTRUMENT_LABELS, ""] if any(k[0] == i for k in counts)]
    cities = digest.cities
    return instruments, cities, [[counts.get((i, c), 0) for c in cities] for i in instruments]


def figure_title(digest: Digest) -> str:
    return f"The {len(digest.practices)} practices of this digest by city and instrument"


def heatmap_png(digest: Digest) -> bytes | None:
    """This digest's practices by instrument and city as a PNG heatmap; None when it has none."""
    instruments, cities, counts = digest.matrix
    if not cities:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = np.array(counts, dtype=float)
    names = [INSTRUMENT_LABELS.get(i, "instrument not stated") for i in instruments]
    fig, ax = plt.subplots(
        figsize=(max(5.0, 0.55 * len(cities) + 3.0), 0.42 * len(names) + 2.0), dpi=110
    )
    ax.imshow(data, cmap="YlGn", aspect="auto", vmin=0)
    ax.set_xticks(range(len(cities)), cities, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for (i, j), v in np.ndenumerate(data):
        if v:
            ax.text(
                j,
                i,
                str(int(v)),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if v > data.max() / 2 else "black",
            )
    ax.set_title(figure_title(digest), fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


_MONEY_RE = re.compile(r"[$€£]|\b(eur|usd|euros?|dollars?)\b", re.IGNORECASE)
_PERCENT_RE = re.compile(r"%|percent|per cent|prozent", re.IGNORECASE)
_TONNES_RE = re.compile(r"\b(t|tonnes|tons|kt|mt|tonnen)\b", re.IGNORECASE)
_ENERGY_RE = re.compile(r"\b(kwh|mwh|gwh|kwp|kw|mw|gw)\b", re.IGNORECASE)


def key_figure(p: Practice) -> str:
    """The figure a comparison needs most: money, then a percentage, tonnes, energy, then units;
    from the quote's own figures when it states any."""
    quote = comparable(p.quote)
    stated = [q for q in p.quantities if comparable(q) in quote] or p.quantities
    for pattern in (_MONEY_RE, _PERCENT_RE, _TONNES_RE, _ENERGY_RE):
        for q in stated:
            if pattern.search(q):
                return q
    return stated[0] if stated else ""


def year_of(p: Practice) -> str:
    """The years the quote names (at most two), else the record's first year."""
    years = sorted({int(y) for y in YEAR_RE.findall(p.quote)})
    if years:
        return ", ".join(map(str, years[:2]))
    return str(p.years[0]) if p.years else ""


def _place(p: Practice) -> str:
    return (
        f"{p.hit.city} ({p.hit.country})"
        if p.hit.city and p.hit.country
        else p.hit.city or p.hit.country or UNKNOWN_CITY
    )


def _instrument(p: Practice) -> str:
    return INSTRUMENT_LABELS.get(p.instrument or "", "-")


def _summary(digest: Digest) -> str:
    return (
        f"{len(digest.practices)} practices {digest.rule}, from {len(digest.cities)} places;"
        f" {compared_text(digest)}."
        f" Generated by policymine on {digest.created}."
    )


def compared_text(digest: Digest) -> str:
    n = len(digest.compared)
    return f"{n} measure{'' if n == 1 else 's'} compared across cities"


def _rows(c: Cluster) -> list[tuple[str, str, str, str, str, str, Practice]]:
    return [
        (
            _place(p),
            p.title,
            _instrument(p),
            p.status or "-",
            year_of(p) or "-",
            key_figure(p) or "-",
            p,
        )
        for p in c.practices
    ]


def render_markdown(digest: Digest, figure: str | None = None) -> str:
    """The digest as Markdown; `figure` is the file name of the heatmap PNG, when written."""
    cell = lambda s: s.replace("|", "\\|").replace("\n", " ")
    lines = [
        f"# {digest.title}",
        "",
        _summary(digest),
        "",
        "## Measures compared",
        "",
        "| cluster | cities | practices | instruments |",
        "|---|---|---|---|",
    ]
    for c in digest.clusters:
        instruments = ", ".join(sorted({_instrument(p) for p in c.practices}))
        lines.append(
            f"| {cell(c.label)} | {cell(', '.join(c.cities))} | {len(c.practices)} | {cell(instruments)} |"
        )
    lines += ["", f"## {figure_title(digest)}", ""]
    lines.append(
        f"![{figure_title(digest)}]({figure})"
        if figure
        else "_No city-level practices: no figure._"
    )
    for c in digest.clusters:
        lines += [
            "",
            f"## {c.label}",
            "",
            f"{len(c.practices)} practices · {', '.join(c.cities)}",
            "",
            "| city | what | instrument | status | year | key figure | source |",
            "|---|---|---|---|---|---|---|",
        ]
        for place, what, inst, status, year, figure_, p in _rows(c):
            lines.append(
                f"| {cell(place)} | {cell(what)} | {inst} | {status} | {year} | {cell(figure_)}"
                f" | {cell(p.hit.doc)}, p. {p.quote_page} |"
            )
        lines.append("")
        for p in c.practices:
            lines += [
                f"### {p.title}",
                "",
                f"*{cell(_place(p))} · {_instrument(p)}*",
                "",
                f"> {p.quote}",
                "",
                f"Source: {p.citation}",
                "",
            ]
    return "\n".join(lines)


_STYLE = """
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;max-width:68rem;margin:2rem auto;padding:0 1.2rem}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #6a9a6a;padding-bottom:.2rem}
.meta{color:#555}table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.6rem 0}th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eef4ee}figure{margin:1rem 0;text-align:center}figure img{max-width:100%}figcaption{color:#555;font-size:.85rem}
details{margin:.4rem 0}summary{cursor:pointer;color:#2f5f2f}
article{border:1px solid #ddd;border-radius:6px;padding:.5rem .9rem;margin:.6rem 0;break-inside:avoid}
article h3{margin:.1rem 0 .3rem;font-size:1rem}.tag{display:inline-block;background:#eef4ee;border-radius:3px;padding:0 .35rem;margin-right:.3rem;font-size:.85rem}
.city{background:#dde8f6}blockquote{margin:.5rem 0;padding-left:.8rem;border-left:3px solid #6a9a6a;color:#333}.cite{color:#555;font-size:.82rem}
@media print{body{max-width:none;margin:0;font-size:11pt}h2{break-after:avoid}a{color:inherit}details{display:block}}
"""


def _cite_html(digest: Digest, p: Practice, text: str) -> str:
    e = html.escape
    link = digest.link(p)
    return f"<a href='{e(link)}'>{e(text)}</a>" if link else e(text)


def render_html(digest: Digest, figure: bytes | None = None) -> str:
    """The digest as one self-contained HTML page: inline CSS, the figure as a data URI, no network;
    each citation links to its source file at the cited page."""
    e = html.escape
    body = [
        f"<h1>{e(digest.title)}</h1>",
        f"<p class=meta>{e(_summary(digest))}</p>",
        "<h2>Measures compared</h2>",
        "<table><tr><th>cluster</th><th>cities</th><th>practices</th><th>instruments</th></tr>",
    ]
    for i, c in enumerate(digest.clusters, start=1):
        instruments = ", ".join(sorted({_instrument(p) for p in c.practices}))
        body.append(
            f"<tr><td><a href='#c{i}'>{e(c.label)}</a></td><td>{e(', '.join(c.cities))}</td>"
            f"<td>{len(c.practices)}</td><td>{e(instruments)}</td></tr>"
        )
    body.append(f"</table><h2>{e(figure_title(digest))}</h2>")
    if figure:
        uri = "data:image/png;base64," + base64.b64encode(figure).decode()
        body.append(
            f"<figure><img src='{uri}' alt='{e(figure_title(digest))}'><figcaption>"
            "Practices of this digest per instrument (rows) and city (columns).</figcaption></figure>"
        )
    else:
        body.append("<p class=meta>No city-level practices: no figure.</p>")
    for i, c in enumerate(digest.clusters, start=1):
        body.append(
            f"<section class=cluster id='c{i}'><h2>{e(c.label)}</h2>"
            f"<p class=meta>{len(c.practices)} practices · {e(', '.join(c.cities))}</p>"
            "<table class=compare><tr><th>city</th><th>what</th><th>instrument</th><th>status</th>"
            "<th>year</th><th>key figure</th><th>source</th></tr>"
        )
        for place, what, inst, status, year, figure_, p in _rows(c):
            body.append(
                f"<tr><td>{e(place)}</td><td>{e(what)}</td><td>{e(inst)}</td><td>{e(status)}</td>"
                f"<td>{e(year)}</td><td>{e(figure_)}</td>"
                f"<td>{_cite_html(digest, p, f'{p.hit.doc}, p. {p.quote_page}')}</td></tr>"
            )
        body.append("</table>")
        for p in c.practices:
            tags = [
                f"<span class='tag city'>{e(_place(p))}</span>",
                f"<span class=tag>{e(_instrument(p))}</span>",
            ]
            body.append(
                f"<article class=practice><h3>{e(p.title)}</h3><div>{''.join(tags)}</div>"
                f"<blockquote>{e(p.quote)}</blockquote>"
                f"<p class=cite>Source: {_cite_html(digest, p, p.citation)}</p></article>"
            )
        body.append("</section>")
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>{e(digest.title)}</title><style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def write_digest(digest: Digest, out: Path) -> Path:
    """Write the digest as HTML or Markdown, chosen by the file suffix (Markdown gets its figure
    as a PNG beside it). An empty digest is refused: no empty document is written."""
    suffix = out.suffix.lower()
    if suffix not in (".md", ".html", ".htm"):
        raise PolicymineError(f"{out}: digest output must end in .md or .html")
    if not digest.practices:
        raise PolicymineError(digest.empty_message)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure = heatmap_png(digest)
    if suffix == ".md":
        name = None
        if figure:
            name = out.with_suffix(".png").name
            out.with_suffix(".png").write_bytes(figure)
        out.write_text(render_markdown(digest, name), encoding="utf-8")
    else:
        out.write_text(render_html(digest, figure), encoding="utf-8")
    return out
