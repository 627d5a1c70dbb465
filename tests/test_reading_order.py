"""Reading order checked against poppler's pdftotext, and the bigram agreement it rests on."""

import pytest
from conftest import CORPUS, REAL_CORPUS, needs_real_corpus

from policymine import reading_order
from policymine.extract import extract

needs_pdftotext = pytest.mark.skipif(
    not reading_order.pdftotext_available(),
    reason="pdftotext not found (apt install poppler-utils)",
)

LEFT = (
    "For more than a decade, the City of Knoxville has worked to make Knoxville a greener, "
    "more sustainable city where the economy, environment and community can thrive together."
)
RIGHT = (
    "While operational emissions continue to improve, community emissions have increased "
    "over the same time as Knoxville continues to grow, and there are many successes to celebrate."
)


def _interleaved(left: str, right: str, width: int = 6) -> str:
    """Two columns read across, line by line: the artifact the check must catch."""
    a, b = left.split(), right.split()
    rows = [a[i : i + width] + b[i : i + width] for i in range(0, max(len(a), len(b)), width)]
    return " ".join(w for row in rows for w in row)


def test_the_same_reading_agrees_and_interleaved_columns_do_not():
    reference = f"{LEFT}\n{RIGHT}"
    assert reading_order.agreement(f"{LEFT} {RIGHT}", reference) > 0.95
    assert reading_order.agreement(_interleaved(LEFT, RIGHT), reference) < 0.9  # below the bar


def test_dropped_text_and_hyphenation_do_not_count_against_a_page():
    broken = LEFT.replace("sustainable", "sustain-\nable")  # a word cut at a line end
    reference = f"Running header 2021\n{broken}\n{RIGHT}"
    assert reading_order.agreement(f"{LEFT} {RIGHT}", reference) == 1.0


def test_a_page_with_few_words_is_not_scored():
    assert reading_order.agreement("Figure 3", "Figure 3") is None


@needs_pdftotext
def test_the_briefs_read_like_pdftotext():
    doc = extract(CORPUS / "01-berlin-solar.pdf")
    reference = reading_order.pdftotext_pages(CORPUS / "01-berlin-solar.pdf")
    for page, ref in zip(doc.pages, reference):
        assert reading_order.agreement(reading_order.prose(page), ref) >= 0.95


@needs_pdftotext
@needs_real_corpus
def test_knoxville_work_plan_page_7_reads_column_by_column():
    """Two columns under a chart whose labels cross their gutter were read across (issue 19)."""
    path = REAL_CORPUS / "us-knoxville-tn-energy-sustainability-work-plan-2021.pdf"
    page = extract(path).pages[6]
    text = " ".join(page.text.split())
    assert (
        "the City of Knoxville has worked to make Knoxville a greener, more sustainable city"
        in text
    )
    assert "shaped Knoxville's trajectory for much of the past decade. While operational" in text
    assert "Knoxville past decade" not in text
    # The emissions chart beside it is not a table of axis labels.
    assert not [b for b in page.blocks if b.kind == "table"]
    reference = reading_order.pdftotext_pages(path)[6]
    prose = " ".join(b.text for b in page.blocks if b.kind == "paragraph" and len(b.text) > 200)
    assert reading_order.agreement(prose, reference) >= 0.95
