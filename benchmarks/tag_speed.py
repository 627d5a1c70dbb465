"""Tagging speed: spaCy's full pipeline per passage against policymine's tagger, side by side.

The passages are those policymine cuts from the English PDFs of a folder (the baseline's
English model is what both use). The baseline is what a first script does: load
`en_core_web_sm` whole and call `nlp(text)` on each passage. policymine's tagger runs
only the NER component (plus its entity patterns) over `nlp.pipe` batches and scores the
topics; the passage vectors are computed beforehand, as ingest computes them anyway for
the index. To check that the speed costs no entities, the tagger's pipeline is also run
without its patterns, and its entities are compared with the baseline's, passage by
passage.

    python benchmarks/tag_speed.py ../shared/corpus [--passages 2000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from policymine.config import Settings
from policymine.embed import embed, get_embedder
from policymine.errors import ExtractionError
from policymine.extract import extract
from policymine.segment import segment
from policymine.tag import SPACY_MODEL, Tagger


def english_passages(folder: Path, limit: int):
    """Passages of the English PDFs, in file order, up to `limit`."""
    out = []
    for path in sorted(folder.glob("*.pdf")):
        try:
            doc = extract(path)
        except ExtractionError:  # unreadable files are not part of this benchmark
            continue
        if doc.lang == "en":
            out += segment(doc)
        if len(out) >= limit:
            break
    return out[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of PDFs, e.g. ../shared/corpus")
    parser.add_argument("--passages", type=int, default=2000)
    args = parser.parse_args()
    import spacy

    passages = english_passages(args.folder, args.passages)
    if not passages:
        sys.exit(f"error: no English passages in {args.folder}")
    texts = [p.text for p in passages]
    tagger = Tagger(get_embedder("minilm"), Settings())
    vectors = embed(texts, tagger.embedder)
    full = spacy.load(SPACY_MODEL)
    _ = tagger.nlp  # load both models before any clock starts
    print(f"{len(texts)} English passages, {sum(len(t.split()) for t in texts)} words\n")
    print("| method | seconds | passages/s | × baseline |\n|---|---|---|---|")

    started = time.perf_counter()
    naive = [[(e.start_char, e.end_char, e.label_) for e in full(t[:5000]).ents] for t in texts]
    baseline = time.perf_counter() - started
    print(
        f"| spaCy full pipeline, nlp(text) per passage (baseline) | {baseline:.1f} | {len(texts) / baseline:.1f} | 1.00 |"
    )

    started = time.perf_counter()
    tagger.tag(passages, vectors, "en")
    seconds = time.perf_counter() - started
    print(
        f"| policymine Tagger.tag: NER + patterns + topics, nlp.pipe | {seconds:.1f} | {len(texts) / seconds:.1f} | {baseline / seconds:.2f} |"
    )

    ner_only = tagger.nlp.select_pipes(disable=["entity_ruler"])
    try:
        started = time.perf_counter()
        mine = [
            [(e.start_char, e.end_char, e.label_) for e in d.ents]
            for d in tagger.nlp.pipe((t[:5000] for t in texts), batch_size=64)
        ]
        seconds = time.perf_counter() - started
    finally:
        ner_only.restore()
    print(
        f"| policymine NER alone (no patterns), nlp.pipe | {seconds:.1f} | {len(texts) / seconds:.1f} | {baseline / seconds:.2f} |"
    )
    same = sum(a == b for a, b in zip(naive, mine))
    n_naive, n_mine = sum(map(len, naive)), sum(map(len, mine))
    print(
        f"\nsame entities as the baseline in {same} of {len(texts)} passages ({n_mine} vs {n_naive} entities)"
    )


if __name__ == "__main__":
    main()
