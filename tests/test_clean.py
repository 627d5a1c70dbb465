from collections import Counter

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
