import pytest
from conftest import settings_for

from policymine.config import Settings
from policymine.errors import NotFoundError, PolicymineError
from policymine.search import Filters, search, similar


def test_hits_are_ranked_cited_and_capped_per_document(fake_index):
    settings = settings_for(fake_index, per_doc=2)
    hits = search("rooftop solar panels subsidies for owners", settings, k=8)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert hits == sorted(hits, key=lambda h: -h.score)
    assert max(sum(h.doc == d for h in hits) for d in {h.doc for h in hits}) <= 2
    assert all(1 <= h.page <= 2 and h.city and h.country in ("DE", "US") for h in hits)


@pytest.mark.parametrize(
    "filters, check",
    [
        (Filters(country="DE"), lambda h: h.country == "DE"),
        (Filters(city="boston"), lambda h: h.city == "Boston"),
        (Filters(doc="07-denver"), lambda h: h.doc == "07-denver-climate-fund.pdf"),
        (Filters(topic="mobility"), lambda h: "mobility" in h.topics),
    ],
)
def test_filters(fake_index, filters, check):
    hits = search("city programme", settings_for(fake_index), k=5, filters=filters)
    assert hits and all(check(h) for h in hits)


def test_unknown_topic_and_empty_query_are_errors(fake_index):
    with pytest.raises(NotFoundError, match="known topics: climate, energy"):
        search("solar", settings_for(fake_index), filters=Filters(topic="solar"))
    with pytest.raises(PolicymineError, match="empty query"):
        search("  ", settings_for(fake_index))


def test_similar_comes_from_other_documents(fake_index):
    settings = settings_for(fake_index)
    source = search("participatory budgeting residents vote", settings, k=1)[0]
    hits = similar(source.passage_id, settings, k=5)
    assert hits and all(h.doc != source.doc for h in hits)
    with pytest.raises(NotFoundError, match="no passage with id 999999"):
        similar(999999, settings)


@pytest.mark.slow
def test_real_model_finds_rooftop_solar_incentives(real_index):
    hits = search("incentives for rooftop solar", Settings(index_dir=real_index), k=5)
    assert hits[0].doc in ("01-berlin-solar.pdf", "07-denver-climate-fund.pdf", "10-portland-clean-energy-fund.pdf")
    assert "solar" in hits[0].text.lower()
    top_docs = {h.doc for h in hits[:3]}
    assert "01-berlin-solar.pdf" in top_docs


@pytest.mark.slow
def test_real_model_cross_lingual_city_filter(real_index):
    hits = search("residents decide how to spend part of the city budget", Settings(index_dir=real_index), k=3)
    assert hits[0].doc == "06-boston-participatory-budgeting.pdf"
