"""Blind judging sheets for search pools (issue 15): which pages to read, in which order.

Reads a pool written by `benchmarks/retrieval_baselines.py --pool-out` (qid, system, rank,
doc, page), takes the union of every system's pages down to `--depth` for each query, leaves
out the pages already in the judgements file (`--judged`, so a pool can be deepened), shuffles
each query's pages with a seeded shuffle and writes, per query, a sheet that shows each page
without the system that found it: its document, page number and its text (for a page of more
than 130 words, the 130-word span with the most words of the query).

    python eval/search_pool.py --pool /tmp/pool.tsv --queries eval/search_queries.tsv \\
        --depth 10 --judged eval/qrels-v2.tsv --out /tmp/sheets
    python eval/search_pool.py --pool /tmp/pool.tsv --out /tmp/sheets \\
        --grades /tmp/grades.txt --judged eval/qrels-v2.tsv

The sheets only choose what to read; grades are written by the person reading them.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from retrieval_baselines import read_pages, read_queries, tokens

SEED = 15
SHEET_LINE = re.compile(r"\[(\d+)\] (\S+) p(\d+)")
SHOWN_WORDS = 130  # enough to judge most pages; the whole page is read where unsure


def shown_text(text: str, query: str, limit: int = SHOWN_WORDS) -> str:
    """The page's words, or for a longer page the `limit`-word span with the most query words
    (its start when none occur: a German page for an English query)."""
    words = text.split()
    if len(words) <= limit:
        return " ".join(words)
    wanted = set(tokens(query))
    hits = np.array([bool(wanted & set(tokens(w))) for w in words], dtype=np.int64)
    sums = np.convolve(hits, np.ones(limit, dtype=np.int64), mode="valid")
    start = int(np.argmax(sums))
    return f"[words {start + 1}-{start + limit} of {len(words)}] " + " ".join(
        words[start : start + limit]
    )


def pooled(pool: Path, depth: int) -> dict[str, list[tuple[str, int]]]:
    """Each query's pages found by any system within `depth`, in a fixed (sorted) order."""
    found: dict[str, set[tuple[str, int]]] = {}
    for line in pool.read_text(encoding="utf-8").splitlines()[1:]:
        qid, _system, rank, doc, page = line.split("\t")
        found.setdefault(qid, set())
        if int(rank) <= depth:
            found[qid].add((doc, int(page)))
    return {qid: sorted(units) for qid, units in found.items()}


def judged_units(path: Path | None) -> set[tuple[str, str, int]]:
    """(qid, doc, page) already graded in a qrels file."""
    if not path or not path.is_file():
        return set()
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    return {(r[0], r[2], int(r[3])) for r in rows if len(r) >= 5}


def sheet_units(sheet: Path) -> dict[int, tuple[str, int]]:
    """The numbered pages of a judging sheet: {n: (doc, page)}."""
    units = {}
    for line in sheet.read_text(encoding="utf-8").splitlines():
        if m := SHEET_LINE.fullmatch(line):
            units[int(m[1])] = (m[2], int(m[3]))
    return units


def merge(sheets: Path, grades: Path, queries: Path, qrels: Path) -> int:
    """Append the grades read from sheets (lines `qid n grade`) to a qrels file; rows written."""
    texts = {q.qid: q.query for q in read_queries(queries)}
    new = qrels.is_file()
    done = judged_units(qrels)
    rows = []
    for line in grades.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        qid, n, grade = line.split()
        doc, page = sheet_units(sheets / f"{qid}.txt")[int(n)]
        if (qid, doc, page) not in done:
            done.add((qid, doc, page))
            rows.append(f"{qid}\t{texts[qid]}\t{doc}\t{page}\t{int(grade)}\n")
    with qrels.open("a", encoding="utf-8") as out:
        if not new:
            out.write("qid\tquery\tdoc\tpage\tgrade\n")
        out.writelines(rows)
    return len(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=Path("eval/search_queries.tsv"))
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus"))
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/policymine-baselines"))
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument(
        "--judged", type=Path, help="qrels already written: their pages are skipped"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for one sheet per query")
    parser.add_argument(
        "--grades",
        type=Path,
        help="instead of writing sheets: append these grades (lines `qid n grade`, n as numbered"
        " in the sheets in --out) to the qrels file --judged",
    )
    args = parser.parse_args(argv)
    if args.grades:
        if not args.judged:
            parser.error("--grades needs --judged, the qrels file to append to")
        written = merge(args.out, args.grades, args.queries, args.judged)
        print(f"{written} judged pages appended to {args.judged}", file=sys.stderr)
        return

    queries = {q.qid: q for q in read_queries(args.queries)}
    pages = dict(read_pages(args.corpus, args.cache_dir))
    done = judged_units(args.judged)
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for qid, units in pooled(args.pool, args.depth).items():
        q = queries[qid]
        todo = [u for u in units if (qid, *u) not in done]
        random.Random(f"{SEED}-{qid}").shuffle(todo)
        lines = [f"# {qid}\t{q.query}\t({q.group})"]
        for n, unit in enumerate(todo, start=1):
            shown = shown_text(pages[unit], q.query) or "(no text on this page)"
            lines.append(f"\n[{n}] {unit[0]} p{unit[1]}\n{shown}")
        (args.out / f"{qid}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        total += len(todo)
        print(f"{qid}\t{len(todo)} pages to judge", file=sys.stderr)
    print(f"{total} pages to judge", file=sys.stderr)


if __name__ == "__main__":
    main()
