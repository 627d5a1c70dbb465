"""Artifact report: layout artifacts left in the text, raw pdfplumber vs policymine.

For every PDF it counts, per 1,000 words of text, what a reader of the extracted text
trips over: hyphens left at line breaks, running header and footer lines, doubled-glyph
runs and split drop caps, plus the pages of symbol soup that would be indexed as text.
"raw" is `pdfplumber`'s `page.extract_text()`, "pm" is `policymine.extract`. The same
counting rules are applied to both texts (see the functions below).

    python benchmarks/artifacts.py ../shared/corpus [--out docs/extraction-artifacts.md]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from policymine import clean
from policymine.errors import ExtractionError
from policymine.extract import MIN_QUALITY, extract

CLASSES = ("hyphens", "headers", "doubled", "dropcaps")
_CONJUNCTIONS = {"und", "oder", "bis", "sowie", "bzw", "and", "or", "to", "nor", "als", "wie"}
_LINE_HYPHEN_RE = re.compile(r"([^\W\d_]{2,})-[ \n]([a-zäöüß]+)")
_BARE_NUMBER_RE = re.compile(r"^(?:page|seite)?\s*[-–]?\s*(\d{1,4})\s*[-–]?$", re.IGNORECASE)
_SPLIT_CAP_RE = re.compile(r"^([A-ZÄÖÜ]) ([a-zäöüß]{2,})")
_SPLIT_YEAR_RE = re.compile(r"^(\d) (\d{3})\b")
_DOUBLED_INITIAL_RE = re.compile(r"\b([A-ZÄÖÜ])\1 [A-ZÄÖÜ]{2,}\b")


def hyphens(text: str) -> list[str]:
    """Words still cut at a line break: "interna-\\ntional" (raw) or "interna- tional" (joined)."""
    # "Wohn- und Gewerbebau", "pre- and post-war": a suspended hyphen, not an artifact.
    return [m.group(0) for m in _LINE_HYPHEN_RE.finditer(text) if m.group(2) not in _CONJUNCTIONS]


def _edge_lines(text: str) -> list[str]:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[:2] + lines[-2:] if len(lines) > 4 else lines


def _line_key(line: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", line.lower()))


def headers(pages: list[str]) -> list[str]:
    """Lines at the top or bottom of a page that repeat on many pages, or are running page numbers.

    A bare number is a page number when it keeps the document's usual distance to the
    physical page (printed "7" on page 9, "8" on page 10), not a chart label or footnote mark.
    Table rows are left out: a repeated column header is content.
    """
    edges = [[ln for ln in _edge_lines(text) if " | " not in ln] for text in pages]
    seen = Counter(k for lines in edges for k in {_line_key(ln) for ln in lines})
    repeated = {
        k for k, c in seen.items() if c >= max(3, 0.2 * len(pages)) and len(k) >= 3 and k != "#"
    }
    offsets = Counter(
        int(m.group(1)) - i
        for i, lines in enumerate(edges, start=1)
        for ln in lines
        if (m := _BARE_NUMBER_RE.match(ln))
    )
    offset = offsets.most_common(1)[0][0] if offsets and offsets.most_common(1)[0][1] >= 3 else None

    def running(ln: str, number: int) -> bool:
        m = _BARE_NUMBER_RE.match(ln)
        return bool(m) and int(m.group(1)) - number == offset

    return [
        f"p{i}: {ln}"
        for i, lines in enumerate(edges, start=1)
        for ln in lines
        if _line_key(ln) in repeated or running(ln, i)
    ]


def doubled(text: str) -> list[str]:
    """Doubled-glyph runs: "KKOOMMMMUUNNAALLEESS", or a doubled initial "KK OMMUNALES"."""
    tokens = [t.strip(".,:;!?()\"'") for t in text.split()]
    runs = [t for t in tokens if len(t) >= 6 and t.isalpha() and clean.collapse_doubled(t) != t]
    return runs + [m.group(0) for m in _DOUBLED_INITIAL_RE.finditer(text)]


def dropcaps(text: str, vocab: Counter[str]) -> list[str]:
    """Lines or paragraphs starting with a split initial: "T he ..." or "2 020 ..."."""
    hits = []
    for line in text.splitlines():
        line = line.strip()
        m = _SPLIT_CAP_RE.match(line)
        if m and m.group(1) not in "AI" and vocab.get((m.group(1) + m.group(2)).lower(), 0):
            hits.append(line[:40])
        m = _SPLIT_YEAR_RE.match(line)
        if m and 1900 <= int(m.group(1) + m.group(2)) <= 2099:
            hits.append(line[:40])
    return hits


def artifacts(pages: list[str]) -> dict[str, list[str]]:
    """The artifacts found in a document's page texts, by class."""
    full = "\n".join(pages)
    return {
        # within pages: a word cut at the foot of a page is rejoined in its passage, not its page
        "hyphens": [hit for text in pages for hit in hyphens(text)],
        "headers": headers(pages),
        "doubled": doubled(full),
        "dropcaps": dropcaps(full, clean.vocabulary(pages)),
    }


def count(pages: list[str]) -> dict:
    """Artifact counts (and the first examples) of a document's page texts."""
    found = artifacts(pages)
    return {
        "words": len(clean.words("\n".join(pages))),
        **{c: len(hits) for c, hits in found.items()},
        "garbage": sum(1 for t in pages if t.strip() and clean.quality(t) < MIN_QUALITY),
        "examples": {c: hits[:5] for c, hits in found.items() if hits},
    }


def raw_pages(path: Path) -> list[str]:
    import pdfplumber

    texts = []
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            texts.append(page.extract_text() or "")
            page.close()
    return texts


def measure(path: Path) -> dict:
    """Both counts for one PDF (run in a worker process)."""
    row: dict = {"doc": path.name}
    try:
        row["raw"] = count(raw_pages(path))
    except Exception as exc:  # noqa: BLE001 - a file pdfplumber cannot read is reported, not fatal
        row["raw_error"] = f"{type(exc).__name__}: {exc}"[:80]
    try:
        doc = extract(path)
        row["pm"] = count([p.text for p in doc.pages])
        row["flagged"] = sum(1 for p in doc.pages if 0 < p.quality < MIN_QUALITY)
    except ExtractionError as exc:
        row["pm_error"] = exc.reason.split(":")[0]
    return row


def _rate(counts: dict, key: str) -> str:
    return f"{1000 * counts[key] / counts['words']:.2f}" if counts.get("words") else "-"


def _numbers(counts: dict) -> Counter:
    return Counter({k: v for k, v in counts.items() if isinstance(v, int)})


def table(rows: list[dict]) -> str:
    """The report as a Markdown table; rates are per 1,000 words, raw → policymine."""
    head = (
        "| document | words raw / pm | "
        + " | ".join(f"{c} /1k" for c in CLASSES)
        + " | garbage pages indexed raw / pm (flagged) |"
    )
    lines = [head, "|" + "---|" * (len(CLASSES) + 3)]
    raw_total, pm_total, flagged = Counter(), Counter(), 0
    for row in rows:
        raw, pm = row.get("raw", {}), row.get("pm", {})
        raw_total += _numbers(raw)
        pm_total += _numbers(pm)
        flagged += row.get("flagged", 0)
        cells = [f"{_rate(raw, c)} → {_rate(pm, c)}" for c in CLASSES]
        if "pm_error" in row:
            garbage = f"{raw.get('garbage', '-')} / 0 (document rejected: {row['pm_error']})"
        else:
            garbage = f"{raw.get('garbage', '-')} / {pm['garbage']} ({row['flagged']})"
        lines.append(
            f"| {row['doc']} | {raw.get('words', '-')} / {pm.get('words', '-')} | "
            + " | ".join(cells)
            + f" | {garbage} |"
        )
    cells = [f"**{_rate(raw_total, c)} → {_rate(pm_total, c)}**" for c in CLASSES]
    lines.append(
        f"| **all {len(rows)} documents** | {raw_total['words']} / {pm_total['words']} | "
        + " | ".join(cells)
        + f" | **{raw_total['garbage']} / {pm_total['garbage']} ({flagged})** |"
    )
    return "\n".join(lines)


def residue(rows: list[dict]) -> str:
    """What policymine leaves: the first examples of each class, per document."""
    out = []
    for row in rows:
        for cls, hits in row.get("pm", {}).get("examples", {}).items():
            out.append(f"- {row['doc']} · {cls}: " + "; ".join(f"`{h}`" for h in hits))
    return "\n".join(out) or "- none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of PDFs, e.g. ../shared/corpus")
    parser.add_argument("--out", type=Path, help="also write the report to this Markdown file")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    files = sorted(args.folder.glob("*.pdf"), key=lambda p: -p.stat().st_size)
    if not files:
        sys.exit(f"error: no PDFs in {args.folder}")
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = sorted(pool.map(measure, files), key=lambda r: r["doc"])
    report = f"{table(rows)}\n\nResidue left by policymine (first examples per document and class):\n\n{residue(rows)}"
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
