"""Load test of `policymine serve`: many concurrent clients for a fixed time.

50 client threads (default) send hybrid searches (the judged queries of eval/qrels.tsv, in
turn) as fast as answers come back, for 30 s, against the server started two ways in this
one run: with one searcher thread (the baseline: requests answered one at a time) and with
the default pool of searcher threads. Printed per run: requests per second, p50 and p99
latency as a client sees it (queueing included), and every non-200 answer or connection
error. The index is grown to --passages passages as in search_latency.py, on a copy.

    python benchmarks/serve_load.py --index-dir /tmp/real-index [--clients 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
from search_latency import QUERIES, grow, served


def load(base: str, clients: int, seconds: float) -> dict:
    """Run `clients` threads against `base` for `seconds`; latencies and errors."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(n: int) -> None:
        i = n
        while time.perf_counter() < stop:
            q = urllib.parse.urlencode({"q": QUERIES[i % len(QUERIES)], "k": 10})
            i += clients
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{base}/search?{q}", timeout=60) as response:
                    json.loads(response.read())
                with lock:
                    latencies.append((time.perf_counter() - start) * 1000)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "rps": len(latencies) / took,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": float(np.percentile(latencies, 99)) if latencies else float("nan"),
        "errors": errors,
    }


def serve_and_load(index_dir: Path, threads: int, clients: int, seconds: float) -> dict:
    """Start `policymine serve --threads N`, load it, stop it."""
    with served(index_dir, "--threads", str(threads)) as base:
        load(base, 4, 3)  # warm caches
        return load(base, clients, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--index-dir", type=Path, required=True, help="an index built by `policymine ingest`"
    )
    parser.add_argument(
        "--passages", type=int, default=100_000, help="grow a copy of the index to this size"
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 2,
        help="searcher threads of the policymine run",
    )
    args = parser.parse_args()
    if not (args.index_dir / "policymine.db").is_file():
        sys.exit(
            f"error: {args.index_dir}: no policymine index there (run `policymine ingest` first)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        n = grow(args.index_dir, args.passages, Path(tmp))
        print(
            f"{args.clients} clients, {args.seconds:.0f} s each, hybrid searches over {n} passages, {os.cpu_count()} CPUs"
        )
        runs = {
            label: serve_and_load(Path(tmp), threads, args.clients, args.seconds)
            for label, threads in (
                ("baseline, 1 thread", 1),
                (f"policymine, {args.threads} threads", args.threads),
            )
        }
    for label, r in runs.items():
        print(
            f"  {label:<24} {r['rps']:6.1f} req/s   p50 {r['p50']:7.1f} ms   p99 {r['p99']:7.1f} ms   "
            f"{r['requests']} answered, {len(r['errors'])} errors"
        )
        for e in sorted(set(r["errors"]))[:5]:
            print(f"      {e}")
    base, ours = runs.values()
    print(f"  throughput ratio {ours['rps'] / base['rps']:.2f}x")


if __name__ == "__main__":
    main()
