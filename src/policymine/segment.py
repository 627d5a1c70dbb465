"""Stage 2: cut a document's pages into passages, the unit of tagging, search and citation.

A passage is a few sentences from one section of one page, so every hit can be cited with
an exact page. Short paragraphs of the same section are merged up to `min_passage_words`;
long ones are split at sentence boundaries below `max_passage_words`. A table becomes one
passage of its own. Headings are not passage text: they become the passage's `section`.
"""

from __future__ import annotations

import re

from .config import Settings
from .types import Block, Document, Passage

_SENTENCE_END_RE = re.compile(r"(?<=[.!?;:])\s+(?=[\"'(„]?[A-ZÄÖÜ0-9•])")
MIN_FRAGMENT_WORDS = 8  # a leftover shorter than this is not worth a passage on its own


def segment(doc: Document, settings: Settings | None = None) -> list[Passage]:
    """Passages of a document in reading order.

    Args:
        doc: an extracted Document.
        settings: passage size bounds (`min_passage_words`, `max_passage_words`).

    Returns:
        Passages with page, section and character offsets into the page text.
    """
    settings = settings or Settings()
    passages: list[Passage] = []
    section: str | None = None
    for page in doc.pages:
        run: list[Block] = []
        for block in page.blocks:
            if block.kind == "heading":
                passages += _pack(doc.name, page.number, section, run, settings)
                run = []
                section = _section_title(block.text)
            elif block.kind == "table":
                passages += _pack(doc.name, page.number, section, run, settings)
                run = []
                passages.append(_table_passage(doc.name, page.number, section, block, settings))
            else:
                run.append(block)
        passages += _pack(doc.name, page.number, section, run, settings)
    return passages


def _section_title(text: str) -> str:
    return " ".join(text.split())[:120]


def _pack(doc: str, page: int, section: str | None, blocks: list[Block], settings: Settings) -> list[Passage]:
    """Merge short blocks and split long ones into passages of a sensible size."""
    pieces = [piece for block in blocks for piece in _split_block(block, settings.max_passage_words)]
    out: list[Passage] = []
    group: list[tuple[str, int, int]] = []
    size = 0
    for text, start, end in pieces:
        n = len(text.split())
        if group and size + n > settings.max_passage_words:
            out.append(_passage(doc, page, section, group))
            group, size = [], 0
        group.append((text, start, end))
        size += n
        if size >= settings.min_passage_words:
            out.append(_passage(doc, page, section, group))
            group, size = [], 0
    if group:
        if size < MIN_FRAGMENT_WORDS and out and len(out[-1].text.split()) + size <= settings.max_passage_words:
            last = out.pop()
            group = [(last.text, last.char_start, last.char_end)] + group
            out.append(_passage(doc, page, section, group))
        elif size >= MIN_FRAGMENT_WORDS or not out:
            out.append(_passage(doc, page, section, group))
    return [p for p in out if len(p.text.split()) >= 3]


def _split_block(block: Block, max_words: int) -> list[tuple[str, int, int]]:
    """A block as (text, start, end) pieces of at most `max_words` words, cut between sentences."""
    if len(block.text.split()) <= max_words:
        return [(block.text, block.start, block.end)]
    pieces: list[tuple[str, int, int]] = []
    cursor = 0
    sentences: list[tuple[int, int]] = []
    for m in _SENTENCE_END_RE.finditer(block.text):
        sentences.append((cursor, m.start()))
        cursor = m.end()
    sentences.append((cursor, len(block.text)))
    chunk_start, chunk_end, words = sentences[0][0], sentences[0][0], 0
    for s, e in sentences:
        n = len(block.text[s:e].split())
        if words and words + n > max_words:
            pieces.append((block.text[chunk_start:chunk_end], block.start + chunk_start, block.start + chunk_end))
            chunk_start, words = s, 0
        chunk_end, words = e, words + n
    pieces.append((block.text[chunk_start:chunk_end], block.start + chunk_start, block.start + chunk_end))
    # A single sentence longer than the limit (a run-on list, a garbled line) is cut by words.
    return [cut for piece in pieces for cut in _cut_words(piece, max_words)]


def _cut_words(piece: tuple[str, int, int], max_words: int) -> list[tuple[str, int, int]]:
    text, start, _ = piece
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    if len(spans) <= max_words:
        return [piece]
    out = []
    for i in range(0, len(spans), max_words):
        a, b = spans[i][0], spans[min(i + max_words, len(spans)) - 1][1]
        out.append((text[a:b], start + a, start + b))
    return out


def _passage(doc: str, page: int, section: str | None, group: list[tuple[str, int, int]]) -> Passage:
    return Passage(
        doc=doc,
        page=page,
        text="\n".join(text for text, _, _ in group),
        section=section,
        char_start=group[0][1],
        char_end=group[-1][2],
    )


def _table_passage(doc: str, page: int, section: str | None, block: Block, settings: Settings) -> Passage:
    words = block.text.split(" ")
    text = block.text if len(words) <= settings.max_passage_words else " ".join(words[: settings.max_passage_words])
    return Passage(
        doc=doc, page=page, text=text, section=section, char_start=block.start, char_end=block.end, kind="table"
    )
