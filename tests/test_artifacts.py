"""One small fixture PDF per layout artifact class, drawn with reportlab, and what extraction makes of it."""

from __future__ import annotations

import io

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from policymine import ocr
from policymine.config import Settings
from policymine.errors import ExtractionError
from policymine.extract import extract
from policymine.segment import segment

WIDTH, HEIGHT = A4
FILLER = (
    "The city council adopted the programme after a long consultation with residents and local firms. "
    "Progress is reported every year to the council and published on the city website for everyone. "
)


def _page_text(doc, number=1) -> str:
    return doc.pages[number - 1].text


def _column(
    c, x: float, y: float, width: float, text: str, size: float = 10, font: str = "Helvetica"
) -> float:
    """Draw text wrapped to a column; returns the y below it."""
    c.setFont(font, size)
    for line in simpleSplit(text, font, size, width):
        c.drawString(x, y, line)
        y -= size * 1.25
    return y


def test_three_columns_read_column_by_column(tmp_path):
    path = tmp_path / "three.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    texts = [
        f"Column {name} starts here. " + FILLER * 2 + f"Column {name} ends here."
        for name in ("one", "two", "three")
    ]
    for i, text in enumerate(texts):
        _column(c, 40 + i * 180, 780, 160, text)
    c.save()
    text = _page_text(extract(path))
    order = [text.index(f"Column {n} starts") for n in ("one", "two", "three")]
    assert order == sorted(order)
    for n in ("one", "two", "three"):  # each column is one run, not interleaved with its neighbours
        start, end = text.index(f"Column {n} starts"), text.index(f"Column {n} ends")
        assert "Column" not in text[start + 6 : end]


def test_sidebar_box_is_its_own_block(tmp_path):
    path = tmp_path / "sidebar.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    _column(c, 40, 780, 330, "Main text begins. " + FILLER * 4 + "Main text ends.")
    c.rect(395, 560, 170, 230)
    _column(
        c,
        405,
        775,
        150,
        "Sidebar: Freiburg's Vauban district shows car-free living at scale. " + FILLER,
        size=9,
    )
    c.save()
    doc = extract(path)
    blocks = [b.text for b in doc.pages[0].blocks]
    main = next(b for b in blocks if b.startswith("Main text begins"))
    side = next(b for b in blocks if b.startswith("Sidebar:"))
    assert main.endswith("Main text ends.") and "Vauban" not in main
    assert "Main text" not in side


def _lines_pdf(path, lines: list[str], font: str = "Helvetica", size: float = 11) -> None:
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont(font, size)
    y = 780
    for line in lines:
        c.drawString(60, y, line)
        y -= size * 1.3
    c.save()


def test_line_break_hyphens_are_joined_and_real_hyphens_kept(tmp_path):
    path = tmp_path / "hyphens.pdf"
    _lines_pdf(
        path,
        [
            "Our low-income households and the international partners agree. The interna-",
            "tional network grew, and support for low-",
            "income renters rose after COVID-",
            "19 hit the city. The Klimaschutz-",
            "Konzept names a multi-",
            "level approach and the energy tran-",
            "sition of the harbour district for all residents of the city.",
        ],
    )
    text = _page_text(extract(path))
    assert "international network" in text
    assert "low-income renters" in text
    assert "COVID-19" in text
    assert "Klimaschutz-Konzept" in text
    assert "multi-level" in text
    assert "transition" in text and "tran-" not in text


def test_drop_cap_and_spaced_year_are_rejoined(tmp_path):
    path = tmp_path / "dropcap.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica-Bold", 44)
    c.drawString(60, 742, "T")
    _column(
        c,
        92,
        770,
        420,
        "he pressing challenges of the decade need answers from the cities themselves. " + FILLER,
    )
    c.setFont("Helvetica", 10)
    c.drawString(
        60,
        600,
        "2 020 started with a new climate plan for the whole city and its many neighbourhoods.",
    )
    _column(c, 60, 560, 450, "The pressing question is who pays. " + FILLER)
    c.save()
    text = _page_text(extract(path))
    assert "The pressing challenges" in text
    assert "2020 started" in text


def test_doubled_glyph_runs_collapse(tmp_path):
    path = tmp_path / "doubled.pdf"
    _lines_pdf(
        path,
        [
            "KKOOMMMMUUNNAALLEESS KKLLIIMMAASSCCHHUUTTZZKKOONNZZEEPPTT",
            "",
            FILLER[:80],
            FILLER[80:160],
        ],
    )
    assert "KOMMUNALES KLIMASCHUTZKONZEPT" in _page_text(extract(path))


def test_ligatures_and_odd_spaces_are_normalised(tmp_path):
    from pathlib import Path

    import reportlab

    vera = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
    pdfmetrics.registerFont(TTFont("Vera", str(vera)))
    path = tmp_path / "ligatures.pdf"
    _lines_pdf(
        path,
        ["The \ufb01nancial plan covers \ufb02ood defence and\u00a0heat.", FILLER[:90]],
        font="Vera",
    )
    text = _page_text(extract(path))
    assert "financial plan covers flood defence and heat." in text


def test_bullets_stay_list_items(tmp_path):
    path = tmp_path / "bullets.pdf"
    _lines_pdf(
        path,
        [
            "The programme has three parts:",
            "\u2022 free energy advice for every household",
            "\u2022 grants for heat pumps and insulation",
            "\u2022 a one-stop shop in the town hall",
            FILLER[:90],
        ],
    )
    lists = [b.text for b in extract(path).pages[0].blocks if b.kind == "list"]
    assert lists == [
        "• free energy advice for every household",
        "• grants for heat pumps and insulation",
        "• a one-stop shop in the town hall",
    ]


def test_table_is_kept_apart_from_prose(tmp_path):
    path = tmp_path / "table.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    _column(c, 60, 780, 450, "Emissions fell in every sector. " + FILLER)
    rows = [
        ("Sector", "2010", "2020"),
        ("Buildings", "412", "301"),
        ("Transport", "388", "352"),
        ("Industry", "205", "150"),
    ]
    top = 680
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            c.drawString(70 + j * 120, top - 16 - i * 20, cell)
    for i in range(len(rows) + 1):
        c.line(60, top - i * 20, 420, top - i * 20)
    for j in range(4):
        c.line(60 + j * 120, top, 60 + j * 120, top - len(rows) * 20)
    _column(c, 60, 560, 450, "After the table the prose goes on. " + FILLER)
    c.save()
    doc = extract(path)
    kinds = {b.kind: b.text for b in doc.pages[0].blocks}
    assert kinds["table"].splitlines()[1] == "Buildings | 412 | 301"
    prose = " ".join(b.text for b in doc.pages[0].blocks if b.kind != "table")
    assert "412" not in prose and "Buildings" not in prose
    passages = segment(doc)
    assert [p.kind for p in passages].count("table") == 1


def test_headings_become_passage_sections(tmp_path):
    path = tmp_path / "headings.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica-Bold", 16)
    c.drawString(60, 780, "Heat Action Plan")
    y = _column(c, 60, 750, 450, "Summer heat is a growing risk. " + FILLER * 2)
    c.setFont("Helvetica-Bold", 13)
    c.drawString(60, y - 20, "Cooling Centres")
    _column(c, 60, y - 45, 450, "Libraries open as cooling centres on hot days. " + FILLER * 2)
    c.save()
    doc = extract(path)
    assert doc.title == "Heat Action Plan"
    sections = {p.section for p in segment(doc) if "cooling centres on hot days" in p.text}
    assert sections == {"Cooling Centres"}


def test_printed_page_labels_are_recorded(tmp_path):
    path = tmp_path / "labels.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    for name in ("preface", "first chapter", "second chapter"):
        _column(c, 60, 700, 450, f"This is the {name}. " + FILLER)
        c.showPage()
    c.addPageLabel(0, style="ROMAN_LOWER")
    c.addPageLabel(1, style="ARABIC", start=1)
    c.save()
    doc = extract(path)
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert [p.label for p in doc.pages] == ["i", "1", "2"]


def _garbled_pdf(path) -> None:
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica", 10)
    y = 780
    for i in range(30):  # what a broken font encoding looks like in the text layer
        c.drawString(60, y, "#$%& ()*+ ,-./ 0123 :;<= >?@[ \\]^_ {|}~ " * 2)
        y -= 13
    c.showPage()
    _column(c, 60, 780, 450, "The second page reads fine. " + FILLER * 2)
    c.save()


def test_garbled_page_is_flagged_not_indexed(tmp_path):
    path = tmp_path / "garbled.pdf"
    _garbled_pdf(path)
    doc = extract(path)
    assert doc.pages[0].quality < 0.3 and doc.pages[0].text == ""
    assert doc.pages[1].quality > 0.8
    assert any("garbled text layer (1)" in w for w in doc.warnings)
    assert all(p.page == 2 for p in segment(doc))


def _scanned_pdf(path, text: str) -> None:
    """A PDF whose only page is a picture of text, like a scan."""
    import pypdfium2
    from reportlab.lib.utils import ImageReader

    source = io.BytesIO()
    c = canvas.Canvas(source, pagesize=A4)
    _column(c, 60, 780, 450, text, size=14)
    c.save()
    pdf = pypdfium2.PdfDocument(source.getvalue())
    image = pdf[0].render(scale=200 / 72).to_pil()
    c = canvas.Canvas(str(path), pagesize=A4)
    c.drawImage(ImageReader(image), 0, 0, WIDTH, HEIGHT)
    c.save()


SCANNED = "Munich will plant five thousand street trees by 2030 to cool the hottest neighbourhoods in summer."


def test_scanned_page_without_ocr_says_how_to_read_it(tmp_path):
    path = tmp_path / "scanned.pdf"
    _scanned_pdf(path, SCANNED)
    with pytest.raises(ExtractionError, match="no text layer .*--ocr"):
        extract(path)


@pytest.mark.skipif(
    not ocr.available(), reason="Tesseract is not installed (apt install tesseract-ocr)"
)
def test_ocr_reads_just_the_pages_without_text(tmp_path):
    path = tmp_path / "scanned.pdf"
    _scanned_pdf(path, SCANNED)
    doc = extract(path, Settings(ocr=True))
    assert doc.pages[0].source == "ocr"
    assert "five thousand street trees" in doc.pages[0].text
    assert any("OCR" in w for w in doc.warnings)
    garbled = tmp_path / "garbled.pdf"
    _garbled_pdf(garbled)
    doc = extract(garbled, Settings(ocr=True))
    assert [p.source for p in doc.pages][1] == "text"  # the good page keeps its text layer
