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
        page_text = doc.pages[p.page - 1].text
        assert page_text[p.char_start : p.char_end].split()[:3] == p.text.split()[:3]
    assert any(p.section == "From a masterplan to a legal obligation" for p in passages)
    assert [p.kind for p in passages].count("table") == 1


def _doc(*blocks):
    text, parts, offset = "", [], 0
    for kind, t in blocks:
        parts.append(Block(kind, t, offset, offset + len(t)))
        offset += len(t) + 2
    text = "\n\n".join(t for _, t in blocks)
    return Document(path="/x.txt", name="x.txt", sha256="0", title="x", lang="en", pages=[Page(1, text, parts)])


def test_long_paragraph_is_split_between_sentences():
    sentence = "The city funds heat pumps for tenants in older buildings. "
    doc = _doc(("paragraph", sentence * 40))
    passages = segment(doc, Settings(min_passage_words=40, max_passage_words=100))
    assert len(passages) >= 4
    assert all(p.text.rstrip().endswith(".") for p in passages)


def test_short_paragraphs_merge_and_headings_become_sections():
    doc = _doc(("heading", "Cooling"), ("paragraph", "Trees shade streets."), ("paragraph", "Fountains cool squares."))
    [passage] = segment(doc, Settings())
    assert passage.section == "Cooling"
    assert passage.text == "Trees shade streets.\nFountains cool squares."
