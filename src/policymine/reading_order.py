"""Reading order checked against an independent extractor: poppler's `pdftotext`.

Plain `pdftotext` (without -layout) reads a page block by block, columns one after the
other, with its own layout analysis; it shares no code with pdfium or pdfminer. Two
readings of a page in the same order share their word bigrams; a page whose columns are
interleaved ("the City of Knoxville past decade. has worked to make") has bigrams that
pdftotext never reads. `agreement` is the share of our bigrams that pdftotext also has:
what we drop (running headers, sideways labels) does not count against us, what we
invent by mixing columns does. Tables are left out: pdftotext reads a grid in its own order.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from collections import Counter
from itertools import pairwise
from pathlib import Path

from .types import Page

MIN_WORDS = 30  # fewer words than this: not a text page, its bigrams say little about order
_WORD_RE = re.compile(r"[^\W_]+")
_BREAK_HYPHEN_RE = re.compile(r"[-\u00ad]\s*\n\s*")


def pdftotext_available() -> bool:
    """Whether poppler's pdftotext is on PATH (Debian package poppler-utils)."""
    return shutil.which("pdftotext") is not None


def pdftotext_pages(path: str | Path) -> list[str]:
    """Each page's text as plain `pdftotext` reads it (column by column), in page order."""
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        check=True,
        timeout=600,
    )
    pages = done.stdout.decode("utf-8", "replace").split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def prose(page: Page) -> str:
    """A page's text without its tables: what its reading order is checked on."""
    return "\n\n".join(b.text for b in page.blocks if b.kind != "table")


def bigrams(text: str) -> Counter[tuple[str, str]]:
    """Word bigrams of a text, case and hyphens folded (a word broken at a line end is joined)."""
    text = unicodedata.normalize("NFKC", _BREAK_HYPHEN_RE.sub("", text)).replace("-", "")
    words = _WORD_RE.findall(text.lower())
    return Counter(pairwise(words))


def agreement(ours: str, reference: str) -> float | None:
    """Share of our word bigrams that the reference reading has too; None for a page with
    fewer than MIN_WORDS words (a cover, a chart, a blank page)."""
    mine = bigrams(ours)
    if sum(mine.values()) < MIN_WORDS - 1:
        return None
    shared = mine & bigrams(reference)
    return sum(shared.values()) / sum(mine.values())
