"""Extraction speed: raw pdfplumber and pypdfium2 text against policymine, side by side.

Each method reads the same PDFs in the same run and the table prints pages per second
and the ratio to raw pdfplumber `extract_text` on one process (the baseline a user would
write). policymine `extract` is timed on one process with both character sources: pdfium
(the default) and pdfplumber (the previous path), and the ratio of the two is printed;
then `extract_all`, which is what `ingest` and `tag` use (worker processes on all cores).
pdfplumber on all cores is shown as well, so the single-process and the same-cores
comparisons are both in view.

    python benchmarks/extract_speed.py ../shared/corpus [--sample 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from policymine.config import Settings
from policymine.executors.local import extract_all
from policymine.extract import extract
from policymine.pipeline import page_count


def plumber_text(path: Path) -> int:
    """Baseline: pdfplumber's extract_text on every page; returns the pages read."""
    import pdfplumber

    try:
        with pdfplumber.open(path) as pdf:
            for page in pdf.pages:
                page.extract_text()
                page.close()
            return len(pdf.pages)
    except Exception:  # noqa: BLE001 - a file the baseline cannot read counts as no pages
        return 0


def pdfium_text(path: Path) -> int:
    """pypdfium2's text of every page (C++ parser): how much room there is."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            textpage.get_text_range()
            textpage.close()
            page.close()
        return len(pdf)
    finally:
        pdf.close()


def policymine_one(path: Path, extractor: str = "pdfium") -> int:
    try:
        return len(extract(path, extractor=extractor).pages)
    except Exception:  # noqa: BLE001 - rejected files (garbled) still cost their parse
        return 0


def policymine_previous(path: Path) -> int:
    """The previous path: the same layout over pdfplumber's words."""
    return policymine_one(path, extractor="pdfplumber")


def _serial(fn, files: list[Path]) -> None:
    for path in files:
        fn(path)


def _pool(fn, files: list[Path], workers: int) -> None:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(fn, sorted(files, key=lambda p: -p.stat().st_size)))


def _policymine_all(files: list[Path], workers: int) -> None:
    for _ in extract_all(files, Settings(workers=workers)):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of PDFs, e.g. ../shared/corpus")
    parser.add_argument(
        "--sample", type=int, default=0, help="only every k-th file, for N files (0 = all)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    files = sorted(args.folder.glob("*.pdf"))
    if args.sample:
        files = files[:: max(1, len(files) // args.sample)][: args.sample]
    if not files:
        sys.exit(f"error: no PDFs in {args.folder}")
    pages = sum(page_count(p) for p in files)
    w = args.workers
    methods = [
        ("pdfplumber extract_text, 1 process (baseline)", lambda: _serial(plumber_text, files)),
        ("pypdfium2 get_text_range, 1 process", lambda: _serial(pdfium_text, files)),
        (
            "policymine extract, previous path (pdfplumber), 1 process",
            lambda: _serial(policymine_previous, files),
        ),
        ("policymine extract, pdfium, 1 process", lambda: _serial(policymine_one, files)),
        (f"pdfplumber extract_text, {w} processes", lambda: _pool(plumber_text, files, w)),
        (f"policymine extract_all, {w} processes (ingest, tag)", lambda: _policymine_all(files, w)),
    ]
    print(f"{len(files)} PDFs, {pages} pages, {w} cores\n")
    print("| method | seconds | pages/s | × baseline |\n|---|---|---|---|")
    baseline = None
    took = {}
    for name, run in methods:
        started = time.perf_counter()
        run()
        seconds = took[name] = time.perf_counter() - started
        baseline = baseline or seconds
        print(
            f"| {name} | {seconds:.1f} | {pages / seconds:.1f} | {baseline / seconds:.2f} |",
            flush=True,
        )
    previous, new = (took[name] for name, _ in methods[2:4])
    print(f"\npolicymine extract, pdfium / previous path, 1 process: {previous / new:.2f}x pages/s")


if __name__ == "__main__":
    main()
