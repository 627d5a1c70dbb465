"""Draw the passages to label for practices and topics (issues 16 and 18), split by document.

    python eval/build_label_pool.py ../shared/corpus --out eval/labels

Every document of the corpus and every bundled brief is put in one split (train, dev or
test) by a seeded shuffle within its language, so no test document is seen in training or
tuning. Passages are read with pypdfium2 (fast; the text a user's plan gives) and cut at
sentence ends into 40-200-word pieces, the size of a policymine passage. From each document a
seeded random sample is drawn (at most PER_DOC), plus targeted rows for rare instruments
found by keyword (`sampling: targeted`), and the rows of the older eval files are taken over
for re-checking (`sampling: earlier`). The rows are shuffled and cut into shards for
several readers; each row carries its split, which the readers do not need.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PER_DOC = {"de": 52}  # random rows per document at most, by language (at least a third German)
PER_DOC_OTHER = 34
MIN_WORDS, MAX_WORDS = 40, 200
SPLIT_SHARE = {"test": 0.27, "dev": 0.16}  # of each language's documents; the rest train
# Rare instruments, by words that name them (English and German): targeted rows.
TARGETED = {
    "partnership": r"partnership|partnerschaft|kooperation mit|in cooperation with|memorandum of understanding|netzwerk",
    "participation_process": r"workshop|public meeting|bürgerbeteiligung|beteiligungsverfahren|citizens'? (?:assembly|council)|public comment|bürgerforum|community engagement",
    "funding_incentive": r"rebate|grant program|förderprogramm|zuschuss|subsid|tax credit|revolving loan|förderung",
    "regulation": r"ordinance|satzung|verordnung|shall be required|bebauungsplan|building code|festsetzung",
    "information_education": r"awareness campaign|kampagne|beratung|workshops? for|outreach|schulung|bildungs",
}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜ0-9„\"(])")


def page_texts(path: Path) -> list[str]:
    """The text of each page, read by pdfium, line-end hyphens joined."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        out = []
        for page in pdf:
            text = page.get_textpage().get_text_range()
            text = re.sub(r"(?<=[a-zäöüß])-\r?\n(?=[a-zäöüß])", "", text)
            out.append(" ".join(text.split()))
        return out
    finally:
        pdf.close()


def pieces(text: str) -> list[str]:
    """40-200-word runs of whole sentences."""
    out, current = [], []
    for sentence in SENTENCE_END.split(text):
        words = sentence.split()
        if len(current) + len(words) > MAX_WORDS and len(current) >= MIN_WORDS:
            out.append(" ".join(current))
            current = []
        current += words[:MAX_WORDS]
    if len(current) >= MIN_WORDS:
        out.append(" ".join(current))
    return out


def readable(text: str) -> bool:
    """Prose, not a table of numbers, a contents list or a garbled text layer."""
    letters = sum(c.isalpha() for c in text)
    dots = text.count(". .") + text.count("....")
    return letters / max(1, len(text)) > 0.7 and dots < 3


def brief_pages(path: Path) -> list[str]:
    """A bundled brief's source, as paragraphs (one 'page' per paragraph group)."""
    body = path.read_text(encoding="utf-8").split("---", 2)[-1]
    return [" ".join(p.split()) for p in body.split("\n\n") if not p.startswith("#")]


def split_documents(docs: dict[str, str], seed: int = 16) -> dict[str, str]:
    """doc -> split, seeded and stratified by language."""
    rng = random.Random(seed)
    out = {}
    for lang in sorted(set(docs.values())):
        names = sorted(d for d, lg in docs.items() if lg == lang)
        rng.shuffle(names)
        n_test = round(len(names) * SPLIT_SHARE["test"])
        n_dev = round(len(names) * SPLIT_SHARE["dev"])
        for i, name in enumerate(names):
            out[name] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "labels")
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    with open(args.corpus / "MANIFEST.tsv", encoding="utf-8") as fh:
        manifest = {r["file"]: r for r in csv.DictReader(fh, delimiter="\t")}
    langs = {name: r["language"] for name, r in manifest.items()}
    briefs = sorted((ROOT / "corpus-src").glob("[0-9]*.md"))
    langs.update({b.with_suffix(".pdf").name: "en" for b in briefs})
    # The bundled briefs are the tests' and the demo's corpus: train, never test.
    splits = split_documents({d: lg for d, lg in langs.items() if not d[:2].isdigit()})
    splits.update({b.with_suffix(".pdf").name: "train" for b in briefs})

    rng = random.Random(1616)
    rows: list[dict] = []
    seen: set[str] = set()

    def add(doc: str, page: int, text: str, sampling: str) -> None:
        key = " ".join(text.lower().split())[:200]
        if key in seen:
            return
        seen.add(key)
        rows.append(
            {
                "doc": doc,
                "page": page,
                "lang": langs.get(doc, "en"),
                "text": text,
                "split": splits[doc],
                "sampling": sampling,
            }
        )

    # The older eval rows first: re-checked against the rules, labelled in full.
    for name in ("practices.jsonl", "topics.jsonl"):
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            doc = r["doc"] if r["doc"] in splits else r["doc"].replace(".md", ".pdf")
            if doc in splits:
                add(doc, r.get("page") or 1, r["text"], f"earlier-{name.split('.')[0]}")
    for doc in sorted(splits):
        path = args.corpus / doc
        texts = (
            brief_pages(ROOT / "corpus-src" / doc.replace(".pdf", ".md"))
            if doc[:2].isdigit()
            else page_texts(path)
        )
        candidates = [
            (number, piece)
            for number, text in enumerate(texts, start=1)
            for piece in pieces(text)
            if readable(piece)
        ]
        quota = PER_DOC.get(langs.get(doc, "en"), PER_DOC_OTHER)
        for number, piece in rng.sample(candidates, min(quota, len(candidates))):
            add(doc, number, piece, "random")
        for instrument, rx in TARGETED.items():
            hits = [(n, p) for n, p in candidates if re.search(rx, p, re.IGNORECASE)]
            for number, piece in rng.sample(hits, min(2, len(hits))):
                add(doc, number, piece, f"targeted-{instrument}")
    rng.shuffle(rows)
    for i, row in enumerate(rows, start=1):
        row["id"] = f"L{i:04d}"
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "pool.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    for s in range(args.shards):
        with open(args.out / f"shard-{s + 1}.jsonl", "w", encoding="utf-8") as fh:
            for row in rows[s :: args.shards]:
                shown = {k: row[k] for k in ("id", "doc", "page", "lang", "text")}
                fh.write(json.dumps(shown, ensure_ascii=False) + "\n")
    with open(args.out / "splits.tsv", "w", encoding="utf-8") as fh:
        fh.write("doc\tlang\tsplit\n")
        for doc in sorted(splits):
            fh.write(f"{doc}\t{langs.get(doc, 'en')}\t{splits[doc]}\n")
    by = {}
    for r in rows:
        by[(r["split"], r["lang"])] = by.get((r["split"], r["lang"]), 0) + 1
    print(f"{len(rows)} rows from {len(splits)} documents:", dict(sorted(by.items())))


if __name__ == "__main__":
    main()
