"""Keyword search from postings in memory must rank exactly as FTS5's bm25() in SQLite does."""

from pathlib import Path

import pytest
from conftest import CORPUS, REAL_CORPUS, needs_real_corpus, settings_for

from policymine.keyword import KeywordIndex
from policymine.pipeline import ingest
from policymine.search import Searcher, fts_query, query_terms
from policymine.store import Store
from policymine.types import Filters

QRELS = Path(__file__).resolve().parents[1] / "eval" / "qrels.tsv"
QUERIES = list(
    dict.fromkeys(
        line.split("\t")[1] for line in QRELS.read_text(encoding="utf-8").splitlines()[1:]
    )
)
# Words the demo briefs share (ties in score), stems ("planning" ~ "plans"), German with
# accents, digits, and a word no passage has.
EXTRA = [
    "planning plans planned",
    "Förderung Klimaschutz Bürger",
    "2030 2045 CO2",
    "solar solar roof",
    "zyzzyva budget",
]
FILTERS = [
    Filters(country="DE"),
    Filters(topic="energy"),
    Filters(city="Boston"),
    Filters(year_from=2020, doc="denver"),
]


def _same_as_sql(index_dir: Path, queries: list[str], filters: list[Filters]) -> int:
    """How many (query, filter) pairs were compared; asserts the lists are identical, scores to the bit."""
    keywords, store = KeywordIndex(index_dir), Store(index_dir)
    compared = 0
    try:
        for query in queries:
            terms = query_terms(query)
            for f in [Filters(), *filters]:
                memory = keywords.search(terms, 100, store.filter_ids(f))
                assert memory is not None, query
                assert memory == store.keyword(fts_query(terms), 100, f), (query, f)
                compared += 1
    finally:
        keywords.close()
        store.close()
    return compared


def test_memory_ranks_exactly_as_fts5(fake_index):
    assert _same_as_sql(fake_index, QUERIES + EXTRA, FILTERS) == 5 * len(QUERIES + EXTRA)


@needs_real_corpus
@pytest.mark.slow
@pytest.mark.realcorpus
def test_memory_ranks_exactly_as_fts5_on_the_real_corpus(tmp_path):
    files = sorted(REAL_CORPUS.glob("*.pdf"))[:6]
    ingest(files, settings_for(tmp_path / "ix", workers=2))
    assert _same_as_sql(
        tmp_path / "ix", QUERIES, [Filters(country="US"), Filters(lang="de")]
    ) == 3 * len(QUERIES)


def test_a_word_the_tokenizer_splits_is_left_to_sql(fake_index):
    keywords = KeywordIndex(fake_index)
    try:
        assert keywords.search(["solar"], 5)
        assert (
            keywords.search(["e_bike", "solar"], 5) is None
        )  # a phrase of two tokens needs positions
    finally:
        keywords.close()


def test_a_write_by_another_process_sends_queries_back_to_sql(tmp_path):
    settings = settings_for(tmp_path / "ix")
    ingest([CORPUS / "01-berlin-solar.pdf"], settings)
    with Searcher(settings) as searcher:
        searcher.resources.keywords = KeywordIndex(settings.index_dir)
        try:
            assert (
                searcher.resources.keywords.search(["participatory"], 10) == []
            )  # not a word of the Berlin brief
            ingest([CORPUS / "06-boston-participatory-budgeting.pdf"], settings)
            assert (
                searcher.resources.keywords.search(["participatory"], 10) is None
            )  # stale: SQL answers
            hits = searcher.search("participatory budget", k=3, mode="keyword")
            assert hits and hits[0].doc == "06-boston-participatory-budgeting.pdf"
        finally:
            searcher.resources.keywords.close()


def test_searcher_hits_are_the_same_with_postings_in_memory(fake_index):
    settings = settings_for(fake_index)
    with Searcher(settings) as sql, Searcher(settings) as memory:
        memory.resources.keywords = KeywordIndex(fake_index)
        try:
            for query in QUERIES[:10] + EXTRA:
                for mode in ("hybrid", "keyword"):
                    assert memory.search(query, k=10, mode=mode) == sql.search(
                        query, k=10, mode=mode
                    ), (query, mode)
        finally:
            memory.resources.keywords.close()
