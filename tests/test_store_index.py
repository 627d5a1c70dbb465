import numpy as np
import pytest

from policymine.errors import IndexMismatchError, IndexNotFoundError
from policymine.index import INDEX_FILE, VectorIndex, open_index
from policymine.store import SCHEMA_VERSION, Store
from policymine.types import Document, DocumentTags, Entity, Filters, Page, Passage


def _doc(path="/data/plan.pdf", sha="a" * 64):
    return Document(
        path=path, name="plan.pdf", sha256=sha, title="Plan", lang="en", pages=[Page(1, "text")]
    )


def _passages(n):
    return [
        Passage(
            doc="plan.pdf",
            page=1,
            text=f"passage {i}",
            topics={"energy": 0.7},
            entities=[Entity("Berlin", "GPE", "Berlin", "DE")],
        )
        for i in range(n)
    ]


def _vectors(n, dim=4, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


TAGS = DocumentTags(city="Berlin", country="DE", topics={"energy": 0.5}, entities=[])


def test_missing_index_says_how_to_create_one(tmp_path):
    with pytest.raises(IndexNotFoundError, match="policymine ingest"):
        Store(tmp_path / "nowhere")


def test_replace_document_swaps_passages_and_never_reuses_ids(tmp_path):
    with Store(tmp_path, create=True) as store:
        assert store.info()["schema_version"] == SCHEMA_VERSION
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        removed, first = store.replace_document(_doc(), TAGS, _passages(3), _vectors(3))
        assert removed == []
        removed, second = store.replace_document(
            _doc(sha="b" * 64), TAGS, _passages(2), _vectors(2)
        )
        assert removed == first and min(second) > max(first)
        assert list(store.passage_ids()) == second
        assert store.db.execute("SELECT COUNT(*) FROM entities").fetchone()[0] == 2
        row = store.rows(second)[second[0]]
        assert (row.city, row.topics) == ("Berlin", {"energy": 0.7})


def test_vector_index_add_remove_filtered_search():
    index = VectorIndex(4)
    vectors = _vectors(5)
    index.add([10, 11, 12, 13, 14], vectors)
    assert index.search(vectors[2], 1) == [(12, pytest.approx(1.0, abs=1e-5))]
    assert [i for i, _ in index.search(vectors[2], 5, allowed=[13, 14])] in ([13, 14], [14, 13])
    index.remove([12])
    assert 12 not in [i for i, _ in index.search(vectors[2], 5)]
    assert index.search(vectors[2], 3, allowed=[]) == []


def test_open_index_rebuilds_a_missing_or_stale_faiss_file(tmp_path):
    with Store(tmp_path, create=True) as store:
        _, ids = store.replace_document(_doc(), TAGS, _passages(3), _vectors(3))
        index = open_index(store, 4)
        assert sorted(index.ids()) == ids
        assert not (tmp_path / INDEX_FILE).exists()  # a reader never writes
        assert sorted(open_index(store, 4, save=True).ids()) == ids
        assert sorted(VectorIndex.load(tmp_path / INDEX_FILE, 4).ids()) == ids  # the writer does
        stale = VectorIndex(4)
        stale.add([999, ids[0]], _vectors(2))
        stale.save(tmp_path / INDEX_FILE)  # as after a crash between commit and save
        repaired = open_index(store, 4)
        assert sorted(repaired.ids()) == ids  # the stray 999 removed, the missing two added
        vectors = dict(zip(*store.vectors()))
        for i in ids[1:]:  # added from the database, not made up
            assert np.allclose(repaired.index.reconstruct(i), vectors[i])
        assert sorted(VectorIndex.load(tmp_path / INDEX_FILE, 4).ids()) == [
            ids[0],
            999,
        ]  # unchanged by a reader
        (tmp_path / INDEX_FILE).write_bytes(b"garbage")  # unreadable: rebuilt
        assert sorted(open_index(store, 4).ids()) == ids


def test_model_mismatch_is_a_clear_error(tmp_path):
    with Store(tmp_path, create=True) as store:
        store.set_meta(model="minilm", dim=384)
        store.index_meta().check_compatible(tmp_path, model=("minilm", 384))
        with pytest.raises(IndexMismatchError, match="built with model minilm .* --model minilm"):
            store.index_meta().check_compatible(tmp_path, model=("fake", 64))


def test_keyword_index_follows_passages_through_replace_and_delete(tmp_path):
    with Store(tmp_path, create=True) as store:
        store.replace_document(_doc(), TAGS, _passages(3), _vectors(3))
        assert [i for i, _ in store.keyword('"passage"', 10, Filters())] != []
        _, second = store.replace_document(_doc(sha="b" * 64), TAGS, _passages(2), _vectors(2))
        assert sorted(i for i, _ in store.keyword('"passage"', 10, Filters())) == second
        assert store.keyword('"passage"', 10, Filters(country="US")) == []
        store.delete_document("/data/plan.pdf")
        assert store.keyword('"passage"', 10, Filters()) == []


def test_migration_builds_the_keyword_index_for_an_older_database(tmp_path):
    with Store(tmp_path, create=True) as store:
        store.replace_document(_doc(), TAGS, _passages(2), _vectors(2))
        store.db.execute("DROP TABLE passages_fts")
        for trigger in ("passages_fts_insert", "passages_fts_delete"):
            store.db.execute(f"DROP TRIGGER {trigger}")
        store.db.execute("DROP INDEX passages_words")  # and what migration 4 added
        store.db.execute("ALTER TABLE passages DROP COLUMN words")
        store.db.execute("DROP TABLE practices")  # and what migration 5 added
        store.db.execute("DROP INDEX passages_boilerplate")  # and what migration 6 added
        store.db.execute("ALTER TABLE passages DROP COLUMN boilerplate")
        store.db.execute("DROP TABLE passages_exact")  # and what migration 7 added
        for trigger in ("passages_exact_insert", "passages_exact_delete"):
            store.db.execute(f"DROP TRIGGER {trigger}")
        store.set_meta(schema_version=2)
    with Store(tmp_path, write=True) as store:
        assert store.meta()["schema_version"] == str(SCHEMA_VERSION)
        assert len(store.keyword('"passage"', 10, Filters())) == 2


def _clustered(n, dim=32, seed=1):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    v = centres[rng.integers(0, 20, n)] + rng.normal(scale=0.4, size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_a_large_corpus_gets_an_ivf_index_with_exact_filtered_search(tmp_path, monkeypatch):
    """The index type follows the size (EXACT_MAX lowered so a test can cross it)."""
    import policymine.index as ix

    monkeypatch.setattr(ix, "EXACT_MAX", 1000)
    vectors = _clustered(4000)
    ids = np.arange(100, 4100)
    index = ix.build(32, ids, vectors)
    assert index.factory == ix.factory_for(4000) == f"IVF{ix.nlist_for(4000)},SQ8"
    assert ix.build(32, ids[:500], vectors[:500]).factory == "Flat"
    queries = _clustered(30, seed=2)
    exact = VectorIndex(32)
    exact.add(ids, vectors)
    recall = np.mean(
        [
            len({i for i, _ in index.search(q, 10)} & {i for i, _ in exact.search(q, 10)}) / 10
            for q in queries
        ]
    )
    assert recall >= 0.9
    allowed = ids[
        ids % 97 == 0
    ].tolist()  # ~40 scattered passages: a selector alone would miss most
    for q in queries[:5]:
        assert [i for i, _ in index.search(q, 10, allowed)] == [
            i for i, _ in exact.search(q, 10, allowed)
        ]
    index.remove([int(ids[0])])
    assert int(ids[0]) not in index.ids() and len(index) == 3999
    index.save(tmp_path / "x.faiss")
    loaded = VectorIndex.load(tmp_path / "x.faiss", 32)
    assert loaded.factory == index.factory and sorted(loaded.ids()) == sorted(index.ids())


def test_open_index_switches_type_when_the_corpus_outgrows_it(tmp_path, monkeypatch):
    import policymine.index as ix

    with Store(tmp_path, create=True) as store:
        store.replace_document(_doc(), TAGS, _passages(60), _clustered(60, dim=4))
        assert open_index(store, 4).factory == "Flat"
        monkeypatch.setattr(ix, "EXACT_MAX", 50)
        monkeypatch.setattr(ix, "TRAIN_PER_LIST", 3)
        assert open_index(store, 4).factory == ix.factory_for(60) != "Flat"
        assert open_index(store, 4).factory == ix.factory_for(60)  # saved, and loaded as it is


def test_neighbours_are_the_passages_around_one_in_its_document_a_page_apart_at_most(tmp_path):
    pages = [1, 1, 2, 5, 5]  # the fourth passage is three pages after the third
    passages = _passages(5)
    for passage, page in zip(passages, pages):
        passage.page = page
    with Store(tmp_path, create=True) as store:
        _, first = store.replace_document(_doc(), TAGS, passages, _vectors(5))
        _, second = store.replace_document(
            _doc(path="/data/other.pdf", sha="b" * 64), TAGS, _passages(2), _vectors(2)
        )
        around = store.neighbours([*first, second[0]])
    a, b, c, d, e = first
    assert {k: sorted(v) for k, v in around.items()} == {
        a: [b],
        b: [a, c],
        c: [b],  # d lies three pages on
        d: [e],
        e: [d],
        second[0]: [second[1]],  # never the last passage of the document before
    }


def test_a_passage_is_scored_with_its_neighbours(tmp_path, monkeypatch):
    import importlib
    from types import SimpleNamespace

    search = importlib.import_module("policymine.search")  # the module, not the function

    vectors = np.array(
        [[1, 0, 0, 0], [0.6, 0.8, 0, 0], [0.7, 0, 0.714, 0]], dtype=np.float32
    )  # a passage on the query, one half on it after it, and one in another document
    with Store(tmp_path, create=True) as store:
        _, (_on, after) = store.replace_document(_doc(), TAGS, _passages(2), vectors[:2])
        _, (other,) = store.replace_document(
            _doc(path="/data/other.pdf", sha="b" * 64), TAGS, _passages(1), vectors[2:]
        )
        searcher = SimpleNamespace(store=store)
        query = np.array([1, 0, 0, 0], dtype=np.float32)
        dense = [(other, 0.7), (after, 0.6)]  # the passage on the query is left out: a fragment
        monkeypatch.setattr(search, "CONTEXT_WEIGHT", 0.0)
        assert search.Searcher._in_context(searcher, query, dense) == dense
        monkeypatch.setattr(search, "CONTEXT_WEIGHT", 0.5)
        rescored = search.Searcher._in_context(searcher, query, dense)
    assert [pid for pid, _ in rescored] == [after, other]  # its neighbour speaks for it
    assert rescored[0][1] == pytest.approx(1.1 / np.hypot(1.1, 0.8), abs=1e-5)
