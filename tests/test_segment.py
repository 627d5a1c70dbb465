from conftest import CORPUS

from policymine.config import Settings
from policymine.extract import extract
from policymine.segment import segment
from policymine.types import Block, Document, Page


def test_bundled_brief_passages_are_sized_cited_and_sectioned():
    doc = extract(CORPUS / "01-berlin-solar.pdf")
    settings = Settings()
    passages = segment(doc, settings)
    assert len(passages) >= 8
    for p in passages:
        assert p.doc == doc.name
        assert p.page in (1, 2)
        assert len(p.text.split()) <= settings.max_passage_words
        assert doc.pages[p.page - 1].text[p.char_start :].split()[:3] == p.text.split()[:3]
        assert doc.pages[p.page_end - 1].text[: p.char_end].split()[-3:] == p.text.split()[-3:]
    assert any(p.section == "From a masterplan to a legal obligation" for p in passages)
    assert [p.kind for p in passages].count("table") == 1


def _page(number, *blocks):
    parts, offset = [], 0
    for kind, t in blocks:
        parts.append(Block(kind, t, offset, offset + len(t)))
        offset += len(t) + 2
    return Page(number, "\n\n".join(t for _, t in blocks), parts)


def _doc(*blocks, pages=None):
    pages = pages or [_page(1, *blocks)]
    return Document(path="/x.txt", name="x.txt", sha256="0", title="x", lang="en", pages=pages)


def test_long_paragraph_is_split_between_sentences():
    sentence = "The city funds heat pumps for tenants in older buildings. "
    doc = _doc(("paragraph", sentence * 40))
    passages = segment(doc, Settings(min_passage_words=40, max_passage_words=100))
    assert len(passages) >= 4
    assert all(p.text.rstrip().endswith(".") for p in passages)


def test_short_paragraphs_merge_and_headings_become_sections():
    doc = _doc(
        ("heading", "Cooling"),
        ("paragraph", "Trees shade streets."),
        ("paragraph", "Fountains cool squares."),
    )
    [passage] = segment(doc, Settings())
    assert passage.section == "Cooling"
    assert passage.text == "Trees shade streets.\nFountains cool squares."


def test_a_sentence_running_over_a_page_break_stays_in_one_passage():
    end_of_page = "Mobility credits were given to residents in the pilot, and the city learned that outreach must"
    top_of_page = "reach the residents who need them most, through trusted local groups."
    doc = _doc(
        pages=[
            _page(
                1,
                (
                    "paragraph",
                    "An earlier paragraph about bike lanes and buses in the city centre.",
                ),
                ("paragraph", end_of_page),
            ),
            _page(
                2,
                ("paragraph", top_of_page),
                ("paragraph", "A new paragraph on page two starts here and goes on."),
            ),
        ]
    )
    passages = segment(doc, Settings(min_passage_words=5, max_passage_words=100))
    [run_on] = [p for p in passages if "outreach must" in p.text]
    assert "outreach must reach the residents" in run_on.text
    assert (run_on.page, run_on.page_end) == (1, 2)
    assert doc.pages[0].text[run_on.char_start :].startswith("Mobility credits")
    assert doc.pages[1].text[: run_on.char_end].endswith("local groups.")
    assert all(p.page == p.page_end for p in passages if p is not run_on)


def test_a_closed_sentence_at_the_page_end_does_not_run_on():
    doc = _doc(
        pages=[
            _page(
                1, ("paragraph", "The first page ends with a full sentence about the climate plan.")
            ),
            _page(
                2,
                ("paragraph", "and this lower-case start on page two is a new passage of its own."),
            ),
        ]
    )
    assert [(p.page, p.page_end) for p in segment(doc, Settings(min_passage_words=5))] == [
        (1, 1),
        (2, 2),
    ]


def test_a_word_hyphenated_over_a_page_break_is_rejoined_in_its_passage():
    doc = _doc(
        pages=[
            _page(
                1,
                (
                    "paragraph",
                    "The city works with its international partners, and in the end the inter-",
                ),
            ),
            _page(
                2,
                (
                    "paragraph",
                    "national network of cities adopted the same heat plan for all members.",
                ),
            ),
        ]
    )
    [passage] = segment(doc, Settings(min_passage_words=5))
    assert "the international network" in passage.text and (passage.page, passage.page_end) == (
        1,
        2,
    )
