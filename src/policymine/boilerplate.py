"""Boilerplate passages: tables of contents, reference lists, running headers, table fragments
and cover or imprint matter.

They are real text of the document, so they stay in the index (a user may look for a source or
a number), but they rarely answer a question: search demotes them (search.py). Each detector is
a pure function of a passage's text (and page, for cover matter); `running_headers` looks at a
whole document. Their precision and recall on labelled passages of the real corpus are in
eval/boilerplate.md (rules) and tests/test_boilerplate.py (the figures).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

KINDS = ("toc", "references", "header", "table", "cover")

_LEADERS_RE = re.compile(r"(?:\.\s?){4,}\s*\d+|…+\s*\d+")
# "2.3 Mobility 14", "Einleitung 5": a title then a page number, several in a row
_TOC_ENTRY_RE = re.compile(
    r"(?:^|\s)(?:\d+(?:\.\d+)*\.?\s+)?[A-ZÄÖÜ][^\d.!?|]{2,70}?\s(\d{1,3})(?=\s|$)"
)
_ACRONYM_RE = re.compile(r"^[A-ZÄÖÜ][A-ZÄÖÜ0-9\-]{1,7}$")
_SOURCE_RE = re.compile(
    r"^\W*(quelle|quellen|source|sources|fonte|fontes|source of data|datenquelle)n?\s*:",
    re.IGNORECASE,
)
_CITATION_RES = [
    re.compile(r"https?://|www\.\w", re.IGNORECASE),
    re.compile(
        r"\b(available at|disponível em|abgerufen am|acesso em|accessed|retrieved)\b", re.IGNORECASE
    ),
    re.compile(r"\bet al\.", re.IGNORECASE),
    re.compile(r"\(\s*(19|20)\d\d[a-z]?\s*\)|\b(19|20)\d\d[a-z]?\)\s*[:.]"),
    re.compile(r"\b(hrsg\.|ed\.|eds\.|pp\.|s\. \d|vol\.|isbn|doi)", re.IGNORECASE),
    re.compile(r"\b(university press|verlag|publishing|press,)", re.IGNORECASE),
]
_CONTACT_RE = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.]+|\b(telefon|tel\.|phone|fax)\b[\s:.]*[+\d(]", re.IGNORECASE
)
_IMPRINT_RE = re.compile(
    r"\b(impressum|herausgeber(in)?:|auftraggeber(in)?:|bearbeitung:|prepared (by|for)\b|"
    r"copyright|©|all rights reserved|alle rechte|photo credits?|bildnachweis|fotos?:|"
    r"sincerely|mit freundlichen grüßen|acknowledg(e)?ments|danksagung)",
    re.IGNORECASE,
)
_PAGE_CREDIT_RE = re.compile(
    r"\bpg\.\s*\d+|\bp\.\s*\d+,\s*(top|bottom|middle|full page)", re.IGNORECASE
)
_NUMBERISH_RE = re.compile(r"^[-+–(]?[\d.,:/%€$£*]*\d[\d.,:/%€$£*)\-–]*$")
_UNIT_RE = re.compile(
    r"^(t/a|kt|mwh|gwh|kwh|mw|kw|mwh/a|kwh/a|€/a|€|%|t|a|co2|co|ha|km|m2|m²|kg|usd|\$)$",
    re.IGNORECASE,
)
_FULL_STOP_RE = re.compile(r"[a-zäöüßàáâãçéêíóôõú]{3,}[.!?](\s|$)")
_SENTENCE_END_RE = re.compile(r"[a-zäöüßàáâãçéêíóôõú]{3,}[.!?:;](\s|$)")


def _tokens(text: str) -> list[str]:
    return text.replace("|", " ").split()


def is_toc(text: str) -> bool:
    """Entries of a table of contents, a list of figures or tables (dot leaders, or titles each
    followed by a page number), or a list of abbreviations."""
    if len(_LEADERS_RE.findall(text)) >= 2:
        return True
    pages = [int(n) for n in _TOC_ENTRY_RE.findall(text)]
    if len(pages) >= 4 and pages == sorted(pages) and not _SENTENCE_END_RE.search(text):
        return True  # page numbers go up; a chart's axis labels ("400 ... 300") do not
    tokens = _tokens(text)
    acronyms = sum(1 for t in tokens if _ACRONYM_RE.match(t.strip(",;:()")))
    return len(tokens) >= 12 and acronyms >= 5 and acronyms >= 0.15 * len(tokens)


def is_references(text: str) -> bool:
    """Bibliography, endnotes or a source line: citation marks (URLs, "available at", "et al.",
    years in brackets, publishers) twice or more, or a short "Source:/Quelle:/Fonte:" line."""
    words = len(text.split())
    if _SOURCE_RE.match(text) and words <= 40:
        return True
    marks = sum(1 for rx in _CITATION_RES if rx.search(text))
    if marks >= 2 and words <= 120:
        return True
    # an attribution line: "- ISET INTERNATIONAL", "— City of X, 2016"
    return words <= 6 and text.lstrip().startswith(("-", "–", "—")) and text.upper() == text


def is_table(text: str) -> bool:
    """A fragment of a table or chart: mostly numbers and units, cells of a few words between
    column marks (many of them empty or numbers) without a sentence, or the scattered letters
    of a figure's rotated labels."""
    tokens = _tokens(text)
    if not tokens:
        return False
    numbers = sum(1 for t in tokens if _NUMBERISH_RE.match(t) or _UNIT_RE.match(t))
    words = [t for t in tokens if sum(ch.isalpha() for ch in t) >= 2]
    sentence = bool(_SENTENCE_END_RE.search(text))
    if numbers >= 3 and numbers >= 0.3 * len(tokens) and not (sentence and len(words) >= 12):
        return True
    single = sum(1 for t in tokens if len(t) <= 2 and not t.isdigit())
    if len(tokens) >= 3 and single >= 0.6 * len(tokens):
        return True
    if text.count("|") >= 4 and not sentence:
        # cells of a few words: a fragment when many are empty or many are numbers; a summary
        # table whose rows name measures ("Penn Avenue bike lane | 2014 | Street redesign") is not
        parts = text.split("|")
        cells = [c.split() for c in parts if c.strip()]
        empty = len(parts) - len(cells)
        if cells and sum(len(c) for c in cells) / len(cells) < 4:
            return empty >= len(cells) or numbers >= 0.2 * len(tokens)
    return False


def is_cover(text: str, page: int | None = None) -> bool:
    """Cover and imprint matter: contacts (e-mail, phone), imprint and credit words, photo
    credits by page, or a name and title alone on one of the first pages."""
    if _CONTACT_RE.search(text) or _IMPRINT_RE.search(text):
        return True
    if len(_PAGE_CREDIT_RE.findall(text)) >= 2:
        return True
    tokens = text.split()
    if page is not None and page <= 5 and 2 <= len(tokens) <= 8 and not _FULL_STOP_RE.search(text):
        capitals = sum(1 for t in tokens if t[:1].isupper())
        return capitals >= 0.6 * len(tokens) and text.rstrip().endswith((";", ","))
    return False


def running_headers(
    texts: Sequence[str], pages: Sequence[int], min_pages: int = 3, max_words: int = 12
) -> set[int]:
    """Positions of the passages of one document that are running headers or footers: the same
    short text (numbers aside, so "Page 3" and "Page 4" are one) on `min_pages` or more pages."""
    keys = [
        re.sub(r"\d+", "#", " ".join(t.lower().split())) if len(t.split()) <= max_words else None
        for t in texts
    ]
    seen: dict[str, set[int]] = {}
    for key, page in zip(keys, pages):
        if key:
            seen.setdefault(key, set()).add(page)
    return {i for i, k in enumerate(keys) if k and len(seen[k]) >= min_pages}


def kind(text: str, page: int | None = None) -> str | None:
    """The first boilerplate kind a passage is (toc, references, cover, table), or None.
    Running headers need the whole document: see `running_headers`."""
    if is_toc(text):
        return "toc"
    if is_references(text):
        return "references"
    if is_cover(text, page):  # before tables: an imprint's address and phone are numbers
        return "cover"
    if is_table(text):
        return "table"
    return None


def labels(texts: Sequence[str], pages: Sequence[int]) -> list[str]:
    """The boilerplate kind of each passage of one document, in order ('' for none)."""
    headers = running_headers(texts, pages)
    return [
        "header" if i in headers else (kind(text, page) or "")
        for i, (text, page) in enumerate(zip(texts, pages))
    ]
