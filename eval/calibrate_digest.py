"""Calibrate the digest's relevance gate and check its topic threshold (issue 17).

Query gate: for every query of eval/qrels.tsv, the practice records among its nearest passages
(digest.query_candidates, before the gate) are labelled by the judged grade of the page their
quote cites (relevant: grade >= 1 on the quote's page or the passage's pages). A logistic regression over
(cosine similarity, share of query words) is fitted on the DEV queries only (pages never judged
count as not relevant, as in eval/README.md), and the probability threshold is the lowest at
which the precision over the judged dev candidates reaches TARGET. The test queries only report
how it holds. Print the constants for digest.GATES.

Topic threshold: the dev rows of eval/topics.jsonl found in the index (by text) give the
precision of "the topic is the passage's first topic and scores >= t" for several t.

    PYTHONPATH=src python eval/calibrate_digest.py --index-dir /work/indexes/digest-dev
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

from policymine.clean import comparable
from policymine.config import load
from policymine.digest import WORDS_GATE, query_candidates
from policymine.practices import backfill_practices
from policymine.search import Searcher

HERE = Path(__file__).parent
TARGET = 0.85  # dev precision the threshold must reach (the digest's goal, judged)


def read_qrels(path: Path) -> tuple[dict[str, tuple[str, str]], dict[tuple[str, str, int], int]]:
    queries, grades = {}, {}
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            queries[row["qid"]] = (row["query"], row.get("split") or "dev")
            grades[(row["qid"], row["doc"], int(row["page"]))] = int(row["grade"])
    return queries, grades


def labelled(settings, queries, grades) -> list[dict]:
    out = []
    with Searcher(settings.with_(per_doc=25)) as searcher:
        for qid, (query, split) in sorted(queries.items()):
            for c in query_candidates(searcher, query):
                pages = {c.record["page"], *range(c.row.page, (c.row.page_end or c.row.page) + 1)}
                found = [grades[k] for k in ((qid, c.row.doc, n) for n in pages) if k in grades]
                grade = max(found) if found else None
                out.append(
                    {
                        "qid": qid,
                        "split": split,
                        "doc": c.row.doc,
                        "city": c.row.city,
                        "page": c.record["page"],
                        "similarity": c.similarity,
                        "coverage": c.coverage,
                        "grade": grade,
                    }
                )
    return out


def fit(rows: list[dict], features: tuple[str, ...]) -> tuple[float, list[float]]:
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r[f] for f in features] for r in rows])
    y = np.array([(r["grade"] or 0) >= 1 for r in rows])
    model = LogisticRegression(C=10.0).fit(x, y)
    return float(model.intercept_[0]), [float(w) for w in model.coef_[0]]


def probability(bias: float, weights: list[float], r: dict, features: tuple[str, ...]) -> float:
    return 1.0 / (1.0 + np.exp(-(bias + sum(w * r[f] for w, f in zip(weights, features)))))


def report(rows: list[dict], p: dict[int, float], threshold: float, split: str) -> str:
    kept = [r for r in rows if r["split"] == split and p[id(r)] >= threshold]
    judged = [r for r in kept if r["grade"] is not None]
    good = sum(r["grade"] >= 1 for r in judged)
    positives = sum(1 for r in rows if r["split"] == split and (r["grade"] or 0) >= 1)
    per_query = defaultdict(set)
    for r in kept:
        per_query[r["qid"]].add(r["city"])
    queries = {r["qid"] for r in rows if r["split"] == split}
    cities = [len(per_query.get(q, ())) for q in queries]
    return (
        f"{split}: kept {len(kept)} ({len(judged)} judged), precision {good / max(len(judged), 1):.2f},"
        f" recall {good / max(positives, 1):.2f} of judged-relevant candidates,"
        f" queries with none {sum(c == 0 for c in cities)}/{len(queries)},"
        f" median cities {statistics.median(cities) if cities else 0}"
    )


def topic_check(settings) -> None:
    from policymine.store import Store

    rows = [json.loads(line) for line in (HERE / "topics.jsonl").open(encoding="utf-8")]
    rows = [r for r in rows if r["split"] == "dev"]
    with Store(settings.index_dir) as store:
        ids, texts = store.passage_texts()
        index = {comparable(t)[:200]: pid for pid, t in zip(ids, texts)}
        found = {}
        for r in rows:
            pid = index.get(comparable(r["text"])[:200])
            if pid is not None:
                found[pid] = set(r["topics"])
        stored = store.rows(list(found))
    print(f"topics: {len(found)} dev rows of topics.jsonl found in the index")
    for t in (0.15, 0.3, 0.4, 0.5, 0.6, 0.7):
        kept = [
            (pid, first)
            for pid, row in stored.items()
            for first in [max(row.topics, key=row.topics.get, default=None)]
            if first and row.topics[first] >= t
        ]
        good = sum(first in found[pid] for pid, first in kept)
        print(
            f"  first topic with score >= {t}: {len(kept)} rows, precision {good / max(len(kept), 1):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--qrels", type=Path, default=HERE / "qrels.tsv")
    args = parser.parse_args()
    settings = load(None, index_dir=args.index_dir, model=args.model)
    backfill_practices(settings.index_dir)
    queries, grades = read_qrels(args.qrels)
    rows = labelled(settings, queries, grades)
    dev = [r for r in rows if r["split"] == "dev"]
    judged = [r for r in dev if r["grade"] is not None]
    print(
        f"{len(rows)} candidates; dev: {len(dev)}, {len(judged)} judged,"
        f" {sum(r['grade'] >= 1 for r in judged)} relevant"
    )
    for features in (("similarity", "coverage"),):
        bias, weights = fit(dev, features)
        p = {id(r): probability(bias, weights, r, features) for r in rows}
        dev_p = sorted((p[id(r)], r["grade"] >= 1) for r in judged)
        threshold = 1.0
        for t, _ in dev_p:
            above = [ok for q, ok in dev_p if q >= t]
            if len(above) >= 10 and sum(above) / len(above) >= TARGET:
                threshold = t
                break
        print(
            f"\n{features}: bias {bias:.3f}, weights {[round(w, 3) for w in weights]}, threshold {threshold:.3f}"
        )
        for t in sorted({0.25, 0.3, 0.33, 0.36, 0.4, 0.5, 0.6, round(threshold, 3)}):
            print(f"  p >= {t}: " + report(rows, p, t, "dev"))
            print(f"  {'':>{len(str(t)) + 5}} " + report(rows, p, t, "test"))
    current = {id(r): WORDS_GATE.probability(r["similarity"], r["coverage"]) for r in rows}
    print(f"\nwords-only gate as shipped (threshold {WORDS_GATE.threshold}):")
    print("  " + report(rows, current, WORDS_GATE.threshold, "dev"))
    print("  " + report(rows, current, WORDS_GATE.threshold, "test"))
    topic_check(settings)


if __name__ == "__main__":
    main()
