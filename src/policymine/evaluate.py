"""Evaluation against labelled data: topic tagging (per-topic precision, recall, F1).

`eval tags FILE.jsonl` reads rows `{"text", "topics": [...], "split"?}` (eval/topics.jsonl
is the team's set), scores them with the same Tagger that ingest uses, and compares the
assigned topics with the gold ones. Rows of other splits are left out, so the held-out
`test` split is what a report shows unless asked otherwise.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import Settings
from .embed import embed, get_embedder
from .errors import PolicymineError
from .tag import Tagger, load_taxonomy


@dataclass
class TopicScore:
    """Precision, recall and F1 of one topic."""

    topic: str
    support: int  # gold positives
    predicted: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class TagReport:
    """The outcome of a tagging evaluation."""

    rows: int
    split: str
    threshold: float
    topics: list[TopicScore] = field(default_factory=list)

    @property
    def macro_f1(self) -> float:
        """Mean F1 over the topics that have gold positives."""
        scored = [t.f1 for t in self.topics if t.support]
        return sum(scored) / len(scored) if scored else 0.0

    @property
    def micro_f1(self) -> float:
        correct = sum(t.correct for t in self.topics)
        predicted = sum(t.predicted for t in self.topics)
        support = sum(t.support for t in self.topics)
        return 2 * correct / (predicted + support) if predicted + support else 0.0

    def to_dict(self) -> dict:
        return {
            "rows": self.rows,
            "split": self.split,
            "threshold": self.threshold,
            "macro_f1": round(self.macro_f1, 3),
            "micro_f1": round(self.micro_f1, 3),
            "topics": {
                t.topic: {
                    "precision": round(t.precision, 3),
                    "recall": round(t.recall, 3),
                    "f1": round(t.f1, 3),
                    "support": t.support,
                }
                for t in self.topics
            },
        }


def load_labelled(
    path: Path, split: str = "test", needs: tuple[str, type] = ("topics", list)
) -> list[dict]:
    """Labelled rows of one split ("all" for every row); a malformed line is an error naming it.

    `needs` names the label field each row must have, and its type.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise PolicymineError(f"{path}: cannot read labelled data ({exc.strerror})") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PolicymineError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        key, kind = needs
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("text"), str)
            or not isinstance(row.get(key), kind)
        ):
            raise PolicymineError(
                f'{path}:{number}: a row needs "text" (string) and "{key}" ({kind.__name__})'
            )
        if split == "all" or row.get("split", "test") == split:
            rows.append(row)
    if not rows:
        raise PolicymineError(f"{path}: no rows in split {split!r}")
    return rows


def topic_scores(rows: list[dict], settings: Settings) -> tuple[Tagger, np.ndarray]:
    """The tagger and its (rows x topics) score matrix, as ingest would compute it."""
    tagger = Tagger(get_embedder(settings.model), settings, load_taxonomy(settings.taxonomy))
    texts = [r["text"] for r in rows]
    return tagger, tagger.topic_scores(texts, embed(texts, tagger.embedder, settings.batch_size))


def score_tags(rows: list[dict], tagger: Tagger, scores: np.ndarray, split: str) -> TagReport:
    """Compare the topics the tagger assigns with the gold topics."""
    unknown = {t for r in rows for t in r["topics"]} - set(tagger.topic_ids)
    if unknown:
        raise PolicymineError(f"labelled topics not in the taxonomy: {', '.join(sorted(unknown))}")
    predicted = [set(tagger.labels(row)) for row in scores]
    report = TagReport(rows=len(rows), split=split, threshold=tagger.settings.topic_threshold)
    for topic in tagger.topic_ids:
        gold = [topic in r["topics"] for r in rows]
        pred = [topic in p for p in predicted]
        report.topics.append(
            TopicScore(
                topic,
                support=sum(gold),
                predicted=sum(pred),
                correct=sum(g and p for g, p in zip(gold, pred)),
            )
        )
    return report


def evaluate_tags(path: Path, settings: Settings, split: str = "test") -> TagReport:
    """Per-topic precision, recall and F1 of the tagger on a labelled file."""
    rows = load_labelled(path, split)
    tagger, scores = topic_scores(rows, settings)
    return score_tags(rows, tagger, scores, split)


def _tag_report(rows: list[dict], topics: list[str], predicted: list[set], split: str) -> TagReport:
    """Per-topic precision, recall and F1 of predicted topic sets against the gold topics."""
    report = TagReport(rows=len(rows), split=split, threshold=0.0)
    for topic in topics:
        gold = [topic in r["topics"] for r in rows]
        pred = [topic in p for p in predicted]
        report.topics.append(
            TopicScore(topic, sum(gold), sum(pred), sum(g and q for g, q in zip(gold, pred)))
        )
    return report


def compare_tags(
    path: Path, split: str = "test", model: str = "minilm"
) -> list[tuple[str, str, TagReport]]:
    """(system, language, report) for the default taxonomy's topics in one run on the same rows:
    the learned classifiers of `model`, the term-and-similarity scorer (the previous tagger),
    a keyword rule (a topic when one of its terms occurs) and the majority class per topic
    (of the train split); over all rows, then per language."""
    rows = load_labelled(path, split)
    train = load_labelled(path, "train")
    tagger = Tagger(get_embedder(model), Settings(model=model), learned_topics=True)
    if tagger.learned is None:
        raise PolicymineError(f"no learned topic classifier ships for model {model!r}")
    texts = [r["text"] for r in rows]
    vectors = embed(texts, tagger.embedder)
    learned = np.vstack(
        [
            tagger.topic_scores([r["text"]], vectors[i : i + 1], r.get("doc", ""))
            for i, r in enumerate(rows)
        ]
    )
    blended = tagger.term_scores(texts, vectors)
    fixed = np.full(len(tagger.topic_ids), tagger.settings.topic_threshold)
    topics = tagger.topic_ids
    majority = {t for t in topics if 2 * sum(t in r["topics"] for r in train) > len(train)}
    systems = {
        f"learned ({model})": [set(tagger.labels(row)) for row in learned],
        "terms and similarity (previous)": [set(tagger.labels(row, fixed)) for row in blended],
        "keyword rule (any term)": [
            {t for t, n in zip(topics, tagger.terms.counts(text)) if n} for text in texts
        ],
        "majority class": [majority] * len(rows),
    }
    return per_language(
        rows, systems, lambda kept, predicted: _tag_report(kept, topics, predicted, split)
    )


def per_language(
    rows: list[dict], systems: dict[str, list], score
) -> list[tuple[str, str, object]]:
    """(system, language, score(rows, predictions)) over all rows, then per language."""
    out = []
    for lang in ["all", *sorted({r.get("lang", "en") for r in rows})]:
        keep = [i for i, r in enumerate(rows) if lang == "all" or r.get("lang", "en") == lang]
        for name, predicted in systems.items():
            out.append((name, lang, score([rows[i] for i in keep], [predicted[i] for i in keep])))
    return out


@dataclass
class PracticeReport:
    """Precision and recall of the practice detector; instrument and status accuracy on the true practices."""

    rows: int
    split: str
    threshold: float
    true_positives: int
    predicted: int
    gold: int
    instrument_correct: int
    status_correct: int
    status_stated: int  # true practices to which the detector gave a status at all

    @property
    def detection(self) -> TopicScore:
        """Precision, recall and F1 of "is a practice", scored as one topic would be."""
        return TopicScore(
            "practice", support=self.gold, predicted=self.predicted, correct=self.true_positives
        )

    def to_dict(self) -> dict:
        return {
            **self.__dict__,
            "precision": round(self.detection.precision, 3),
            "recall": round(self.detection.recall, 3),
            "f1": round(self.detection.f1, 3),
            "instrument_accuracy": round(self.instrument_correct / self.gold, 3)
            if self.gold
            else 0.0,
            "status_accuracy": round(self.status_correct / self.gold, 3) if self.gold else 0.0,
        }


def _practice_report(
    rows: list[dict], split: str, threshold: float, verdicts: list
) -> PracticeReport:
    """A PracticeReport of one system's verdicts (is_practice, instrument, status) on rows."""
    gold = [(r, v) for r, v in zip(rows, verdicts) if r["is_practice"]]
    return PracticeReport(
        rows=len(rows),
        split=split,
        threshold=threshold,
        true_positives=sum(v[0] and r["is_practice"] for r, v in zip(rows, verdicts)),
        predicted=sum(bool(v[0]) for v in verdicts),
        gold=len(gold),
        instrument_correct=sum(v[1] == r["instrument"] for r, v in gold),
        status_correct=sum(v[2] == r["status"] for r, v in gold),
        status_stated=sum(v[2] is not None for _, v in gold),
    )


def evaluate_practices(path: Path, split: str = "test") -> PracticeReport:
    """Score the transparent cue detector (the keyword rule) on labelled passages: no model runs."""
    from .practices import MIN_PRACTICE_SCORE, detect, instrument_of, status_of

    rows = load_labelled(path, split, needs=("is_practice", bool))
    verdicts = [
        (
            detect(r["text"]) >= MIN_PRACTICE_SCORE,
            instrument_of(r["text"])[0],
            status_of(r["text"])[0],
        )
        for r in rows
    ]
    return _practice_report(rows, split, MIN_PRACTICE_SCORE, verdicts)


def compare_practices(
    path: Path, split: str = "test", model: str = "minilm"
) -> list[tuple[str, str, PracticeReport]]:
    """(system, language, report) for the learned detector of `model`, the keyword rule and the
    majority class (of the train split), in one run on the same rows: all, then per language."""
    from .embed import embed, get_embedder
    from .practices import MIN_PRACTICE_SCORE, detect, instrument_of, judge, status_of

    rows = load_labelled(path, split, needs=("is_practice", bool))
    try:
        train = load_labelled(path, "train", needs=("is_practice", bool))
    except PolicymineError:  # a file without a train split: the majority of the rows scored
        train = rows
    if not rows:
        raise PolicymineError(f"{path}: no rows in split {split!r}")
    vectors = embed([r["text"] for r in rows], get_embedder(model))
    # the document's name is a feature (a draft plan, a code, a report): judged row by row
    learned = [
        judge([r["text"]], vectors[i : i + 1], r.get("doc", ""), model)[0]
        for i, r in enumerate(rows)
    ]
    if not learned or learned[0].how != "classifier":
        raise PolicymineError(f"no learned practice classifier ships for model {model!r}")
    majority = (
        Counter(r["is_practice"] for r in train).most_common(1)[0][0] if train else True,
        _most_common(r.get("instrument") for r in train if r["is_practice"]),
        _most_common(r.get("status") for r in train if r["is_practice"]),
    )
    systems = {
        f"learned ({model})": [(v.is_practice, v.instrument, v.status) for v in learned],
        "keyword rule (cues)": [
            (
                detect(r["text"]) >= MIN_PRACTICE_SCORE,
                instrument_of(r["text"])[0],
                status_of(r["text"])[0],
            )
            for r in rows
        ],
        "majority class": [majority] * len(rows),
    }
    return per_language(
        rows,
        systems,
        lambda kept, verdicts: _practice_report(kept, split, MIN_PRACTICE_SCORE, verdicts),
    )


def _most_common(values) -> str | None:
    found = Counter(v for v in values if v)
    return found.most_common(1)[0][0] if found else None


@dataclass
class PlaceResult:
    """Expected and found city and country of one document."""

    doc: str
    city: str | None
    country: str | None
    found_city: str | None
    found_country: str | None

    @property
    def city_ok(self) -> bool:
        return self.city == self.found_city

    @property
    def country_ok(self) -> bool:
        return self.country == self.found_country


def evaluate_places(
    truth_file: Path, found: dict[str, tuple[str | None, str | None]]
) -> list[PlaceResult]:
    """Compare documents' (city, country) with a truth TSV (`doc`, `city`, `country`; empty = none).

    Expected cities are normalised through the gazetteer, so "Hannover" in the truth file
    and the canonical "Hanover" are the same city. A document missing from `found`
    (not tagged, e.g. it failed) counts as found with no city and no country.
    """
    import csv

    from .places import Gazetteer

    gazetteer = Gazetteer.default()
    try:
        with open(truth_file, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except OSError as exc:
        raise PolicymineError(f"{truth_file}: cannot read ({exc.strerror})") from None
    for row in rows:  # the written test set names its documents `file`
        if "doc" not in row and "file" in row:
            row["doc"] = row["file"]
    if not rows or not {"doc", "city", "country"} <= set(rows[0]):
        raise PolicymineError(f"{truth_file}: needs the tab-separated columns doc, city, country")
    results = []
    for row in rows:
        city = row["city"].strip() or None
        if city and (place := gazetteer.lookup(city)):
            city = place.name
        found_city, found_country = found.get(row["doc"], (None, None))
        results.append(
            PlaceResult(row["doc"], city, row["country"].strip() or None, found_city, found_country)
        )
    return results


@dataclass
class PlaceGroup:
    """City and country accuracy over one group of documents (a split, a language)."""

    docs: str  # "all" | a split name
    lang: str
    documents: int
    city_correct: int
    country_correct: int


def place_groups(
    results: Sequence[PlaceResult], langs: dict[str, str], splits: dict[str, str]
) -> list[PlaceGroup]:
    """Accuracy over all documents and over the test split, each per language and overall."""
    groups: list[PlaceGroup] = []
    for docs in ("all", "test"):
        chosen = [r for r in results if docs == "all" or splits.get(r.doc) == docs]
        if not chosen:
            continue
        by_lang = sorted({langs.get(r.doc, "?") for r in chosen})
        for lang in [*by_lang, "all"] if len(by_lang) > 1 else by_lang:
            rows = [r for r in chosen if lang == "all" or langs.get(r.doc, "?") == lang]
            groups.append(
                PlaceGroup(
                    docs,
                    lang,
                    len(rows),
                    sum(r.city_ok for r in rows),
                    sum(r.country_ok for r in rows),
                )
            )
    return groups


def read_splits(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(lang per document, split per document) from a TSV with columns doc, lang, split."""
    import csv

    try:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except OSError as exc:
        raise PolicymineError(f"{path}: cannot read ({exc.strerror})") from None
    if not rows or not {"doc", "lang", "split"} <= set(rows[0]):
        raise PolicymineError(f"{path}: needs the tab-separated columns doc, lang, split")
    return {r["doc"]: r["lang"] for r in rows}, {r["doc"]: r["split"] for r in rows}


def langs_from_tags(tags_file: Path) -> dict[str, str]:
    """The language of each document of a `policymine tag` JSONL."""
    langs = {}
    for line in Path(tags_file).read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            langs[record["doc"]] = record["lang"]
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return langs


def places_from_tags(tags_file: Path) -> dict[str, tuple[str | None, str | None]]:
    """(city, country) per document from the JSONL that `policymine tag` writes."""
    found = {}
    for number, line in enumerate(
        Path(tags_file).read_text(encoding="utf-8").splitlines(), start=1
    ):
        try:
            record = json.loads(line)
            found[record["doc"]] = (record.get("city"), record.get("country"))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise PolicymineError(
                f"{tags_file}:{number}: not a record of `policymine tag`"
            ) from None
    return found


# ---------------------------------------------------------------- search

SEARCH_DEPTH = (
    20  # hits fetched per query: nDCG@10, Recall@20 and MRR (first relevant hit within 20)
)


@dataclass
class Judged:
    """The judgements of one query: graded (doc, page) units; grade 0 means judged not relevant."""

    qid: str
    query: str
    split: str
    grades: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def group(self) -> str:
        """The query's set, from its id's letters: "en01" → "en", "xl03" → "xl"."""
        return "".join(ch for ch in self.qid if ch.isalpha()) or "all"

    @property
    def relevant(self) -> dict[tuple[str, int], int]:
        return {unit: g for unit, g in self.grades.items() if g > 0}


def load_qrels(path: Path, split: str = "all") -> list[Judged]:
    """Queries and judgements from a TSV with columns qid, query, doc, page, grade [, split]."""
    if not Path(path).is_file():
        raise PolicymineError(f"{path}: qrels file not found")
    queries: dict[str, Judged] = {}
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t") if lines else []
    if header[:5] != ["qid", "query", "doc", "page", "grade"]:
        raise PolicymineError(
            f"{path}: expected a header line 'qid query doc page grade [split]' (tab-separated)"
        )
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        try:
            qid, query, doc, page, grade = cells[:5]
            unit, grade_ = (doc, int(page)), int(grade)
        except ValueError:
            raise PolicymineError(
                f"{path}:{number}: expected 5 or 6 tab-separated cells with numeric page and grade"
            ) from None
        judged = queries.setdefault(
            qid, Judged(qid, query, cells[5] if len(cells) > 5 and cells[5] else "all")
        )
        judged.grades[unit] = max(grade_, judged.grades.get(unit, 0))
    chosen = [q for q in queries.values() if split == "all" or q.split == split]
    if not chosen:
        raise PolicymineError(f"{path}: no queries in split {split!r}")
    return chosen


def _pages(hit) -> list[tuple[str, int]]:
    return [(hit.doc, p) for p in range(hit.page, (hit.page_end or hit.page) + 1)]


def query_metrics(judged: Judged, hits: list) -> dict[str, float]:
    """nDCG@10, Recall@20 and MRR of one ranked list; each judged page counts once."""
    relevant = judged.relevant
    seen: set[tuple[str, int]] = set()
    gains = []
    for hit in hits[:SEARCH_DEPTH]:
        new = [u for u in _pages(hit) if u in relevant and u not in seen]
        seen.update(new)
        gains.append(max((relevant[u] for u in new), default=0))
    dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(g / np.log2(i + 2) for i, g in enumerate(ideal))
    first = next((i for i, g in enumerate(gains) if g), None)
    return {
        "ndcg@10": dcg / idcg if idcg else 0.0,
        "recall@20": len(seen) / len(relevant) if relevant else 0.0,
        "mrr": 1.0 / (first + 1) if first is not None else 0.0,
    }


@dataclass
class SearchReport:
    """Mean metrics per mode and query group."""

    qrels: str
    split: str
    queries: int
    rows: list[dict] = field(
        default_factory=list
    )  # {"mode", "group", "queries", "ndcg@10", "recall@20", "mrr"}
    per_query: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return self.__dict__


def evaluate_search(
    path: Path, settings: Settings, modes: list[str], split: str = "all"
) -> SearchReport:
    """Run every judged query in every mode and average the metrics, per query group and overall."""
    from .search import Searcher

    judged = load_qrels(path, split)
    report = SearchReport(qrels=str(path), split=split, queries=len(judged))
    with Searcher(settings) as searcher:
        for mode in modes:
            scores = []
            for q in judged:
                metrics = query_metrics(q, searcher.search(q.query, SEARCH_DEPTH, mode=mode))
                scores.append((q.group, metrics))
                report.per_query.append({"mode": mode, "qid": q.qid, **metrics})
            groups = sorted({g for g, _ in scores})
            for group in [*groups, "all"] if len(groups) > 1 else groups:
                chosen = [m for g, m in scores if group in (g, "all")]
                report.rows.append(
                    {
                        "mode": mode,
                        "group": group,
                        "queries": len(chosen),
                        **{
                            key: round(float(np.mean([m[key] for m in chosen])), 3)
                            for key in chosen[0]
                        },
                    }
                )
    return report
