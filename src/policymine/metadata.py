"""Document metadata a user recognises: the title printed on the cover and the plan's year.

The title is the biggest text of the first pages (layout.title_from_lines), else the PDF's
own title field when it is a real title that the pages bear out, else the file name. The
year is the byline's ("Berlin · DE · 2023"), else the year the title page dates it ("May
2019", "adopted 12/10/2020", "Published April 2017"), else the latest year the title page
names that is neither the end of a span ("2021-2025") nor later than the file was made (a
target: "Klimaschutz 2030"), else the PDF title's or the file name's. Bylines and cover
credits are marked as credit blocks (`Block.credit`), which stay on the page but out of passages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from . import clean, layout

_BAD_TITLE_RE = re.compile(
    r"(\.(docx?|xlsx?|pptx?|indd|pdf|qxd|pub)$|^microsoft |^publisher version |^untitled|^layout \d|"
    r"^copy of |^cover page|_|^\W*$|\\)",
    re.IGNORECASE,
)
_SEP = r"\s+[·|•]\s+"
# "Berlin · DE · 2023", "Stadt Villach · Kärnten · Österreich · 2021": short parts, one a year
# or a country code.
BYLINE_RE = re.compile(rf"^[^·|•\n]{{1,60}}(?:{_SEP}[^·|•\n]{{1,60}}){{1,4}}$")
_CREDIT_RE = re.compile(
    r"^(?:cover (?:photo|image|picture)s?|photos?|photo credits?|image credits?|titelbild|"
    r"titelfoto|fotos?|bildnachweis|crédits? photos?)\b[^\n]{0,160}$",
    re.IGNORECASE,
)
_DATED_RE = re.compile(
    rf"(?:\b(?:{layout.MONTHS})\.?\s+(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?|\b\d{{1,2}}[./-]\d{{1,2}}[./-]|"
    r"\bx{1,2}/x{1,2}/|\b(?:adopted|approved|published|beschlossen|verabschiedet|stand|"
    r"adopté|publié|date)\b[^\n]{0,40}?)((?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_SPAN_RE = re.compile(r"((?:19|20)\d\d)\s*(?:[-–/]|bis|to|until)\s*((?:19|20)\d\d)", re.IGNORECASE)
_TARGET_RE = re.compile(
    r"\b(?:by|bis|until|to|in|vor|horizon|horizont|d'ici|target|ziel)\s+((?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_FRONT_MATTER_RE = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


def is_credit(text: str) -> bool:
    """Whether a short block is a byline or a cover credit, not text of the document."""
    text = " ".join(text.split())
    if _CREDIT_RE.match(text):
        return True
    if len(text) > 120 or not BYLINE_RE.match(text):
        return False
    parts = re.split(_SEP, text)
    return any(
        clean.YEAR_RE.fullmatch(p.strip()) or re.fullmatch(r"[A-Z]{2}", p.strip()) for p in parts
    )


def mark_credits(pages: list[list[tuple[str, str]]], first: int = 2) -> list[list[tuple[str, str]]]:
    """The blocks of each page, bylines and cover credits on the first pages of kind "credit"
    (a paragraph that `extract` stores with `Block.credit` set)."""
    return [
        [
            ("credit", text)
            if n < first and kind == "paragraph" and is_credit(text)
            else (kind, text)
            for kind, text in blocks
        ]
        for n, blocks in enumerate(pages)
    ]


def pdf_title(meta: dict, pages: list[layout.PageLines], stem: str) -> str:
    """The title printed on the first pages, else the PDF's title field when the pages bear it
    out (neither a file name nor cut off mid-word), else the first heading, else a running
    header, else the file name."""
    title = layout.title_from_lines(pages)
    if title:
        return title
    meta_title = clean.normalize(str(meta.get("Title") or "").strip())
    text = " ".join(ln.text for p in pages[:3] for ln in p.lines).lower()
    words = re.findall(r"[^\W_]+", meta_title.lower())
    borne_out = bool(words) and sum(w in text for w in words) >= 0.5 * len(words)
    last = words[-1] if words else ""
    cut = (  # "... Plaza Level of Cit": the field was cut off mid-word
        last.isalpha()
        and not re.search(rf"\b{re.escape(last)}\b", text)
        and re.search(rf"\b{re.escape(last)}\w", text) is not None
    )
    if (
        8 <= len(meta_title) <= 200
        and not _BAD_TITLE_RE.search(meta_title)
        and borne_out
        and not cut
    ):
        return meta_title
    return layout.first_heading(pages) or layout.running_title(pages) or file_title(stem)


def file_title(stem: str) -> str:
    """A title from a file name: the last resort."""
    return " ".join(stem.replace("-", " ").replace("_", " ").split())


def pdf_year(meta: dict, pages: list[layout.PageLines], stem: str) -> int | None:
    """A PDF's year: `document_year` over its title page (lines marked by `layout.page_blocks`)."""
    lines = layout.title_page(pages)
    return document_year(
        [ln.text for ln in lines], meta, stem, [ln.text for ln in lines if ln.kind != "body"]
    )


def document_year(
    title_page: Sequence[str],
    meta: dict | None = None,
    stem: str = "",
    cover: Sequence[str] = (),
) -> int | None:
    """The plan's year from its title page's lines, else its PDF title's or file name's.

    Args:
        title_page: the lines of the first page with text (bylines included).
        meta: the PDF's information dictionary (Title, CreationDate, ModDate).
        stem: the file name without its suffix.
        cover: the title page's lines that are not body text (title, headers, footers),
            whose dates count before the body's ("term expires July 31, 2026").
    """
    meta = meta or {}
    made = _pdf_year(meta.get("CreationDate")) or _pdf_year(meta.get("ModDate"))
    lines = [" ".join(ln.split()) for ln in title_page if ln.strip()]
    for line in lines:
        if is_credit(line) and (years := clean.YEAR_RE.findall(line)):
            return int(years[-1])
    if year := first_year(str(meta.get("Title", "")), made):
        return year
    text = "\n".join(lines)
    dated = [int(y) for y in _DATED_RE.findall("\n".join(cover))] or [
        int(y) for y in _DATED_RE.findall(text)
    ]
    if dated:
        return max(dated)
    spans = {int(m.group(2)) for m in _SPAN_RE.finditer(text)}
    targets = {int(m.group(1)) for m in _TARGET_RE.finditer(text)}
    named = [
        int(y)
        for y in clean.YEAR_RE.findall(text)
        if int(y) not in spans and int(y) not in targets and (made is None or int(y) <= made)
    ]
    if named:
        return max(named)
    return first_year(stem, made) or made


def first_year(text: str, made: int | None = None) -> int | None:
    """The first year up to 2049 (and not after the file was made) in the text: a document's
    year, not a target year it names."""
    latest = min(2049, made or 2049)
    return next((int(y) for y in clean.YEAR_RE.findall(text) if int(y) <= latest), None)


def _pdf_year(value: object) -> int | None:
    """The year of a PDF date ("D:20100217091134+01'00'")."""
    m = re.match(r"(?:D:)?((?:19|20)\d\d)", str(value or ""))
    return int(m.group(1)) if m else None


def front_matter(raw: str) -> tuple[dict[str, str], str]:
    """A Markdown file's YAML front matter (simple `key: value` lines) and the text after it."""
    m = _FRONT_MATTER_RE.match(raw)
    if not m:
        return {}, raw
    fields = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, raw[m.end() :]


def text_title(blocks: Sequence[tuple[str, str]], fields: dict[str, str], stem: str) -> str:
    """A text file's title: its front matter's, its first heading, a short first line standing
    alone (a plain-text title), else the file name."""
    if fields.get("title"):
        return fields["title"]
    heading = next((text for kind, text in blocks if kind == "heading"), None)
    if heading:
        return heading
    first = blocks[0][1] if blocks else ""
    if first and "\n" not in first and len(first) <= 120 and not first.rstrip().endswith("."):
        return first.strip()
    return file_title(stem)


def text_year(raw: str, fields: dict[str, str], stem: str) -> int | None:
    """A text file's year: its front matter's, else its title lines' (as a PDF's title page)."""
    if fields.get("year") and (year := first_year(fields["year"])):
        return year
    head = []
    for line in (ln for ln in raw.splitlines() if ln.strip()):
        if len(line) > 100 or len(head) == 6:  # the title lines end where the prose begins
            break
        if not line.rstrip().endswith((".", "…")):  # a sentence is prose, not a title line
            head.append(line)
    return document_year(head, None, stem) if head else first_year(stem)
