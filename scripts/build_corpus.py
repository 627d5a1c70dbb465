"""Render the bundled sample briefs (corpus-src/*.md) to PDF.

Each Markdown brief becomes corpus/<stem>.pdf with the layout traits that make
real city policy PDFs hard to mine: a full-width title over two justified
columns, running headers and footers, words hyphenated across line breaks, a
drop cap, a pull quote that repeats a body sentence, and a ruled table.
Builds are byte-for-byte reproducible (reportlab's invariant mode).

Usage: python scripts/build_corpus.py [--src corpus-src] [--out corpus]
"""

from __future__ import annotations

import argparse
import functools
import io
import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import getFont, stringWidth
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    FrameBreak,
    HRFlowable,
    KeepTogether,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    ParagraphAndImage,
    Table,
    TableStyle,
)

REPO = Path(__file__).resolve().parent.parent
REQUIRED_KEYS = ("title", "city", "country", "year", "lang", "topics")
COUNTRIES = {"DE", "US"}
LANGS = {"en": "Page {page} of {total}", "de": "Seite {page} von {total}"}
TOPICS = {
    "climate",
    "energy",
    "housing",
    "mobility",
    "participation",
    "economy",
    "equity",
    "health",
    "environment",
    "land_use",
    "governance",
    "digital",
    "education",
}
PULL_PREFIX = "> PULL:"
AUTHOR = "policymine team"
HEADER = "policymine sample briefs \u00b7 {city}"

PAGE_W, PAGE_H = A4
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 54.0, 66.0, 60.0
GUTTER = 20.0
COL_W = (PAGE_W - 2 * MARGIN_X - GUTTER) / 2
BODY_H = PAGE_H - MARGIN_TOP - MARGIN_BOTTOM
CELL_PAD = 4.0  # left and right padding of table cells
HEADING_ROOM = 72.0  # a heading needs this much space left in a column, else it moves on

SHY = "\u00ad"
VOWELS = set("aeiouyäöü")
ONSETS = {
    "bl",
    "br",
    "ch",
    "ck",
    "cl",
    "cr",
    "dr",
    "fl",
    "fr",
    "gl",
    "gr",
    "kl",
    "kr",
    "pf",
    "ph",
    "pl",
    "pr",
    "qu",
    "sch",
    "schl",
    "schr",
    "schw",
    "sh",
    "sk",
    "sp",
    "spr",
    "st",
    "str",
    "th",
    "tr",
    "wh",
    "wr",
}
LONG_WORD = re.compile(r"[A-Za-zÄÖÜäöüß]{10,}")


class BriefError(ValueError):
    """A source brief that does not follow the corpus format."""


@dataclass
class Brief:
    """One parsed source brief: front matter, body blocks and the pull quote."""

    path: Path
    meta: dict[str, str]
    # ("para", text), ("heading", text), ("list", [item, ...]) or ("table", [[cell, ...], ...])
    blocks: list[tuple[str, Any]]
    pull: str

    @property
    def short_title(self) -> str:
        return self.meta["title"].split(":")[0].strip()


# --- parsing ------------------------------------------------------------------


def parse_front_matter(path: Path, lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split `key: value` front matter between two '---' lines from the body lines."""
    if not lines or lines[0].strip() != "---":
        raise BriefError(f"{path}: must start with a '---' front-matter line")
    try:
        end = lines.index("---", 1)
    except ValueError:
        raise BriefError(f"{path}: front matter is not closed by '---'") from None
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        key, sep, value = (part.strip() for part in line.partition(":"))
        if not sep or key not in REQUIRED_KEYS or key in meta:
            raise BriefError(f"{path}: unexpected or repeated front-matter line {line!r}")
        meta[key] = value
    missing = [key for key in REQUIRED_KEYS if not meta.get(key)]
    if missing:
        raise BriefError(f"{path}: missing front-matter key(s): {', '.join(missing)}")
    if meta["country"] not in COUNTRIES or meta["lang"] not in LANGS:
        raise BriefError(
            f"{path}: country must be one of {sorted(COUNTRIES)}, lang one of {sorted(LANGS)}"
        )
    unknown = {t.strip() for t in meta["topics"].split(",")} - TOPICS
    if not re.fullmatch(r"\d{4}", meta["year"]) or unknown:
        raise BriefError(f"{path}: bad year {meta['year']!r} or unknown topics {sorted(unknown)}")
    return meta, lines[end + 1 :]


def line_kind(line: str) -> str:
    """Classify a stripped body line by its Markdown prefix."""
    if not line:
        return "blank"
    for prefix, kind in (("## ", "heading"), (PULL_PREFIX, "pull"), ("- ", "list"), ("|", "table")):
        if line.startswith(prefix):
            return kind
    return "para"


def parse_body(path: Path, lines: list[str]) -> tuple[list[tuple[str, Any]], str]:
    """Group body lines into blocks; return the blocks and the pull-quote sentence."""
    blocks: list[tuple[str, Any]] = []
    pulls: list[str] = []
    para: list[str] = []
    for line in lines + [""]:
        line = line.strip()
        kind = line_kind(line)
        if kind != "para" and para:
            blocks.append(("para", " ".join(para)))
            para = []
        if kind == "para":
            para.append(line)
        elif kind == "heading":
            blocks.append(("heading", line[3:].strip()))
        elif kind == "pull":
            pulls.append(line[len(PULL_PREFIX) :].strip())
        elif kind == "list":
            if not blocks or blocks[-1][0] != "list":
                blocks.append(("list", []))
            blocks[-1][1].append(line[2:].strip())
        elif kind == "table":
            if not blocks or blocks[-1][0] != "table":
                blocks.append(("table", []))
            if not re.fullmatch(r"\|[\s:|-]+\|", line):  # skip the |---|---| separator
                blocks[-1][1].append([cell.strip() for cell in line.strip("|").split("|")])
    if len(pulls) != 1:
        raise BriefError(f"{path}: expected exactly one '{PULL_PREFIX}' line, found {len(pulls)}")
    if not any(kind == "para" and pulls[0] in text for kind, text in blocks):
        raise BriefError(f"{path}: the pull quote is not a sentence of any body paragraph")
    return blocks, pulls[0]


def load_brief(path: Path) -> Brief:
    """Read and parse one Markdown brief."""
    meta, body = parse_front_matter(path, path.read_text(encoding="utf-8").splitlines())
    blocks, pull = parse_body(path, body)
    return Brief(path, meta, blocks, pull)


# --- text preparation ---------------------------------------------------------


def syllable_breaks(word: str) -> list[int]:
    """Positions where `word` may be hyphenated, at vowel-consonant-vowel seams.

    A run of consonants between two vowels is split before the longest tail
    that can start a syllable ("in-fra-struc-ture", "Bür-ger-be-tei-li-gung");
    at least three letters stay on each side of a break.
    """
    lower = word.lower()
    breaks = []
    i = 0
    while i < len(lower):
        if lower[i] in VOWELS:
            j = i + 1
            while j < len(lower) and lower[j] not in VOWELS:
                j += 1
            if i + 1 < j < len(lower):  # consonants lower[i+1:j] sit between two vowels
                run = lower[i + 1 : j]
                tail = max((len(run) - k for k in range(len(run)) if run[k:] in ONSETS), default=1)
                cut = j - tail
                if 3 <= cut <= len(word) - 3:
                    breaks.append(cut)
            i = j
        else:
            i += 1
    return breaks


def soft_hyphenate(text: str) -> str:
    """Insert soft hyphens (U+00AD) at the syllable breaks of every 10+ letter word."""

    def soften(match: re.Match) -> str:
        word = match.group()
        cuts = [0, *syllable_breaks(word), len(word)]
        return SHY.join(word[a:b] for a, b in itertools.pairwise(cuts))

    return LONG_WORD.sub(soften, text)


def markup(text: str, hyphenate: bool = False) -> str:
    """Escape text for reportlab's paragraph markup, optionally soft-hyphenated."""
    return escape(soft_hyphenate(text) if hyphenate else text)


# --- styles and flowables -----------------------------------------------------


def make_styles() -> dict[str, ParagraphStyle]:
    """The paragraph styles of the brief layout."""
    body = ParagraphStyle(
        "body",
        fontName="Helvetica",
        fontSize=9.5,
        leading=12.5,
        alignment=TA_JUSTIFY,
        spaceAfter=6,
        embeddedHyphenation=1,
    )
    return {
        "body": body,
        "title": ParagraphStyle(
            "title", fontName="Helvetica-Bold", fontSize=20, leading=24, spaceAfter=6
        ),
        "byline": ParagraphStyle(
            "byline",
            fontName="Helvetica",
            fontSize=10,
            leading=13,
            textColor=colors.HexColor("#555555"),
        ),
        "heading": ParagraphStyle(
            "heading",
            fontName="Helvetica-Bold",
            fontSize=12,
            leading=15,
            spaceBefore=8,
            spaceAfter=4,
        ),
        # Symbol's bullet glyph maps back to U+2022 in text extraction; Helvetica's
        # (code 127 in reportlab's encoding) comes out as "(cid:127)".
        "bullet": ParagraphStyle(
            "bullet",
            parent=body,
            alignment=TA_LEFT,
            leftIndent=12,
            bulletIndent=2,
            bulletFontName="Symbol",
            spaceAfter=3,
        ),
        "pull": ParagraphStyle(
            "pull",
            fontName="Helvetica-Oblique",
            fontSize=12.5,
            leading=16,
            leftIndent=8,
            rightIndent=8,
            textColor=colors.HexColor("#1f3a5f"),
        ),
        "cell": ParagraphStyle("cell", fontName="Helvetica", fontSize=8, leading=10),
        "cell_head": ParagraphStyle("cell_head", fontName="Helvetica-Bold", fontSize=8, leading=10),
    }


class DropCap(Flowable):
    """An enlarged initial whose cap height spans `lines` lines of body text."""

    FONT = "Helvetica-Bold"

    def __init__(self, letter: str, body: ParagraphStyle, lines: int = 3):
        super().__init__()
        self.letter = letter
        cap_ratio = getFont(self.FONT).face.ascent / 1000  # = cap height for Helvetica
        self.font_size = body.fontSize + (lines - 1) * body.leading / cap_ratio
        # Box from the top of the first line down to the baseline of the last.
        self.box_height = body.fontSize + (lines - 1) * body.leading

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return stringWidth(self.letter, self.FONT, self.font_size), self.box_height

    def draw(self) -> None:
        self.canv.setFont(self.FONT, self.font_size)
        self.canv.drawString(0, 0, self.letter)


def opening_paragraph(text: str, styles: dict[str, ParagraphStyle]) -> Flowable:
    """The first body paragraph with its initial set as a three-line drop cap."""
    rest = Paragraph(markup(text[1:], hyphenate=True), styles["body"])
    return ParagraphAndImage(rest, DropCap(text[0], styles["body"]), xpad=4, ypad=0, side="left")


def pull_quote(text: str, styles: dict[str, ParagraphStyle]) -> Flowable:
    """The pull quote: large italic text between two rules."""
    rule = functools.partial(
        HRFlowable, width="100%", thickness=1.2, color=colors.HexColor("#1f3a5f")
    )
    return KeepTogether(
        [
            rule(spaceBefore=6, spaceAfter=6),
            Paragraph(markup(text), styles["pull"]),
            rule(spaceBefore=8, spaceAfter=10),
        ]
    )


def column_widths(rows: list[list[str]], style: ParagraphStyle) -> list[float]:
    """Widths that fit each column's longest word, sharing the rest of the text
    column in proportion to how much text each table column holds (if the
    longest words alone are too wide, all widths shrink to fit the column)."""
    cols = list(zip(*rows))
    minimum = [
        max(
            stringWidth(word, style.fontName, style.fontSize)
            for cell in col
            for word in cell.split()
        )
        + 2 * CELL_PAD
        + 1
        for col in cols
    ]
    if sum(minimum) >= COL_W:
        return [COL_W * low / sum(minimum) for low in minimum]
    amount = [sum(len(cell) for cell in col) for col in cols]
    spare = COL_W - sum(minimum)
    return [low + spare * share / sum(amount) for low, share in zip(minimum, amount)]


def table(rows: list[list[str]], styles: dict[str, ParagraphStyle]) -> Flowable:
    """A ruled table with a bold header row, as wide as the column."""
    cells = [
        [Paragraph(markup(cell), styles["cell_head" if r == 0 else "cell"]) for cell in row]
        for r, row in enumerate(rows)
    ]
    result = Table(
        cells,
        colWidths=column_widths(rows, styles["cell_head"]),
        repeatRows=1,
        spaceBefore=4,
        spaceAfter=10,
    )
    result.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.6, colors.HexColor("#444444")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e4e9f0")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
            ]
        )
    )
    return result


def title_block(brief: Brief, styles: dict[str, ParagraphStyle]) -> tuple[list[Flowable], float]:
    """Title, byline and rule for the top of page 1, and the height they need."""
    meta = brief.meta
    byline = f"{meta['city']} \u00b7 {meta['country']} \u00b7 {meta['year']}"
    flowables = [
        Paragraph(markup(meta["title"]), styles["title"]),
        Paragraph(markup(byline), styles["byline"]),
        HRFlowable(width="100%", thickness=0.8, color=colors.black, spaceBefore=6),
    ]
    full_width = PAGE_W - 2 * MARGIN_X
    height = sum(
        f.wrap(full_width, PAGE_H)[1] + f.getSpaceBefore() + f.getSpaceAfter() for f in flowables
    )
    return flowables, height + 4


def body_story(brief: Brief, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The body flowables, with the pull quote placed after the paragraph that
    follows the one it quotes."""
    blocks = list(brief.blocks)
    source = next(
        i for i, (kind, text) in enumerate(blocks) if kind == "para" and brief.pull in text
    )
    after = source + 1 if source + 1 < len(blocks) and blocks[source + 1][0] == "para" else source
    blocks.insert(after + 1, ("pull", brief.pull))
    story: list[Flowable] = []
    for kind, content in blocks:
        if kind == "para" and not story:
            story.append(opening_paragraph(content, styles))
        elif kind == "para":
            story.append(Paragraph(markup(content, hyphenate=True), styles["body"]))
        elif kind == "heading":  # start a new column rather than strand a heading
            story.extend(
                [CondPageBreak(HEADING_ROOM), Paragraph(markup(content), styles["heading"])]
            )
        elif kind == "list":
            story.extend(
                Paragraph(markup(item, hyphenate=True), styles["bullet"], bulletText="\u2022")
                for item in content
            )
        elif kind == "table":
            story.append(table(content, styles))
        else:
            story.append(pull_quote(content, styles))
    return story


# --- page layout --------------------------------------------------------------


def draw_page_furniture(canvas, doc, brief: Brief, total: int) -> None:
    """Running header (series and city) and footer (short title and page number)."""
    canvas.saveState()
    canvas.setFont("Helvetica", 7.5)
    canvas.setFillColor(colors.HexColor("#555555"))
    top = PAGE_H - MARGIN_TOP + 30
    canvas.drawString(MARGIN_X, top, HEADER.format(city=brief.meta["city"]))
    canvas.setLineWidth(0.4)
    canvas.line(MARGIN_X, top - 4, PAGE_W - MARGIN_X, top - 4)
    page = LANGS[brief.meta["lang"]].format(page=doc.page, total=total)
    canvas.drawRightString(
        PAGE_W - MARGIN_X, MARGIN_BOTTOM - 30, f"{brief.short_title} \u2014 {page}"
    )
    canvas.restoreState()


def columns(top: float, height: float) -> list[Frame]:
    """Two side-by-side column frames separated by the gutter."""
    return [
        Frame(
            MARGIN_X + i * (COL_W + GUTTER),
            top - height,
            COL_W,
            height,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
            id=f"col{i}",
        )
        for i in range(2)
    ]


def render(brief: Brief, target, total: int) -> int:
    """Lay out `brief` into `target` (path or file); return the number of pages."""
    styles = make_styles()
    head, head_height = title_block(brief, styles)
    top = PAGE_H - MARGIN_TOP
    title_frame = Frame(
        MARGIN_X,
        top - head_height,
        PAGE_W - 2 * MARGIN_X,
        head_height,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="title",
    )
    furniture = functools.partial(draw_page_furniture, brief=brief, total=total)
    doc = BaseDocTemplate(
        target,
        pagesize=A4,
        title=brief.meta["title"],
        author=AUTHOR,
        subject=brief.meta["city"],
        creator="policymine scripts/build_corpus.py",
        lang=brief.meta["lang"],
        invariant=1,
    )
    doc.addPageTemplates(
        [
            PageTemplate(
                "first",
                [title_frame, *columns(top - head_height - 12, BODY_H - head_height - 12)],
                onPage=furniture,
            ),
            PageTemplate("later", columns(top, BODY_H), onPage=furniture),
        ]
    )
    doc.build([NextPageTemplate("later"), *head, FrameBreak(), *body_story(brief, styles)])
    return doc.page


def build_pdf(brief: Brief, out: Path) -> int:
    """Render twice (the footer needs the page total); return the page count."""
    total = render(brief, io.BytesIO(), total=0)
    pages = render(brief, str(out), total=total)
    if pages != total:
        raise RuntimeError(f"{brief.path}: page count changed between the two passes")
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=REPO / "corpus-src")
    parser.add_argument("--out", type=Path, default=REPO / "corpus")
    args = parser.parse_args(argv)
    sources = sorted(args.src.glob("[0-9]*.md"))  # numbered briefs; README.md is not one
    if not sources:
        print(f"no briefs found in {args.src}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for path in sources:
        try:
            brief = load_brief(path)
        except BriefError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        out = args.out / f"{path.stem}.pdf"
        print(f"{out}: {build_pdf(brief, out)} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
