"""Reading order from positioned words: the layout heuristics of extraction, as pure functions.

Nothing here opens a file or knows pdfplumber. The input is words with their boxes (`Word`:
the keys pdfplumber's `extract_words` gives, which any other reader, pypdfium2's characters
grouped into words for one, can fill), in PDF points with `top` measured down from the
top of the page. Out come `Line`s cut into columns at the page's gutters, marked as body,
heading or margin (running headers, footers, page numbers), and then (kind, text) blocks
in reading order, whose text `clean` has repaired (hyphens, drop caps, doubled glyphs).

The stages, in the order extraction runs them:
- `lines_from_words`: one page's words -> lines (gutters, rows, drop caps, lone bullets);
- `page_blocks`: all pages' lines -> blocks (margins, headings, paragraphs, pull quotes);
- `title_from_lines`: the biggest text on the first pages, the document's title;
- `title_page`: the lines of the first page with text, where its year is printed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import TypedDict

from . import clean

PAGE_NUMBER_RE = re.compile(
    r"^(?:(?:page|seite|p\.)\s*)?[-–]?\s*(\d{1,4}|[ivxlc]{1,6})\s*[-–]?(?:\s*(?:of|von|/)\s*\d{1,4})?$",
    re.IGNORECASE,
)
_CONTENTS_RE = re.compile(r"^(table of )?contents|^inhalt", re.IGNORECASE)
_BOLD_RE = re.compile(r"bold|black|heavy|semibold", re.IGNORECASE)
MAX_MEAN_CELL_CHARS = 120  # longer cells are prose in a ruled box, not a table
MIN_FILLED_CELLS = 0.25  # share of a grid's cells a data table fills (a chart's grid: a few labels)
MARGIN = 0.1  # share of the page height treated as header or footer zone
FAR_MARGIN = 0.16  # page numbers may sit this far in when they count like page numbers

Box = tuple[float, float, float, float]  # x0, top, x1, bottom (pdfplumber's bbox order)


class Word(TypedDict):
    """A word and its box, in points, `top` < `bottom` measured from the top of the page.

    The keys pdfplumber's `extract_words(extra_attrs=["size", "fontname"])` returns (its
    dicts carry more keys, which are ignored); `size` is the font size, `fontname` is
    searched for "bold"-like names. The same dicts serve for single characters.
    """

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    fontname: str


@dataclass
class Line:
    """A run of words on one baseline within one column."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool
    column: int = 0  # 0 for a line that spans the gutters
    band: int = 0  # a spanning row starts a new band: columns are read band by band
    kind: str = "body"  # "body" | "heading" | "margin"


@dataclass
class PageLines:
    """One page's lines (and its ruled tables, read separately), before blocks are made."""

    number: int
    width: float
    height: float
    lines: list[Line]
    tables: list[list[list[str]]] = field(default_factory=list)
    label: str | None = None  # the printed page label, when it differs from `number`


# ---------------------------------------------------------------- one page: words -> lines


def lines_from_words(words: list[Word], table_boxes: Sequence[Box] = ()) -> list[Line]:
    """A page's lines in reading order from its upright words; words inside `table_boxes` are left out."""
    found = gutters(words)  # tables still in: a table filling a column is evidence of that column
    words = [w for w in words if not any(inside(w, box) for box in table_boxes)]
    words, caps = split_drop_caps(words)
    lines = rows_to_lines(words, found)
    attach_drop_caps(lines, caps)
    return lines


def overprinted(chars: list[Word]) -> bool:
    """Whether glyphs sit on top of an identical glyph (fake bold: each glyph drawn two or four times)."""
    texts = [c["text"] for c in chars]
    repeats = 0
    for i, text in enumerate(texts):
        for j in range(max(0, i - 3), i):
            if (
                texts[j] == text
                and abs(chars[j]["x0"] - chars[i]["x0"]) < 1.5
                and abs(chars[j]["top"] - chars[i]["top"]) < 1.5
            ):
                repeats += 1
                if (
                    repeats >= 5
                ):  # a glyph on top of its twin is never real text, even in one heading
                    return True
                break
    return False


def dedupe_chars(chars: list[Word], tolerance: float = 1.0) -> list[Word]:
    """The characters without the copies drawn on top of them (fake bold): of glyphs with the
    same text, font and size whose x0 and top lie within `tolerance`, the first is kept
    (what pdfplumber's `dedupe_chars` does, in one pass over a grid)."""
    seen: dict[tuple, list[Word]] = {}
    kept = []
    for c in chars:
        key = (c["text"], c["fontname"], round(c["size"], 1))
        gx, gy = int(c["x0"] // tolerance), int(c["top"] // tolerance)
        twins = (
            o
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            for o in seen.get((*key, gx + dx, gy + dy), ())
        )
        if any(
            abs(o["x0"] - c["x0"]) <= tolerance and abs(o["top"] - c["top"]) <= tolerance
            for o in twins
        ):
            continue
        seen.setdefault((*key, gx, gy), []).append(c)
        kept.append(c)
    return kept


def is_data_table(rows: list[list[str]]) -> bool:
    """A grid of short cells, mostly filled: not a page frame or a text box that happens to have
    rulings, nor a chart whose gridlines and bars hold a few axis labels."""
    cells = [c for r in rows for c in r if c]
    if len(rows) < 2 or max(len(r) for r in rows) < 2 or len(cells) < 4:
        return False
    if len(cells) < MIN_FILLED_CELLS * len(rows) * max(len(r) for r in rows):
        return False  # a chart's gridlines and bars, with an axis label here and there
    return sum(len(c) for c in cells) / len(cells) <= MAX_MEAN_CELL_CHARS


def inside(word: Word, box: Box) -> bool:
    """Whether the word's centre lies in the box."""
    x0, top, x1, bottom = box
    cx, cy = (word["x0"] + word["x1"]) / 2, (word["top"] + word["bottom"]) / 2
    return x0 <= cx <= x1 and top <= cy <= bottom


def gutters(words: list[Word]) -> list[float]:
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
    found: list[float] = []
    x = int(0.15 * width)
    while x < int(0.85 * width):
        if bins[x] <= allowed:
            start = x
            while x < len(bins) and bins[x] <= allowed:
                x += 1
            if x - start >= 7:
                # In a sparse column every x has a word or so: cut in the widest empty stretch.
                empty = max(runs(bins[start:x], 0), key=lambda r: r[1] - r[0], default=None)
                a, b = (
                    (start + empty[0], start + empty[1])
                    if empty and empty[1] - empty[0] >= 7
                    else (start, x)
                )
                cut = left + (a + b) / 2
                n_left = sum(1 for w in body if w["x1"] <= cut)
                n_right = sum(1 for w in body if w["x0"] >= cut)
                if min(n_left, n_right) >= 10:  # a short last column (two lines) still counts
                    found.append(cut)
        x += 1
    return found


def runs(values: list[int], level: int) -> list[tuple[int, int]]:
    """(start, end) of the stretches where values are at most `level`."""
    out, start = [], None
    for i, v in enumerate([*values, level + 1]):
        if v <= level and start is None:
            start = i
        elif v > level and start is not None:
            out.append((start, i))
            start = None
    return out


def split_drop_caps(words: list[Word]) -> tuple[list[Word], list[Word]]:
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


def attach_drop_caps(lines: list[Line], caps: list[Word]) -> None:
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


def rows_to_lines(words: list[Word], gutters: list[float]) -> list[Line]:
    """Group words sharing a baseline into rows, then cut rows at the page's gutters.

    A row with a word across a gutter (a heading over both columns) starts a band of its
    own; lines come out band by band, column by column, top to bottom. Sorts `words`.
    """
    if not words:
        return []
    words.sort(key=lambda w: (round(w["bottom"]), w["x0"]))
    rows: list[list[Word]] = []
    for w in words:
        for row in reversed(rows[-3:]):
            if abs(row[0]["bottom"] - w["bottom"]) <= max(2.0, 0.3 * w["size"]):
                row.append(w)
                break
        else:
            rows.append([w])
    lines: list[Line] = []
    cells: dict[tuple[int, int], list[list[Word]]] = {}  # (band, column) -> its rows
    band = 0
    for row in rows:
        row.sort(key=lambda w: w["x0"])
        spanning = gutters and any(w["x0"] < g < w["x1"] for w in row for g in gutters)
        if spanning:
            band += 1
            lines.extend(segments(row, column=0, band=band))
            band += 1
            continue
        for col in range(len(gutters) + 1):
            lo = gutters[col - 1] if col else float("-inf")
            hi = gutters[col] if col < len(gutters) else float("inf")
            part = [w for w in row if lo <= (w["x0"] + w["x1"]) / 2 < hi]
            if part:
                cells.setdefault((band, col), []).append(part)
    split_bands, plain = set(), []
    for (band, col), parts in cells.items():
        found, split = cell_lines(parts, col, band)
        if split:
            split_bands.add(band)
        else:
            plain += found
        lines += found
    for ln in plain:  # a band with columns found inside a column: number its columns col * 1000
        if ln.band in split_bands:
            ln.column *= SUBCOLUMNS
    lines.sort(key=lambda ln: (ln.band, ln.column, ln.bottom))
    return attach_lone_bullets(lines)


SUBCOLUMNS = 1000  # the columns found inside page column c are numbered c * 1000 + k


def cell_lines(rows: list[list[Word]], column: int, band: int) -> tuple[list[Line], bool]:
    """The lines of one page column (or of a page without gutters), and whether it was split.

    A page's gutters are searched over the whole page, so two columns under a chart or a
    heading whose labels cross their gutter stay hidden (Knoxville's work plan p. 7). Here
    the column is cut at white gaps across its full width, and a part that has gutters of
    its own is read column by column: its lines, and those of the parts around it, then
    get column numbers `column * SUBCOLUMNS + k`, k counting in reading order from 1.
    """
    blocks = vertical_blocks(rows)
    inner = [gutters([w for row in b for w in row]) if len(blocks) > 1 else [] for b in blocks]
    if not any(inner):
        return [ln for row in rows for ln in segments(row, column=column, band=band)], False
    out: list[Line] = []
    k = 0
    for block, cuts in zip(blocks, inner):
        for sub in range(len(cuts) + 1):
            lo = cuts[sub - 1] if sub else float("-inf")
            hi = cuts[sub] if sub < len(cuts) else float("inf")
            k += 1
            for row in block:
                part = [w for w in row if lo <= (w["x0"] + w["x1"]) / 2 < hi]
                if part:
                    out.extend(segments(part, column=column * SUBCOLUMNS + k, band=band))
    return out, True


def vertical_blocks(rows: list[list[Word]]) -> list[list[list[Word]]]:
    """Rows (top to bottom) cut where the white gap between two rows is taller than the
    bigger of their font sizes: no line of text runs across such a gap."""
    blocks: list[list[list[Word]]] = []
    prev_bottom, prev_size = None, 0.0
    for row in rows:
        top = min(w["top"] for w in row)
        size = max(w["size"] for w in row)
        if prev_bottom is None or top - prev_bottom > max(size, prev_size):
            blocks.append([])
        blocks[-1].append(row)
        prev_bottom = max(prev_bottom or 0.0, max(w["bottom"] for w in row))
        prev_size = size
    return blocks


def attach_lone_bullets(lines: list[Line]) -> list[Line]:
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


def segments(row: list[Word], column: int, band: int) -> list[Line]:
    """One line per run of words; a wide gap (a sidebar, a tab stop) starts a new line."""
    out: list[Line] = []
    run: list[Word] = [row[0]]
    for w in row[1:]:
        if w["x0"] - run[-1]["x1"] > max(4 * w["size"], 30):
            out.append(make_line(run, column, band))
            run = []
        run.append(w)
    out.append(make_line(run, column, band))
    return out


def make_line(words: list[Word], column: int, band: int) -> Line:
    """A line from its words, left to right: text normalised, size the median per character."""
    text = " ".join(w["text"] for w in words)
    sizes = [w["size"] for w in words for _ in w["text"]]
    bold = sum(len(w["text"]) for w in words if _BOLD_RE.search(w["fontname"]))
    return Line(
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


# ---------------------------------------------------------------- all pages: lines -> blocks


def page_blocks(pages: list[PageLines]) -> list[list[tuple[str, str]]]:
    """Each page's (kind, text) blocks in reading order, its tables last.

    Marks running headers, footers and page numbers as margin (and takes printed page labels
    from them), headings by size and weight, then groups lines into paragraphs, list items
    and headings and drops pull quotes that repeat a nearby paragraph. Kinds are "heading",
    "paragraph", "list" and "table".
    """
    if not any(p.lines for p in pages):
        return [[] for _ in pages]  # no text layer: nothing to read, not even the tables
    size = body_size([ln for p in pages for ln in p.lines])
    mark_kinds(pages, size)
    cells = [
        line
        for p in pages
        for rows in p.tables
        for row in rows
        for cell in row
        for line in cell.splitlines()
    ]
    vocab = clean.vocabulary([ln.text for p in pages for ln in p.lines] + cells)
    gap = paragraph_gap(pages, size)
    out = [blocks(p, size, gap, vocab) for p in pages]
    drop_repeats(out)
    for p, found in zip(pages, out):
        found += [("table", table_text(rows, vocab)) for rows in p.tables]
    return out


def body_size(lines: list[Line]) -> float:
    """The font size most of the text is set in (weighted by characters), to 0.1 pt."""
    size_counts: Counter[float] = Counter()
    for ln in lines:
        size_counts[round(ln.size, 1)] += len(ln.text)
    return size_counts.most_common(1)[0][0]


def mark_kinds(pages: list[PageLines], body_size: float) -> None:
    """Set each line's kind: margin (a running header or footer, a page number), heading, or body.

    A margin line repeats across pages (three pages, or two of a short document), or is a
    page number; a page number unlike the physical one becomes the page's label.
    """
    margin_pages: Counter[str] = Counter()
    for p in pages:
        margin_pages.update({margin_key(ln.text) for ln in p.lines if in_margin(ln, p)})
    n = len(pages)
    # Three pages make a running header even when it changes by chapter.
    repeated = {k for k, c in margin_pages.items() if c >= 3 or (c >= 2 and c >= 0.3 * n)}
    mark_far_page_numbers(pages)
    for p in pages:
        for ln in p.lines:
            if not in_margin(ln, p):
                continue
            number = PAGE_NUMBER_RE.match(ln.text.strip())
            if number or margin_key(ln.text) in repeated:
                ln.kind = "margin"
                if number and p.label is None and number.group(1) != str(p.number):
                    p.label = number.group(1)
            elif ln.size >= 1.15 * body_size or ln.bold:
                ln.kind = "heading"
    for p in pages:
        for ln in p.lines:
            if ln.kind == "body" and (
                ln.size >= 1.15 * body_size or (ln.bold and len(ln.text) < 90)
            ):
                ln.kind = "heading"


def margin_key(text: str) -> str:
    """What a running header or footer keeps from page to page: its text without the numbers."""
    return re.sub(r"\d+", "#", text.lower()).strip()


def in_margin(ln: Line, p: PageLines) -> bool:
    """Whether the line lies in the header or footer zone of its page."""
    return ln.bottom < MARGIN * p.height or ln.top > (1 - MARGIN) * p.height


def mark_far_page_numbers(pages: list[PageLines]) -> None:
    """Page numbers set further in than the margin zone (wide book margins, landscape pages):
    bare numbers near the top or bottom that keep the document's usual distance to the
    physical page number. A chart label or footnote mark does not keep that distance."""
    candidates = []
    for p in pages:
        for ln in p.lines:
            near_edge = ln.bottom < FAR_MARGIN * p.height or ln.top > (1 - FAR_MARGIN) * p.height
            m = (
                PAGE_NUMBER_RE.match(ln.text.strip())
                if near_edge and not in_margin(ln, p)
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


def line_gap(pages: list[PageLines], body_size: float) -> float:
    """The usual white space between two lines of one paragraph (large in double-spaced text)."""
    gaps = [
        b.top - a.bottom
        for p in pages
        for a, b in zip(p.lines, p.lines[1:])
        if a.kind == b.kind == "body"
        and a.column == b.column
        and a.band == b.band
        and 0 <= b.top - a.bottom < 2 * body_size
    ]
    return median(gaps) if gaps else 0.0


def paragraph_gap(pages: list[PageLines], body_size: float) -> float:
    """The vertical gap above which two body lines belong to different paragraphs."""
    return max(0.8 * body_size, 1.6 * line_gap(pages, body_size))


def blocks(
    p: PageLines, body_size: float, paragraph_gap: float, vocab: Counter[str]
) -> list[tuple[str, str]]:
    """Group a page's lines into (kind, text) blocks in reading order."""
    out: list[tuple[str, str]] = []
    current: list[Line] = []

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
            out.append((kind, text))
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
                and not clean.ENDS_SENTENCE_RE.search(prev.text)
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
    return out


def repeat_key(text: str) -> str:
    """A block's text as compared for repeats: lower case, letters and digits only."""
    return re.sub(r"[^\w]+", "", text.lower())


def drop_repeats(per_page: list[list[tuple[str, str]]]) -> None:
    """Drop pull quotes and call-outs whose text repeats a paragraph on a nearby page."""
    keys = [[repeat_key(t) for _, t in found] for found in per_page]
    for i, found in enumerate(per_page):
        keep = []
        for j, (kind, text) in enumerate(found):
            key = keys[i][j]
            repeated = (
                kind != "table"
                and len(key) >= 40
                and any(
                    key in other and (k, m) != (i, j) and len(other) > len(key)
                    for k in range(max(0, i - 1), min(len(per_page), i + 2))
                    for m, other in enumerate(keys[k])
                )
            )
            if not repeated:
                keep.append((kind, text))
        found[:] = keep


def table_text(rows: list[list[str]], vocab: Counter[str]) -> str:
    """One line per row, cells joined by " | "; a cell's own line breaks are repaired like prose."""
    return "\n".join(
        " | ".join(clean.join_lines(cell.split("\n"), vocab) for cell in row) for row in rows
    )


_GENERIC_RE = re.compile(
    r"^(?:(?:table of )?contents|inhalt(?:sverzeichnis)?|sommaire|memo(?:randum)?|briefing|"
    r"cover page|deckblatt|public disclosure authorized(?: public disclosure authorized)*|"
    r"draft|entwurf|final report|endbericht|executive summary|kurzfassung|acknowledge?ments?|"
    r"list of (?:figures|tables)|abbildungsverzeichnis|tabellenverzeichnis|foreword|vorwort|"
    r"preface|introduction|einleitung|acronyms(?: (?:&|and) abbreviations)?|abbreviations|"
    r"glossary|abkürzungsverzeichnis|abkürzungen)\W*$",
    re.IGNORECASE,
)
_SUBJECT_RE = re.compile(r"^(?:subject|re|betreff|objet)\s*:\s*(.{8,})", re.IGNORECASE)
# Month names in English, German and French (dates on covers and title pages).
MONTHS = (
    r"jan(?:uary|uar)?|feb(?:ruary|ruar)?|m(?:a|ä)r(?:ch|z)?|apr(?:il)?|may|mai|june?|juni|"
    r"july?|juli|aug(?:ust)?|sep(?:t|tember)?|o[ck]t(?:ober)?|nov(?:ember)?|de[cz](?:ember)?|"
    r"janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre"
)
# Lines of a cover that are not its title: dates, credits, page furniture.
_NOT_TITLE_RE = re.compile(
    r"^(?:prepared (?:by|for)|in cooperation with|erstellt (?:von|durch)|auftraggeber|"
    r"herausgeber|im auftrag|gefördert|published|adopted|date|stand|office of|department of|"
    r"division|fachbereich|amt für|anlage \d+ zu|gemäß)\b|"
    rf"^\W*(?:\w+\.? )?(?:\d{{1,2}}[.,]? )?(?:{MONTHS})\w*\.?,? (?:\d{{1,2}},? )?(?:19|20)\d\d\W*$|"
    r"^\W*\d{1,2}[./]\d{1,2}[./]\d{2,4}\W*$",
    re.IGNORECASE,
)
MAX_TITLE = 200


def title_from_lines(pages: list[PageLines]) -> str | None:
    """The title on the first three pages: the biggest text that stands out from the body,
    with the big lines above it (a kicker set smaller) and those of its size below it, in
    reading order and never cut mid-word; a memo's subject line; not "Contents", a date or a
    credit."""
    sizes = [ln.size for p in pages for ln in p.lines]
    body = median(sizes) if sizes else 0.0
    for p in pages[:3]:
        lines = sorted(
            (
                ln
                for ln in p.lines
                if ln.kind != "margin"
                and re.search(r"[^\W_]{2}", ln.text)
                and "...." not in ln.text
            ),
            key=lambda ln: (ln.top, ln.x0),
        )
        if any(_CONTENTS_RE.match(ln.text.strip()) for ln in lines):
            continue  # a table of contents: its entries are not the title
        for i, ln in enumerate(lines):
            if m := _SUBJECT_RE.match(ln.text.strip()):  # a memo: its subject is its title
                more = lines[i + 1].text if i + 1 < len(lines) and lines[i + 1].x0 > ln.x0 else ""
                return _cut(f"{m.group(1)} {more}")
        lines = [
            ln
            for ln in lines
            if not _GENERIC_RE.match(ln.text.strip()) and not _NOT_TITLE_RE.match(ln.text.strip())
        ]
        if not lines:
            continue
        worded = [ln.size for ln in lines if re.search(r"[^\W\d_]{2}", ln.text)]
        biggest = max(worded, default=0.0)
        if biggest < 1.2 * body:
            continue
        seed = next(
            i
            for i, ln in enumerate(lines)
            if ln.size >= biggest - 0.5 and re.search(r"[^\W\d_]{2}", ln.text)
        )
        floor = max(1.15 * body, 0.5 * biggest)
        first = last = seed
        while first > 0 and _continues(lines[first - 1], lines[first], floor):
            first -= 1
        # Below the biggest line only lines of about its size: smaller ones there are the
        # subtitle ("Clean Energy Atlanta" / "A Vision for a 100% Clean Energy Future").
        while last + 1 < len(lines) and _continues(
            lines[last], lines[last + 1], max(floor, 0.8 * biggest)
        ):
            last += 1
        title = " ".join(ln.text.strip() for ln in lines[first : last + 1][:8])
        if len(title) >= 4 and not _CONTENTS_RE.match(title):
            return _cut(title)
    return None


def first_heading(pages: list[PageLines]) -> str | None:
    """The first heading on the first page, with the heading lines that continue it: the title
    of a document set in its body size (council minutes, a municipal code's chapter)."""
    for p in pages[:1]:
        lines = sorted(
            (ln for ln in p.lines if ln.kind != "margin" and re.search(r"[^\W\d_]{3}", ln.text)),
            key=lambda ln: (ln.top, ln.x0),
        )
        lines = [ln for ln in lines if _wordy(ln.text) and not _NOT_TITLE_RE.match(ln.text.strip())]
        heads = [
            i
            for i, ln in enumerate(lines)
            if ln.kind == "heading" and not _GENERIC_RE.match(ln.text.strip())
        ]
        if not heads:
            return None
        first = last = heads[0]
        while (
            last + 1 < len(lines)
            and lines[last + 1].kind == "heading"
            and lines[last + 1].top - lines[last].bottom <= 1.5 * lines[last].size
        ):
            last += 1
        title = " ".join(ln.text.strip() for ln in lines[first : last + 1][:4])
        return _cut(title) if len(title) >= 8 else None
    return None


def _continues(above: Line, below: Line, floor: float) -> bool:
    """Whether two lines of a cover belong to one title: both big, close one above the other."""
    gap = below.top - above.bottom
    return min(above.size, below.size) >= floor and gap <= 1.6 * max(above.size, below.size)


def running_title(pages: list[PageLines]) -> str | None:
    """The text of a running header or footer the first pages repeat, page numbers and dates
    left out ("EMPOWER LEXINGTON PLAN Page 2"): where many reports print their title."""
    seen: Counter[str] = Counter()
    for p in pages[:6]:
        for ln in p.lines:
            if ln.kind != "margin":
                continue
            text = re.sub(
                r"\b(?:page|seite)\s+\d+\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{1,2}:\d\d\s*(?:am|pm)?\b",
                " ",
                ln.text,
                flags=re.IGNORECASE,
            )
            text = re.sub(
                r"(?:[\s,|–-]+\d{1,4})+[\s,]*$|^\d{1,4}[\s|–-]+", "", " ".join(text.split())
            )
            if _wordy(text) and len(text) >= 8 and not _NOT_TITLE_RE.match(text):
                seen[text.strip(" ,|–-")] += 1
    repeated = [(n, t) for t, n in seen.items() if n >= 2]
    return _cut(max(repeated)[1]) if repeated else None


def _wordy(text: str) -> bool:
    """Mostly letters: text, not a garbled font or a row of symbols."""
    letters = sum(c.isalpha() for c in text)
    return letters >= 3 and letters >= 0.6 * sum(not c.isspace() for c in text)


def _cut(title: str) -> str:
    """A title of at most MAX_TITLE characters, cut at a word boundary (web addresses out)."""
    title = " ".join(w for w in title.split() if not re.search(r"\w\.(?:gov|com|org|net)\b", w))
    if len(title) <= MAX_TITLE:
        return title
    return title[:MAX_TITLE].rsplit(" ", 1)[0].rstrip(",;:–-")


def title_page(pages: list[PageLines]) -> list[Line]:
    """The lines of the first page with text, top to bottom (a cover without text is skipped)."""
    for p in pages:
        if any(ln.text.strip() for ln in p.lines):
            return sorted(p.lines, key=lambda ln: (ln.top, ln.x0))
    return []
