"""Ingest speed: the local executor and the Ray executor side by side, on the same files.

Each executor ingests the same PDFs into a fresh index in the same run (extraction,
segmentation, embedding with MiniLM, tagging, storing), and the table prints pages per
second and the ratio Ray / local. Times include loading the models; Ray's include starting
a local Ray (its start-up alone is timed and printed too). The whole real corpus takes
about 20 minutes per executor, so by default a subset is taken: the files of at most
`--max-pages` pages, sorted by page count, every k-th so that small and large ones mix.

    python benchmarks/executor_speed.py ../shared/corpus [--files 8] [--max-pages 100] [--workers 2] [--order ray,local]
    python benchmarks/executor_speed.py ../shared/corpus --stages ../shared/corpus/FILE.pdf  # per-core stage rates
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from policymine.analyse import Analyser
from policymine.config import Settings
from policymine.extract import extract
from policymine.pipeline import ingest, page_count


def pick(folder: Path, files: int, max_pages: int) -> list[tuple[Path, int]]:
    """`files` PDFs of at most `max_pages` pages, evenly spread over the page counts."""
    sized = sorted((page_count(p), p.name, p) for p in folder.glob("*.pdf"))
    sized = [(p, n) for n, _, p in sized if 0 < n <= max_pages]
    if len(sized) <= files:
        return sized
    step = (len(sized) - 1) / (files - 1) if files > 1 else 0
    return [sized[round(i * step)] for i in range(files)]


def run(paths: list[Path], settings: Settings) -> float:
    """Seconds to ingest `paths` into a fresh index with `settings`."""
    started = time.perf_counter()
    report = ingest(paths, settings)
    seconds = time.perf_counter() - started
    if report.failed:
        raise SystemExit(
            f"{settings.executor}: {len(report.failed)} files failed: {report.failed[0].reason}"
        )
    return seconds


def ray_startup(workers: int) -> float:
    """Seconds to start and stop a local Ray of the size the executor starts."""
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=workers + 1, include_dashboard=False, logging_level="warning")
    seconds = time.perf_counter() - started
    ray.shutdown()
    return seconds


def stage_rates(path: Path) -> tuple[int, float, float]:
    """Pages/s of one core for extraction and for segment+embed+tag (models loaded), on one file."""
    import torch

    torch.set_num_threads(1)  # what a Ray actor with num_cpus=1 gets
    started = time.perf_counter()
    doc = extract(path, Settings())
    extraction = time.perf_counter() - started
    analyser = Analyser(Settings())
    analyser(path, doc)  # the first call loads spaCy and the topic vectors
    started = time.perf_counter()
    analyser(path, doc)
    analysis = time.perf_counter() - started
    return len(doc.pages), len(doc.pages) / extraction, len(doc.pages) / analysis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--max-pages", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--stages",
        type=Path,
        help="instead: per-core pages/s of extraction and of analysis on this file",
    )
    parser.add_argument(
        "--order",
        default="local,ray",
        help="which executor runs first (on a shared machine, swap and compare)",
    )
    args = parser.parse_args()
    if args.stages:
        pages, extraction, analysis = stage_rates(args.stages)
        print(
            f"{args.stages.name}, {pages} pages, one core: extraction {extraction:.2f} pages/s,"
            f" segment+embed+tag {analysis:.2f} pages/s (load average {os.getloadavg()[0]:.1f})"
        )
        return
    chosen = pick(args.folder, args.files, args.max_pages)
    pages = sum(n for _, n in chosen)
    print(
        f"{len(chosen)} files, {pages} pages, {args.workers} workers, load average {os.getloadavg()[0]:.1f}:"
    )
    for path, n in chosen:
        print(f"  {n:>4}  {path.name}")
    paths = [p for p, _ in chosen]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for executor in args.order.split(","):
            settings = Settings(
                index_dir=Path(tmp) / executor, executor=executor, workers=args.workers
            )
            results[executor] = run(paths, settings)
            print(f"  {executor}: {results[executor]:.1f} s", flush=True)
    startup = ray_startup(args.workers)
    print(
        f"\nload average after: {os.getloadavg()[0]:.1f}; a local Ray starts in {startup:.1f} s\n"
    )
    print("| executor | seconds | pages/s | × local |")
    print("|---|---|---|---|")
    for executor, seconds in results.items():
        print(
            f"| {executor} | {seconds:.1f} | {pages / seconds:.2f} | {results['local'] / seconds:.2f} |"
        )


if __name__ == "__main__":
    main()
