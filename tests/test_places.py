"""The gazetteer (places.py) and the place of a document: any town on earth, ambiguous names
read in context, and 37 short plans written by the team from towns outside the alias list."""

import csv
from pathlib import Path

import pytest

from policymine.config import Settings
from policymine.embed import embed, get_embedder
from policymine.errors import PolicymineError
from policymine.extract import extract
from policymine.filters import resolve_filters
from policymine.places import Context, Gazetteer, Place, document_place
from policymine.segment import segment
from policymine.store import Store
from policymine.tag import Tagger
from policymine.types import Filters

WRITTEN = Path(__file__).parent / "data" / "places"


@pytest.fixture(scope="module")
def gazetteer():
    return Gazetteer.default()


@pytest.fixture(scope="module")
def tagger():
    return Tagger(get_embedder("fake"), Settings(model="fake"))


def _truth() -> list[dict]:
    with open(WRITTEN / "truth.tsv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_any_spelling_names_one_place(gazetteer):
    assert gazetteer.lookup("München") == gazetteer.lookup("Munich") == gazetteer.lookup("Muenchen")
    assert gazetteer.lookup("Deutschland").country == gazetteer.lookup("Germany").country == "DE"
    assert gazetteer.lookup("Österreich").name == "Austria"
    assert gazetteer.lookup("Zürich") == gazetteer.lookup("Zurich")
    # towns the alias list never had, from GeoNames
    assert gazetteer.lookup("Totnes") == Place("Totnes", "city", "GB", "ENG")
    assert gazetteer.lookup("Wolfhagen").country == "DE"
    assert gazetteer.lookup("County Kilkenny").kind == "region"


def test_a_name_without_its_accents_is_a_small_place_only_when_written_with_them(gazetteer):
    # English writes big places without their accents; small ones read that way are words
    assert gazetteer.lookup("Munster") == gazetteer.lookup("Münster")
    assert gazetteer.lookup("Luneburg").name == "Lüneburg"
    assert gazetteer.lookup("Paper") is None  # not Papër, Albania (6,000 people)
    assert all(r.place.country != "IN" for r in gazetteer.readings("Bank"))  # not Bānk
    assert gazetteer.lookup("Papër").country == "AL"  # written with its accent, it is the town


def test_the_written_plans_are_outside_the_alias_list(gazetteer):
    for row in _truth():
        if row["city"]:
            assert row["city"] not in gazetteer.exact, row["file"]


@pytest.mark.parametrize(
    "name, context, country, region",
    [
        ("Cambridge", {"GB": 3}, "GB", "ENG"),
        ("Cambridge", {("US", "MA"): 1}, "US", "MA"),
        ("Springfield", {("US", "IL"): 2}, "US", "IL"),
        ("Springfield", {("US", "MA"): 2}, "US", "MA"),
        ("Portland", {("US", "OR"): 1}, "US", "OR"),
        ("Portland", {("US", "ME"): 1}, "US", "ME"),
        ("Frankfurt", {}, "DE", "05"),
        ("Frankfurt", {("DE", "11"): 1}, "DE", "11"),
        ("Launceston", {("AU", "06"): 1}, "AU", "06"),
        ("Launceston", {"GB": 2}, "GB", "ENG"),
    ],
)
def test_ambiguous_names_are_read_in_context(gazetteer, name, context, country, region):
    ctx = Context()
    for key, n in context.items():
        if isinstance(key, tuple):
            ctx.regions[key] += n
            ctx.countries[key[0]] += n
        else:
            ctx.countries[key] += n
    place = gazetteer.resolve(name, ctx)
    assert (place.country, place.region) == (country, region)


def test_document_place_reads_the_places_around(gazetteer):
    text = (
        "Frankfurt (Oder) lies on the border with Poland in Brandenburg. Frankfurt works with "
        "Słubice across the river; Frankfurt's buses cross the bridge every ten minutes."
    )
    place = document_place(
        gazetteer, "Klimaschutz in Frankfurt", [text], ["Frankfurt"] * 5 + ["Brandenburg"], "en"
    )
    assert (place.city, place.country, place.region) == ("Frankfurt (Oder)", "DE", "Brandenburg")
    cambridge = document_place(
        gazetteer,
        "Cambridge Climate Change Strategy",
        ["Cambridge City Council in Cambridgeshire, England, will cut emissions."],
        ["Cambridge"] * 6 + ["Cambridgeshire", "England"],
        "en",
    )
    assert (cambridge.country, cambridge.region) == ("GB", "England")


def test_a_regional_plan_gets_its_region_and_no_city(gazetteer):
    place = document_place(
        gazetteer,
        "Devon Carbon Plan",
        ["Exeter, Plymouth and Barnstaple share a county plan for Devon."],
        ["Devon", "Devon", "Exeter", "Plymouth", "Barnstaple"],
        "en",
    )
    assert (place.city, place.country, place.region) == (None, "GB", "Devon")


def test_written_plans_get_their_city_and_country(tagger):
    truth = _truth()
    assert len(truth) >= 30
    wrong = []
    for row in truth:
        doc = extract(WRITTEN / row["file"])
        passages = segment(doc)
        vectors = embed([p.text for p in passages], tagger.embedder)
        tagger.tag(passages, vectors, doc.lang, f"{doc.name} {doc.title}")
        tags = tagger.document_tags(doc, passages)
        expected = (row["city"] or None, row["country"])
        if (tags.city, tags.country) != expected or (
            not row["city"] and tags.region != row["region"]
        ):
            wrong.append(f"{row['file']}: {tags.city}/{tags.country}/{tags.region}")
    assert not wrong, wrong


def test_filters_take_any_spelling_the_gazetteer_knows(fake_index):
    with Store(fake_index) as store:
        assert resolve_filters(Filters(city="München"), store).city == "Munich"
        assert resolve_filters(Filters(city="freiburg"), store).city == "Freiburg im Breisgau"
        for country in ("Deutschland", "Germany", "de", "DE"):
            assert resolve_filters(Filters(country=country), store).country == "DE"
        assert resolve_filters(Filters(country="USA"), store).country == "US"
        with pytest.raises(PolicymineError, match="closest known: Munich"):
            resolve_filters(Filters(city="Muenchn"), store)
        with pytest.raises(PolicymineError, match=r"--country 'Austria' \(AT\); known: DE, US"):
            resolve_filters(Filters(country="Austria"), store)
