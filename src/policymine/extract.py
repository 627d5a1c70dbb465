"""Stage 1: faithful text from policy PDFs (and .txt/.md files).

`extract(path)` returns a `Document` whose pages hold cleaned text split into blocks
(headings, paragraphs, list items, tables) in reading order. This module does the I/O:
it opens the file, reads pdfplumber's words and ruled tables, hands pages without a text
layer to OCR and assembles the pages. The layout work on the words (columns, running headers
and footers, drop caps, pull quotes, blocks) is `layout`'s, the text repair `clean`'s.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections import Counter
from pathlib import Path

from . import clean, layout, metadata, ocr
from .config import SUPPORTED_SUFFIXES, Settings
from .errors import ExtractionError
from .types import Block, Document, Page

MIN_QUALITY = 0.3  # pages whose text is mostly not words are dropped (garbled text layer)
# Whose characters the layout reads: "pdfium" (fast, the default) or "pdfplumber" (the
# previous path, kept so that benchmarks and tests can compare the two).
EXTRACTORS = ("pdfium", "pdfplumber")
DEFAULT_EXTRACTOR = "pdfium"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (the identity used for incremental ingest)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract(
    path: str | Path, settings: Settings | None = None, extractor: str = DEFAULT_EXTRACTOR
) -> Document:
    """Extract a document's cleaned pages.

    Args:
        path: a .pdf, .txt or .md file.
        settings: `ocr` reads the pages without a usable text layer with Tesseract.
        extractor: whose characters a PDF's layout is read from, one of `EXTRACTORS`.

    Returns:
        The Document, pages numbered from 1 as in the PDF.

    Raises:
        ExtractionError: the file is missing, empty, not a PDF, encrypted, corrupt, or has
            no usable text layer (and no OCR); the message names the file and the reason.
    """
    path = Path(path)
    if not path.exists():
        raise ExtractionError(path, _missing(path))
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
        doc = _extract_pdf(path, settings.ocr, extractor)
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


def _missing(path: Path) -> str:
    """Why a path that does not exist cannot be read: missing, or a symbolic link that loops
    or leads nowhere."""
    if not path.is_symlink():
        return "no such file"
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (the link leads back to itself): fix or remove the link"
    return f"broken symbolic link (to {os.readlink(path)}, which does not exist)"


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
        return _encrypted(path)
    return ExtractionError(path, f"corrupt or truncated PDF ({_parser_detail(exc)})")


ENCRYPTED = (
    "encrypted PDF: needs a password; remove it first (e.g. `qpdf --decrypt --password=...`)"
)


def _encrypted(path: Path) -> ExtractionError:
    """The error for an encrypted PDF: one that needs a password, or one the reader cannot decrypt."""
    if _needs_password(path):
        return ExtractionError(path, ENCRYPTED)
    return ExtractionError(
        path,
        "encrypted PDF that could not be decrypted: remove the encryption first (`qpdf --decrypt`)",
    )


def _needs_password(path: Path) -> bool:
    """Whether opening the PDF takes a user password (pdfium's answer: pdfminer may read a
    revision 5 file with the empty password and get garbage)."""
    import pypdfium2

    try:
        pypdfium2.PdfDocument(str(path)).close()
    except Exception as exc:  # noqa: BLE001 - any other failure is not about a password
        return "password" in str(exc).lower()
    return False


_PYTHON_ERROR_RE = re.compile(r"unpack|invalid literal|object|argument|index out of range")


def _parser_detail(exc: Exception) -> str:
    """What the parser said, fit for a user: a Python error inside the parser ("'NoneType'
    object is not iterable") says nothing about the file, and object dumps are cut off."""
    text = str(exc).strip() or repr(exc.args[0] if exc.args else exc)
    if type(exc).__module__ == "builtins" and (
        not isinstance(exc, (OSError, ValueError)) or _PYTHON_ERROR_RE.search(text)
    ):
        return "its internal structure is broken"
    text = re.split(r":\s*[\[<{(/']", text.splitlines()[0], maxsplit=1)[0]
    return text[:120]


def _no_pages(path: Path) -> ExtractionError:
    """No page read: a PDF that really has none, or (far more often) one cut short or broken."""
    import pypdfium2

    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 1024))
        complete = b"%%EOF" in fh.read()
    try:
        pdf = pypdfium2.PdfDocument(str(path))
        try:
            empty = len(pdf) == 0
        finally:
            pdf.close()
    except Exception:  # noqa: BLE001 - unreadable to pdfium as well
        empty = False
    if complete and empty:
        return ExtractionError(path, "PDF has no pages")
    return ExtractionError(path, "corrupt or truncated PDF (no page could be read)")


def _extract_pdf(path: Path, use_ocr: bool = False, extractor: str = DEFAULT_EXTRACTOR) -> Document:
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" not in head:
        raise ExtractionError(path, "not a PDF (no %PDF- header)")
    read = _read_pdfium if extractor == "pdfium" else _read_pdfplumber
    try:
        info, raw_pages = read(path)
    except ExtractionError:
        raise
    except Exception as exc:  # noqa: BLE001 - pdfminer and pdfium raise a zoo of types for broken files
        raise _open_error(path, exc) from None
    if not raw_pages:
        raise _no_pages(path)
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
    info, raw_pages = _read_pdfium(Path(path), n)
    layout.page_blocks(raw_pages)
    return info, raw_pages


def _read_pdfium(path: Path, n_pages: int | None = None) -> tuple[dict, list[layout.PageLines]]:
    """Information dictionary and each page's lines (the first `n_pages`, or all) from pdfium's
    characters; ruled tables from pdfplumber, opened only for the pages that draw enough
    straight lines to hold one."""
    import pypdfium2  # imported here, as pdfplumber is: the search path never needs them

    from . import pdfium_words

    pdf = pypdfium2.PdfDocument(str(path))
    plumber = None
    try:
        info = pdf.get_metadata_dict(skip_empty=True)
        raw_pages = []
        for i, label in enumerate(_labels(pdf)[:n_pages]):
            page = pdf[i]
            textpage = page.get_textpage()
            try:
                words = pdfium_words.page_words(page, textpage)
                tables: list[list[list[str]]] = []
                boxes: list[layout.Box] = []
                if pdfium_words.has_ruled_grid(page, words):
                    import pdfplumber  # imported here: most pages never need it

                    plumber = plumber or pdfplumber.open(path)
                    if i < len(plumber.pages):
                        tables, boxes = _ruled_tables(plumber.pages[i])
                        plumber.pages[i].close()
                width, height = page.get_width(), page.get_height()
            finally:
                textpage.close()
                page.close()
            lines = layout.lines_from_words(words, boxes)
            raw_pages.append(layout.PageLines(i + 1, width, height, lines, tables, label))
    finally:
        pdf.close()
        if plumber is not None:
            plumber.close()
    return info, raw_pages


def _read_pdfplumber(path: Path) -> tuple[dict, list[layout.PageLines]]:
    """Information dictionary and each page's lines from pdfplumber's words (the previous,
    slower path)."""
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        if pdf.doc.encryption and _needs_password(path):
            raise ExtractionError(path, ENCRYPTED)
        info = dict(pdf.metadata or {})
        raw_pages = []
        for i, page in enumerate(pdf.pages):
            raw_pages.append(_read_page(page, i + 1))
            page.close()  # pdfplumber caches every layout object per page otherwise
    for raw, label in zip(raw_pages, _page_labels(path, len(raw_pages))):
        raw.label = label
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
            labels = _labels(pdf)[:n_pages]
        finally:
            pdf.close()
    except Exception:  # noqa: BLE001 - a malformed label tree costs the labels, not the document
        return [None] * n_pages
    return labels + [None] * (n_pages - len(labels))


def _labels(pdf) -> list[str | None]:
    """An open pypdfium2 document's page labels; None where the label is the physical number."""
    labels: list[str | None] = []
    for i in range(len(pdf)):
        try:
            label = pdf.get_page_label(i) or None
        except Exception:  # noqa: BLE001 - a malformed label tree costs the labels, not the document
            label = None
        labels.append(None if label == str(i + 1) else label)
    return labels


def _ruled_tables(page) -> tuple[list[list[list[str]]], list[layout.Box]]:
    """The data tables pdfplumber finds on a page with ruling lines, and their boxes."""
    tables: list[list[list[str]]] = []
    boxes: list[layout.Box] = []
    if len(page.rects) + len(page.lines) >= 8:
        for table in page.find_tables():
            rows = [[clean.normalize(c or "").strip() for c in row] for row in table.extract()]
            rows = [r for r in rows if any(r)]
            if layout.is_data_table(rows):
                tables.append(rows)
                boxes.append(table.bbox)
    return tables, boxes


def _read_page(page, number: int) -> layout.PageLines:
    """Lines (pre-column) and tables of one page, from pdfplumber's words."""
    tables, table_boxes = _ruled_tables(page)
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
        if page.quality == 0.0 and page.text.strip():  # too short to judge: judge its words
            page.quality = clean.quality(page.text, min_chars=1)
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
