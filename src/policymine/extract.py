"""Stage 1: faithful text from policy PDFs (and .txt/.md files).

`extract(path)` returns a `Document` whose pages hold cleaned text split into blocks
(headings, paragraphs, list items, tables) in reading order. This module does the I/O:
it opens the file, reads pdfplumber's words and ruled tables, hands pages without a text
layer to OCR and assembles the pages. The layout work on the words (columns, running headers
and footers, drop caps, pull quotes, blocks) is `layout`'s, the text repair `clean`'s.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

from . import clean, layout, metadata, ocr
from .config import SUPPORTED_SUFFIXES, Settings
from .errors import ExtractionError
from .types import Block, Document, Page

MIN_QUALITY = 0.3  # pages whose text is mostly not words are dropped (garbled text layer)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (the identity used for incremental ingest)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract(path: str | Path, settings: Settings | None = None) -> Document:
    """Extract a document's cleaned pages.

    Args:
        path: a .pdf, .txt or .md file.
        settings: `ocr` reads the pages without a usable text layer with Tesseract.

    Returns:
        The Document, pages numbered from 1 as in the PDF.

    Raises:
        ExtractionError: the file is missing, empty, not a PDF, encrypted, corrupt, or has
            no usable text layer (and no OCR); the message names the file and the reason.
    """
    path = Path(path)
    if not path.exists():
        raise ExtractionError(path, "no such file")
    if not path.is_file():
        raise ExtractionError(path, "not a file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ExtractionError(
            path, f"unsupported file type {suffix or '(none)'}; expected .pdf, .txt or .md"
        )
    if path.stat().st_size == 0:
        raise ExtractionError(path, "empty file")
    settings = settings or Settings()
    if suffix == ".pdf":
        doc = _extract_pdf(path, settings.ocr)
    else:
        doc = _extract_text_file(path)
    if not any(p.text.strip() for p in doc.pages):
        if suffix != ".pdf":
            raise ExtractionError(path, "no text")
        if settings.ocr:
            raise ExtractionError(path, "no readable text, not even by OCR")
        if any(0 < p.quality < MIN_QUALITY for p in doc.pages):
            raise ExtractionError(
                path, f"garbled text layer (broken font encoding): {ocr.advice()}"
            )
        raise ExtractionError(path, f"no text layer (scanned?): {ocr.advice()}")
    garbled = [p.number for p in doc.pages if 0 < p.quality < MIN_QUALITY]
    if garbled:
        what = "OCR could not read them either" if settings.ocr else ocr.advice()
        doc.warnings.append(
            f"skipped {len(garbled)} page(s) with a garbled text layer ({_ranges(garbled)}): {what}"
        )
    read = [p.number for p in doc.pages if p.source == "ocr"]
    if read:
        doc.warnings.append(f"read {len(read)} page(s) with OCR: {_ranges(read)}")
    return doc


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)


# ---------------------------------------------------------------- text files


def _extract_text_file(path: Path) -> Document:
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if head.startswith(b"%PDF-"):
        raise ExtractionError(path, f"a PDF named {path.suffix}: rename it to .pdf")
    if b"\0" in head:
        raise ExtractionError(path, "binary file, not text")
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raw = path.read_text(encoding="latin-1")
    fields, raw = metadata.front_matter(clean.normalize(raw))
    blocks = _plain_blocks(raw, clean.vocabulary(raw.splitlines()))
    page = _assemble_page(1, metadata.mark_credits([blocks])[0])
    page.quality = clean.quality(page.text)
    return Document(
        path=str(path.resolve()),
        name=path.name,
        sha256=sha256_file(path),
        title=metadata.text_title(blocks, fields, path.stem),
        lang=clean.detect_language(page.text),
        pages=[page],
        year=metadata.text_year(raw, fields, path.stem),
    )


def _plain_blocks(raw: str, vocab: Counter[str]) -> list[tuple[str, str]]:
    """Blocks of plain text (a .txt/.md file, OCR output): paragraphs split at blank lines,
    "# " lines as headings, all-bullet paragraphs as list items."""
    blocks: list[tuple[str, str]] = []
    for para in re.split(r"\n\s*\n", raw):
        lines = [ln for ln in para.splitlines() if ln.strip()]
        if not lines:
            continue
        heading = re.match(r"^#{1,6}\s+(.*)", lines[0])
        if heading and len(lines) == 1:
            blocks.append(("heading", heading.group(1).strip()))
        elif all(clean.BULLET_RE.match(ln) for ln in lines):
            blocks.extend(("list", ln.strip()) for ln in lines)
        else:
            blocks.append(("paragraph", clean.fix_drop_cap(clean.join_lines(lines, vocab), vocab)))
    return blocks


# ---------------------------------------------------------------- PDFs


def _open_error(path: Path, exc: Exception) -> ExtractionError:
    chain = f"{type(exc).__name__} {exc} {exc.args!r} {exc.__cause__!r} {exc.__context__!r}".lower()
    if "password" in chain or "encrypt" in chain:
        return ExtractionError(
            path, "encrypted PDF: remove the password first (e.g. `qpdf --decrypt`)"
        )
    detail = (
        str(exc).strip().splitlines()[0][:120]
        if str(exc).strip()
        else repr(exc.args[0] if exc.args else exc)[:120]
    )
    return ExtractionError(path, f"corrupt or truncated PDF ({detail})")


def _extract_pdf(path: Path, use_ocr: bool = False) -> Document:
    import pdfplumber  # imported here: the search path never needs it

    with open(path, "rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" not in head:
        raise ExtractionError(path, "not a PDF (no %PDF- header)")
    try:
        with pdfplumber.open(path) as pdf:
            info = dict(pdf.metadata or {})
            raw_pages = []
            for i, page in enumerate(pdf.pages):
                raw_pages.append(_read_page(page, i + 1))
                page.close()  # pdfplumber caches every layout object per page otherwise
    except ExtractionError:
        raise
    except Exception as exc:  # noqa: BLE001 - pdfminer raises a zoo of types for broken files
        raise _open_error(path, exc) from None
    if not raw_pages:
        raise ExtractionError(path, "PDF has no pages")
    for raw, label in zip(raw_pages, _page_labels(path, len(raw_pages))):
        raw.label = label
    pages = _layout(raw_pages)
    full = "\n".join(p.text for p in pages)
    if use_ocr:
        _read_with_ocr(path, pages, clean.detect_language(full))
        full = "\n".join(p.text for p in pages)
    return Document(
        path=str(path.resolve()),
        name=path.name,
        sha256=sha256_file(path),
        title=metadata.pdf_title(info, raw_pages, path.stem),
        lang=clean.detect_language(full),
        pages=pages,
        year=metadata.pdf_year(info, raw_pages, path.stem),
    )


def first_pages(path: str | Path, n: int = 6) -> tuple[dict, list[layout.PageLines]]:
    """A PDF's information dictionary and its first `n` pages' lines, kinds marked as in
    `extract` (what its title and year are read from), without reading the whole file."""
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        info = dict(pdf.metadata or {})
        raw_pages = [_read_page(page, i + 1) for i, page in enumerate(pdf.pages[:n])]
    layout.page_blocks(raw_pages)
    return info, raw_pages


def _read_with_ocr(path: Path, pages: list[Page], lang: str) -> None:
    """Replace the pages without a usable text layer by their OCR text, where that reads as text."""
    ocr.require()
    numbers = [p.number for p in pages if p.quality < MIN_QUALITY]
    if not numbers:
        return
    texts = ocr.read_pages(path, numbers, lang)
    vocab = clean.vocabulary(
        [ln for text in [p.text for p in pages] + list(texts.values()) for ln in text.splitlines()]
    )
    for i, page in enumerate(pages):
        text = texts.get(page.number)
        if text is None or clean.quality(text) < MIN_QUALITY:
            continue  # a photo or a blank page: still flagged, still not indexed
        read = _assemble_page(page.number, _plain_blocks(clean.normalize(text), vocab))
        read.label, read.quality, read.source = page.label, clean.quality(read.text), "ocr"
        pages[i] = read


def _page_labels(path: Path, n_pages: int) -> list[str | None]:
    """Printed page labels from the PDF's /PageLabels tree (pdfium: pdfminer's walk can loop)."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(str(path))
        try:
            labels = [pdf.get_page_label(i) or None for i in range(min(n_pages, len(pdf)))]
        finally:
            pdf.close()
    except Exception:  # noqa: BLE001 - a malformed label tree costs the labels, not the document
        return [None] * n_pages
    # A label equal to the physical number adds nothing.
    labels = [None if lab == str(i + 1) else lab for i, lab in enumerate(labels)]
    return labels + [None] * (n_pages - len(labels))


def _read_page(page, number: int) -> layout.PageLines:
    """Lines (pre-column) and tables of one page, from pdfplumber's words."""
    tables: list[list[list[str]]] = []
    table_boxes: list[layout.Box] = []
    if len(page.rects) + len(page.lines) >= 8:
        for table in page.find_tables():
            rows = [[clean.normalize(c or "").strip() for c in row] for row in table.extract()]
            rows = [r for r in rows if any(r)]
            if layout.is_data_table(rows):
                tables.append(rows)
                table_boxes.append(table.bbox)
    if layout.overprinted(page.chars):  # a cheap test before pdfplumber's slow dedupe
        page = page.dedupe_chars(tolerance=1)
    words = [
        w for w in page.extract_words(extra_attrs=["size", "fontname", "upright"]) if w["upright"]
    ]
    lines = layout.lines_from_words(words, table_boxes)
    return layout.PageLines(number, float(page.width), float(page.height), lines, tables)


def _layout(raw_pages: list[layout.PageLines]) -> list[Page]:
    """Pages of blocks in reading order; a page whose text is mostly not words is left empty."""
    pages = []
    for p, blocks in zip(raw_pages, metadata.mark_credits(layout.page_blocks(raw_pages))):
        page = _assemble_page(p.number, blocks)
        page.label = p.label
        page.quality = clean.quality(page.text)
        if page.quality < MIN_QUALITY:  # broken font encoding: symbol soup, useless to index
            page.text, page.blocks = "", []
        pages.append(page)
    return pages


def _assemble_page(number: int, blocks: list[tuple[str, str]]) -> Page:
    parts: list[Block] = []
    offset = 0
    for kind, text in blocks:
        credit = kind == "credit"  # metadata.mark_credits: a paragraph that is a byline
        parts.append(
            Block("paragraph" if credit else kind, text, offset, offset + len(text), credit)
        )
        offset += len(text) + 2
    return Page(number=number, text="\n\n".join(b.text for b in parts), blocks=parts)
