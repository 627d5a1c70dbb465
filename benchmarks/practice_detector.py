"""What the learned practice detector adds to ingest, beside the previous (cue) detector.

    PYTHONPATH=src python benchmarks/practice_detector.py ../shared/corpus --docs 6

In one run, over the same documents: extraction and analysis (segment, embed, tag) are timed
once, as ingest runs them; then the practice records of each analysed document are built
with the previous detector (transparent cues only) and with the learned classifiers
(cues + embedding, titles, duplicate merging), several times each. Prints seconds per
document for each step and how much each detector adds to the ingest time of a document.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from unittest import mock

from policymine import classify
from policymine.analyse import Analyser
from policymine.config import Settings
from policymine.errors import PolicymineError, one_line
from policymine.extract import extract
from policymine.practices import document_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--docs", type=int, default=6, help="the smallest N PDFs")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    settings = Settings()
    paths = sorted(args.folder.glob("*.pdf"), key=lambda p: p.stat().st_size)[: args.docs]
    analyser = Analyser(settings)
    analysed, ingest_s = [], 0.0
    for path in paths:
        start = time.perf_counter()
        try:
            item = analyser(path, extract(path, settings))
        except PolicymineError as exc:  # e.g. a garbled text layer that needs --ocr
            print(f"skipped: {one_line(str(exc))}")
            continue
        ingest_s += time.perf_counter() - start
        if item.error is None:
            analysed.append(item)
    pages = sum(len(a.doc.pages) for a in analysed)
    passages = sum(len(a.passages) for a in analysed)

    def records_time(learned: bool) -> tuple[float, int]:
        count, start = 0, time.perf_counter()
        with mock.patch.object(classify, "load", classify.load if learned else lambda m: None):
            for _ in range(args.repeat):
                for a in analysed:
                    count += len(document_records(a.doc, a.passages, a.vectors, settings.model))
        return (time.perf_counter() - start) / args.repeat, count // args.repeat

    classify.load(settings.model)  # the weights load once per process, not per document
    previous, n_previous = records_time(learned=False)
    learned, n_learned = records_time(learned=True)
    print(f"{len(analysed)} documents, {pages} pages, {passages} passages")
    print("| step | seconds | share of ingest |\n|---|---|---|")
    print(f"| extract + segment + embed + tag | {ingest_s:.2f} | 100% |")
    print(
        f"| records, previous detector (cues) | {previous:.3f} | {100 * previous / ingest_s:.1f}% |"
    )
    print(f"| records, learned detector | {learned:.3f} | {100 * learned / ingest_s:.1f}% |")
    print(
        f"ingest time with the learned detector vs the previous one: "
        f"{(ingest_s + learned) / (ingest_s + previous):.3f}x "
        f"({n_previous} records before, {n_learned} now)"
    )


if __name__ == "__main__":
    main()
