"""Stage 1: faithful text from policy PDFs (and .txt/.md files).

`extract(path)` returns a `Document` whose pages hold cleaned text split into blocks
(headings, paragraphs, list items, tables) in reading order. The layout work happens on
pdfplumber's words: rows are cut into columns at the page's gutters, running headers and
footers are recognised by repetition across pages, drop caps are re-attached, pull quotes
that repeat body text are dropped, and the text of each block is repaired by `clean`.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from . import clean, ocr
from .config import SUPPORTED_SUFFIXES, Settings
from .errors import ExtractionError
from .types import Block, Document, Page

_PAGE_NUMBER_RE = re.compile(
    r"^(?:(?:page|seite|p\.)\s*)?[-–]?\s*(\d{1,4}|[ivxlc]{1,6})\s*[-–]?(?:\s*(?:of|von|/)\s*\d{1,4})?$",
    re.IGNORECASE,
)
_BAD_TITLE_RE = re.compile(
    r"(\.(docx?|xlsx?|pptx?|indd|pdf|qxd|pub)$|^microsoft |^publisher version |^untitled|^layout \d|^\W*$)",
    re.IGNORECASE,
)
_SENTENCE_END_RE = re.compile(r"[.!?:;\"')]\s*$")
_CONTENTS_RE = re.compile(r"^(table of )?contents|^inhalt", re.IGNORECASE)
MAX_MEAN_CELL_CHARS = 120  # longer cells are prose in a ruled box, not a table
MIN_QUALITY = 0.3  # pages whose text is mostly not words are dropped (garbled text layer)
MARGIN = 0.1  # share of the page height treated as header or footer zone
FAR_MARGIN = 0.16  # page numbers may sit this far in when they count like page numbers


@dataclass
class _Line:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool
    column: int = 0
    band: int = 0
    kind: str = "body"  # "body" | "heading" | "margin"


@dataclass
class _RawPage:
    number: int
    width: float
    height: float
    lines: list[_Line]
    tables: list[list[list[str]]] = field(default_factory=list)
    label: str | None = None


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
    raw = clean.normalize(raw)
    blocks = _plain_blocks(raw, clean.vocabulary(raw.splitlines()))
    title = next((text for kind, text in blocks if kind == "heading"), None)
    page = _assemble_page(1, blocks)
    page.quality = clean.quality(page.text)
    return Document(
        path=str(path.resolve()),
        name=path.name,
        sha256=sha256_file(path),
        title=title or path.stem.replace("-", " ").replace("_", " "),
        lang=clean.detect_language(page.text),
        pages=[page],
        year=_year_from(path.stem),
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
            metadata = dict(pdf.metadata or {})
            raw_pages = []
            for i, page in enumerate(pdf.pages):
                raw_pages.append(_read_page(page, i + 1))
                page.close()  # pdfplumber caches every layout object per page otherwise
    except ExtractionError:
        raise
    except Exception as exc:  # pdfminer raises a zoo of types for broken files
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
        title=_title(metadata, raw_pages, path),
        lang=clean.detect_language(full),
        pages=pages,
        year=_year_from(str(metadata.get("Title", ""))) or _year_from(path.stem),
    )


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
    except Exception:  # a malformed label tree costs the labels, not the document
        return [None] * n_pages
    # A label equal to the physical number adds nothing.
    labels = [None if lab == str(i + 1) else lab for i, lab in enumerate(labels)]
    return labels + [None] * (n_pages - len(labels))


def _read_page(page, number: int) -> _RawPage:
    """Lines (pre-column) and tables of one page, from pdfplumber's words."""
    tables: list[list[list[str]]] = []
    table_boxes: list[tuple[float, float, float, float]] = []
    if len(page.rects) + len(page.lines) >= 8:
        for table in page.find_tables():
            rows = [[clean.normalize(c or "").strip() for c in row] for row in table.extract()]
            rows = [r for r in rows if any(r)]
            if _is_data_table(rows):
                tables.append(rows)
                table_boxes.append(table.bbox)
    if _overprinted(page.chars):  # fake bold: every glyph drawn two or four times in place
        page = page.dedupe_chars(tolerance=1)
    words = [
        w for w in page.extract_words(extra_attrs=["size", "fontname", "upright"]) if w["upright"]
    ]
    gutters = _gutters(
        words
    )  # tables still in: a table filling a column is evidence of that column
    words = [w for w in words if not any(_inside(w, box) for box in table_boxes)]
    words, caps = _split_drop_caps(words)
    lines = _rows_to_lines(words, gutters)
    _attach_drop_caps(lines, caps)
    return _RawPage(number, float(page.width), float(page.height), lines, tables)


def _overprinted(chars: list[dict]) -> bool:
    """Whether glyphs sit on top of an identical glyph (a cheap test before pdfplumber's slow dedupe)."""
    repeats = 0
    for i, c in enumerate(chars):
        repeats += any(
            o["text"] == c["text"]
            and abs(o["x0"] - c["x0"]) < 1.5
            and abs(o["top"] - c["top"]) < 1.5
            for o in chars[max(0, i - 3) : i]
        )
    return repeats >= 5  # a glyph on top of its twin is never real text, even in one heading


def _split_drop_caps(words: list[dict]) -> tuple[list[dict], list[dict]]:
    """Separate single giant letters (drop caps) from the words they would skew."""
    if not words:
        return words, []
    median_size = median(w["size"] for w in words)
    caps = [
        w
        for w in words
        if len(w["text"]) == 1 and w["text"].isalpha() and w["size"] >= 2.5 * median_size
    ]
    if not caps:
        return words, []
    ids = {id(w) for w in caps}
    return [w for w in words if id(w) not in ids], caps


def _attach_drop_caps(lines: list[_Line], caps: list[dict]) -> None:
    """Glue each drop cap to the first line beside it: "B" + "erlin has" -> "Berlin has"."""
    for cap in caps:
        beside = [
            ln
            for ln in lines
            if ln.x0 >= cap["x1"] - 2 and cap["top"] - 2 <= ln.top <= cap["bottom"]
        ]
        if beside:
            target = min(beside, key=lambda ln: (ln.top, ln.x0))
            target.text = cap["text"] + target.text


def _is_data_table(rows: list[list[str]]) -> bool:
    """A grid of short cells, not a page frame or a text box that happens to have rulings."""
    cells = [c for r in rows for c in r if c]
    if len(rows) < 2 or max(len(r) for r in rows) < 2 or len(cells) < 4:
        return False
    return sum(len(c) for c in cells) / len(cells) <= MAX_MEAN_CELL_CHARS


def _inside(word: dict, box: tuple[float, float, float, float]) -> bool:
    x0, top, x1, bottom = box
    cx, cy = (word["x0"] + word["x1"]) / 2, (word["top"] + word["bottom"]) / 2
    return x0 <= cx <= x1 and top <= cy <= bottom


def _rows_to_lines(words: list[dict], gutters: list[float]) -> list[_Line]:
    """Group words sharing a baseline into rows, then cut rows at the page's gutters."""
    if not words:
        return []
    words.sort(key=lambda w: (round(w["bottom"]), w["x0"]))
    rows: list[list[dict]] = []
    for w in words:
        for row in reversed(rows[-3:]):
            if abs(row[0]["bottom"] - w["bottom"]) <= max(2.0, 0.3 * w["size"]):
                row.append(w)
                break
        else:
            rows.append([w])
    lines: list[_Line] = []
    band = 0
    for row in rows:
        row.sort(key=lambda w: w["x0"])
        spanning = gutters and any(w["x0"] < g < w["x1"] for w in row for g in gutters)
        if spanning or not gutters:
            band += 1 if spanning else 0
            lines.extend(_segments(row, column=0, band=band))
            band += 1 if spanning else 0
            continue
        for col in range(len(gutters) + 1):
            lo = gutters[col - 1] if col else float("-inf")
            hi = gutters[col] if col < len(gutters) else float("inf")
            part = [w for w in row if lo <= (w["x0"] + w["x1"]) / 2 < hi]
            if part:
                lines.extend(_segments(part, column=col, band=band))
    lines.sort(key=lambda ln: (ln.band, ln.column, ln.bottom))
    return _attach_lone_bullets(lines)


def _attach_lone_bullets(lines: list[_Line]) -> list[_Line]:
    """A bullet glyph from another font can sit off its text's baseline and land in a line of
    its own (or in the other column's row); glue it to the text beside it."""
    kept = []
    for ln in lines:
        if len(ln.text) == 1 and clean.BULLET_RE.match(ln.text + " "):
            middle = (ln.top + ln.bottom) / 2
            beside = [
                other
                for other in lines
                if other is not ln
                and other.column == ln.column
                and other.band == ln.band
                and other.top <= middle <= other.bottom
                and 0 <= other.x0 - ln.x1 < 30
            ]
            if beside:
                beside[0].text = f"{ln.text} {beside[0].text}"
                beside[0].x0 = ln.x0
                continue
        kept.append(ln)
    return kept


def _segments(row: list[dict], column: int, band: int) -> list[_Line]:
    """One line per run of words; a wide gap (a sidebar, a tab stop) starts a new line."""
    out: list[_Line] = []
    run: list[dict] = [row[0]]
    for w in row[1:]:
        if w["x0"] - run[-1]["x1"] > max(4 * w["size"], 30):
            out.append(_make_line(run, column, band))
            run = []
        run.append(w)
    out.append(_make_line(run, column, band))
    return out


def _make_line(words: list[dict], column: int, band: int) -> _Line:
    text = " ".join(w["text"] for w in words)
    sizes = [w["size"] for w in words for _ in w["text"]]
    bold = sum(
        len(w["text"])
        for w in words
        if re.search(r"bold|black|heavy|semibold", w["fontname"], re.IGNORECASE)
    )
    return _Line(
        text=clean.collapse_doubled_runs(clean.normalize(text)),
        x0=words[0]["x0"],
        x1=words[-1]["x1"],
        top=min(w["top"] for w in words),
        bottom=max(w["bottom"] for w in words),
        size=median(sizes),
        bold=bold * 2 > len(text.replace(" ", "")),
        column=column,
        band=band,
    )


def _gutters(words: list[dict]) -> list[float]:
    """x positions of the vertical white channels that separate text columns."""
    body = [w for w in words if len(w["text"]) > 1]
    if len(body) < 40:
        return []
    left = min(w["x0"] for w in body)
    right = max(w["x1"] for w in body)
    width = right - left
    if width <= 0:
        return []
    bins = [0] * (int(width) + 2)
    for w in body:
        for x in range(int(w["x0"] - left), int(w["x1"] - left) + 1):
            bins[x] += 1
    allowed = max(1, len(body) // 200)  # a few stray spanning words may cross a gutter
    gutters: list[float] = []
    x = int(0.15 * width)
    while x < int(0.85 * width):
        if bins[x] <= allowed:
            start = x
            while x < len(bins) and bins[x] <= allowed:
                x += 1
            if x - start >= 7:
                # In a sparse column every x has a word or so: cut in the widest empty stretch.
                empty = max(_runs(bins[start:x], 0), key=lambda r: r[1] - r[0], default=None)
                a, b = (
                    (start + empty[0], start + empty[1])
                    if empty and empty[1] - empty[0] >= 7
                    else (start, x)
                )
                cut = left + (a + b) / 2
                n_left = sum(1 for w in body if w["x1"] <= cut)
                n_right = sum(1 for w in body if w["x0"] >= cut)
                if min(n_left, n_right) >= 10:  # a short last column (two lines) still counts
                    gutters.append(cut)
        x += 1
    return gutters


def _runs(values: list[int], level: int) -> list[tuple[int, int]]:
    """(start, end) of the stretches where values are at most `level`."""
    out, start = [], None
    for i, v in enumerate([*values, level + 1]):
        if v <= level and start is None:
            start = i
        elif v > level and start is not None:
            out.append((start, i))
            start = None
    return out


def _margin_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower()).strip()


def _layout(raw_pages: list[_RawPage]) -> list[Page]:
    """Remove running headers and footers, find headings, assemble blocks per page."""
    all_lines = [ln for p in raw_pages for ln in p.lines]
    if not all_lines:
        return [Page(number=p.number, text="", label=p.label, quality=0.0) for p in raw_pages]
    size_counts: Counter[float] = Counter()
    for ln in all_lines:
        size_counts[round(ln.size, 1)] += len(ln.text)
    body_size = size_counts.most_common(1)[0][0]

    # Running headers/footers: lines in the margin zones that repeat across pages.
    margin_pages: Counter[str] = Counter()
    for p in raw_pages:
        keys = {_margin_key(ln.text) for ln in p.lines if _in_margin(ln, p)}
        margin_pages.update(keys)
    n = len(raw_pages)
    # Three pages make a running header even when it changes by chapter.
    repeated = {k for k, c in margin_pages.items() if c >= 3 or (c >= 2 and c >= 0.3 * n)}
    _mark_far_page_numbers(raw_pages)
    for p in raw_pages:
        for ln in p.lines:
            if not _in_margin(ln, p):
                continue
            number = _PAGE_NUMBER_RE.match(ln.text.strip())
            if number or _margin_key(ln.text) in repeated:
                ln.kind = "margin"
                if number and p.label is None and number.group(1) != str(p.number):
                    p.label = number.group(1)
            elif ln.size >= 1.15 * body_size or ln.bold:
                ln.kind = "heading"
    for ln in all_lines:
        if ln.kind == "body" and (ln.size >= 1.15 * body_size or (ln.bold and len(ln.text) < 90)):
            ln.kind = "heading"

    cells = [
        line
        for p in raw_pages
        for rows in p.tables
        for row in rows
        for cell in row
        for line in cell.splitlines()
    ]
    vocab = clean.vocabulary([ln.text for ln in all_lines] + cells)
    paragraph_gap = max(0.8 * body_size, 1.6 * _line_gap(raw_pages, body_size))
    page_blocks = [_blocks(p, body_size, paragraph_gap, vocab) for p in raw_pages]
    _drop_repeats(page_blocks)
    pages = []
    for p, blocks in zip(raw_pages, page_blocks):
        blocks += [("table", _table_text(rows, vocab)) for rows in p.tables]
        page = _assemble_page(p.number, blocks)
        page.label = p.label
        page.quality = clean.quality(page.text)
        if page.quality < MIN_QUALITY:  # broken font encoding: symbol soup, useless to index
            page.text, page.blocks = "", []
        pages.append(page)
    return pages


def _table_text(rows: list[list[str]], vocab: Counter[str]) -> str:
    """One line per row, cells joined by " | "; a cell's own line breaks are repaired like prose."""
    return "\n".join(
        " | ".join(clean.join_lines(cell.split("\n"), vocab) for cell in row) for row in rows
    )


def _mark_far_page_numbers(raw_pages: list[_RawPage]) -> None:
    """Page numbers set further in than the margin zone (wide book margins, landscape pages):
    bare numbers near the top or bottom that keep the document's usual distance to the
    physical page number. A chart label or footnote mark does not keep that distance."""
    candidates = []
    for p in raw_pages:
        for ln in p.lines:
            near_edge = ln.bottom < FAR_MARGIN * p.height or ln.top > (1 - FAR_MARGIN) * p.height
            m = (
                _PAGE_NUMBER_RE.match(ln.text.strip())
                if near_edge and not _in_margin(ln, p)
                else None
            )
            if m and m.group(1).isdigit():
                candidates.append((ln, p, int(m.group(1)) - p.number))
    offsets = Counter(offset for _, _, offset in candidates)
    if not offsets:
        return
    offset, count = offsets.most_common(1)[0]
    if count >= 3:
        for ln, p, o in candidates:
            if o == offset:
                ln.kind = "margin"
                if p.label is None and o != 0:
                    p.label = str(p.number + o)


def _in_margin(ln: _Line, p: _RawPage) -> bool:
    return ln.bottom < MARGIN * p.height or ln.top > (1 - MARGIN) * p.height


def _line_gap(raw_pages: list[_RawPage], body_size: float) -> float:
    """The usual white space between two lines of one paragraph (large in double-spaced text)."""
    gaps = [
        b.top - a.bottom
        for p in raw_pages
        for a, b in zip(p.lines, p.lines[1:])
        if a.kind == b.kind == "body"
        and a.column == b.column
        and a.band == b.band
        and 0 <= b.top - a.bottom < 2 * body_size
    ]
    return median(gaps) if gaps else 0.0


def _blocks(
    p: _RawPage, body_size: float, paragraph_gap: float, vocab: Counter[str]
) -> list[tuple[str, str]]:
    """Group a page's lines into (kind, text) blocks in reading order."""
    blocks: list[tuple[str, str]] = []
    current: list[_Line] = []

    def flush() -> None:
        if not current:
            return
        kind = "heading" if current[0].kind == "heading" else "paragraph"
        if kind == "paragraph" and clean.BULLET_RE.match(current[0].text):
            kind = "list"
        text = clean.join_lines([ln.text for ln in current], vocab)
        if kind == "paragraph":
            text = clean.fix_drop_cap(text, vocab)
        if text.strip():
            blocks.append((kind, text))
        current.clear()

    for ln in p.lines:
        if ln.kind == "margin":
            continue
        if current:
            prev = current[-1]
            gap = ln.top - prev.bottom
            heading_continues = ln.kind == prev.kind == "heading" and 0 <= gap < 0.8 * prev.size
            # A sentence running on from the foot of one column to the head of the next.
            column_run_on = (
                ln.kind == prev.kind == "body"
                and ln.column > prev.column
                and not _SENTENCE_END_RE.search(prev.text)
                and ln.text[:1].islower()
            )
            new_block = (
                (
                    not (heading_continues or column_run_on)
                    and (ln.column != prev.column or ln.band != prev.band)
                )
                or ln.kind != prev.kind
                or (gap > max(paragraph_gap, 0.8 * prev.size) and not column_run_on)
                or (gap < -2 and not column_run_on)
                or (ln.kind == "body" and clean.BULLET_RE.match(ln.text))
                # A list item's wrapped lines hang indented; a line back at the bullet's x is new text.
                or (clean.BULLET_RE.match(current[0].text) and ln.x0 <= current[0].x0 + 1)
                or abs(ln.size - prev.size) > 0.15 * body_size
            )
            if new_block:
                flush()
        current.append(ln)
    flush()
    return blocks


def _repeat_key(text: str) -> str:
    return re.sub(r"[^\w]+", "", text.lower())


def _drop_repeats(page_blocks: list[list[tuple[str, str]]]) -> None:
    """Drop pull quotes and call-outs whose text repeats a paragraph on a nearby page."""
    keys = [[_repeat_key(t) for _, t in blocks] for blocks in page_blocks]
    for i, blocks in enumerate(page_blocks):
        keep = []
        for j, (kind, text) in enumerate(blocks):
            key = keys[i][j]
            repeated = (
                kind != "table"
                and len(key) >= 40
                and any(
                    key in other and (k, m) != (i, j) and len(other) > len(key)
                    for k in range(max(0, i - 1), min(len(page_blocks), i + 2))
                    for m, other in enumerate(keys[k])
                )
            )
            if not repeated:
                keep.append((kind, text))
        blocks[:] = keep


def _assemble_page(number: int, blocks: list[tuple[str, str]]) -> Page:
    parts: list[Block] = []
    offset = 0
    for kind, text in blocks:
        parts.append(Block(kind, text, offset, offset + len(text)))
        offset += len(text) + 2
    return Page(number=number, text="\n\n".join(b.text for b in parts), blocks=parts)


def _title(metadata: dict, raw_pages: list[_RawPage], path: Path) -> str:
    """The metadata title when it is a real title, else the biggest text on the first page."""
    meta = str(metadata.get("Title") or "").strip()
    if 8 <= len(meta) <= 200 and not _BAD_TITLE_RE.search(meta):
        return clean.normalize(meta)
    sizes = [ln.size for p in raw_pages for ln in p.lines]
    body_size = median(sizes) if sizes else 0.0
    for p in raw_pages[:3]:
        lines = [
            ln
            for ln in p.lines
            if ln.kind != "margin" and len(ln.text.strip()) > 2 and "...." not in ln.text
        ]
        if not lines:
            continue
        biggest = max(ln.size for ln in lines)
        top = [ln.text for ln in lines if ln.size >= biggest - 0.5][:4]
        title = " ".join(top).strip()
        if biggest >= 1.2 * body_size and len(title) >= 4 and not _CONTENTS_RE.match(title):
            return title[:200]
    return path.stem.replace("-", " ").replace("_", " ")


def _year_from(text: str) -> int | None:
    m = re.search(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)", text)
    return int(m.group(1)) if m else None
