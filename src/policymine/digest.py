"""Stage 7: practice digests: comparable practices across cities on a topic or a question.

Candidates are the stored practice records (practices.py): those tagged with the topic, or
those among the nearest passages to the query. Like practices are clustered on their stored
embeddings (average linkage, cosine threshold), each cluster labelled with its distinctive
terms (c-TF-IDF against the other clusters). The digest opens with a summary table and a
topic-by-city heatmap of practice records; each practice carries its city, instrument, key
facts and an evidence quote cited to the page it is on. Nothing here runs a model over the
corpus: it reads the database and, for a query, embeds the query once.

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

from .clean import STOPWORDS, comparable
from .config import Settings
from .errors import PolicymineError
from .practices import INSTRUMENT_LABELS, backfill_practices, to_practice
from .search import Searcher
from .types import Filters, Practice

CANDIDATES = (
    400  # practice records considered for a topic; a query looks at this many nearest passages
)
MAX_PRACTICES = 40
CANDIDATE_PER_DOC = 25
PER_DOC = 4  # at most this many practices from one document
CLUSTER_SIMILARITY = 0.42  # average cosine similarity at which two clusters of practices merge
NEAR_DUPLICATE = 0.92  # a practice this similar to one already chosen repeats it
UNKNOWN_CITY = "Other or unknown place"
SINGLES = "further practices (no close match elsewhere)"
# Words too general to label a cluster: the function words and these.
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
        "drei",
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
        "mean",
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
        "vier",
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
        "zwei",
    ]
)


@dataclass
class Cluster:
    """Like practices, from one or more cities, labelled with their distinctive terms."""

    label: str
    terms: list[str]
    practices: list[Practice]

    @property
    def cities(self) -> list[str]:
        return sorted({p.hit.city or UNKNOWN_CITY for p in self.practices})


@dataclass
class Digest:
    """A practice digest, ready to render."""

    title: str
    topic: str | None
    query: str | None
    clusters: list[Cluster]
    matrix: tuple[list[str], list[str], list[list[int]]]  # topics, cities, counts[topic][city]
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%d"))

    @property
    def practices(self) -> list[Practice]:
        return [p for c in self.clusters for p in c.practices]

    @property
    def cities(self) -> list[str]:
        return sorted({p.hit.city or UNKNOWN_CITY for p in self.practices})

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "topic": self.topic,
            "query": self.query,
            "created": self.created,
            "clusters": [
                {
                    "label": c.label,
                    "terms": c.terms,
                    "cities": c.cities,
                    "practices": [p.to_dict() for p in c.practices],
                }
                for c in self.clusters
            ],
            "matrix": {
                "topics": self.matrix[0],
                "cities": self.matrix[1],
                "counts": self.matrix[2],
            },
        }


def build_digest(
    settings: Settings,
    topic: str | None = None,
    query: str | None = None,
    cities: list[str] | None = None,
    max_practices: int = MAX_PRACTICES,
) -> Digest:
    """Collect comparable practices on a topic and/or matching a query, clustered across cities.

    Args:
        settings: which index to read.
        topic: a taxonomy topic id (restricts candidates to passages tagged with it).
        query: a question or description (ranks candidates by semantic similarity).
        cities: only practices from these cities (case-insensitive).
        max_practices: at most this many practices in the digest.

    Returns:
        The Digest: the most relevant clusters first.
    """
    if not topic and not query:
        raise PolicymineError("a digest needs --topic or --query (or both)")
    wanted = {c.lower() for c in cities or []}
    # candidates for clustering, not a result page: many passages of one document may be practices
    backfill_practices(settings.index_dir)
    with Searcher(settings.with_(per_doc=CANDIDATE_PER_DOC)) as searcher:
        topic = searcher.check_topic(topic)  # as the taxonomy spells it
        store = searcher.store
        if query:
            # Hybrid, as a search would rank them: the query's own words ("heat") keep generic
            # passages that are merely near in meaning ("climate hazards") from leading.
            hits = searcher.search(query, CANDIDATES, Filters(topic=topic))
            relevance = {h.passage_id: h.score / hits[0].score for h in hits}
            found = store.practices(ids=list(relevance))
            ranked = sorted(found, key=lambda rr: -relevance[rr[0].id] * (0.5 + rr[1]["score"]))
            scored = [to_practice(row, rec, score=relevance[row.id]) for row, rec in ranked]
        else:
            found = store.practices(Filters(topic=topic), limit=CANDIDATES)
            ranked = sorted(
                found, key=lambda rr: -rr[0].topics.get(topic, 0.0) * (0.5 + rr[1]["score"])
            )
            scored = [
                to_practice(row, rec, score=row.topics.get(topic, 0.0)) for row, rec in ranked
            ]
        scored = [p for p in scored if not wanted or (p.hit.city or "").lower() in wanted]
        ids, vectors = store.vectors([p.hit.passage_id for p in scored])
        chosen, chosen_vectors = _select(scored, dict(zip(ids.tolist(), vectors)), max_practices)
        counts = store.practice_counts()
        topics = searcher.topics
    clusters = _cluster(chosen, chosen_vectors)
    subject = " / ".join(x for x in (topic, query and f"“{query}”") if x)
    digest = Digest(
        title=f"Practice digest: {subject}",
        topic=topic,
        query=query,
        clusters=clusters,
        matrix=([], [], []),
    )
    digest.matrix = _matrix(counts, topics, [c for c in digest.cities if c != UNKNOWN_CITY])
    return digest


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


def _cluster(practices: list[Practice], vectors: np.ndarray) -> list[Cluster]:
    """Average-linkage agglomerative clusters over cosine similarity, labelled by c-TF-IDF terms."""
    groups = [[i] for i in range(len(practices))]
    sims = vectors @ vectors.T if len(practices) else np.zeros((0, 0))
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
    # Practices like no other stay together at the end, so the clusters on top are the comparable ones.
    singles = [i for g in groups if len(g) == 1 for i in g]
    groups = [g for g in groups if len(g) > 1]
    terms = _distinctive_terms([[practices[i] for i in g] for g in groups])
    clusters = [
        Cluster(
            label=", ".join(t[:3]) or "similar practices",
            terms=t,
            practices=[practices[i] for i in g],
        )
        for g, t in zip(groups, terms)
    ]
    # The most relevant clusters first (mean relevance to the query or topic of their practices):
    # ordered by size, a broad cluster of generic plan statements led every query digest.
    clusters.sort(
        key=lambda c: (-float(np.mean([p.hit.score for p in c.practices])), -len(c.cities), c.label)
    )
    if singles:
        clusters.append(Cluster(label=SINGLES, terms=[], practices=[practices[i] for i in singles]))
    return clusters


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[^\W\d_][\w-]{3,}", text.lower()) if w not in LABEL_STOPWORDS]


def _distinctive_terms(groups: list[list[Practice]], n: int = 5) -> list[list[str]]:
    """Per group, its most distinctive words: class-based TF-IDF (BERTopic's c-TF-IDF) against the other groups."""
    counts = [Counter(w for p in g for w in _words(f"{p.title} {p.hit.text}")) for g in groups]
    total = Counter()
    for c in counts:
        total.update(c)
    average = sum(sum(c.values()) for c in counts) / max(len(counts), 1)
    out = []
    for c in counts:
        size = sum(c.values()) or 1
        # a word must occur in at least two of the group's practices when the group has several
        spread = Counter(
            w for p in groups[len(out)] for w in set(_words(f"{p.title} {p.hit.text}"))
        )
        ok = [w for w in c if len(groups[len(out)]) == 1 or spread[w] >= 2]
        ranked = sorted(ok, key=lambda w: -(c[w] / size) * math.log(1 + average / total[w]))
        out.append(ranked[:n])
    return out


def _matrix(
    counts: list[tuple[str, str, int]], topics: list[str], cities: list[str]
) -> tuple[list[str], list[str], list[list[int]]]:
    """Practice records per topic and city, for the cities in the digest."""
    found = {(t, c): n for t, c, n in counts}
    return topics, cities, [[found.get((t, c), 0) for c in cities] for t in topics]


def heatmap_png(digest: Digest) -> bytes | None:
    """The topic-by-city matrix as a PNG heatmap; None when the digest names no city."""
    topics, cities, counts = digest.matrix
    if not cities:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = np.array(counts, dtype=float)
    fig, ax = plt.subplots(
        figsize=(max(5.0, 0.55 * len(cities) + 2.5), 0.38 * len(topics) + 1.8), dpi=110
    )
    ax.imshow(np.log1p(data), cmap="YlGn", aspect="auto")
    ax.set_xticks(range(len(cities)), cities, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(
        range(len(topics)), [f"▶ {t}" if t == digest.topic else t for t in topics], fontsize=8
    )
    for (i, j), v in np.ndenumerate(data):
        if v:
            ax.text(
                j,
                i,
                str(int(v)),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v > data.max() / 2 else "black",
            )
    ax.set_title("Practice records per topic and city (whole index)", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _facts(p: Practice) -> list[str]:
    """The key facts of a practice as short strings, only those the text states."""
    facts = []
    if p.status:
        facts.append(p.status)
    if p.years:
        facts.append(", ".join(map(str, p.years[:4])))
    if p.quantities:
        facts.append(", ".join(p.quantities[:4]))
    if p.actors:
        facts.append("actors: " + ", ".join(p.actors[:4]))
    return facts


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
        f"{len(digest.practices)} practices from {len(digest.cities)} places in {len(digest.clusters)} clusters."
        f" Generated by policymine on {digest.created}."
    )


def render_markdown(digest: Digest, figure: str | None = None) -> str:
    """The digest as Markdown; `figure` is the file name of the heatmap PNG, when written."""
    cell = lambda s: s.replace("|", "\\|").replace("\n", " ")
    lines = [
        f"# {digest.title}",
        "",
        _summary(digest),
        "",
        "## Summary",
        "",
        "| cluster | cities | practices | instruments |",
        "|---|---|---|---|",
    ]
    for c in digest.clusters:
        instruments = ", ".join(sorted({_instrument(p) for p in c.practices}))
        lines.append(
            f"| {cell(c.label)} | {cell(', '.join(c.cities))} | {len(c.practices)} | {cell(instruments)} |"
        )
    lines += ["", "## Who works on what", ""]
    lines.append(
        f"![Practice records per topic and city]({figure})"
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
        ]
        for p in c.practices:
            facts = " · ".join([_place(p), _instrument(p), *_facts(p)])
            lines += [
                f"### {p.title}",
                "",
                f"*{cell(facts)}*",
                "",
                f"> {p.quote}",
                "",
                f"Source: {p.citation}",
                "",
            ]
    return "\n".join(lines)


_STYLE = """
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;max-width:60rem;margin:2rem auto;padding:0 1.2rem}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #6a9a6a;padding-bottom:.2rem}
.meta{color:#555}table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eef4ee}figure{margin:1rem 0;text-align:center}figure img{max-width:100%}figcaption{color:#555;font-size:.85rem}
article{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;margin:.8rem 0;break-inside:avoid}
article h3{margin:.1rem 0 .3rem;font-size:1.05rem}.facts{font-size:.85rem;color:#333}.tag{display:inline-block;background:#eef4ee;border-radius:3px;padding:0 .35rem;margin-right:.3rem}
.city{background:#dde8f6}blockquote{margin:.5rem 0;padding-left:.8rem;border-left:3px solid #6a9a6a;color:#333}.cite{color:#555;font-size:.82rem}
@media print{body{max-width:none;margin:0;font-size:11pt}h2{break-after:avoid}a{color:inherit}}
"""


def render_html(digest: Digest, figure: bytes | None = None) -> str:
    """The digest as one self-contained HTML page: inline CSS, the heatmap as a data URI, no network."""
    e = html.escape
    body = [
        f"<h1>{e(digest.title)}</h1>",
        f"<p class=meta>{e(_summary(digest))}</p>",
        "<h2>Summary</h2>",
        "<table><tr><th>cluster</th><th>cities</th><th>practices</th><th>instruments</th></tr>",
    ]
    for i, c in enumerate(digest.clusters, start=1):
        instruments = ", ".join(sorted({_instrument(p) for p in c.practices}))
        body.append(
            f"<tr><td><a href='#c{i}'>{e(c.label)}</a></td><td>{e(', '.join(c.cities))}</td>"
            f"<td>{len(c.practices)}</td><td>{e(instruments)}</td></tr>"
        )
    body.append("</table><h2>Who works on what</h2>")
    if figure:
        uri = "data:image/png;base64," + base64.b64encode(figure).decode()
        body.append(
            f"<figure><img src='{uri}' alt='Practice records per topic and city'><figcaption>Practice records per topic"
            " (rows) and city (columns) over the whole index; the digest's topic is marked ▶.</figcaption></figure>"
        )
    else:
        body.append("<p class=meta>No city-level practices: no figure.</p>")
    for i, c in enumerate(digest.clusters, start=1):
        body.append(
            f"<h2 id='c{i}'>{e(c.label)}</h2><p class=meta>{len(c.practices)} practices · {e(', '.join(c.cities))}</p>"
        )
        for p in c.practices:
            tags = [
                f"<span class='tag city'>{e(_place(p))}</span>",
                f"<span class=tag>{e(_instrument(p))}</span>",
            ]
            tags += [f"<span class=tag>{e(f)}</span>" for f in _facts(p)]
            body.append(
                f"<article><h3>{e(p.title)}</h3><div class=facts>{''.join(tags)}</div>"
                f"<blockquote>{e(p.quote)}</blockquote><p class=cite>Source: {e(p.citation)}</p></article>"
            )
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>{e(digest.title)}</title><style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def write_digest(digest: Digest, out: Path) -> Path:
    """Write the digest as HTML or Markdown, chosen by the file suffix (Markdown gets its figure as a PNG beside it)."""
    suffix = out.suffix.lower()
    if suffix not in (".md", ".html", ".htm"):
        raise PolicymineError(f"{out}: digest output must end in .md or .html")
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
