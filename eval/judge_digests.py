"""Judged digest quality (issue 17): does each practice in a digest answer what was asked?

The digests: the 20 English queries en01-en20 of eval/qrels.tsv and 5 topics, built over a
real-corpus index at LIMIT practices each. Judgements live in eval/digests.tsv, one row per
practice, keyed on (kind, subject, doc, page, quote prefix) so that when the records change
(a new detector, new titles) only the new items need judging:

    # 1. list the items not yet judged, shuffled, without anything about the system that
    #    produced them (no score, rank, cluster or version): judge from the title and quote
    PYTHONPATH=src python eval/judge_digests.py pending --index-dir IDX > /tmp/pending.tsv
    # 2. fill in the `answers` column (1: the practice answers the query / is about the topic,
    #    0: it does not) and append the rows to eval/digests.tsv
    # 3. score: precision over judged practices and the cities per digest
    PYTHONPATH=src python eval/judge_digests.py score --index-dir IDX

Rules for `answers`: 1 when the quote describes something a city (or its partners) does, has
adopted or plans that a staff member asking the query would want in front of the council (for
a topic: a measure of that topic, as ../shared/TAXONOMY.md describes it); 0 for context,
statistics, a different measure, or a quote too broken to tell.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from pathlib import Path

from policymine.clean import comparable
from policymine.config import load
from policymine.digest import build_digest

HERE = Path(__file__).parent
JUDGEMENTS = HERE / "digests.tsv"
QUERIES = [f"en{i:02d}" for i in range(1, 21)]
TOPICS = ["energy", "mobility", "housing", "participation", "health"]
LIMIT = 12
FIELDS = ["kind", "subject", "doc", "page", "title", "quote", "answers"]
PREFIX = 60  # characters of the quote (in its comparable form) that key a judgement


def subjects() -> list[tuple[str, str]]:
    return [("query", text) for text, _ in QUERY_SPLITS.values()] + [("topic", t) for t in TOPICS]


def _queries() -> dict[str, tuple[str, str]]:
    """qid -> (query, split) of the chosen queries."""
    with (HERE / "qrels.tsv").open(encoding="utf-8") as f:
        found = {
            r["qid"]: (r["query"], r.get("split") or "dev")
            for r in csv.DictReader(f, delimiter="\t")
        }
    return {q: found[q] for q in QUERIES}


QUERY_SPLITS = _queries()


def key(kind: str, subject: str, doc: str, page: int | str, quote: str) -> tuple:
    return (kind, subject, doc, str(page), comparable(quote)[:PREFIX].lower())


def read_judgements() -> dict[tuple, int]:
    if not JUDGEMENTS.exists():
        return {}
    with JUDGEMENTS.open(encoding="utf-8") as f:
        return {
            key(r["kind"], r["subject"], r["doc"], r["page"], r["quote"]): int(r["answers"])
            for r in csv.DictReader(f, delimiter="\t")
        }


def digests(index_dir: Path, model: str, limit: int, threshold: float | None = None):
    settings = load(None, index_dir=index_dir, model=model)
    for kind, subject in subjects():
        started = time.perf_counter()
        digest = build_digest(
            settings, **{kind: subject}, max_practices=limit, min_relevance=threshold
        )
        yield kind, subject, digest, time.perf_counter() - started


def pending(args) -> None:
    judged = read_judgements()
    items = {}
    for kind, subject, digest, _ in digests(args.index_dir, args.model, args.limit, args.threshold):
        for p in digest.practices:
            k = key(kind, subject, p.hit.doc, p.quote_page, p.quote)
            if k not in judged:
                items[k] = (kind, subject, p.hit.doc, p.quote_page, p.title, p.quote)
    rows = list(items.values())
    random.Random(17).shuffle(rows)
    out = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    out.writerow(FIELDS)
    for row in rows:
        out.writerow([*row, ""])
    print(f"{len(rows)} items to judge", file=sys.stderr)


def score(args) -> None:
    judged = read_judgements()
    lines = [
        "| digest | practices | judged | answer | precision | cities | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    good = total = missing = 0
    cities, seconds = [], []
    split_of = {text: split for text, split in QUERY_SPLITS.values()}
    groups: dict[str, list[int]] = {}
    for kind, subject, digest, took in digests(
        args.index_dir, args.model, args.limit, args.threshold
    ):
        marks = [
            judged.get(key(kind, subject, p.hit.doc, p.quote_page, p.quote))
            for p in digest.practices
        ]
        known = [m for m in marks if m is not None]
        good, total, missing = good + sum(known), total + len(known), missing + marks.count(None)
        group = f"{split_of[subject]} queries" if kind == "query" else "topics"
        groups.setdefault(group, []).extend(known)
        named = {p.hit.city for p in digest.practices if p.hit.city}
        cities.append(len(named))
        seconds.append(took)
        precision = f"{sum(known) / len(known):.2f}" if known else "-"
        lines.append(
            f"| {kind}: {subject} | {len(marks)} | {len(known)} | {sum(known)} | {precision}"
            f" | {len(named)} | {took:.1f} |"
        )
    print("\n".join(lines))
    print()
    for group, known in sorted(groups.items()):
        print(f"{group}: precision {sum(known) / max(len(known), 1):.2f} over {len(known)}")
    print(
        f"\nprecision {good / max(total, 1):.2f} over {total} judged practices ({missing} not judged);"
        f" median cities per digest {statistics.median(cities)};"
        f" digests with >= 3 cities {sum(c >= 3 for c in cities)}/{len(cities)};"
        f" slowest digest {max(seconds):.1f} s, median {statistics.median(seconds):.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("pending", "score"))
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--limit", type=int, default=LIMIT)
    parser.add_argument(
        "--threshold", type=float, help="the gate's threshold (default: the calibrated one)"
    )
    args = parser.parse_args()
    (pending if args.command == "pending" else score)(args)


if __name__ == "__main__":
    main()
