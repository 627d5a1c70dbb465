"""What each addition to hybrid search does, on the judged queries of one split (dev by default).

Runs the judged queries of a qrels file with the additions of issue 15 switched on one at a time
(the constants of policymine.search, set in this process only), and prints nDCG@10 and
Recall@20 per query group (eval/qrels.tsv: `en`, English queries answered by English plans,
`xl`, English queries answered by German plans; with --queries, their `lang_target`) and over
all:

- `old`: none of them (the three modes as before, for reference);
- `+split`: "heat" is not "heating" (SPLIT_WORDS);
- `+boilerplate`: boilerplate keeps BOILERPLATE_WEIGHT of its fused score;
- `+language`: language-aware fusion (LANGUAGE_AWARE);
- `+context`, `+context1`, `+context25`: passages scored with their neighbours (CONTEXT_WEIGHT
  0.5, 1.0, 0.25; shipped off);
- `all`: as shipped.

    python benchmarks/search_variants.py --index-dir /tmp/real --qrels eval/qrels.tsv --split dev
    python benchmarks/search_variants.py --index-dir /tmp/real --qrels eval/qrels-v2.tsv \\
        --queries eval/search_queries.tsv --split dev

The index's own model is used (an index reembedded with `use` measures `use`). Tune on dev only.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import numpy as np

from policymine.config import Settings
from policymine.evaluate import SEARCH_DEPTH, load_qrels, query_metrics
from policymine.search import Searcher, index_model

search = importlib.import_module("policymine.search")  # the module: its constants are set here
SHIPPED = {
    name: getattr(search, name)
    for name in (
        "SPLIT_WORDS",
        "BOILERPLATE_WEIGHT",
        "LANGUAGE_AWARE",
        "RESCUE_DEPTH",
        "CONTEXT_WEIGHT",
    )
}
NONE = {
    "SPLIT_WORDS": {},
    "BOILERPLATE_WEIGHT": 1.0,
    "LANGUAGE_AWARE": False,
    "RESCUE_DEPTH": 0,
    "CONTEXT_WEIGHT": 0.0,
}
VARIANTS = {
    "old": NONE,
    "+split": {**NONE, "SPLIT_WORDS": SHIPPED["SPLIT_WORDS"]},
    "+boilerplate": {**NONE, "BOILERPLATE_WEIGHT": SHIPPED["BOILERPLATE_WEIGHT"]},
    "+language": {**NONE, "LANGUAGE_AWARE": True},
    "+context": {**NONE, "CONTEXT_WEIGHT": 0.5},
    "+context1": {**NONE, "CONTEXT_WEIGHT": 1.0},
    "+context25": {**NONE, "CONTEXT_WEIGHT": 0.25},
    "all": SHIPPED,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--qrels", type=Path, default=Path("eval/qrels.tsv"))
    parser.add_argument("--split", default="dev")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--queries",
        type=Path,
        help="a queries file (qid, query, lang_target, split: eval/search_queries.tsv) for a"
        " qrels file without splits; its lang_target names the groups",
    )
    args = parser.parse_args()
    if args.queries:
        rows = [
            line.split("\t") for line in args.queries.read_text("utf-8").splitlines()[1:] if line
        ]
        groups = {r[0]: r[2] for r in rows if r[3] == args.split}
        judged = [q for q in load_qrels(args.qrels) if q.qid in groups]
    else:
        judged = load_qrels(args.qrels, args.split)
        groups = {q.qid: q.group for q in judged}
    settings = index_model(Settings(index_dir=args.index_dir))
    print(f"{args.qrels} · split {args.split} · {len(judged)} queries · model {settings.model}")
    names = sorted(set(groups.values()))
    header = " | ".join(f"{g} nDCG@10 | {g} R@20" for g in [*names, "all"])
    print(f"| variant | mode | {header} |\n|---|---|" + "---|---|" * (len(names) + 1))
    with Searcher(settings) as searcher:
        for name in args.variants.split(","):
            for constant, value in VARIANTS[name].items():
                setattr(search, constant, value)
            modes = ("dense", "keyword", "hybrid") if name == "old" else ("hybrid",)
            if name.startswith("+context"):  # context changes the dense list itself
                modes = ("dense", "hybrid")
            for mode in modes:
                scores: dict[str, list[dict]] = {}
                for q in judged:
                    hits = searcher.search(q.query, SEARCH_DEPTH, mode=mode)
                    scores.setdefault(groups[q.qid], []).append(query_metrics(q, hits))
                scores["all"] = [m for group in list(scores.values()) for m in group]
                cells = [
                    f"{np.mean([m[key] for m in scores.get(group, [])] or [0.0]):.3f}"
                    for group in [*names, "all"]
                    for key in ("ndcg@10", "recall@20")
                ]
                print(f"| {name} | {mode} | {' | '.join(cells)} |", flush=True)
    for constant, value in SHIPPED.items():
        setattr(search, constant, value)


if __name__ == "__main__":
    main()
