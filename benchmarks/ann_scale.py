"""Scale: exact FAISS search against approximate indexes on up to 1M synthetic passages.

The passages are synthesised from the real passage vectors of a policymine database (see
`synthesize` for why and how), the queries are held-out real passages, perturbed. Every
index is built in the same run and measured against exact top-10 (`IndexFlatIP`):
build time, index memory (bytes of `faiss.serialize_index`, and the RSS growth of this
process while building), recall@10, and single-query latency p50/p99, one query at a time
on `--search-threads` threads (1 by default), as an interactive search runs. The
search-time knob (efSearch, nprobe) is swept; a candidate's operating point is the smallest
setting that meets the targets. The winner must meet all three targets and support
`remove_ids`, which `VectorIndex.remove` needs on re-ingest. It is then checked with an
`IDSelectorBatch` filter allowing ~1% of the index, the way `VectorIndex.search` filters.

    python benchmarks/ann_scale.py --db /tmp/realix/policymine.db               # 100k, 1-2 min
    python benchmarks/ann_scale.py --db /tmp/realix/policymine.db --n 1000000   # 15-20 min
    python benchmarks/ann_scale.py --db ... --candidates "HNSW32,SQ8;IVF4096,SQ8" --json

Targets at 1M passages (from the issue): recall@10 >= 0.95, p50 <= 50 ms, memory <= 1 GB.
Timings are wall-clock: anything else running on the machine slows them (the load average
at start and end is printed).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np
from faiss.contrib.ivf_tools import add_preassigned

from policymine import index as pmindex
from policymine.config import Settings
from policymine.store import DB_FILE

K = 10
TARGET_RECALL = 0.95
TARGET_P50_MS = 50.0
TARGET_MEMORY_MB = 1024.0
# Exact search is kept up to here. Flat p50 grows linearly with n, 11-21 ms per 100k
# vectors on one thread of a 2-core machine (idle to busy), and its memory is 1.5 kB per
# vector (1 GB at 700k).
EF_SEARCH = (16, 32, 64, 128, 256)
NPROBE = (4, 8, 16, 32, 64, 128, 256)
REFINE_K_FACTOR = 16
MIX_MAX = 0.5
NEIGHBOURS = 10
MB = 2**20


def factory_for(n: int) -> tuple[str, str | None]:
    """The index policymine builds for n passages (policymine.index), with its search knob."""
    factory = pmindex.factory_for(n)
    return factory, (None if factory == "Flat" else f"nprobe={pmindex.NPROBE}")


@dataclass(frozen=True)
class Candidate:
    """An index to build: a FAISS factory string and the search-time knob swept over it."""

    factory: str
    knob: str | None = None
    values: tuple[int, ...] = ()

    @classmethod
    def parse(cls, factory: str) -> Candidate:
        """The candidate for a factory string, its knob inferred from the index type."""
        if "HNSW" in factory:
            return cls(factory, "efSearch", EF_SEARCH)
        if "IVF" in factory:
            return cls(factory, "nprobe", NPROBE)
        return cls(factory)


def default_candidates(n: int) -> list[Candidate]:
    """Exact search and the approximate indexes compared at n passages."""
    nlist = pmindex.nlist_for(n)
    return [
        Candidate.parse(f)
        for f in (
            "Flat",
            "HNSW32,SQ8",
            f"IVF{nlist},SQ8",
            f"IVF{nlist},SQfp16",
            f"IVF{nlist},PQ48np,RFlat",
        )
    ]


@dataclass
class Point:
    """One knob setting of one index: recall and latency."""

    knob: str
    recall: float
    p50_ms: float
    p99_ms: float


@dataclass
class Result:
    """One built index with its knob sweep and operating point."""

    factory: str
    build_s: float
    memory_mb: float
    rss_mb: float
    removable: bool
    sweep: list[Point] = field(default_factory=list)
    chosen: Point | None = None

    def failures(self, point: Point | None = None) -> list[str]:
        """The targets this index misses at `point` (its operating point by default)."""
        p = point or self.chosen
        out = []
        if p.recall < TARGET_RECALL:
            out.append("recall")
        if p.p50_ms > TARGET_P50_MS:
            out.append("p50")
        if self.memory_mb > TARGET_MEMORY_MB:
            out.append("memory")
        return out


def log(message: str) -> None:
    """Progress to stderr, so that stdout carries only the results."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    """Resident memory of this process now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def load_real(db: Path) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, doc ids) of every passage in a policymine database, read-only."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT doc_id, vector FROM passages ORDER BY id").fetchall()
    finally:
        con.close()
    vectors = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in rows])
    return vectors, np.array([d for d, _ in rows], dtype=np.int64)


def real_neighbours(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(cosines, ids) of each vector's k nearest other vectors."""
    scores, ids = exact_topk(vectors, vectors, k + 1)
    return scores[:, 1:], ids[:, 1:]


def noise_factor(vectors: np.ndarray, target_cos: float) -> np.ndarray:
    """Matrix F with z @ F ~ N(0, s²Σ) for z ~ N(0, I): noise shaped like the real vectors.

    Σ is the covariance of the real vectors, and s is set so that the noise moves a unit
    vector to a cosine of `target_cos` with where it was: E|noise|² = s² tr Σ, and
    cos = 1 / sqrt(1 + s² tr Σ).
    """
    values, vecs = np.linalg.eigh(np.cov(vectors, rowvar=False))
    values = np.clip(values, 0, None)
    scale = math.sqrt((1 / target_cos**2 - 1) / values.sum())
    return (vecs * np.sqrt(values) * scale).T.astype(np.float32)


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, in place."""
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def synthesize(
    real: np.ndarray, n: int, noise: np.ndarray, rng: np.random.Generator, chunk: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """n synthetic passage vectors made from real ones; returns (vectors, source rows).

    Random unit vectors have no structure: every pair is near-orthogonal, so the neighbours
    of a query are no closer than anything else and an ANN index is tested on a problem
    real embeddings never pose. Repeating real vectors would give exact duplicates instead.
    Each synthetic vector therefore starts from a real passage, sampled with replacement,
    moved towards one of its 10 nearest real neighbours by a random fraction up to 0.5
    (filling the space between neighbouring passages, as more passages on the same topics
    would), and then perturbed by Gaussian noise shaped by the covariance of the real
    vectors (so it moves along the directions real embeddings vary in, not into the
    hundreds of directions they never use), and renormalised.

    The noise (`noise_factor`) is scaled to a cosine of 0.9 with the unperturbed vector. In
    the real data the median cosine to a passage's nearest other passage is 0.73 (0.62 to
    its 10th), so at 0.9 a synthetic vector stays nearer its source than the source's
    neighbours are: the topic clusters survive. Two copies of one source land at about
    0.9 * 0.9 = 0.81 from each other, so they are distinct neighbours, not duplicates,
    and the top-10 of a query is a ranking among close candidates, as in a dense corpus.
    """
    _, neighbours = real_neighbours(real, NEIGHBOURS)
    sources = rng.integers(0, len(real), n)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, chunk):
        src = sources[start : start + chunk]
        other = neighbours[src, rng.integers(0, NEIGHBOURS, len(src))]
        t = rng.uniform(0, MIX_MAX, (len(src), 1)).astype(np.float32)
        v = normalise((1 - t) * real[src] + t * real[other])
        v += rng.standard_normal(v.shape, dtype=np.float32) @ noise
        out[start : start + chunk] = normalise(v)
    return out, sources


def make_queries(
    held_out: np.ndarray, count: int, noise: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Queries: held-out real passages (not sources of any synthetic vector), perturbed."""
    rows = rng.choice(len(held_out), count, replace=count > len(held_out))
    q = held_out[rows].copy()
    q += rng.standard_normal(q.shape, dtype=np.float32) @ noise
    return normalise(q)


def exact_topk(
    x: np.ndarray, queries: np.ndarray, k: int, chunk: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the exact top-k by inner product.

    numpy in blocks: for a few hundred queries it is several times faster here than
    IndexFlatIP.search, which works through the database 1,024 rows at a time.
    """
    out_s = np.empty((len(queries), k), dtype=np.float32)
    out_i = np.empty((len(queries), k), dtype=np.int64)
    for qs in range(0, len(queries), 2048):
        q = queries[qs : qs + 2048]
        best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
        best_i = np.empty((len(q), 0), dtype=np.int64)
        for xs in range(0, len(x), chunk):
            scores = q @ x[xs : xs + chunk].T
            top = np.argpartition(-scores, min(k, scores.shape[1]) - 1, axis=1)[:, :k]
            best_s = np.hstack([best_s, np.take_along_axis(scores, top, 1)])
            best_i = np.hstack([best_i, top + xs])
            keep = np.argsort(-best_s, axis=1, kind="stable")[:, :k]
            best_s = np.take_along_axis(best_s, keep, 1)
            best_i = np.take_along_axis(best_i, keep, 1)
        out_s[qs : qs + 2048], out_i[qs : qs + 2048] = best_s, best_i
    return out_s, out_i


def time_queries(
    index: faiss.Index, queries: np.ndarray, k: int, params: faiss.SearchParameters | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(ids, milliseconds) of searching one query at a time."""
    for q in queries[:5]:  # warm caches and pages before the clock runs
        index.search(q[None], k, params=params)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    ms = np.empty(len(queries))
    for i, q in enumerate(queries):
        started = time.perf_counter()
        _, found = index.search(q[None], k, params=params)
        ms[i] = (time.perf_counter() - started) * 1000
        ids[i] = found[0]
    return ids, ms


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the true top-k found, per query (missing results count as misses)."""
    k = truth.shape[1]
    return float(np.mean([len(set(f[f >= 0]) & set(t)) / k for f, t in zip(found, truth)]))


@dataclass
class Coarse:
    """A trained IVF coarse quantizer shared by the IVF candidates, and every vector's list."""

    centroids: np.ndarray
    assign: np.ndarray
    seconds: float


def train_coarse(
    x: np.ndarray, nlist: int, train_size: int, iters: int, rng: np.random.Generator
) -> Coarse:
    """Spherical k-means on a sample (as IVF trains for inner product), then assign all."""
    started = time.perf_counter()
    sample = x[np.sort(rng.choice(len(x), train_size, replace=False))]
    kmeans = faiss.Kmeans(
        x.shape[1],
        nlist,
        niter=iters,
        spherical=True,
        seed=1,
        max_points_per_centroid=max(256, len(sample) // nlist + 1),
    )
    kmeans.train(sample)
    quantizer = faiss.IndexFlatIP(x.shape[1])
    quantizer.add(kmeans.centroids)
    _, assign = quantizer.search(x, 1)
    return Coarse(kmeans.centroids, assign[:, 0].copy(), time.perf_counter() - started)


def build(
    factory: str,
    x: np.ndarray,
    train: np.ndarray,
    coarse: dict[int, Coarse],
    args: argparse.Namespace,
    rng: np.random.Generator,
) -> tuple[faiss.Index, float]:
    """The index for `factory` holding x under ids 0..n-1, and its build seconds.

    IVF indexes reuse one trained coarse quantizer and assignment per list count, and
    their build time includes it, as if each were built alone.
    """
    started = time.perf_counter()
    index = faiss.index_factory(x.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    try:
        ivf = faiss.extract_index_ivf(index)
    except RuntimeError:
        ivf = None
    if ivf is None:
        if hasattr(index, "hnsw"):
            index.hnsw.efConstruction = args.ef_construction
        if not index.is_trained:
            index.train(train)
        index.add(x)
        return index, time.perf_counter() - started
    if ivf.nlist not in coarse:
        size = min(len(x), args.train_per_list * ivf.nlist)
        log(f"  k-means: {ivf.nlist} lists on {size:,} vectors")
        coarse[ivf.nlist] = train_coarse(x, ivf.nlist, size, args.kmeans_iter, rng)
    shared = coarse[ivf.nlist]
    started = time.perf_counter()
    ivf.quantizer.add(shared.centroids)  # a trained quantizer: train() skips k-means
    if isinstance(faiss.downcast_index(ivf), faiss.IndexIVFPQ):
        faiss.downcast_index(ivf).pq.cp.niter = args.kmeans_iter  # 25 by default: slow
    index.train(train)
    ids = np.arange(len(x), dtype=np.int64)  # held here: add_preassigned keeps only a pointer
    add_preassigned(ivf, x, shared.assign, ids=ids)
    if isinstance(index, faiss.IndexRefine):
        index.refine_index.add(x)
        index.ntotal = len(x)
    return index, time.perf_counter() - started + shared.seconds


def removable(index: faiss.Index) -> bool:
    """Whether the index implements remove_ids (tried with a range matching no id)."""
    n = index.ntotal
    try:
        index.remove_ids(faiss.IDSelectorRange(n + 1, n + 2))
    except RuntimeError:
        return False
    return True


def knob_params(cand: Candidate, value: int | None, sel: faiss.IDSelector | None = None):
    """FAISS search parameters for one knob setting, with an optional id selector."""
    if cand.knob == "efSearch":
        return faiss.SearchParametersHNSW(efSearch=value, sel=sel)
    if cand.knob == "nprobe":
        ivf = faiss.SearchParametersIVF(nprobe=value, sel=sel)
        if "RFlat" in cand.factory or "Refine" in cand.factory:
            return faiss.IndexRefineSearchParameters(
                k_factor=REFINE_K_FACTOR, base_index_params=ivf
            )
        return ivf
    return faiss.SearchParameters(sel=sel) if sel is not None else None


def measure(
    cand: Candidate, index: faiss.Index, queries: np.ndarray, truth: np.ndarray, threads: int
) -> list[Point]:
    """Recall@10 and latency at each knob setting, one query at a time."""
    faiss.omp_set_num_threads(threads)
    points = []
    for value in cand.values or (None,):
        found, ms = time_queries(index, queries, K, knob_params(cand, value))
        name = f"{cand.knob}={value}" if cand.knob else "-"
        points.append(Point(name, recall_at_k(found, truth), *np.percentile(ms, [50, 99])))
    return points


def operating_point(points: list[Point]) -> Point:
    """The cheapest setting meeting the recall and latency targets, else the best recall."""
    ok = [p for p in points if p.recall >= TARGET_RECALL and p.p50_ms <= TARGET_P50_MS]
    return ok[0] if ok else max(points, key=lambda p: (p.recall, -p.p50_ms))


def pick_winner(results: list[Result]) -> Result | None:
    """The smallest approximate index meeting every target and supporting removal.

    When none qualifies, the approximate index with the best recall at its operating point.
    """
    approx = [r for r in results if r.factory != "Flat"]
    good = [r for r in approx if not r.failures() and r.removable]
    if good:
        return min(good, key=lambda r: (r.memory_mb, r.chosen.p50_ms))
    return max(approx, key=lambda r: (r.chosen.recall, -r.chosen.p50_ms)) if approx else None


def allowed_by_document(doc_of: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Ids of whole documents, picked at random, covering about `share` of the index."""
    docs, counts = np.unique(doc_of, return_counts=True)
    target, total, chosen = share * len(doc_of), 0, []
    for i in rng.permutation(len(docs)):
        if total + counts[i] <= 1.25 * target:
            chosen.append(docs[i])
            total += counts[i]
        if total >= 0.75 * target:
            break
    return np.flatnonzero(np.isin(doc_of, chosen)).astype(np.int64)


def with_ids(index: faiss.Index, n: int) -> faiss.Index:
    """The index as policymine holds it: IVF stores ids itself, others go in an IndexIDMap2."""
    try:
        faiss.extract_index_ivf(index)
        return index
    except RuntimeError:
        pass
    # IndexIDMap2 only wraps an empty index; rebuilding an HNSW graph to add ids 0..n-1,
    # the ids it holds already, would take minutes, so it is wrapped as if empty.
    ntotal, index.ntotal = index.ntotal, 0
    wrapped = faiss.IndexIDMap2(index)
    index.ntotal = ntotal
    faiss.copy_array_to_vector(np.arange(n, dtype=np.int64), wrapped.id_map)
    wrapped.ntotal = n
    wrapped.construct_rev_map()
    return wrapped


def filtered(
    cand: Candidate,
    chosen: Point,
    index: faiss.Index,
    x: np.ndarray,
    doc_of: np.ndarray,
    queries: np.ndarray,
    threads: int,
    rng: np.random.Generator,
) -> list[dict]:
    """Filtered search with ~1% of ids allowed: results returned, recall, latency.

    Two allowed sets: 1% of ids at random, and whole documents covering ~1% (a search
    within some cities' plans, whose passages mostly lie away from the query). Each is
    searched at the operating knob and at 4x it, and by brute force over the allowed
    vectors (the fallback a small filter can afford). Building the selector is not timed.
    """
    faiss.omp_set_num_threads(threads)
    index = with_ids(index, len(x))
    value = int(chosen.knob.split("=")[1]) if cand.knob else None
    sets = {
        "random 1%": np.sort(rng.choice(len(x), len(x) // 100, replace=False)).astype(np.int64),
        "1% by document": allowed_by_document(doc_of, 0.01, rng),
    }
    rows = []
    for name, allowed in sets.items():
        sub = x[allowed]
        truth = allowed[np.argsort(-(queries @ sub.T), axis=1)[:, :K]]
        sel = faiss.IDSelectorBatch(allowed)
        values = (
            [
                value,
                min(4 * value, faiss.extract_index_ivf(index).nlist)
                if cand.knob == "nprobe"
                else 4 * value,
            ]
            if value
            else [None]
        )
        for v in values:
            found, ms = time_queries(index, queries, K, knob_params(cand, v, sel))
            rows.append(
                {
                    "allowed": name,
                    "size": len(allowed),
                    "knob": f"{cand.knob}={v}" if v else "-",
                    "returned": float((found >= 0).sum(axis=1).mean()),
                    "recall": recall_at_k(found, truth),
                    "p50_ms": float(np.percentile(ms, 50)),
                }
            )
        ms = []
        for q in queries:
            started = time.perf_counter()
            _, top = faiss.knn(q[None], sub, K, metric=faiss.METRIC_INNER_PRODUCT)
            _ = allowed[top[0]]
            ms.append((time.perf_counter() - started) * 1000)
        rows.append(
            {
                "allowed": name,
                "size": len(allowed),
                "knob": "brute force",
                "returned": float(K),
                "recall": 1.0,
                "p50_ms": float(np.percentile(ms, 50)),
            }
        )
    return rows


def exact_curve(x: np.ndarray, queries: np.ndarray, threads: int) -> list[dict]:
    """Exact single-query p50 at 1/10, 1/4, 1/2 and all of the corpus."""
    faiss.omp_set_num_threads(threads)
    out = []
    for size in sorted({len(x) // 10, len(x) // 4, len(x) // 2, len(x)}):
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x[:size])
        _, ms = time_queries(index, queries[:50], K)
        out.append({"n": size, "p50_ms": float(np.percentile(ms, 50))})
        del index
    return out


def structure(
    real: np.ndarray,
    held: np.ndarray,
    x: np.ndarray,
    truth_scores: np.ndarray,
    rng: np.random.Generator,
) -> dict:
    """Median neighbour cosines, real against synthetic, to show the structure survived."""
    sample = rng.choice(len(real), min(len(real), 2000), replace=False)
    real_nn, _ = exact_topk(real, real[sample], K + 1)
    synth_nn, _ = exact_topk(x, x[rng.choice(len(x), 300, replace=False)], K + 1)
    real_q, _ = exact_topk(real, held, K)
    return {
        "real_nn1": float(np.median(real_nn[:, 1])),
        "real_nn10": float(np.median(real_nn[:, K])),
        "synthetic_nn1": float(np.median(synth_nn[:, 1])),
        "synthetic_nn10": float(np.median(synth_nn[:, K])),
        "real_query_top1": float(np.median(real_q[:, 0])),
        "synthetic_query_top1": float(np.median(truth_scores[:, 0])),
    }


def print_report(out: dict) -> None:
    """The results as plain tables."""
    c, s = out["config"], out["structure"]
    print(
        f"ANN scale benchmark: n={c['n']:,} synthetic passages (d={c['dim']}) from "
        f"{c['real']:,} real, {c['queries']} queries, k={K}"
    )
    print(
        f"build threads {c['threads']}, search threads {c['search_threads']} (one query at a "
        f"time); load average at start {c['load_start']:.1f}, end {c['load_end']:.1f}"
    )
    print(
        f"structure, median cosine: nearest/10th neighbour real {s['real_nn1']:.2f}/"
        f"{s['real_nn10']:.2f}, synthetic {s['synthetic_nn1']:.2f}/{s['synthetic_nn10']:.2f}; "
        f"query to top-1: real {s['real_query_top1']:.2f}, synthetic "
        f"{s['synthetic_query_top1']:.2f}"
    )
    print(
        f"targets: recall@10 >= {TARGET_RECALL}, p50 <= {TARGET_P50_MS:.0f} ms, "
        f"memory <= {TARGET_MEMORY_MB:.0f} MB\n"
    )
    head = (
        f"{'index':<24}{'knob':<14}{'build s':>8}{'mem MB':>9}{'RSS+ MB':>9}"
        f"{'recall':>8}{'p50 ms':>8}{'p99 ms':>8}  remove  meets"
    )
    print(head)
    for r in out["results"]:
        p = r["chosen"]
        meets = "yes" if not r["fails"] else "no: " + ",".join(r["fails"])
        print(
            f"{r['factory']:<24}{p['knob']:<14}{r['build_s']:>8.1f}{r['memory_mb']:>9.0f}"
            f"{r['rss_mb']:>9.0f}{p['recall']:>8.3f}{p['p50_ms']:>8.2f}{p['p99_ms']:>8.2f}  "
            f"{'yes' if r['removable'] else 'no':<6}  {meets}"
        )
    if out.get("coarse_s"):
        print(
            f"(IVF build times include the shared k-means + assignment, "
            f"{out['coarse_s']:.1f} s; RFlat keeps the full vectors, counted in its memory)"
        )
    win = out.get("winner")
    if win:
        print(f"\nsweep of {win['factory']} (memory {win['memory_mb']:.0f} MB)")
        print(f"{'knob':<14}{'recall':>8}{'p50 ms':>8}{'p99 ms':>8}  meets")
        for p in win["sweep"]:
            ok = p["recall"] >= TARGET_RECALL and p["p50_ms"] <= TARGET_P50_MS
            print(
                f"{p['knob']:<14}{p['recall']:>8.3f}{p['p50_ms']:>8.2f}{p['p99_ms']:>8.2f}  "
                f"{'yes' if ok and win['memory_mb'] <= TARGET_MEMORY_MB else 'no'}"
            )
    if out.get("filtered"):
        print(f"\nfiltered search on {win['factory']} (IDSelectorBatch, k={K})")
        print(f"{'allowed':<16}{'ids':>8}  {'knob':<14}{'returned':>9}{'recall':>8}{'p50 ms':>8}")
        for f in out["filtered"]:
            print(
                f"{f['allowed']:<16}{f['size']:>8,}  {f['knob']:<14}{f['returned']:>9.2f}"
                f"{f['recall']:>8.3f}{f['p50_ms']:>8.2f}"
            )
    curve = out["exact_curve"]
    print(
        "\nexact search (Flat) single-query p50: "
        + ", ".join(f"{e['n']:,}: {e['p50_ms']:.1f} ms" for e in curve)
    )
    per_vec = curve[-1]["p50_ms"] / curve[-1]["n"]
    print(
        f"at {per_vec * 1e5:.1f} ms per 100k vectors, exact reaches 20 ms at ~{20 / per_vec:,.0f}"
        f" and 50 ms at ~{50 / per_vec:,.0f} passages; its memory reaches 1 GB at "
        f"{TARGET_MEMORY_MB * MB / (4 * c['dim']):,.0f}"
    )
    auto, knob = factory_for(c["n"])
    print(
        f"automatic choice at n={c['n']:,}: {auto}{' ' + knob if knob else ''} "
        f"(exact up to {pmindex.EXACT_MAX:,} passages)"
    )
    if win:
        status = "meets all targets" if not win["fails"] else "misses " + ",".join(win["fails"])
        print(f"recommended: {win['factory']} {win['chosen']['knob']} ({status})")
    else:
        print("recommended: none of the approximate candidates was measured")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        type=Path,
        default=Settings().index_dir / DB_FILE,
        help="policymine database with real passage vectors",
    )
    parser.add_argument("--n", type=int, default=100_000, help="synthetic passages")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="for building")
    parser.add_argument("--search-threads", type=int, default=1, help="for timed searches")
    parser.add_argument("--candidates", help="';'-separated factory strings (default: a set for n)")
    parser.add_argument(
        "--cos",
        type=float,
        default=0.9,
        help="cosine of a perturbed vector with its unperturbed source",
    )
    parser.add_argument("--ef-construction", type=int, default=40)
    parser.add_argument(
        "--train-per-list",
        type=int,
        default=40,
        help="k-means sample per IVF list (faiss warns below 39)",
    )
    parser.add_argument("--kmeans-iter", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()

    if not args.db.is_file():
        sys.exit(f"error: no database at {args.db}; pass --db PATH to a policymine.db")
    if args.n < 1000 or args.queries < 1:
        sys.exit("error: --n must be at least 1000 and --queries at least 1")
    rng = np.random.default_rng(args.seed)
    faiss.omp_set_num_threads(args.threads)
    load_start = os.getloadavg()[0]

    real, docs = load_real(args.db)
    if len(real) < 100:
        sys.exit(f"error: {args.db} has {len(real)} passage vectors; need at least 100")
    held_rows = rng.choice(len(real), min(args.queries, len(real) // 10), replace=False)
    base_rows = np.setdiff1d(np.arange(len(real)), held_rows)
    base, held = real[base_rows], real[held_rows]
    log(f"synthesising {args.n:,} vectors from {len(base):,} real ones")
    noise = noise_factor(base, args.cos)
    x, sources = synthesize(base, args.n, noise, rng)
    doc_of = docs[base_rows][sources]
    queries = make_queries(held, args.queries, noise, rng)
    truth_scores, truth = exact_topk(x, queries, K)
    stats = structure(base, held, x, truth_scores, rng)
    # Scalar and product quantisers train on this; PQ would subsample above 65,536 anyway.
    train = x[np.sort(rng.choice(len(x), min(len(x), 65_536), replace=False))]

    cands = (
        [Candidate.parse(f.strip()) for f in args.candidates.split(";") if f.strip()]
        if args.candidates
        else default_candidates(args.n)
    )
    results, indexes, coarse = [], {}, {}
    for cand in cands:
        log(f"building {cand.factory}")
        gc.collect()
        before = rss_mb()
        faiss.omp_set_num_threads(args.threads)
        index, seconds = build(cand.factory, x, train, coarse, args, rng)
        gc.collect()
        grown = rss_mb() - before
        memory = len(faiss.serialize_index(index)) / MB
        log(f"  built in {seconds:.1f} s, {memory:.0f} MB; measuring")
        points = measure(cand, index, queries, truth, args.search_threads)
        result = Result(
            cand.factory, seconds, memory, grown, removable(index), points, operating_point(points)
        )
        results.append(result)
        if cand.factory != "Flat":
            indexes[cand.factory] = (cand, index)  # the winner is checked with filters below
        del index
    winner = pick_winner(results)
    rows = []
    if winner and winner.factory in indexes:
        log(f"filtered search on {winner.factory}")
        cand, index = indexes[winner.factory]
        rows = filtered(cand, winner.chosen, index, x, doc_of, queries, args.search_threads, rng)
    indexes.clear()
    gc.collect()
    log("exact search latency against corpus size")
    curve = exact_curve(x, queries, args.search_threads)

    out = {
        "config": {
            "n": args.n,
            "dim": x.shape[1],
            "real": len(real),
            "queries": args.queries,
            "threads": args.threads,
            "search_threads": args.search_threads,
            "cos": args.cos,
            "ef_construction": args.ef_construction,
            "train_per_list": args.train_per_list,
            "kmeans_iter": args.kmeans_iter,
            "load_start": load_start,
            "load_end": os.getloadavg()[0],
        },
        "structure": stats,
        "coarse_s": sum(c.seconds for c in coarse.values()),
        "results": [asdict(r) | {"fails": r.failures()} for r in results],
        "winner": asdict(winner) | {"fails": winner.failures()} if winner else None,
        "filtered": rows,
        "exact_curve": curve,
        "automatic": dict(zip(("factory", "knob"), factory_for(args.n))),
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print_report(out)


if __name__ == "__main__":
    main()
