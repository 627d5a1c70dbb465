"""Search quality of policymine beside simple baselines, in one run over the same judgements.

Systems, each a ranked list of (document, page) cut at 20 pages:
- `bm25`: BM25 (k1 1.2, b 0.75) over whole pages; lowercased word tokens, no stemming and no
  stopword list;
- `minilm-win`: all-MiniLM-L6-v2 over 200-word windows of each page (stride 150 words), a page
  ranked by its best window;
- `use-win`: the multilingual Universal Sentence Encoder over the same windows;
- `pm-dense`, `pm-keyword`, `pm-hybrid`: every policymine search mode on an index
  (`--index-dir`) with its default settings; a passage counts for the page it starts on, and
  later passages of a page already listed are skipped.

Pages are the judged unit: a qrels file has the columns `qid query doc page grade`
(eval/qrels-v2.tsv, eval/qrels.tsv). Page texts are read with pypdfium2, as the baselines in
issue 15 read them. The metrics are policymine's own (`evaluate.query_metrics`): nDCG@10,
Recall@20 and MRR, averaged per split and per query group (the `lang_target` of
eval/search_queries.tsv, or the qid's letters when no queries file is given).

    python benchmarks/retrieval_baselines.py --index-dir /work/indexes/real-main \\
        --qrels eval/qrels-v2.tsv --queries eval/search_queries.tsv [--pool-out pool.tsv]

Window embeddings are cached in --cache-dir (a .npy per model, keyed by a hash of the
windows), so a second run embeds only the queries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from policymine.config import Settings
from policymine.evaluate import Judged, load_qrels, query_metrics
from policymine.search import MODES, Searcher
from policymine.store import Store

ROOT = Path(__file__).resolve().parents[1]
DEPTH = 20  # pages per ranked list
WINDOW, STRIDE = 200, 150  # words
BM25_K1, BM25_B = 1.2, 0.75
TOKEN = re.compile(r"\w+")
METRICS = ("ndcg@10", "recall@20", "mrr")

Unit = tuple[str, int]  # (document file name, page from 1)


@dataclass(frozen=True)
class PageUnit:
    """A ranked page, shaped like a search hit for `query_metrics`."""

    doc: str
    page: int
    page_end: int | None = None


@dataclass
class Query:
    qid: str
    query: str
    group: str  # lang_target: en, de or mixed
    split: str  # dev or test


# ---------------------------------------------------------------------- corpus


def read_pages(corpus: Path, cache_dir: Path) -> list[tuple[Unit, str]]:
    """Every page of every PDF in `corpus` with its text, cached as JSON in `cache_dir`."""
    files = sorted(corpus.glob("*.pdf"))
    key = hashlib.sha1(
        "".join(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files).encode()
    ).hexdigest()[:12]
    cached = cache_dir / f"pages-{key}.json"
    if cached.is_file():
        return [((d, p), t) for d, p, t in json.loads(cached.read_text(encoding="utf-8"))]
    import pypdfium2 as pdfium

    pages = []
    for f in files:
        pdf = pdfium.PdfDocument(f)
        try:
            for number in range(len(pdf)):
                textpage = pdf[number].get_textpage()
                pages.append(((f.name, number + 1), textpage.get_text_range()))
        finally:
            pdf.close()
    cached.write_text(json.dumps([[d, p, t] for (d, p), t in pages]), encoding="utf-8")
    return pages


def tokens(text: str) -> list[str]:
    """Lowercased word tokens."""
    return TOKEN.findall(text.lower())


def windows(pages: list[tuple[Unit, str]]) -> tuple[list[str], np.ndarray]:
    """200-word windows (stride 150) of each page's text, and the page index of each window."""
    texts, owner = [], []
    for i, (_, text) in enumerate(pages):
        words = text.split()
        start = 0
        while words:
            texts.append(" ".join(words[start : start + WINDOW]))
            owner.append(i)
            if start + WINDOW >= len(words):
                break
            start += STRIDE
    return texts, np.asarray(owner, dtype=np.int64)


# ---------------------------------------------------------------------- baselines


class BM25:
    """Okapi BM25 over whole pages, in numpy."""

    def __init__(self, texts: list[str], k1: float = BM25_K1, b: float = BM25_B):
        counts = [Counter(tokens(t)) for t in texts]
        self.k1, self.b = k1, b
        self.lengths = np.array([sum(c.values()) for c in counts], dtype=np.float64)
        self.avgdl = float(self.lengths.mean()) if len(counts) else 0.0
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        docs: dict[str, list[int]] = {}
        freqs: dict[str, list[int]] = {}
        for i, c in enumerate(counts):
            for term, n in c.items():
                docs.setdefault(term, []).append(i)
                freqs.setdefault(term, []).append(n)
        for term, ids in docs.items():
            self.postings[term] = (np.asarray(ids), np.asarray(freqs[term], dtype=np.float64))

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every page for `query` (each distinct query term counts once)."""
        n = len(self.lengths)
        out = np.zeros(n)
        norm = self.k1 * (1 - self.b + self.b * self.lengths / self.avgdl)
        for term in dict.fromkeys(tokens(query)):
            if term not in self.postings:
                continue
            ids, tf = self.postings[term]
            idf = np.log(1 + (n - len(ids) + 0.5) / (len(ids) + 0.5))
            out[ids] += idf * tf * (self.k1 + 1) / (tf + norm[ids])
        return out


def top_pages(scores: np.ndarray, units: list[Unit], depth: int = DEPTH) -> list[Unit]:
    """The `depth` best-scoring pages with a positive score (ties by corpus order)."""
    order = np.argsort(-scores, kind="stable")[:depth]
    return [units[i] for i in order if scores[i] > 0]


def window_vectors(model: str, texts: list[str], cache_dir: Path) -> np.ndarray:
    """Embeddings of the windows with policymine's `model`, cached in a .npy file."""
    from policymine.embed import embed, get_embedder

    key = hashlib.sha1("\x00".join(texts).encode()).hexdigest()[:12]
    cached = cache_dir / f"windows-{model}-{key}.npy"
    if cached.is_file():
        return np.load(cached)
    started = time.perf_counter()
    vectors = embed(texts, get_embedder(model), batch_size=64)
    np.save(cached, vectors)
    print(
        f"embedded {len(texts)} windows with {model} in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return vectors


def dense_runs(
    model: str,
    queries: list[Query],
    vectors: np.ndarray,
    owner: np.ndarray,
    units: list[Unit],
) -> dict[str, list[Unit]]:
    """Each query's pages ranked by their best window's cosine similarity."""
    from policymine.embed import get_embedder

    qvecs = get_embedder(model).embed_batch([q.query for q in queries])
    runs = {}
    for q, qv in zip(queries, qvecs, strict=True):
        best = np.full(len(units), -np.inf)
        np.maximum.at(best, owner, vectors @ qv)
        order = np.argsort(-best, kind="stable")[:DEPTH]
        runs[q.qid] = [units[i] for i in order if np.isfinite(best[i])]
    return runs


# ---------------------------------------------------------------------- policymine


def policymine_runs(index_dir: Path, queries: list[Query]) -> dict[str, dict[str, list[Unit]]]:
    """`{"pm-<mode>": {qid: pages}}` for every search mode, with the index's own model."""
    with Store(index_dir) as store:
        model = store.index_meta().model or "minilm"
    settings = Settings(index_dir=index_dir, model=model)
    runs: dict[str, dict[str, list[Unit]]] = {}
    with Searcher(settings) as searcher:
        for mode in MODES:
            runs[f"pm-{mode}"] = {}
            for q in queries:
                pages: list[Unit] = []
                # a passage counts for its first page; 3 hits a page is plenty to fill 20 pages
                for hit in searcher.search(q.query, 3 * DEPTH, mode=mode):
                    if (hit.doc, hit.page) not in pages:
                        pages.append((hit.doc, hit.page))
                runs[f"pm-{mode}"][q.qid] = pages[:DEPTH]
    return runs


# ---------------------------------------------------------------------- evaluation


def read_queries(path: Path) -> list[Query]:
    """Queries from a TSV with columns qid, query, lang_target, split."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Query(*line.split("\t")[:4]) for line in lines[1:] if line.strip()]


def queries_from_qrels(judged: list[Judged]) -> list[Query]:
    """Queries of a qrels file without a queries file: the group is the qid's letters."""
    return [Query(j.qid, j.query, j.group, j.split) for j in judged]


def score_table(
    runs: dict[str, dict[str, list[Unit]]], queries: list[Query], judged: dict[str, Judged]
) -> list[dict]:
    """Mean metrics per system, split (each, and all) and group (each, and all)."""
    per_query = {
        (system, q.qid): query_metrics(judged[q.qid], [PageUnit(*u) for u in run[q.qid]])
        for system, run in runs.items()
        for q in queries
        if q.qid in judged
    }
    scored = [q for q in queries if q.qid in judged]
    splits = sorted({q.split for q in scored})
    groups = sorted({q.group for q in scored})
    rows = []
    for split in [*splits, "all"] if len(splits) > 1 else splits:
        for system in runs:
            for group in ["all", *groups]:
                chosen = [
                    per_query[system, q.qid]
                    for q in scored
                    if split in ("all", q.split) and group in ("all", q.group)
                ]
                if chosen:
                    rows.append(
                        {
                            "split": split,
                            "system": system,
                            "group": group,
                            "queries": len(chosen),
                            **{k: float(np.mean([m[k] for m in chosen])) for k in METRICS},
                        }
                    )
    return rows


def print_table(rows: list[dict]) -> None:
    """One block per split: systems down, groups x metrics across."""
    for split in dict.fromkeys(r["split"] for r in rows):
        chosen = [r for r in rows if r["split"] == split]
        groups = list(dict.fromkeys(r["group"] for r in chosen))
        counts = {r["group"]: r["queries"] for r in chosen}
        print(f"\nsplit {split}: nDCG@10 / Recall@20 / MRR")
        header = f"{'system':<12}" + "".join(f"{g + f' ({counts[g]})':>22}" for g in groups)
        print(header)
        for system in dict.fromkeys(r["system"] for r in chosen):
            cells = {r["group"]: r for r in chosen if r["system"] == system}
            line = f"{system:<12}"
            for g in groups:
                r = cells[g]
                line += f"{r['ndcg@10']:>10.3f}{r['recall@20']:>6.2f}{r['mrr']:>6.2f}"
            print(line)


def write_pool(path: Path, runs: dict[str, dict[str, list[Unit]]]) -> None:
    """Each system's ranked pages per query: qid, system, rank, doc, page."""
    with path.open("w", encoding="utf-8") as out:
        out.write("qid\tsystem\trank\tdoc\tpage\n")
        for system, run in runs.items():
            for qid, pages in run.items():
                for rank, (doc, page) in enumerate(pages, start=1):
                    out.write(f"{qid}\t{system}\t{rank}\t{doc}\t{page}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus"))
    parser.add_argument("--index-dir", type=Path, help="a policymine index of the same corpus")
    parser.add_argument("--qrels", type=Path, help="judged pages: qid query doc page grade")
    parser.add_argument(
        "--queries", type=Path, help="qid query lang_target split (default: the qrels' queries)"
    )
    parser.add_argument(
        "--split", default="all", help="dev, test or all (default: all, each shown)"
    )
    parser.add_argument("--pool-out", type=Path, help="write every system's top 20 pages here")
    parser.add_argument("--json-out", type=Path, help="write the table rows as JSON here")
    parser.add_argument(
        "--systems",
        default="bm25,minilm-win,use-win,pm",
        help="comma-separated subset of bm25, minilm-win, use-win, pm (all policymine modes)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path("/tmp/policymine-baselines"),
        help="page texts, window vectors",
    )
    args = parser.parse_args(argv)
    if not args.queries and not args.qrels:
        parser.error("give --queries, --qrels or both")
    systems = args.systems.split(",")
    if "pm" in systems and not args.index_dir:
        parser.error("the policymine systems need --index-dir (or leave pm out of --systems)")

    judged = {j.qid: j for j in load_qrels(args.qrels)} if args.qrels else {}
    queries = (
        read_queries(args.queries) if args.queries else queries_from_qrels(list(judged.values()))
    )
    if args.split != "all":
        queries = [q for q in queries if q.split == args.split]
    args.cache_dir.mkdir(parents=True, exist_ok=True)

    pages = read_pages(args.corpus, args.cache_dir)
    units = [u for u, _ in pages]
    runs: dict[str, dict[str, list[Unit]]] = {}
    if "bm25" in systems:
        bm25 = BM25([t for _, t in pages])
        runs["bm25"] = {q.qid: top_pages(bm25.scores(q.query), units) for q in queries}
    texts, owner = windows(pages)
    for model in ("minilm", "use"):
        if f"{model}-win" in systems:
            vectors = window_vectors(model, texts, args.cache_dir)
            runs[f"{model}-win"] = dense_runs(model, queries, vectors, owner, units)
    if "pm" in systems:
        runs.update(policymine_runs(args.index_dir, queries))

    if args.pool_out:
        write_pool(args.pool_out, runs)
        print(f"wrote {args.pool_out}", file=sys.stderr)
    if judged:
        rows = score_table(runs, queries, judged)
        print_table(rows)
        if args.json_out:
            args.json_out.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
