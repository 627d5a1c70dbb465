"""The layout heuristics on a few hand-made words and lines: no PDF, no model."""

from collections import Counter

from policymine import layout
from policymine.layout import Line, PageLines

SIZE = 10.0


def word(text, x0, top, size=SIZE, fontname="Helvetica"):
    """A word as pdfplumber gives it: 0.5 em a character wide, one em high."""
    return {
        "text": text,
        "x0": float(x0),
        "x1": x0 + 0.5 * size * len(text),
        "top": float(top),
        "bottom": top + size,
        "size": size,
        "fontname": fontname,
    }


def line(text, top, x0=50.0, size=SIZE, column=0, band=0, bold=False, kind="body"):
    return Line(text, x0, x0 + 5 * len(text), top, top + size, size, bold, column, band, kind)


def two_columns(rows=12):
    """Rows of four words 3 pt apart in a left column (x 50-139) and a right one (x 300-389)."""
    words = []
    for r in range(rows):
        top = 100 + 14 * r
        words += [word(f"l{r:02d}{c}", 50 + 23 * c, top) for c in range(4)]
        words += [word(f"r{r:02d}{c}", 300 + 23 * c, top) for c in range(4)]
    return words


def page(lines, number=1, height=800.0, tables=()):
    return PageLines(number, 600.0, height, lines, list(tables))


# ---------------------------------------------------------------- words -> lines


def test_gutter_between_two_columns():
    (cut,) = layout.gutters(two_columns())
    assert 139 < cut < 300


def test_no_gutter_in_one_column_or_on_a_sparse_page():
    one_column = [
        word(f"w{r:02d}{c}", 50 + 23 * c, 100 + 14 * r) for r in range(12) for c in range(12)
    ]
    assert layout.gutters(one_column) == []
    assert layout.gutters(two_columns(rows=4)) == []  # 32 words: too few to tell


def test_columns_read_one_after_the_other():
    words = two_columns()
    lines = layout.rows_to_lines(words, layout.gutters(words))
    assert [ln.text for ln in lines[:2]] == ["l000 l001 l002 l003", "l010 l011 l012 l013"]
    assert [ln.column for ln in lines] == [0] * 12 + [1] * 12
    assert lines[12].text == "r000 r001 r002 r003"


def test_a_row_across_the_gutter_starts_a_band():
    words = two_columns()
    cuts = layout.gutters(words)
    words += [word("Heading", 150, 300), word("across", 200, 300), word("both", 250, 300)]
    words += [word("below", 50, 320), word("right", 300, 320)]
    lines = layout.rows_to_lines(words, cuts)
    texts = [ln.text for ln in lines]
    assert (
        texts.index("r110 r111 r112 r113")
        < texts.index("Heading across both")
        < texts.index("below")
    )
    assert texts[-2:] == ["below", "right"]
    assert [ln.band for ln in lines[-3:]] == [1, 2, 2]


def test_words_on_one_baseline_make_a_row_and_a_wide_gap_cuts_it():
    row = [word("Total", 50, 100), word("emissions", 78, 99.5), word("1,200", 400, 100)]
    lines = layout.rows_to_lines(row, [])
    assert [ln.text for ln in lines] == ["Total emissions", "1,200"]  # a tab stop, not a column
    assert layout.segments([row[0], row[1]], column=0, band=0)[0].x1 == row[1]["x1"]


def test_make_line_normalises_and_reads_weight_and_size():
    ln = layout.make_line(
        [word("Eﬃcient", 50, 100, size=12, fontname="Arial-BoldMT"), word("is", 100, 100)], 1, 2
    )
    assert ln.text == "Efficient is"
    assert ln.bold and ln.size == 12 and (ln.column, ln.band) == (1, 2)
    assert not layout.make_line([word("plain", 50, 100, fontname="Arial")], 0, 0).bold


def test_a_drop_cap_is_reattached_to_the_line_beside_it():
    cap = word("B", 40, 98, size=40)
    words = [cap, word("erlin", 72, 100), word("has", 100, 100), word("roofs.", 72, 114)]
    rest, caps = layout.split_drop_caps(words)
    assert caps == [cap] and cap not in rest
    lines = layout.rows_to_lines(rest, [])
    layout.attach_drop_caps(lines, caps)
    assert [ln.text for ln in lines] == ["Berlin has", "roofs."]
    assert layout.lines_from_words(words)[0].text == "Berlin has"


def test_a_bullet_off_the_baseline_is_glued_to_its_text():
    words = [word("•", 50, 97), word("Plant", 62, 100), word("trees", 92, 100)]
    lines = layout.rows_to_lines(words, [])
    assert [ln.text for ln in lines] == ["• Plant trees"]
    assert lines[0].x0 == 50


def test_words_in_a_ruled_table_are_left_out():
    words = [word("Intro", 50, 100), word("cell", 60, 300), word("text", 50, 500)]
    assert layout.inside(words[1], (40, 280, 200, 320))
    lines = layout.lines_from_words(words, [(40, 280, 200, 320)])
    assert [ln.text for ln in lines] == ["Intro", "text"]


def test_overprinted_glyphs_are_recognised():
    chars = [word(c, 50 + 5 * i, 100) for i, c in enumerate("Overview")]
    assert not layout.overprinted(chars)
    doubled = [c for ch in chars for c in (ch, {**ch, "x0": ch["x0"] + 0.3})]
    assert layout.overprinted(doubled)


def test_overprinted_copies_are_dropped_and_the_first_kept():
    chars = [word(c, 50 + 5 * i, 100) for i, c in enumerate("Overview")]
    copy = [{**ch, "x0": ch["x0"] + 0.4, "top": ch["top"] - 0.2} for ch in chars]
    assert layout.dedupe_chars(chars + copy) == chars  # a whole heading drawn twice
    twice = [c for ch in chars for c in (ch, {**ch, "x0": ch["x0"] + 0.3})]
    assert layout.dedupe_chars(twice) == chars  # each glyph drawn twice
    # The same letter further along, or in another font, is text, not a copy.
    apart = [word("e", 50, 100), word("e", 52, 100), word("e", 50, 100, fontname="Bold")]
    assert layout.dedupe_chars(apart, tolerance=1) == apart


def test_data_tables_are_grids_of_short_cells():
    assert layout.is_data_table([["Year", "t CO2"], ["2020", "1,200"], ["2030", "600"]])
    assert not layout.is_data_table([["one frame around the page"]])
    assert not layout.is_data_table([["a" * 200, "b" * 200], ["c" * 200, "d" * 200]])


def test_a_charts_grid_with_a_few_axis_labels_is_not_a_table():
    """Knoxville's emissions chart: gridlines and bars make a 12 x 20 grid, five cells hold years."""
    rows = [[""] * 20 for _ in range(5)]
    for r, label in enumerate(["2015", "2012 2005", "2005", "2019 2005 2012", "200520122015"]):
        rows[r][r] = label
    assert not layout.is_data_table(rows)
    rows = [["Sector", "2005", "2019"], ["Buildings", "", "412"], ["Transport", "388", ""]]
    assert layout.is_data_table(rows)  # a real table may leave a cell empty


def test_runs_of_low_values():
    assert layout.runs([3, 0, 0, 2, 0], 0) == [(1, 3), (4, 5)]
    assert layout.runs([1, 1], 0) == []


# ---------------------------------------------------------------- lines -> blocks


def body(n, top=200.0):
    return [line(f"Body line {i} of a paragraph that runs on", top + 14 * i) for i in range(n)]


def test_a_repeated_header_and_page_numbers_are_margin():
    pages = [
        page([line("City of Example · Climate Plan", 30), *body(5), line(f"{n + 4}", 770)], n)
        for n in range(1, 4)
    ]
    layout.mark_kinds(pages, SIZE)
    for p in pages:
        assert [ln.kind for ln in p.lines] == ["margin"] + ["body"] * 5 + ["margin"]
        assert p.label == str(p.number + 4)  # the printed number, unlike the physical one


def test_a_header_on_one_page_only_stays_and_big_text_is_a_heading():
    pages = [page([line("Introduction", 30, size=16), *body(3)]), page(body(3), 2)]
    layout.mark_kinds(pages, SIZE)
    assert pages[0].lines[0].kind == "heading"
    assert layout.body_size([ln for p in pages for ln in p.lines]) == SIZE


def test_page_numbers_set_far_in_are_found_by_their_offset():
    pages = [page([*body(3), line(str(n + 10), 690)], n) for n in range(1, 4)]  # 690 > 0.84 * 800
    layout.mark_far_page_numbers(pages)
    assert [p.lines[-1].kind for p in pages] == ["margin"] * 3
    assert [p.label for p in pages] == ["11", "12", "13"]
    chart = [page([*body(3), line(str(7 * n), 690)], n) for n in range(1, 4)]
    layout.mark_far_page_numbers(chart)
    assert all(p.lines[-1].kind == "body" for p in chart)


def test_blocks_paragraphs_headings_and_list_items():
    lines = [
        line("Energy", 100, size=16, kind="heading"),
        line("The city will make its trans-", 130),
        line("port system cleaner.", 144),
        line("A second paragraph.", 180),
        line("• Plant trees", 210),
        line("along every street", 224, x0=60),
        line("• Insulate schools", 238),
    ]
    vocab = Counter({"transport": 3})
    blocks = layout.blocks(page(lines), SIZE, paragraph_gap=8.0, vocab=vocab)
    assert blocks == [
        ("heading", "Energy"),
        ("paragraph", "The city will make its transport system cleaner."),
        ("paragraph", "A second paragraph."),
        ("list", "• Plant trees along every street"),
        ("list", "• Insulate schools"),
    ]


def test_a_sentence_runs_on_into_the_next_column_and_a_closed_one_does_not():
    lines = [
        line("The plan was adopted", 700, column=0),
        line("in 2021 by the council.", 100, x0=300, column=1),
        line("It has ten measures.", 114, x0=300, column=1),
        line("Solar on roofs", 200, column=1, x0=300),
    ]
    blocks = layout.blocks(page(lines), SIZE, paragraph_gap=8.0, vocab=Counter())
    assert blocks[0] == (
        "paragraph",
        "The plan was adopted in 2021 by the council. It has ten measures.",
    )
    closed = [line("The plan was adopted.", 700), line("then more", 100, x0=300, column=1)]
    assert len(layout.blocks(page(closed), SIZE, 8.0, Counter())) == 2


def test_paragraph_gap_follows_the_line_spacing():
    double = page([line(f"Line {i}", 100 + 24 * i) for i in range(6)])  # 14 pt of white
    assert layout.line_gap([double], SIZE) == 14
    assert layout.paragraph_gap([double], SIZE) == 1.6 * 14


def test_a_pull_quote_repeating_a_paragraph_is_dropped():
    quote = "Every roof in the city will carry solar panels by 2035"
    pages = [
        [("paragraph", f"We promise this. {quote}, as the council decided.")],
        [("paragraph", f"“{quote}”"), ("paragraph", "Other text.")],
    ]
    layout.drop_repeats(pages)
    assert pages[1] == [("paragraph", "Other text.")]
    assert len(pages[0]) == 1


def test_page_blocks_end_to_end():
    pages = [
        page(
            [
                line("Running header", 30),
                line("Climate Plan", 100, size=20),
                *body(3),
                line("1", 770),
            ],
            tables=[[["Year", "t"], ["2020", "5"]]],
        ),
        page([line("Running header", 30), *body(3), line("2", 770)], 2),
        page([line("Running header", 30), *body(3), line("3", 770)], 3),
    ]
    blocks = layout.page_blocks(pages)
    assert [kind for kind, _ in blocks[0]] == ["heading", "paragraph", "table"]
    assert blocks[0][2] == ("table", "Year | t\n2020 | 5")
    assert all("Running header" not in text for b in blocks for _, text in b)
    assert layout.page_blocks([page([])]) == [[]]


def test_title_is_the_biggest_text_on_the_first_pages():
    pages = [
        page([line("Contents", 100, size=20), *body(3)]),
        page([line("Real", 100, size=20), *body(3)]),
    ]
    pages[0].lines[0].kind = "heading"
    assert layout.title_from_lines(pages) == "Real"
    assert layout.title_from_lines([page(body(3))]) is None
