"""Reading order against poppler's pdftotext: word-bigram agreement per page.

For every text page (at least 30 words outside tables) of every PDF, the share of
policymine's word bigrams that plain `pdftotext` (columns one after the other) also reads;
see `policymine.reading_order`. Prints the share of text pages at or above the bar
(issue 19 asks for 0.95 agreement on 95% of the text pages), the distribution, and the
worst pages with the bigrams pdftotext does not have.

    python benchmarks/reading_order.py ../shared/corpus [--extractor pdfplumber] [--worst 25]
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from policymine import reading_order
from policymine.errors import ExtractionError
from policymine.extract import DEFAULT_EXTRACTOR, EXTRACTORS, extract

BAR = 0.95


def measure(path: Path, extractor: str = DEFAULT_EXTRACTOR) -> list[dict]:
    """One row per text page of one PDF: agreement and the first bigrams pdftotext lacks."""
    try:
        doc = extract(path, extractor=extractor)
    except ExtractionError:
        return []  # a rejected document (garbled, scanned) has no text pages to check
    reference = reading_order.pdftotext_pages(path)
    rows = []
    for page, ref in zip(doc.pages, reference):
        ours = reading_order.prose(page)
        score = reading_order.agreement(ours, ref)
        if score is None:
            continue
        missing = reading_order.bigrams(ours) - reading_order.bigrams(ref)
        rows.append(
            {
                "doc": path.name,
                "page": page.number,
                "agreement": score,
                "quality": page.quality,
                "missing": [" ".join(b) for b in list(missing)[:6]],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of PDFs, e.g. ../shared/corpus")
    parser.add_argument("--extractor", choices=EXTRACTORS, default=DEFAULT_EXTRACTOR)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--worst", type=int, default=20, help="how many of the worst pages to list")
    args = parser.parse_args()
    if not reading_order.pdftotext_available():
        sys.exit("error: pdftotext not found (apt install poppler-utils)")
    files = sorted(args.folder.glob("*.pdf"), key=lambda p: -p.stat().st_size)
    if not files:
        sys.exit(f"error: no PDFs in {args.folder}")
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = [
            r
            for found in pool.map(partial(measure, extractor=args.extractor), files)
            for r in found
        ]
    if not rows:
        sys.exit("error: no text pages")
    n = len(rows)
    good = sum(r["agreement"] >= BAR for r in rows)
    print(f"{len(files)} PDFs, {n} text pages, extractor {args.extractor}\n")
    print(f"agreement >= {BAR}: {good}/{n} text pages = {good / n:.1%} (issue 19 asks for 95%)")
    for low in (0.9, 0.8, 0.5):
        print(f"agreement < {low}: {sum(r['agreement'] < low for r in rows)} pages")
    print(
        f"\nWorst {args.worst} pages:\n\n| document | page | agreement | quality | bigrams pdftotext lacks |"
    )
    print("|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: r["agreement"])[: args.worst]:
        print(
            f"| {r['doc']} | {r['page']} | {r['agreement']:.3f} | {r['quality']:.2f} | "
            + "; ".join(r["missing"])
            + " |"
        )


if __name__ == "__main__":
    main()
