"""Filter values as users spell them: `--city München` finds the documents tagged Munich,
`--country Deutschland` those tagged DE, and a value no document has is a one-line error
that names the closest values the index does have."""

from __future__ import annotations

import difflib
from dataclasses import replace

from .errors import Option, OptionError
from .places import Gazetteer, fold
from .store import Store
from .types import Filters


def resolve_filters(filters: Filters, store: Store) -> Filters:
    """The filters with topic, city and country in the index's spelling (PolicymineError for a
    year range that ends before it starts, a topic the taxonomy lacks, or a city, country, language or document no stored document has,
    naming the closest known ones)."""
    if (
        filters.year_from is not None
        and filters.year_to is not None
        and filters.year_from > filters.year_to
    ):
        raise OptionError(
            Option("year_from", str(filters.year_from)),
            " is after ",
            Option("year_to", str(filters.year_to)),
            ": swap them",
        )
    changes = {}
    if filters.topic:
        changes["topic"] = store.index_meta().check_topic(filters.topic)
    if not any((filters.city, filters.country, filters.lang, filters.doc)):
        return replace(filters, **changes)
    known = store.filter_values()
    if filters.city:
        changes["city"] = _city(filters.city, known["city"])
    if filters.country:
        changes["country"] = _country(filters.country, known["country"])
    if filters.lang and filters.lang.lower() not in {v.lower() for v in known["lang"]}:
        raise _unknown("lang", filters.lang, known["lang"])
    if filters.doc and not any(filters.doc.casefold() in v.casefold() for v in known["doc"]):
        names = [v for v in known["doc"] if "." in v]  # file names, not titles
        raise _unknown("doc", filters.doc, names)
    return replace(filters, **changes)


def _unknown(
    option: str, value: str, known: list[str], close: list[str] | None = None
) -> OptionError:
    """No stored document has this filter value: the error names the closest known ones."""
    close = close if close is not None else _closest(value, known)
    hint = (
        f"; closest known: {', '.join(close)}"
        if close
        else (f"; known: {', '.join(known[:10])}" if known else "; the index has none")
    )
    return OptionError("no document in this index has ", Option(option, repr(value)), hint)


def _closest(value: str, known: list[str]) -> list[str]:
    by_key = {fold(v)[0]: v for v in known}
    keys = difflib.get_close_matches(fold(value)[0], list(by_key), n=3, cutoff=0.5)
    return [by_key[k] for k in keys]


def _city(value: str, known: list[str]) -> str:
    """A known city for any spelling of it: its own, a case or umlaut variant, another
    language's (München for Munich) or any name GeoNames has for it."""
    keys = {k: v for v in known for k in fold(v)}
    for key in fold(value):
        if key in keys:
            return keys[key]
    gazetteer = Gazetteer.default()
    for reading in gazetteer.readings(value):
        for key in fold(reading.place.name):
            if reading.place.kind == "city" and key in keys:
                return keys[key]
    raise _unknown("city", value, known)


def _country(value: str, known: list[str]) -> str:
    """A known country code for its code (de), English name (Germany) or another (Deutschland)."""
    codes = {v.upper(): v for v in known}
    if value.upper() in codes:
        return codes[value.upper()]
    place = Gazetteer.default().resolve(value, kinds=("country",))
    if place is not None and place.country in codes:
        return codes[place.country]
    if place is not None:
        raise OptionError(
            "no document in this index has ",
            Option("country", repr(value)),
            f" ({place.country}); known: {', '.join(known) or 'none'}",
        )
    names = {}
    gazetteer = Gazetteer.default()
    for code in known:
        for alias, p in gazetteer.exact.items():
            if p.kind == "country" and p.country == code:
                names[alias] = code
    close = list(dict.fromkeys(names[n] for n in _closest(value, list(names))))
    raise _unknown("country", value, known, close or list(known))
