"""Calibrate search's relevance floor (issue 15): when does a query have no close match?

A query's hits are flagged "no close matches; nearest: ..." when its best dense similarity is
under the model's floor (search.FLOOR) and no keyword hit holds half its words. The floor is
set on the dev split only, at the middle of the gap between the lowest best similarity of the
dev analyst queries (eval/search_queries.tsv and eval/qrels.tsv: every one has answers in the
corpus) and the highest of the dev queries of eval/off_domain_queries.tsv (bread, cricket,
opera: nothing in a corpus of city plans answers them). The test halves then report, beside the
previous floor (0.3, a guess), how many real queries were wrongly said to have no close match
and how many off-domain ones were rightly flagged.

    PYTHONPATH=src python eval/calibrate_floor.py --index-dir INDEX [--model minilm] [--previous 0.3]
"""

from __future__ import annotations

import argparse
import csv
import importlib
from pathlib import Path

from policymine.config import load
from policymine.search import Searcher

search = importlib.import_module("policymine.search")  # the module: its FLOOR is set here
HERE = Path(__file__).parent


def queries() -> list[tuple[str, str, bool]]:
    """(query, split, off-domain) for the analyst queries and the off-domain ones."""
    out: dict[str, tuple[str, str, bool]] = {}
    for name in ("search_queries.tsv", "qrels.tsv", "off_domain_queries.tsv"):
        with (HERE / name).open(encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                out.setdefault(
                    row["query"], (row["query"], row.get("split") or "dev", name.startswith("off"))
                )
    return list(out.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--previous", type=float, default=0.3, help="the floor to compare with")
    args = parser.parse_args()
    settings = load(None, index_dir=args.index_dir, model=args.model)
    rows = queries()
    with Searcher(settings) as searcher:
        best = {}
        for q, _split, _off in rows:
            hits = searcher.search(q, 1, mode="dense")
            best[q] = hits[0].score if hits else 0.0
        dev_real = min(best[q] for q, split, off in rows if split == "dev" and not off)
        dev_off = max(best[q] for q, split, off in rows if split == "dev" and off)
        floor = round((dev_real + dev_off) / 2, 3)
        print(
            f"dev: lowest best similarity of an analyst query {dev_real:.3f},"
            f" highest of an off-domain query {dev_off:.3f} -> floor {floor}"
        )
        for name, value in (("previous", args.previous), ("calibrated", floor)):
            search.FLOOR[settings.model] = value
            for split in ("dev", "test"):
                said = {
                    q: all(h.nearest for h in hits) if (hits := searcher.search(q, 5)) else True
                    for q, s, _ in rows
                    if s == split
                }
                real = [said[q] for q, s, off in rows if s == split and not off]
                off = [said[q] for q, s, o in rows if s == split and o]
                print(
                    f"{name:>10} floor {value}: {split:>4}: analyst queries wrongly said to have"
                    f" no close match {sum(real)}/{len(real)}; off-domain queries rightly"
                    f" flagged {sum(off)}/{len(off)}"
                )


if __name__ == "__main__":
    main()
