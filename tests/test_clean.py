from collections import Counter

import pytest

from policymine import clean


def test_normalize_ligatures_quotes_and_soft_hyphens():
    assert clean.normalize("ﬁnancing “green” de\u00admand") == 'financing "green" demand'


def test_hyphenated_line_break_is_joined_when_the_document_knows_the_word():
    vocab = clean.vocabulary(["electricity is cheap", "more electricity"])
    assert (
        clean.join_lines(["share of its elec-", "tricity from the sun"], vocab)
        == "share of its electricity from the sun"
    )


def test_real_compound_hyphen_is_kept():
    vocab = clean.vocabulary(["long-term goals"])
    assert clean.join_lines(["a long-", "term goal"], vocab) == "a long-term goal"


def test_doubled_glyphs_collapse():
    assert clean.collapse_doubled_runs("KKOOMMMMUUNNAALLEESS KKLLIIMMAA") == "KOMMUNALES KLIMA"
    assert clean.collapse_doubled_runs("Boss Sees the plan") == "Boss Sees the plan"
    assert (
        clean.collapse_doubled_runs("KK OMMUNALES KK LIMASCHUTZKONZEPT DER SS TADT")
        == "KOMMUNALES KLIMASCHUTZKONZEPT DER STADT"
    )
    assert clean.collapse_doubled_runs("AA A BB") == "AA A BB"


def test_drop_cap_split_is_repaired():
    vocab = Counter({"the": 5, "city": 3})
    assert clean.fix_drop_cap("T he city adopted a plan.", vocab).startswith("The city")


def test_quality_separates_prose_from_symbol_soup():
    assert clean.quality("The city adopted a climate action plan in 2019.") > 0.8
    assert clean.quality("%&'()*+,*-*./0102 !\"#$%&'() $345')6*+,\"78*-*2909:!;*<:/=1>1/0>") < 0.3


def test_language_detection():
    assert (
        clean.detect_language("The city council adopted the plan and the budget for the year.")
        == "en"
    )
    assert (
        clean.detect_language(
            "Die Stadt hat das Konzept für den Klimaschutz und die Mobilität beschlossen."
        )
        == "de"
    )


def test_sentence_ends_and_boundaries():
    assert clean.ENDS_SENTENCE_RE.search("The plan was adopted.")
    assert clean.ENDS_SENTENCE_RE.search('He said "enough" ') and clean.ENDS_SENTENCE_RE.search(
        "(see p. 4)"
    )
    assert not clean.ENDS_SENTENCE_RE.search("The plan was")
    text = "The plan was adopted in 2021. It has ten measures: • Solar. 2030 is the target."
    assert clean.SENTENCE_END_RE.split(text) == [
        "The plan was adopted in 2021.",
        "It has ten measures:",
        "• Solar.",
        "2030 is the target.",
    ]
    assert clean.SENTENCE_END_RE.split("See e.g. the plan.") == ["See e.g. the plan."]


@pytest.mark.parametrize(
    "text",
    [
        "The City renamed Rodney Cook Sr. Park after the flood.",
        "Dr. Weber and Mr. Smith chair the panel.",
        "Ordinance No. 12 sets the rules.",
        "Die Stadt fördert z. B. Solaranlagen auf Schulen.",
        "Es gibt ca. 40 Projekte, vgl. Abb. 3 und Nr. 5.",
        "Measures, e.g. Green roofs, and i.e. Cool pavements.",
        "Martin Luther King Jr. Drive gets a bike lane.",
    ],
)
def test_sentences_do_not_end_after_abbreviations(text):
    assert clean.SENTENCE_END_RE.split(text + " It ends here.") == [text, "It ends here."]


def test_sentences_still_end_after_words_that_end_like_abbreviations():
    text = "We met the Mayor. Then Leipzig. Dr. Weber spoke at the Hauptstr. Sie wachsen."
    assert clean.SENTENCE_END_RE.split(text) == [
        "We met the Mayor.",
        "Then Leipzig.",
        "Dr. Weber spoke at the Hauptstr.",
        "Sie wachsen.",
    ]


def test_years_from_1950_to_2069_not_inside_longer_numbers():
    found = clean.YEAR_RE.findall("Net zero by 2050, 2065 at the latest; base year 1990 (FY2019).")
    assert found == ["2050", "2065", "1990", "2019"]
    assert clean.YEAR_RE.findall("1949 2070 12030 20301 in den 1980er-Jahren") == ["1980"]
