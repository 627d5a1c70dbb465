"""Search precision where users notice it: an exact identifier found by words stays on top, a
query with no real match says so, "heat" does not find "heating", filters say what is wrong,
and a search uses the model the index was built with."""

import importlib
import json
import shutil

import pytest
from conftest import FakeEmbedder, settings_for
from typer.testing import CliRunner

from policymine.cli import app
from policymine.errors import PolicymineError
from policymine.keyword import KeywordIndex
from policymine.pipeline import ingest, reembed
from policymine.search import Searcher, fts_query, identifiers, query_terms, split_terms
from policymine.store import Store
from policymine.types import Filters

search_module = importlib.import_module("policymine.search")  # the module, not the function
FILLER = (
    "The city council reviewed the street lighting contract for the coming years and asked the"
    " public works department to report on costs, energy use and the schedule of the street"
    " lighting contract every quarter, so that residents can follow the street lighting contract."
)
DOCS = {
    "contract.md": "# Procurement\n\nThe maintenance of lamps in the harbour district was awarded"
    " under Contract No. 13920 after a tender in which four firms took part; the firm also"
    " repairs the poles, replaces broken glass, answers calls from residents at night, keeps a"
    " log of every repair and reports twice a year to the procurement office of the city.",
    **{f"lighting-{i}.md": f"# Lighting {i}\n\n{FILLER}\n\n{FILLER}" for i in range(4)},
    "heat.md": "# Heat\n\nDuring heat waves the city opens cooling centres in libraries and"
    " community halls, extends their hours, and sends outreach teams to older residents who"
    " live alone, because extreme heat is the deadliest weather hazard in the region today.",
    "heating.md": "# Heating\n\nOwners who replace an oil heating system with a ground-source pump or a"
    " connection to the district heating network receive a grant, and the energy agency"
    " advises them on heating costs, insulation and the order in which to renovate a house.",
}


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("precision")
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    index_dir = folder / "ix"
    report = ingest([folder], settings_for(index_dir))
    assert report.count("added") == len(DOCS)
    return index_dir


def test_identifiers_are_codes_and_long_numbers_not_years_or_short_numbers():
    assert identifiers(query_terms("Contract No. 13920")) == ["13920"]
    assert identifiers(query_terms("SB100 and PM10 targets")) == ["sb100", "pm10"]
    assert identifiers(query_terms("cut 95 percent of CO2 by 2050 as in the 1990s")) == []


def test_an_exact_identifier_that_keyword_search_ranks_first_stays_first(small_index, monkeypatch):
    query = "street lighting contract 13920"
    with Searcher(settings_for(small_index)) as searcher:
        keyword = searcher.search(query, 5, mode="keyword")
        assert keyword[0].doc == "contract.md"
        assert searcher.search(query, 5)[0].doc == "contract.md"
        # the test can fail: without the rescue, passages near in meaning outvote it
        monkeypatch.setattr(search_module, "RESCUE_DEPTH", 0)
        assert searcher.search(query, 5)[0].doc != "contract.md"


def test_a_query_with_no_real_match_says_so(small_index, monkeypatch):
    # the fake model's similarities mean nothing: a floor no query reaches leaves the words
    monkeypatch.setitem(search_module.FLOOR, "fake", 0.99)
    with Searcher(settings_for(small_index)) as searcher:
        noise = searcher.search("xyzzyqwerty plugh", 3)
        assert noise and all(h.nearest for h in noise)
        assert noise[0].to_dict()["nearest"] is True
        real = searcher.search("street lighting contract 13920", 3)
        assert real and not any(h.nearest for h in real)
        assert "nearest" not in real[0].to_dict()
    runner = CliRunner()
    monkeypatch.setenv("POLICYMINE_INDEX_DIR", str(small_index))
    result = runner.invoke(app, ["search", "xyzzyqwerty plugh", "-k", "2", "--model", "fake"])
    assert result.exit_code == 0, result.output
    assert "no close matches; nearest:" in result.stderr


@pytest.mark.parametrize("keywords_in_memory", [False, True])
def test_heat_does_not_find_heating_nor_heating_heat(small_index, keywords_in_memory):
    assert split_terms(["heat", "waves"]) == (["waves"], ["heat", "heats", "heated"])
    with Searcher(settings_for(small_index)) as searcher:
        if keywords_in_memory:
            searcher.resources.keywords = KeywordIndex(small_index)
        try:
            assert {h.doc for h in searcher.search("heat", 5, mode="keyword")} == {"heat.md"}
            assert {h.doc for h in searcher.search("heating", 5, mode="keyword")} == {"heating.md"}
            # other words are still stemmed: "pumps" finds "pump"
            assert {h.doc for h in searcher.search("heat pumps", 5, mode="keyword")} == {
                "heat.md",
                "heating.md",
            }
        finally:
            if keywords_in_memory:
                searcher.resources.keywords.close()


def test_words_matched_as_written_rank_the_same_from_memory_and_sql(small_index):
    keywords, store = KeywordIndex(small_index), Store(small_index)
    try:
        for query in ("heat waves", "district heating costs", "heating heat", "heat"):
            stemmed, exact = split_terms(query_terms(query))
            memory = keywords.search(stemmed, 10, None, exact)
            sql = store.keyword(
                fts_query(stemmed) if stemmed else None, 10, Filters(), exact=fts_query(exact)
            )
            assert memory == sql, query
    finally:
        keywords.close()
        store.close()


def test_topics_are_case_free_and_a_reversed_year_range_is_an_error(fake_index):
    with Searcher(settings_for(fake_index)) as searcher:
        lower = searcher.search("city programme", 3, Filters(topic="energy"))
        assert lower == searcher.search("city programme", 3, Filters(topic="Energy"))
        assert searcher.check_topic("ENERGY") == "energy"
        with pytest.raises(PolicymineError, match="unknown topic 'energie'"):
            searcher.search("city programme", 3, Filters(topic="energie"))
        with pytest.raises(PolicymineError, match="--year-from 2020 is after --year-to 2010"):
            searcher.search("city programme", 3, Filters(year_from=2020, year_to=2010))
        with pytest.raises(PolicymineError, match="--year-from 2020 is after --year-to 2010"):
            searcher.similar(text="city programme", filters=Filters(year_from=2020, year_to=2010))


def test_search_uses_the_model_the_index_records(small_index, tmp_path, monkeypatch):
    from policymine.embed import MODELS, ModelSpec

    class Other(FakeEmbedder):
        name, dim = "other", 32

    monkeypatch.setitem(MODELS, "other", ModelSpec(Other.name, Other.dim, Other))
    copy = tmp_path / "copy"
    shutil.copytree(small_index, copy)
    reembed(settings_for(copy, model="other"))
    runner = CliRunner()
    # no --model: the index's own (the configured default, minilm, would not fit)
    result = runner.invoke(app, ["search", "heat", "--index-dir", str(copy), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)
    # a --model that is not the index's is still an error that names the right one
    result = runner.invoke(app, ["search", "heat", "--index-dir", str(copy), "--model", "fake"])
    assert result.exit_code != 0 and "was built with model other" in result.stderr
