"""Pure text-cleaning functions shared by extraction and segmentation.

Every function here takes and returns plain strings, so each can be tested (and fuzzed)
on its own: normalisation of compatibility characters, repair of hyphenation across
line breaks, drop caps, doubled glyph runs, and the page quality and language guesses.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

# Characters that NFKC leaves alone but that break matching and search.
_TRANSLATE = str.maketrans(
    {
        "\u00ad": "",  # soft hyphen
        "\u200b": "",  # zero-width space
        "\ufeff": "",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2010": "-",
        "\u2011": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\uf0b7": "•",  # private-use bullet of Symbol fonts
        "\uf0a7": "•",
        "\uf0d8": "•",
        "\u25aa": "•",
        "\u25cf": "•",
        "\u2022": "•",
        "\u25e6": "•",
        "\u2013": "–",
    }
)

BULLET_RE = re.compile(r"^\s*(?:[•\-–*▪►➢✓]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+")
# A text ending here ends its sentence (the next line, column or page starts a new one).
ENDS_SENTENCE_RE = re.compile(r"[.!?:;\"')»“”]\s*$")
# The space between two sentences: after end punctuation, before a capital, digit or bullet;
# never after an abbreviation that a name or a number follows ("Rodney Cook Sr. Park",
# "Dr. Weber", "No. 12", "z. B. Stadtwerke", "ca. 40 %"). The abbreviation must start a word
# ("Mayor." or "Leipzig." still end a sentence). Python's look-behinds are fixed-width: one
# look-behind per group and length.
ABBREVIATIONS = (  # single letters are the first halves of "z. B.", "d. h.", "u. a."
    ("z", "d", "u", "s", "v", "e", "i"),
    ("Nr", "No", "Sr", "Jr", "Dr", "St", "Mr", "Ms", "ca", "Co"),
    ("Mrs", "Abs", "Art", "bzw", "vgl", "Inc", "Ave", "Fig", "Abb", "Ltd", "Str", "sog"),
    ("e.g", "i.e", "z.B", "d.h", "u.a", "Prof", "inkl", "Corp"),
    ("z. B", "d. h", "u. a"),
)
_NOT_AFTER_ABBREVIATION = "".join(
    f"(?<!(?<![^\\s(])(?:{'|'.join(re.escape(a) for a in group if len(a) == size)})\\.)"
    for group in ABBREVIATIONS
    for size in sorted({len(a) for a in group})
)
SENTENCE_END_RE = re.compile(
    r"(?<=[.!?;:])" + _NOT_AFTER_ABBREVIATION + r"\s+(?=[\"'(„]?[A-ZÄÖÜ0-9•])"
)
# A year from 1950 to 2069 (plans name target years like 2050), not part of a longer number;
# letters may touch it ("FY2030", "2030er", "plan_2030").
YEAR_RE = re.compile(r"(?<!\d)(19[5-9]\d|20[0-6]\d)(?!\d)")
_LINE_END_HYPHEN_RE = re.compile(r"[^\W\d_]-\s*$")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*", re.UNICODE)
_VOWELS = set("aeiouyäöüáéíóúàèìòùâêîôûãõ")
_HYPHEN_KEEP_PREFIXES = {
    "anti",
    "co",
    "cross",
    "e",
    "full",
    "high",
    "inter",
    "long",
    "low",
    "mid",
    "middle",
    "multi",
    "non",
    "part",
    "post",
    "pre",
    "self",
    "short",
    "well",
    "city",
    "county",
    "state",
    "region",
    "small",
    "large",
    "near",
    "mixed",
    "single",
    "two",
    "three",
}


_CID_BULLET_RE = re.compile(r"^(\s*)\(cid:\d+\)\s+")
_CID_RE = re.compile(r"\(cid:\d+\)")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_BREAKS = str.maketrans({"\x0b": "\n", "\x0c": "\n"})


# Second parts that make English compounds, not word endings: "follow-up", "city-wide".
_COMPOUND_TAILS = {
    "up",
    "in",
    "out",
    "on",
    "off",
    "down",
    "over",
    "back",
    "based",
    "related",
    "term",
    "scale",
    "wide",
    "led",
    "owned",
    "free",
    "friendly",
    "oriented",
    "level",
    "income",
    "making",
    "sized",
}


def normalize(text: str) -> str:
    """Unicode NFKC (ligatures, full-width forms), typographic quotes, odd spaces, soft hyphens.

    Glyphs the PDF gives no Unicode for come out of pdfminer as "(cid:127)": at the start
    of a line that is a bullet; elsewhere it is dropped rather than indexed as a word.
    Control characters (broken font maps give them) are dropped too, vertical tabs and form
    feeds becoming line breaks; tabs and line breaks stay.
    """
    text = _CONTROL_RE.sub("", text.translate(_BREAKS))
    for _ in range(
        8
    ):  # to a fixed point: NFKC makes "(cid:1⁾" a glyph code, dropping one may join another
        done = unicodedata.normalize(
            "NFKC", _CID_RE.sub("", _CID_BULLET_RE.sub(r"\1• ", text)).translate(_TRANSLATE)
        )
        if done == text:
            break
        text = done
    return text


def comparable(text: str) -> str:
    """Text as quotes are compared with pages: whitespace collapsed, a line-end hyphen joined
    as the extractor joins it (not `normalize`, which repairs glyphs)."""
    return " ".join(re.sub(r"(?<=[a-zäöüß])-\s+(?=[a-zäöüß])", "", text).split())


_DOUBLED_INITIAL_RE = re.compile(r"\b([A-ZÄÖÜ])\1 (?=[A-ZÄÖÜ]{2,}\b)")


def collapse_doubled(token: str) -> str:
    """'KKOOMMMMUUNNAALLEESS' -> 'KOMMUNALES' when every glyph is printed twice."""
    if len(token) >= 4 and len(token) % 2 == 0 and token[0::2] == token[1::2]:
        return token[0::2]
    return token


def collapse_doubled_runs(text: str) -> str:
    """Collapse doubled-glyph words in a line, but only if most of its long words are doubled.

    A line such as 'DDEERR TTAADDTT' is fixed; a real word like 'Boss' or 'Sees' is left
    alone because a line is only touched when the doubling is systematic.
    """
    words = text.split(" ")
    long_words = [w for w in words if len(w) >= 4]
    doubled = [w for w in long_words if collapse_doubled(w) != w]
    if long_words and len(doubled) * 2 > len(long_words):
        text = " ".join(collapse_doubled(w) for w in words)
    if (
        text.isupper()
    ):  # then a doubled big initial before small caps: "KK OMMUNALES" -> "KOMMUNALES"
        text = _DOUBLED_INITIAL_RE.sub(r"\1", text)
    return text


def words(text: str) -> list[str]:
    """Alphabetic words (with inner hyphens and apostrophes) of a text."""
    return _WORD_RE.findall(text)


def vocabulary(lines: Iterable[str]) -> Counter[str]:
    """Lower-cased word counts over lines; the document's own dictionary for repair checks.

    The two parts of a word hyphenated across lines ("mainte-" / "nance") are not counted:
    they are what the dictionary is asked about, so they must not vouch for themselves.
    """
    counts: Counter[str] = Counter()
    continued = False
    for line in lines:
        found = words(line)
        if continued and found:
            found = found[1:]
        continued = bool(_LINE_END_HYPHEN_RE.search(line))
        if continued and found:
            found = found[:-1]
        counts.update(w.lower() for w in found)
    return counts


def join_hyphenated(left: str, right: str, vocab: Counter[str]) -> str:
    """Join a word split at a line end: 'interna-' + 'tional' -> 'international'.

    Real hyphens stay: 'low-' + 'income' -> 'low-income' when the document writes it so
    (or the left part is a usual compound prefix), and German 'Klimaschutz-' + 'Konzept'
    keeps its hyphen because the continuation is capitalised.
    """
    stem = left[:-1]
    head = re.sub(r"^.*?([^\W\d_]+)$", r"\1", stem)
    tail = re.match(r"^[^\W\d_]+", right)
    tail_word = tail.group(0) if tail else ""
    joined = (head + tail_word).lower()
    hyphenated = f"{head}-{tail_word}".lower()
    if not head or not tail_word or right[:1].isdigit():
        return left + right
    if right[:1].isupper() and not head.isupper():
        return left + right  # German compound with a capitalised part, or a name
    if vocab.get(hyphenated, 0) > vocab.get(joined, 0):
        return left + right
    if vocab.get(joined, 0) > 0:
        return stem + right
    # Neither spelling occurs elsewhere: two words make a compound ("follow-up", "pre-war"),
    # a word cut in two ("interna-tional", "pre-sidency") leaves a part that is no word.
    low_head, low_tail = head.lower(), tail_word.lower()
    head_is_word = low_head in _HYPHEN_KEEP_PREFIXES or vocab.get(low_head, 0) >= 2
    tail_is_word = vocab.get(low_tail, 0) >= 2 and len(low_tail) >= 2
    if low_tail in _COMPOUND_TAILS or (head_is_word and tail_is_word):
        return left + right
    return stem + right


def join_lines(lines: list[str], vocab: Counter[str]) -> str:
    """Join the lines of one paragraph, repairing hyphenation at line ends."""
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if not out:
            out = line
        elif re.search(r"[^\W\d_]-$", out) and line[:1].isdigit():
            out = out + line  # "COVID-" + "19": a hyphen before a number is always real
        elif re.search(r"[^\W\d_]-$", out) and re.match(r"[^\W\d_]", line):
            last_space = out.rfind(" ")
            left = out[last_space + 1 :]
            first, _, rest = line.partition(" ")
            fixed = join_hyphenated(left, first, vocab)
            out = out[: last_space + 1] + fixed + (" " + rest if rest else "")
        else:
            out = out + " " + line
    return re.sub(r"[ \t]+", " ", out)


_SPLIT_CAP_RE = re.compile(r"^([\"'“]?)([A-ZÄÖÜ]) ([a-zäöüß]{1,})\b")
_SPLIT_DIGIT_RE = re.compile(r"^(\d) (\d{1,3})\b")


def fix_drop_cap(paragraph: str, vocab: Counter[str]) -> str:
    """'T he pressing challenges' -> 'The pressing challenges'; '2 020 started' -> '2020 started'.

    Drop caps only ever start a paragraph, so only the start is examined, and the join is
    only made when the joined word is a word of the document (or the split makes no word).
    """
    m = _SPLIT_DIGIT_RE.match(paragraph)
    if m and len(m.group(1) + m.group(2)) == 4:
        return m.group(1) + m.group(2) + paragraph[m.end() :]
    m = _SPLIT_CAP_RE.match(paragraph)
    if m:
        quote, letter, rest = m.groups()
        joined = (letter + rest).lower()
        standalone = letter in "AI" and vocab.get(rest.lower(), 0) > 0
        if vocab.get(joined, 0) > 0 and not standalone:
            return quote + letter + rest + paragraph[m.end() :]
    return paragraph


def quality(text: str, min_chars: int = 20) -> float:
    """How much a page's text looks like natural language, from 0 (none or garbage) to 1.

    Broken font encodings give symbol soup or vowel-less letter runs; scanned pages give
    nothing. The score is the share of characters that belong to plausible words; a text of
    fewer than `min_chars` visible characters scores 0 (too short to judge).
    """
    stripped = "".join(text.split())
    if len(stripped) < max(1, min_chars):
        return 0.0
    # Text with no word at all still scores above 0, which is kept for "no text".
    good = 0
    for w in words(text):
        low = w.lower()
        if (
            len(w) >= 2
            and any(c in _VOWELS for c in low)
            and not re.search(r"[^aeiouyäöü\W]{6}", low)
        ):
            good += len(w)
    return max(0.001, round(min(1.0, good / len(stripped) / 0.75), 3))


# A few hundred of the commonest function words per language are plenty to tell
# the languages of this corpus apart (en, de, pt, es, fr, nl, it).
_STOPWORDS = {
    "en": [
        "the",
        "and",
        "of",
        "to",
        "in",
        "is",
        "for",
        "that",
        "on",
        "with",
        "as",
        "are",
        "by",
        "this",
        "be",
        "from",
        "or",
        "at",
        "an",
        "will",
        "which",
        "have",
        "it",
        "its",
        "has",
        "not",
        "their",
        "more",
        "can",
        "were",
        "was",
        "been",
    ],
    "de": [
        "der",
        "die",
        "und",
        "das",
        "in",
        "zu",
        "den",
        "von",
        "mit",
        "ist",
        "für",
        "auf",
        "des",
        "im",
        "dem",
        "nicht",
        "ein",
        "eine",
        "als",
        "auch",
        "es",
        "an",
        "werden",
        "aus",
        "sich",
        "bei",
        "sind",
        "wird",
        "oder",
        "durch",
        "zur",
        "zum",
        "einer",
    ],
    "pt": [
        "de",
        "a",
        "o",
        "que",
        "e",
        "do",
        "da",
        "em",
        "para",
        "com",
        "uma",
        "os",
        "no",
        "se",
        "na",
        "por",
        "mais",
        "as",
        "dos",
        "como",
        "mas",
        "ao",
        "das",
        "pelo",
        "pela",
        "ser",
        "são",
    ],
    "es": [
        "de",
        "la",
        "que",
        "el",
        "en",
        "y",
        "los",
        "del",
        "se",
        "las",
        "por",
        "un",
        "para",
        "con",
        "una",
        "su",
        "al",
        "es",
        "lo",
        "como",
        "más",
        "pero",
        "sus",
        "le",
        "ha",
    ],
    "fr": [
        "de",
        "la",
        "le",
        "et",
        "les",
        "des",
        "en",
        "du",
        "un",
        "une",
        "est",
        "que",
        "pour",
        "dans",
        "qui",
        "par",
        "sur",
        "au",
        "pas",
        "plus",
        "avec",
        "ce",
        "sont",
        "aux",
    ],
    "nl": [
        "de",
        "het",
        "een",
        "van",
        "en",
        "in",
        "is",
        "dat",
        "op",
        "te",
        "zijn",
        "voor",
        "met",
        "die",
        "niet",
        "aan",
        "er",
        "om",
        "ook",
        "als",
        "bij",
        "door",
    ],
    "it": [
        "di",
        "il",
        "la",
        "che",
        "e",
        "per",
        "in",
        "un",
        "del",
        "della",
        "le",
        "si",
        "una",
        "con",
        "non",
        "sono",
        "gli",
        "al",
        "dei",
        "alla",
        "più",
        "da",
    ],
}
_STOP_SETS = {lang: set(ws) for lang, ws in _STOPWORDS.items()}


# Function words dropped from keyword queries and from the words that label a cluster of
# practices, English and German: an OR query over "the" would match every passage. The
# language lists above and more; "city" and "cities" also, since every passage is about one.
STOPWORDS = frozenset(
    [
        *_STOPWORDS["en"],
        *_STOPWORDS["de"],
        "a",
        "about",
        "above",
        "after",
        "all",
        "also",
        "any",
        "being",
        "both",
        "but",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "had",
        "having",
        "how",
        "if",
        "into",
        "may",
        "might",
        "most",
        "must",
        "no",
        "other",
        "our",
        "out",
        "over",
        "own",
        "shall",
        "should",
        "so",
        "some",
        "such",
        "than",
        "them",
        "then",
        "there",
        "these",
        "they",
        "those",
        "through",
        "too",
        "under",
        "up",
        "very",
        "we",
        "what",
        "when",
        "where",
        "while",
        "who",
        "whom",
        "why",
        "would",
        "you",
        "your",
        "cities",
        "city",
        "eines",
        "einem",
        "einen",
        "aber",
        "am",
        "bis",
        "gegen",
        "nach",
        "noch",
        "nur",
        "ob",
        "so",
        "sowie",
        "über",
        "um",
        "unter",
        "vom",
        "vor",
        "wie",
        "wurde",
        "sein",
    ]
)


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language by function-word counts; 'und' if unsure."""
    tokens = [w.lower() for w in words(text[:200_000])]
    if len(tokens) < 5:
        return "und"
    scores = {lang: sum(1 for t in tokens if t in stops) for lang, stops in _STOP_SETS.items()}
    lang, best = max(scores.items(), key=lambda kv: kv[1])
    return lang if best >= max(2, 0.05 * len(tokens)) else "und"
