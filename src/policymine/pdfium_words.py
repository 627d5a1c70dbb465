"""Words with their boxes from pdfium's text layer, in the shape `layout` reads.

pdfium (pypdfium2) parses a page's text about fifty times faster than pdfminer, which
pdfplumber is built on. This module turns its characters into pdfplumber-style `Word`
dicts: boxes in the displayed page's space (the page's /Rotate applied) with `top`
measured down from the top, `bottom` on the font's descent line and `top` one font size
above it, as pdfminer sets a character's box; words end at spaces (the PDF's own and the
ones pdfium infers from gaps), at gaps wider than a fraction of the font size, and where
the font or its size changes (as `extract_words(extra_attrs=["size", "fontname"])` does).

Along the way: a ligature glyph that pdfium reports as several characters sharing one box
becomes one character again; glyphs printed twice on top of each other ("fake bold") are
dropped wherever they are (a title drawn twice, line by line, has its twin far back in
content order); the line-end hyphen pdfium marks
as U+FFFE becomes "-" again; characters not upright on the displayed page (rotated chart
labels, vertical margin notes) are left out, as the pdfplumber path leaves them out.
"""

from __future__ import annotations

import ctypes
import math
import unicodedata

import pypdfium2
import pypdfium2.raw as pdfium_c

from . import layout
from .layout import Word

MAX_SKEW = 0.1  # |sin| of the angle a character may lean and still count as upright (~6°)
WORD_GAP = 0.3  # a gap wider than this share of the font size ends a word
_FONT_BUFFER = 256


def page_words(page: pypdfium2.PdfPage, textpage: pypdfium2.PdfTextPage) -> list[Word]:
    """The page's upright words in content order, fake-bold duplicates dropped."""
    chars = page_chars(page, textpage)
    drawn = [c for c in chars if c is not None]
    kept = layout.dedupe_chars(drawn)  # one pass over a grid: cheap next to reading the chars
    if len(kept) < len(drawn):
        ids = {id(c) for c in kept}
        chars = [c for c in chars if c is None or id(c) in ids]
    return words_from_chars(chars)


def page_chars(page: pypdfium2.PdfPage, textpage: pypdfium2.PdfTextPage) -> list[Word | None]:
    """The page's upright characters in content order; None where a space or line break falls.

    A ligature that pdfium splits into characters sharing one box ("f", "f" for "ﬀ") comes
    back as one character "ff", as pdfminer gives it.
    """
    raw = textpage.raw
    n = pdfium_c.FPDFText_CountChars(raw)
    if n <= 0:
        return []
    text = _text(raw, n)
    rotate, bx0, by0, bx1, by1 = _display_transform(page)
    rect = pdfium_c.FS_RECTF()
    matrix = pdfium_c.FS_MATRIX()
    font = ctypes.create_string_buffer(_FONT_BUFFER)
    flags = ctypes.c_int()
    get_box = pdfium_c.FPDFText_GetLooseCharBox
    chars: list[Word | None] = []
    last_box = None
    # Font, size and direction are asked at a word's first character and again only when the
    # glyph box changes height: each question costs as much as the box itself.
    style: tuple[float, str, bool] = (0.0, "", False)
    for i in range(n):
        ch = text[i]
        if ch <= " " or ch.isspace():
            if chars and chars[-1] is not None and not _after_accent(raw, i, chars[-1]):
                chars.append(None)
            last_box = None
            continue
        if chars and chars[-1] is not None and unicodedata.combining(ch):
            chars[-1]["text"] += ch  # an accent drawn on its own over the letter before it
            continue
        get_box(raw, i, rect)
        box = (rect.left, rect.right, rect.bottom, rect.top)
        if last_box is not None and box == last_box:
            if chars[-1] is not None:
                chars[-1]["text"] += ch  # a ligature's second letter: same glyph, same box
            continue
        if last_box is None or box[3] - box[2] != last_box[3] - last_box[2]:
            style = _style(raw, i, rotate, matrix, font, flags)
        last_box = box
        size, fontname, upright = style
        if not upright:
            if chars and chars[-1] is not None:
                chars.append(None)
            continue
        if rotate == 0:
            x0, x1, bottom = box[0] - bx0, box[1] - bx0, by1 - box[2]
        else:
            x0, x1, _, bottom = _to_display((rotate, bx0, by0, bx1, by1), box)
        chars.append(
            {
                "text": "-" if ch == "\ufffe" else ch,
                "x0": x0,
                "x1": x1,
                "top": bottom - size,
                "bottom": bottom,
                "size": size,
                "fontname": fontname,
            }
        )
    return chars


def _after_accent(raw, i: int, last: Word) -> bool:
    """Whether character i is a space pdfium made up behind an accent drawn on its own
    ("aktivita\u0308 ten"): the accent's narrow box looks to it like a gap."""
    return (
        unicodedata.combining(last["text"][-1]) > 0 and pdfium_c.FPDFText_IsGenerated(raw, i) == 1
    )


def _style(raw, i: int, rotate: int, matrix, font, flags) -> tuple[float, str, bool]:
    """Character i's font size (scaled by its matrix), font name and whether it is upright."""
    pdfium_c.FPDFText_GetMatrix(raw, i, matrix)
    a, b, c, d = _rotated(rotate, matrix.a, matrix.b, matrix.c, matrix.d)
    upright = a > 0 and d > 0 and abs(b) <= MAX_SKEW * a and abs(c) <= MAX_SKEW * d
    size = pdfium_c.FPDFText_GetFontSize(raw, i) * math.hypot(c, d)
    pdfium_c.FPDFText_GetFontInfo(raw, i, font, _FONT_BUFFER, ctypes.byref(flags))
    return size, font.value.decode("utf-8", "replace"), upright


def words_from_chars(chars: list[Word | None]) -> list[Word]:
    """Characters (None at a space) -> words: a space, a gap, a jump back or to another
    baseline, or a change of font or size ends a word."""
    words: list[Word] = []
    current: Word | None = None
    for ch in chars:
        if ch is None:
            current = None
            continue
        if current is not None:
            size = ch["size"]
            gap = ch["x0"] - current["x1"]
            restyled = ch["fontname"] != current["fontname"] or abs(size - current["size"]) > 0.01
            if (
                gap > WORD_GAP * size
                or gap < -0.5 * size
                or abs(ch["bottom"] - current["bottom"]) > WORD_GAP * size
                or (restyled and not _same_word(current, ch, gap))
            ):
                current = None
        if current is None:
            current = dict(ch)  # type: ignore[assignment]
            words.append(current)  # type: ignore[arg-type]
            continue
        current["text"] += ch["text"]
        current["x1"] = max(current["x1"], ch["x1"])
        current["top"] = min(current["top"], ch["top"])
        current["bottom"] = max(current["bottom"], ch["bottom"])
    for word in words:
        if any("\ud800" <= c <= "\udfff" for c in word["text"]):
            word["text"] = _paired(word["text"])
    return words


def _paired(text: str) -> str:
    """Text with the two UTF-16 halves pdfium gives for a character outside the Basic
    Multilingual Plane (math italics: "\ud835\udc61" for "𝑡") joined, and a lone half
    replaced: a tokenizer refuses a string with surrogates in it."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _same_word(word: Word, ch: Word, gap: float) -> bool:
    """Whether a character in another font or size still continues the word: it touches the
    word's last letter and is not much smaller (small caps: "KOMMUNALES" set as a 36 pt "K"
    and 29 pt "OMMUNALES"); a drop cap or a superscript stands apart by size or gap."""
    return abs(gap) <= 0.05 * ch["size"] and 0.6 <= ch["size"] / word["size"] <= 1.0


Segment = tuple[
    float, float, float
]  # a rule: (top, x0, x1) if horizontal, (x, top, bottom) if vertical
MIN_PIECES = 8  # pdfplumber's first test: eight lines or rectangles before it looks for tables


def has_ruled_grid(page: pypdfium2.PdfPage, words: list[Word]) -> bool:
    """Whether the page's rules could hold a data table of two rows and two columns: the
    cheap test before a page is handed to pdfplumber to look for ruled tables.

    Like pdfplumber's own first test it wants eight lines or rectangles. Then words must sit
    in cells: between a rule above and one below and a rule left and one right, in at least
    two rows and two columns of such cells, each with words (a page frame or a boxed
    paragraph is one cell, an icon holds no words, a chart's labels sit in cells that line
    up neither by row nor by column). It errs towards yes: a page it passes costs a
    pdfplumber parse, a table it misses is lost.
    """
    horizontal, vertical, pieces = rulings(page)
    if pieces < MIN_PIECES or len(horizontal) < 3 or len(vertical) < 3:
        return False
    horizontal, vertical = _joined(horizontal), _joined(vertical)
    tol = 3.0  # pdfplumber's snap and join tolerance
    rows: dict[tuple[int, int], set[tuple[int, int]]] = {}  # (above, below) -> {(left, right)}
    for w in words:
        cx, cy = (w["x0"] + w["x1"]) / 2, (w["top"] + w["bottom"]) / 2
        spans_x = [h[0] for h in horizontal if h[1] - tol <= cx <= h[2] + tol]
        above = max((y for y in spans_x if y < cy), default=None)
        below = min((y for y in spans_x if y > cy), default=None)
        if above is None or below is None:
            continue
        spans_y = [v[0] for v in vertical if v[1] - tol <= cy <= v[2] + tol]
        left = max((x for x in spans_y if x < cx), default=None)
        right = min((x for x in spans_y if x > cx), default=None)
        if left is not None and right is not None:
            rows.setdefault((round(above), round(below)), set()).add((round(left), round(right)))
    # Two rows of cells that share two columns of cells: the least a data table has.
    keys = [cols for cols in rows.values() if len(cols) >= 2]
    return any(len(a & b) >= 2 for i, a in enumerate(keys) for b in keys[i + 1 :])


def _joined(segments: list[Segment], tol: float = 3.0) -> list[Segment]:
    """Collinear rules (the same position within 1 pt) that touch or overlap, joined into one."""
    out: list[Segment] = []
    for pos, lo, hi in sorted(segments, key=lambda s: (round(s[0]), s[1])):
        if out and round(out[-1][0]) == round(pos) and lo <= out[-1][2] + tol:
            out[-1] = (out[-1][0], out[-1][1], max(out[-1][2], hi))
        else:
            out.append((pos, lo, hi))
    return out


def rulings(page: pypdfium2.PdfPage) -> tuple[list[Segment], list[Segment], int]:
    """The page's horizontal and vertical rules on the displayed page (straight path pieces
    and rectangle sides, in form XObjects too), and how many lines and rectangles pdfminer
    would count: subpaths of straight horizontal and vertical pieces only."""
    to_page = _display_transform(page)
    pieces = 0
    horizontal: list[Segment] = []
    vertical: list[Segment] = []
    raw = page.raw
    objects = [
        (pdfium_c.FPDFPage_GetObject(raw, i), _IDENTITY)
        for i in range(pdfium_c.FPDFPage_CountObjects(raw))
    ]
    x, y = ctypes.c_float(), ctypes.c_float()
    fs_matrix = pdfium_c.FS_MATRIX()
    while objects:
        obj, outer = objects.pop()
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        pdfium_c.FPDFPageObj_GetMatrix(obj, fs_matrix)
        m = _compose(_matrix(fs_matrix), outer)
        if kind == pdfium_c.FPDF_PAGEOBJ_FORM:
            objects += [
                (pdfium_c.FPDFFormObj_GetObject(obj, j), m)
                for j in range(pdfium_c.FPDFFormObj_CountObjects(obj))
            ]
            continue
        if kind != pdfium_c.FPDF_PAGEOBJ_PATH:
            continue
        # A subpath of straight horizontal and vertical pieces is a line or a rectangle to
        # pdfminer; one with a curve or a slanted piece is a curve, which its gate ignores.
        boxes: list[tuple[float, float, float, float]] = []  # user space: left, right, low, high
        straight = True
        prev = None
        n = pdfium_c.FPDFPath_CountSegments(obj)
        if n > 100 and any(
            pdfium_c.FPDFPathSegment_GetType(pdfium_c.FPDFPath_GetPathSegment(obj, k)) == _BEZIER
            for k in range(16)
        ):
            continue  # a long path with curves early on is a drawing (a map, a plot), not rules
        for k in range(n + 1):
            seg = pdfium_c.FPDFPath_GetPathSegment(obj, k) if k < n else None
            kind = pdfium_c.FPDFPathSegment_GetType(seg) if seg else _MOVETO
            if kind == _MOVETO:
                if straight and boxes:
                    pieces += 1
                    for box in boxes:
                        x0, x1, top, bottom = _to_display(to_page, box)
                        if bottom - top < 0.5:
                            horizontal.append((top, x0, x1))
                        else:
                            vertical.append((x0, top, bottom))
                boxes, straight = [], True
            if seg is None:
                break
            pdfium_c.FPDFPathSegment_GetPoint(seg, x, y)
            point = _apply(m, x.value, y.value)
            if kind == _LINETO and prev is not None:
                (ax, ay), (bx, by) = prev, point
                if (abs(ay - by) < 0.5 and abs(ax - bx) >= 2) or (
                    abs(ax - bx) < 0.5 and abs(ay - by) >= 2
                ):
                    boxes.append((min(ax, bx), max(ax, bx), min(ay, by), max(ay, by)))
                elif abs(ay - by) >= 0.5 and abs(ax - bx) >= 0.5:
                    straight = False
            elif kind != _MOVETO:
                straight = False
            prev = point
    return horizontal, vertical, pieces


_MOVETO = pdfium_c.FPDF_SEGMENT_MOVETO
_BEZIER = pdfium_c.FPDF_SEGMENT_BEZIERTO
_LINETO = pdfium_c.FPDF_SEGMENT_LINETO
_Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: _Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _matrix(m) -> _Matrix:
    return (m.a, m.b, m.c, m.d, m.e, m.f)


def _compose(inner: _Matrix, outer: _Matrix) -> _Matrix:
    """The matrix that applies `inner`, then `outer` (PDF row-vector convention)."""
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer
    return (
        a * A + b * C,
        a * B + b * D,
        c * A + d * C,
        c * B + d * D,
        e * A + f * C + E,
        e * B + f * D + F,
    )


def _apply(m: _Matrix, x: float, y: float) -> tuple[float, float]:
    return (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])


def _text(raw, n: int) -> str:
    """All n characters of the page, one str character per pdfium character."""
    buffer = ctypes.create_string_buffer(2 * (n + 1))
    pdfium_c.FPDFText_GetText(raw, 0, n, ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ushort)))
    text = buffer.raw[: 2 * n].decode("utf-16-le", errors="surrogatepass")
    if len(text) == n and not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    # A character outside the Basic Multilingual Plane takes two UTF-16 units: ask one by one.
    return "".join(chr(pdfium_c.FPDFText_GetUnicode(raw, i) or 0xFFFD) for i in range(n))


_Transform = tuple[int, float, float, float, float]


def _display_transform(page: pypdfium2.PdfPage) -> _Transform:
    """The page's clockwise /Rotate and its media box, to map user space to the displayed page."""
    x0, y0, x1, y1 = page.get_mediabox()
    return (page.get_rotation() % 360, x0, y0, x1, y1)


def _rotated(rotate: int, a: float, b: float, c: float, d: float) -> tuple[float, ...]:
    """A character matrix's axes as they point on the displayed (rotated) page."""
    if rotate == 90:
        return b, -a, d, -c
    if rotate == 180:
        return -a, -b, -c, -d
    if rotate == 270:
        return -b, a, -d, c
    return a, b, c, d


def _to_display(t: _Transform, box: tuple[float, float, float, float]) -> tuple[float, ...]:
    """(left, right, bottom, top) in user space -> (x0, x1, top, bottom) on the displayed page,
    `top` < `bottom` measured down from its top edge (pdfplumber's convention)."""
    rotate, bx0, by0, bx1, by1 = t
    left, right, low, high = box
    if rotate == 90:
        return low - by0, high - by0, left - bx0, right - bx0
    if rotate == 180:
        return bx1 - right, bx1 - left, low - by0, high - by0
    if rotate == 270:
        return by1 - high, by1 - low, bx1 - right, bx1 - left
    return left - bx0, right - bx0, by1 - high, by1 - low
