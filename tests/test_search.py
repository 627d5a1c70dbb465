import importlib

import pytest
from conftest import settings_for

from policymine.config import Settings
from policymine.errors import NotFoundError, PolicymineError
from policymine.search import MODES, Searcher, fts_query, query_terms, search, similar
from policymine.types import Filters


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


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_ranks_the_obvious_passage_first(fake_index, mode):
    hits = search("participatory budgeting ballot", settings_for(fake_index), k=3, mode=mode)
    assert hits[0].doc == "06-boston-participatory-budgeting.pdf"
    assert [h.rank for h in hits] == [1, 2, 3] and hits == sorted(hits, key=lambda h: -h.score)


def test_keyword_mode_matches_word_forms_and_skips_stopwords(fake_index):
    assert query_terms("How do the cities fund Roofs?") == ["fund", "roofs"]
    assert fts_query(["green", "roof"]) == '"green" OR "roof"'
    hits = search(
        "green roofing", settings_for(fake_index), k=3, mode="keyword"
    )  # Porter: roofing -> roof
    assert hits[0].doc == "03-hamburg-green-roofs.pdf"
    with pytest.raises(PolicymineError, match="only stopwords"):
        search("how do the", settings_for(fake_index), mode="keyword")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "filters, check",
    [
        (Filters(country="DE"), lambda h: h.country == "DE"),
        (Filters(lang="en"), lambda h: h.lang == "en"),
        (Filters(year_from=2100), lambda h: False),
        (
            Filters(topic="energy", country="US"),
            lambda h: "energy" in h.topics and h.country == "US",
        ),
    ],
)
def test_filters_apply_inside_the_search_so_k_hits_come_back(fake_index, mode, filters, check):
    """With one hit per document, a filtered search returns one hit for every matching document."""
    settings = settings_for(fake_index, per_doc=1)
    with Searcher(settings) as searcher:
        expected = {searcher.store.rows([i])[i].doc for i in searcher.store.filter_ids(filters)}
        query = "solar energy housing budget city programme"
        hits = searcher.search(query, k=len(expected) or 1, filters=filters, mode=mode)
    assert all(check(h) for h in hits)
    if mode != "keyword":  # a keyword hit needs a query word in the text; dense ranks every passage
        assert {h.doc for h in hits} == expected


def test_per_doc_cap_is_a_setting(fake_index):
    hits = search("solar", settings_for(fake_index, per_doc=1), k=10, mode="hybrid")
    assert len({h.doc for h in hits}) == len(hits)


def test_explain_says_why_each_hit_matched(fake_index):
    hits = search("solar roof subsidy", settings_for(fake_index), k=3, explain=True)
    why = hits[0].explain
    assert why["fused"] == {
        "method": "rrf",
        "score": pytest.approx(hits[0].score, abs=1e-4),
        "rank": 1,
    }
    assert why["keyword"]["terms"] and set(why["keyword"]["terms"]) <= {"solar", "roof", "subsidy"}
    assert why["keyword"]["bm25"] == pytest.approx(sum(why["keyword"]["terms"].values()), abs=0.01)
    assert -1 <= why["dense"]["similarity"] <= 1 and why["topics"]
    assert "explain" not in search("solar", settings_for(fake_index), k=1)[0].to_dict()


def test_weighted_fusion_is_the_alternative(fake_index):
    hits = search(
        "solar roof subsidy", settings_for(fake_index, fusion="weighted"), k=3, explain=True
    )
    assert hits[0].explain["fused"]["method"] == "weighted" and 0 < hits[0].score <= 1


def test_unknown_topic_and_empty_query_are_errors(fake_index):
    with pytest.raises(PolicymineError, match="known topics: climate, energy") as raised:
        search("solar", settings_for(fake_index), filters=Filters(topic="solar"))
    assert not isinstance(raised.value, NotFoundError)  # a bad parameter: serve answers 400
    with pytest.raises(PolicymineError, match="empty query"):
        search("  ", settings_for(fake_index))


def test_similar_comes_from_other_documents(fake_index):
    settings = settings_for(fake_index)
    source = search("participatory budgeting residents vote", settings, k=1)[0]
    hits = similar(source.passage_id, settings, k=5)
    assert hits and all(h.doc != source.doc for h in hits)
    with pytest.raises(NotFoundError, match="no passage with id 999999"):
        similar(999999, settings)
    with pytest.raises(PolicymineError, match="not both"):
        similar(source.passage_id, settings, text="solar")


def test_similar_text_is_diversified_and_filtered(fake_index):
    settings = settings_for(fake_index, per_doc=1)
    hits = similar(
        None, settings, k=4, text="residents vote on budget projects", filters=Filters(country="US")
    )
    assert (
        len(hits) == 4 and len({h.doc for h in hits}) == 4 and all(h.country == "US" for h in hits)
    )
    assert hits[0].doc == "06-boston-participatory-budgeting.pdf"


@pytest.mark.slow
def test_real_model_finds_rooftop_solar_incentives(real_index):
    hits = search("incentives for rooftop solar", Settings(index_dir=real_index), k=5)
    assert hits[0].doc in (
        "01-berlin-solar.pdf",
        "07-denver-climate-fund.pdf",
        "10-portland-clean-energy-fund.pdf",
    )
    assert "solar" in hits[0].text.lower()
    top_docs = {h.doc for h in hits[:3]}
    assert "01-berlin-solar.pdf" in top_docs


@pytest.mark.slow
def test_real_model_cross_lingual_city_filter(real_index):
    hits = search(
        "residents decide how to spend part of the city budget", Settings(index_dir=real_index), k=3
    )
    assert hits[0].doc == "06-boston-participatory-budgeting.pdf"


def test_fragments_are_left_out_of_the_dense_list_only(fake_index, monkeypatch):
    search_module = importlib.import_module("policymine.search")

    monkeypatch.setattr(
        search_module, "MIN_DENSE_WORDS", 45
    )  # the briefs' passages have 40 words or more
    with Searcher(settings_for(fake_index)) as searcher:
        fragments = set(searcher.resources.fragments.tolist())
        short = searcher.store.rows(sorted(fragments))
        assert short and all(len(r.text.split()) < 45 for r in short.values())
        text = next(iter(short.values())).text
        dense = searcher.search(text, k=20, mode="dense")
        assert not fragments & {h.passage_id for h in dense}
