"""Fuzz tests (hypothesis) of the text-cleaning functions: whatever text a broken PDF gives,
they neither crash nor lose text beyond what each one documents dropping."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from policymine import clean

# Text as PDFs give it: any Unicode, plus the pieces the functions look for, so that the
# interesting branches are reached and not only random noise.
PIECES = st.sampled_from(
    [
        "(cid:12)",
        "(cid:",
        ")",
        "⁾",
        "（",
        "-",
        "e",
        "\u0301",
        "\x0c",
        " ",
        "\n",
        "\u00ad",
        "\u200b",
        "\ufeff",
        "\u00a0",
        "ﬁ",
        "“",
        "”",
        "•",
        "KK",
        "OOMM",
        "T he",
        "2 020",
        "inter-",
        "national",
        "low-",
        "income",
        "Klima-",
        "Konzept",
        "the",
        "und",
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=12), PIECES), max_size=30).map("".join)
LINE = TEXT.map(lambda t: t.replace("\n", " "))
VOCAB = st.dictionaries(
    st.sampled_from(["international", "national", "low-income", "income", "the", "he", "low"]),
    st.integers(0, 5),
).map(Counter)
FUZZ = settings(max_examples=300, deadline=None)


def _control(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) == "Cc" and c not in "\n\t\r"]


@FUZZ
@given(TEXT)
def test_normalize_gives_clean_nfkc_text_and_is_idempotent(text):
    out = clean.normalize(text)
    assert unicodedata.is_normalized("NFKC", out)
    assert not set(out) & set("\u00ad\u200b\ufeff\u00a0\u2018\u2019\u201c\u201d")
    assert not re.search(r"\(cid:\d+\)", out)
    assert not _control(out)
    assert clean.normalize(out) == out


@FUZZ
@given(st.text(max_size=40))
def test_collapse_doubled_only_halves_a_word_printed_twice(token):
    out = clean.collapse_doubled(token)
    assert out == token or "".join(c * 2 for c in out) == token


@FUZZ
@given(LINE)
def test_collapse_doubled_runs_never_adds_text(line):
    out = clean.collapse_doubled_runs(line)
    assert len(out) <= len(line) and set(out) <= set(line)


@FUZZ
@given(st.lists(LINE, max_size=8), VOCAB)
def test_join_lines_loses_nothing_but_line_end_hyphens_and_spacing(lines, vocab):
    out = clean.join_lines(lines, vocab)
    squash = lambda s: "".join(s.split()).replace("-", "")
    assert squash(out) == squash("".join(lines))
    assert not re.search(r"[ \t]{2}|\t", out)


@FUZZ
@given(TEXT, TEXT, VOCAB)
def test_join_hyphenated_keeps_or_drops_only_the_hyphen(left, right, vocab):
    left = left + "-"
    out = clean.join_hyphenated(left, right, vocab)
    assert out in (left + right, left[:-1] + right)


@FUZZ
@given(TEXT, VOCAB)
def test_fix_drop_cap_removes_at_most_one_space(paragraph, vocab):
    out = clean.fix_drop_cap(paragraph, vocab)
    assert out.replace(" ", "") == paragraph.replace(" ", "") and len(paragraph) - len(out) in (
        0,
        1,
    )


@FUZZ
@given(TEXT)
def test_words_quality_and_language_hold_their_ranges(text):
    assert all(w in text for w in clean.words(text))
    assert sum(clean.vocabulary(text.splitlines()).values()) <= len(clean.words(text))
    q = clean.quality(text)
    assert 0.0 <= q <= 1.0 and (q == 0.0) == (len("".join(text.split())) < 20)
    assert clean.detect_language(text) in {*clean._STOP_SETS, "und"}
