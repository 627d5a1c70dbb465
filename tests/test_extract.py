import re

import pytest
from conftest import CORPUS, REAL_CORPUS, ROOT, make_bad_inputs, needs_real_corpus

from policymine.errors import ExtractionError
from policymine.extract import DEFAULT_EXTRACTOR, EXTRACTORS, extract
from policymine.pdfium_words import words_from_chars


@pytest.fixture(scope="module")
def berlin():
    return extract(CORPUS / "01-berlin-solar.pdf")


def full_text(doc):
    return "\n".join(p.text for p in doc.pages)


def test_metadata(berlin):
    assert berlin.name == "01-berlin-solar.pdf"
    assert berlin.title.startswith("Solar Rooftops for Every Block")
    assert berlin.lang == "en"
    assert [p.number for p in berlin.pages] == [1, 2]
    assert len(berlin.sha256) == 64


def test_running_header_and_footer_are_removed(berlin):
    text = full_text(berlin)
    assert "policymine sample briefs" not in text
    assert "Page 1 of" not in text and "Page 2 of" not in text


def test_drop_cap_is_reattached(berlin):
    body = [b for b in berlin.pages[0].blocks if b.kind == "paragraph"]
    assert body[1].text.startswith("Berlin has more than half a million roofs")


def test_hyphenation_across_lines_is_repaired(berlin):
    text = full_text(berlin)
    assert "electricity from the sun" in text
    assert "elec- tricity" not in text and "elec-\ntricity" not in text


def test_pull_quote_appears_once(berlin):
    sentence = (
        "must install photovoltaic panels covering at least 30 percent of the gross roof area"
    )
    assert full_text(berlin).count(sentence) == 1


def test_two_columns_read_in_order(berlin):
    text = full_text(berlin)
    # The left column's section comes before the right column's on page 1.
    assert text.index("From a masterplan to a legal obligation") < text.index(
        "Subsidies that fill the gaps"
    )


def test_table_becomes_a_table_block(berlin):
    tables = [b for p in berlin.pages for b in p.blocks if b.kind == "table"]
    assert len(tables) == 1
    assert tables[0].text.splitlines()[0] == "Instrument | Type | Start | Observed effect"


def test_german_brief_keeps_umlauts_and_language():
    doc = extract(CORPUS / "04-freiburg-vauban.pdf")
    assert doc.lang == "de"
    assert "Mobilität" in full_text(doc)


def test_text_file(tmp_path):
    path = tmp_path / "note.md"
    path.write_text("# Heat plan\n\nThe city opened cooling centres.\n\n- one\n- two\n")
    doc = extract(path)
    assert doc.title == "Heat plan"
    assert [b.kind for b in doc.pages[0].blocks] == ["heading", "paragraph", "list", "list"]


def test_year_is_the_first_publication_year_not_a_target_year(tmp_path):
    path = tmp_path / "net-zero-2050-plan_2021.txt"  # 2050 is a target, 2021 the plan's year
    path.write_text("The city adopted its plan.\n")
    assert extract(path).year == 2021
    path = path.rename(tmp_path / "KAP2030.txt")
    assert extract(path).year == 2030


@pytest.mark.parametrize(
    "case",
    [
        "not a pdf",
        "empty",
        "truncated",
        "corrupt",
        "encrypted",
        "no text layer",
        "unsupported type",
        "missing",
    ],
)
def test_bad_input_gives_a_clear_error(tmp_path, case):
    path, reason = make_bad_inputs(tmp_path / "bad")[case]
    with pytest.raises(ExtractionError) as info:
        extract(path)
    assert str(path) in str(info.value)
    assert reason in info.value.reason


@needs_real_corpus
@pytest.mark.slow
def test_real_plan_pages_and_labels():
    doc = extract(REAL_CORPUS / "us-atlanta-ga-clean-energy-plan-2018.pdf")
    assert len(doc.pages) == 84
    assert doc.title == "Clean Energy Atlanta"
    assert doc.pages[2].label == "1"  # the printed page numbers start after the cover


@needs_real_corpus
@pytest.mark.slow
def test_real_pdf_with_garbled_text_layer_is_reported():
    with pytest.raises(ExtractionError, match="garbled text layer"):
        extract(REAL_CORPUS / "us-glen-ridge-nj-zoning-ordinance.pdf")


GOLDEN = ["01-berlin-solar.pdf", "04-freiburg-vauban.pdf", "09-leipzig-integrated-development.pdf"]


@pytest.mark.parametrize("extractor", EXTRACTORS)
@pytest.mark.parametrize("name", GOLDEN)
def test_extraction_matches_golden_file(name, extractor):
    """Whole-document output, compared with tests/data/golden; refresh on purpose with UPDATE_GOLDEN=1.

    Both character sources (pdfium, the default, and pdfplumber, the previous path) must
    give the same text.
    """
    import os
    from pathlib import Path

    doc = extract(CORPUS / name, extractor=extractor)
    got = "".join(
        f"=== page {p.number}\n" + "".join(f"[{b.kind}] {b.text}\n" for b in p.blocks)
        for p in doc.pages
    )
    golden = Path(__file__).parent / "data" / "golden" / (name + ".txt")
    if os.environ.get("UPDATE_GOLDEN") and extractor == DEFAULT_EXTRACTOR:
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8")


PROSE = [
    (
        "Paragraph one explains that the city will fund heat pumps and insulation for tenants in older buildings, "
        "starting with the districts where energy costs weigh most on household budgets this winter."
    ),
    (
        "Paragraph two describes how residents were consulted: three public workshops, an online survey and a "
        "neighbourhood advisory council that reviewed the draft before the council vote in spring."
    ),
    (
        "Paragraph three reports results so far, with about four hundred homes retrofitted, bills down by a fifth "
        "on average and a waiting list that shows the programme should be expanded next year."
    ),
]


def test_framed_double_spaced_page_keeps_its_prose(tmp_path):
    """A page frame and a ruled text box are not tables; double spacing is not a paragraph per line."""
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen import canvas

    path = tmp_path / "framed.pdf"
    c = canvas.Canvas(str(path), pagesize=letter)
    for page in range(2):
        c.rect(36, 36, 540, 720)  # page frame
        c.rect(60, 60, 492, 672)  # ruled box around the prose, split into cells like a layout grid
        for x in (306,):
            c.line(x, 60, x, 732)
        for y_rule in (80, 100, 700, 712, 722):
            c.line(60, y_rule, 552, y_rule)
        y = 660
        for paragraph in range(3):
            lines = simpleSplit(PROSE[paragraph], "Helvetica", 9, 220)[:4]
            for i, line in enumerate(lines):
                c.setFontSize(9)
                c.drawString(70, y, line)
                c.drawString(316, y, simpleSplit(PROSE[2 - paragraph], "Helvetica", 9, 220)[i])
                y -= 24  # double spacing: more white between lines than a single-spaced paragraph break
            y -= 30
        c.showPage()
    c.save()
    doc = extract(path)
    blocks = [b for b in doc.pages[0].blocks if b.kind != "table"]
    assert not [b for p in doc.pages for b in p.blocks if b.kind == "table"]
    assert len(blocks) == 6  # three paragraphs in each of two columns
    assert (
        blocks[0].text.startswith("Paragraph one explains") and "districts where" in blocks[0].text
    )


@needs_real_corpus
@pytest.mark.slow
def test_real_pdf_with_ruled_text_boxes_keeps_its_text():
    """Lexington's page frames and boxed prose were once taken for tables that swallowed every word."""
    doc = extract(REAL_CORPUS / "us-lexington-ky-empower-lexington-plan-2012.pdf")
    assert sum(1 for p in doc.pages if p.text) >= 45
    assert (
        "In developing the Empower Lexington plan, stakeholders reviewed information"
        in doc.pages[3].text
    )


def _source_blocks(md: str) -> list[tuple[str, str]]:
    """(kind, text) of a brief's Markdown source, as the PDF should read back."""
    meta, body = md.split("---\n", 2)[1:]
    fields = dict(line.split(": ", 1) for line in meta.strip().splitlines())
    blocks = [
        ("heading", fields["title"]),
        ("paragraph", f"{fields['city']} · {fields['country']} · {fields['year']}"),
    ]
    for para in re.split(r"\n\s*\n", body.strip()):
        lines = para.strip().splitlines()
        if lines[0].startswith("> PULL:"):
            continue  # a pull quote repeats body text: it must not be read twice
        if lines[0].startswith("#"):
            blocks.append(("heading", lines[0].lstrip("# ")))
        elif lines[0].startswith("- "):
            blocks += [("list", "• " + ln[2:]) for ln in lines]
        elif lines[0].startswith("|"):
            rows = [ln.strip("|").split("|") for ln in lines if not set(ln) <= set("|-: ")]
            blocks.append(("table", "\n".join(" | ".join(c.strip() for c in row) for row in rows)))
        else:
            blocks.append(("paragraph", " ".join(lines)))
    return blocks


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "corpus-src").glob("[0-9]*.md")))
def test_every_brief_reads_back_as_its_source(name):
    """Reading order, headings, lists, tables, hyphenation, drop caps, headers and pull quotes, all at once."""
    want = _source_blocks((ROOT / "corpus-src" / f"{name}.md").read_text(encoding="utf-8"))
    doc = extract(ROOT / "corpus" / f"{name}.pdf")
    got = [(b.kind, b.text) for p in doc.pages for b in p.blocks]

    def prose(blocks):  # a paragraph may be cut at a page or column end; the words must run on
        return " ".join(t for k, t in blocks if k != "table").split()

    assert prose(got) == prose(want)
    assert [t for k, t in got if k == "table"] == [t for k, t in want if k == "table"]
    assert [t for k, t in got if k in ("heading", "list")] == [
        t for k, t in want if k in ("heading", "list")
    ]


def _heading_and_prose_pdf(path, rotate=0, overprint=False):
    """A square page shown turned by `rotate` degrees, its content drawn turned back (upright)."""
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen import canvas

    side = 600
    c = canvas.Canvas(str(path), pagesize=(side, side))
    c.setPageRotation(rotate)
    origin = {0: (0, 0), 90: (side, 0), 180: (side, side), 270: (0, side)}[rotate]
    c.translate(*origin)
    c.rotate(rotate)
    copies = (0.0, 0.3) if overprint else (0.0,)
    c.setFont("Helvetica-Bold", 16)
    for dx in copies:  # fake bold: the heading drawn twice, a hair apart
        c.drawString(60 + dx, 560, "Efficient Buildings")
    c.setFont("Helvetica", 10)
    y = 530
    for line in simpleSplit(" ".join(PROSE), "Helvetica", 10, 450):
        c.drawString(60, y, line)
        y -= 13
    c.translate(560, 300)
    c.rotate(90)
    c.drawString(0, 0, "A label set sideways in the margin")
    c.save()


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_pdfium_reads_rotated_pages_and_overprinting_like_pdfplumber(tmp_path, rotate):
    """Both character sources agree on a page shown rotated, on a heading drawn twice over
    itself (read once) and on sideways text (left out)."""
    path = tmp_path / "page.pdf"
    _heading_and_prose_pdf(path, rotate=rotate, overprint=True)
    texts = {ex: extract(path, extractor=ex).pages[0].text for ex in EXTRACTORS}
    assert texts["pdfium"] == texts["pdfplumber"]
    text = texts["pdfium"]
    assert text.startswith("Efficient Buildings\n\nParagraph one explains")
    assert "neighbourhood advisory council" in text
    assert "sideways" not in text


def _char(text: str, x0: float, size: float = 10.0, bottom: float = 100.0, font: str = "F") -> dict:
    return {
        "text": text,
        "x0": x0,
        "x1": x0 + 0.6 * size,
        "top": bottom - size,
        "bottom": bottom,
        "size": size,
        "fontname": font,
    }


def test_pdfium_words_join_small_caps_and_split_text_surrogates():
    # small caps: a 36 pt "K" touching 29 pt "OMMUNALES" on a lower descent line is one word
    small_caps = [_char("K", 0, 36, 337.5)] + [
        _char(c, 21.6 + i * 17.4, 29, 335.8) for i, c in enumerate("OMMUNALES")
    ]
    assert [w["text"] for w in words_from_chars(small_caps)] == ["KOMMUNALES"]
    # a drop cap stands apart: much bigger, and a gap before the rest
    drop = [_char("F", 0, 40, 130), *[_char(c, 30 + i * 6, 10) for i, c in enumerate("or")]]
    assert [w["text"] for w in words_from_chars(drop)] == ["F", "or"]
    # a math italic t arrives as the two halves of a UTF-16 pair in one box; a lone half is
    # replaced (a tokenizer refuses surrogates)
    math = [_char("C", 0), _char("\ud835\udc61", 6), _char("\ud835", 12)]
    assert [w["text"] for w in words_from_chars(math)] == ["C𝑡\ufffd"]
