"""Stage 2: cut a document's pages into passages, the unit of tagging, search and citation.

A passage is a few sentences from one section, so every hit can be cited with an exact page:
it stays on one page unless a sentence runs on over the page break, and then it records the
page span. Short paragraphs of the same section are merged up to `min_passage_words`;
long ones are split at sentence boundaries below `max_passage_words`. A table becomes one
passage of its own. Table-of-contents entries are left out: in search they matched every
query that named a chapter, and they never answer one. Headings are not passage text: they become the passage's `section`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from . import clean
from .clean import ENDS_SENTENCE_RE, SENTENCE_END_RE
from .config import Settings
from .types import Block, Document, Passage

MIN_FRAGMENT_WORDS = 8  # a leftover shorter than this is not worth a passage on its own
_LEADER_RE = re.compile(r"(?:\.\s?){4,}\s*[\dIVXivx]")  # "Introduction ........ 5": a contents line


@dataclass
class _Piece:
    """A stretch of passage text: from `start` on page `page` to `end` on page `page_end`."""

    text: str
    page: int
    start: int
    page_end: int
    end: int

    def words(self) -> int:
        return len(self.text.split())


def segment(doc: Document, settings: Settings | None = None) -> list[Passage]:
    """Passages of a document in reading order.

    Args:
        doc: an extracted Document.
        settings: passage size bounds (`min_passage_words`, `max_passage_words`).

    Returns:
        Passages with page span, section and character offsets: `char_start` into the text
        of `page`, `char_end` into the text of `page_end` (a sentence that runs on over a
        page break keeps its passage whole; otherwise the two are the same page).
    """
    settings = settings or Settings()
    passages: list[Passage] = []
    section: str | None = None
    run: list[_Piece] = []
    vocab: Counter[str] = Counter()  # the document's words, built at the first run-on

    def flush() -> None:
        passages.extend(_pack(doc.name, section, run, settings))
        run.clear()

    for page in doc.pages:
        for i, block in enumerate(page.blocks):
            if i == 0 and not (
                run
                and block.kind in ("paragraph", "list")
                and _runs_on(run[-1], block, page.number)
            ):
                flush()  # a page break ends the run, unless a sentence runs on over it
            if block.credit:  # a byline or cover credit: on the page, not in a passage
                continue
            if block.kind == "heading":
                flush()
                section = _section_title(block.text)
            elif block.kind == "table":
                flush()
                table = _table_passage(doc.name, page.number, section, block, settings)
                passages.extend([table] if table else [])
            else:
                pieces = _split_block(block, page.number, settings.max_passage_words)
                if i == 0 and run:  # the run-on: the open sentence and its end become one piece
                    vocab = vocab or clean.vocabulary(
                        ln for p in doc.pages for ln in p.text.splitlines()
                    )
                    pieces[0] = _join(run.pop(), pieces[0], vocab)
                run.extend(pieces)
        if not page.blocks:
            flush()
    flush()
    return passages


def _runs_on(last: _Piece, block: Block, page: int) -> bool:
    """Whether the first block of `page` continues the sentence left open by `last`."""
    return (
        last.page_end == page - 1
        and not ENDS_SENTENCE_RE.search(last.text)
        and block.text[:1].islower()
    )


def _join(a: _Piece, b: _Piece, vocab: Counter[str]) -> _Piece:
    """One piece of a sentence cut by a page break, with a word hyphenated over it rejoined."""
    return _Piece(clean.join_lines([a.text, b.text], vocab), a.page, a.start, b.page_end, b.end)


def _section_title(text: str) -> str:
    return " ".join(text.split())[:120]


def _pack(doc: str, section: str | None, pieces: list[_Piece], settings: Settings) -> list[Passage]:
    """Merge short pieces and split long ones into passages of a sensible size."""
    out: list[list[_Piece]] = []
    group: list[_Piece] = []
    size = 0
    for piece in pieces:
        if group and size + piece.words() > settings.max_passage_words:
            out.append(group)
            group, size = [], 0
        group.append(piece)
        size += piece.words()
        if size >= settings.min_passage_words:
            out.append(group)
            group, size = [], 0
    if group:
        if (
            size < MIN_FRAGMENT_WORDS
            and out
            and sum(p.words() for p in out[-1]) + size <= settings.max_passage_words
        ):
            out[-1] = out[-1] + group
        elif size >= MIN_FRAGMENT_WORDS or not out:
            out.append(group)
    passages = [_passage(doc, section, g) for g in out]
    return [p for p in passages if len(p.text.split()) >= 3 and not is_contents(p.text)]


def is_contents(text: str) -> bool:
    """Whether a passage is table-of-contents entries (dot leaders to page numbers): never an answer."""
    leaders = len(_LEADER_RE.findall(text))
    return leaders >= 2 or (leaders == 1 and len(text.split()) < 25)


def _split_block(block: Block, page: int, max_words: int) -> list[_Piece]:
    """A block as pieces of at most `max_words` words, cut between sentences."""
    if len(block.text.split()) <= max_words:
        return [_Piece(block.text, page, block.start, page, block.end)]
    pieces: list[tuple[str, int, int]] = []
    cursor = 0
    sentences: list[tuple[int, int]] = []
    for m in SENTENCE_END_RE.finditer(block.text):
        sentences.append((cursor, m.start()))
        cursor = m.end()
    sentences.append((cursor, len(block.text)))
    chunk_start, chunk_end, words = sentences[0][0], sentences[0][0], 0
    for s, e in sentences:
        n = len(block.text[s:e].split())
        if words and words + n > max_words:
            pieces.append(
                (
                    block.text[chunk_start:chunk_end],
                    block.start + chunk_start,
                    block.start + chunk_end,
                )
            )
            chunk_start, words = s, 0
        chunk_end, words = e, words + n
    pieces.append(
        (block.text[chunk_start:chunk_end], block.start + chunk_start, block.start + chunk_end)
    )
    # A single sentence longer than the limit (a run-on list, a garbled line) is cut by words.
    return [
        _Piece(text, page, a, page, b)
        for piece in pieces
        for text, a, b in _cut_words(piece, max_words)
    ]


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


def _passage(doc: str, section: str | None, group: list[_Piece]) -> Passage:
    return Passage(
        doc=doc,
        page=group[0].page,
        page_end=group[-1].page_end,
        text="\n".join(p.text for p in group),
        section=section,
        char_start=group[0].start,
        char_end=group[-1].end,
    )


def _table_passage(
    doc: str, page: int, section: str | None, block: Block, settings: Settings
) -> Passage | None:
    if is_contents(block.text):
        return None
    words = block.text.split(" ")
    text = (
        block.text
        if len(words) <= settings.max_passage_words
        else " ".join(words[: settings.max_passage_words])
    )
    return Passage(
        doc=doc,
        page=page,
        page_end=page,
        text=text,
        section=section,
        char_start=block.start,
        char_end=block.end,
        kind="table",
    )
