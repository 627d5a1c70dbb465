import sqlite3

from conftest import ROOT, settings_for

from policymine.clean import comparable
from policymine.evaluate import evaluate_practices
from policymine.practices import (
    DETECTOR_VERSION,
    build_practices,
    detect,
    instrument_of,
    list_practices,
    record,
    status_of,
)
from policymine.store import Store
from policymine.types import Entity, Filters

PRACTICE = (
    "In 2021 the City launched a rebate programme that funded 2,000 heat pumps for $4.5 million. "
    "The Council adopted the ordinance in March."
)


def test_detector_separates_practice_from_context():
    assert detect(PRACTICE) >= 0.5
    assert (
        detect(
            "Emissions rose by 12 percent compared to 1990, according to the inventory (Smith et al., 2019)."
        )
        < 0.5
    )
    assert (
        instrument_of("The ordinance requires all new buildings to install solar panels.")[0]
        == "regulation"
    )
    assert instrument_of("Die Stadt fördert private Dachbegrünungen mit einem Zuschuss.") == (
        "funding_incentive",
        "fördert",
    )
    assert status_of("Der Rat hat das Programm 2019 beschlossen.") == ("adopted", "beschlossen")
    assert status_of("The programme will start next year.")[0] == "planned"
    assert status_of("Residents like parks.") == (None, None)


def test_record_fields_carry_evidence_and_never_invent():
    page = comparable(f"Heading\n{PRACTICE}\nFootnote")
    rec = record(
        7,
        PRACTICE,
        "Heat pump rebates",
        [Entity("the City", "ORG"), Entity("Hanover", "GPE")],
        {3: page},
        3,
    )
    assert rec and rec.title == "Heat pump rebates" and rec.page == 3
    assert rec.instrument == "funding_incentive" and rec.status == "adopted" and rec.years == [2021]
    assert "$4.5 million" in rec.quantities and "2,000 heat pumps" in rec.quantities
    assert (
        "Hanover" not in rec.actors
    )  # an entity the passage does not contain is not an actor of it
    assert (
        all(q in PRACTICE for q in rec.evidence["quantities"])
        and rec.evidence["status"] in PRACTICE
    )
    assert comparable(rec.quote) in page
    bare = "The City will require cool roofs on all new municipal buildings and the programme starts soon enough for us."
    rec = record(8, bare, None, [], {1: comparable(bare)}, 1, score=0.9)
    assert (
        rec
        and rec.years == []
        and rec.quantities == []
        and rec.title
        == "Require cool roofs on all new municipal buildings"  # the action, not "The City will"
    )
    assert (
        record(9, PRACTICE, None, [], {1: "another page entirely"}, 1) is None
    )  # no quote on the cited page


def test_records_stored_at_ingest_and_backfilled(fake_index, tmp_path):
    with Store(fake_index) as store:
        assert store.meta()["practices"] == DETECTOR_VERSION
        stored = store.db.execute("SELECT COUNT(*) FROM practices").fetchone()[0]
    assert stored > 10
    # an index from before migration 5: the records come on first use
    copy = tmp_path / "old"
    copy.mkdir()
    with (
        sqlite3.connect(fake_index / "policymine.db") as src,
        sqlite3.connect(copy / "policymine.db") as dst,
    ):
        src.backup(dst)
        dst.execute("DELETE FROM practices")
        dst.execute("DELETE FROM meta WHERE key = 'practices'")
    found = list_practices(settings_for(copy), Filters(topic="housing"), limit=5)
    assert found and all("housing" in p.hit.topics for p in found)
    with Store(copy, write=True) as store:
        assert build_practices(store) == stored


def test_every_stored_quote_is_on_its_page(fake_index):
    with Store(fake_index) as store:
        for _, rec in store.practices():
            doc = store.db.execute(
                "SELECT d.name FROM passages p JOIN documents d ON d.id = p.doc_id WHERE p.id = ?",
                (rec["passage_id"],),
            ).fetchone()[0]
            assert comparable(rec["quote"].removesuffix(" …")) in comparable(
                store.page_text(doc, rec["page"])
            )


def test_eval_practices_on_the_labelled_set():
    report = evaluate_practices(ROOT / "eval/practices.jsonl", "test")
    assert report.rows == 120 and report.gold == 39
    assert report.detection.precision > 0.4 and report.detection.recall > 0.4


def test_a_document_and_its_records_are_stored_together(tmp_path, monkeypatch):
    """Records are built inside the document's transaction: if building them fails, the
    document is not stored either (and is reported), so no kill can leave one without the other."""
    from conftest import CORPUS

    from policymine import pipeline
    from policymine.pipeline import ingest

    settings = settings_for(tmp_path / "ix")
    ingest([CORPUS / "01-berlin-solar.pdf"], settings)

    def broken(*args):
        raise RuntimeError("detector crashed")

    monkeypatch.setattr(pipeline, "document_records", broken)
    report = ingest([CORPUS / "07-denver-climate-fund.pdf"], settings)
    [failed] = report.failed
    assert "detector crashed" in failed.reason
    with Store(settings.index_dir) as store:
        assert [d.name for d in store.documents()] == ["01-berlin-solar.pdf"]
        orphans = store.db.execute(
            "SELECT COUNT(*) FROM passages p LEFT JOIN documents d ON d.id = p.doc_id WHERE d.id IS NULL"
        ).fetchone()[0]
        assert orphans == 0
    monkeypatch.undo()
    ingest([CORPUS / "07-denver-climate-fund.pdf"], settings)
    with Store(settings.index_dir, write=True) as store:
        stored = store.db.execute("SELECT COUNT(*) FROM practices").fetchone()[0]
        assert stored == build_practices(store)  # what ingest stored is what a rebuild computes


# Titles name the measure: a code and name, a specific heading, the instrument's own words,
# the stated action; never a generic or rhetorical heading.
TITLES = [
    (
        None,
        "Maßnahme 3.2: Solardachkataster. Die Stadt erstellt ein Kataster.",
        None,
        "Maßnahme 3.2: Solardachkataster",
    ),
    (
        None,
        "Policy H3: Affordable housing. New developments shall provide 30 percent affordable units.",
        "regulation",
        "Policy H3: Affordable housing",
    ),
    (
        "Equity and health",
        "The City adopted a tree protection ordinance that requires permits.",
        "regulation",
        "Tree protection ordinance",
    ),
    (
        "Subsidies that fill the gaps",
        "Die Stadt legt ein Förderprogramm für Dachbegrünung auf.",
        "funding_incentive",
        "Förderprogramm für Dachbegrünung",
    ),
    (
        "Heat pump rebates",
        "In 2021 the City launched a rebate programme.",
        "funding_incentive",
        "Heat pump rebates",
    ),
    (
        "Overview",
        "The city will launch a cooling centre programme for seniors during heat waves.",
        "programme_service",
        "Cooling centre programme for seniors",
    ),
    (
        "3.1 Background",
        "The County will require all new buildings to install solar panels on roofs.",
        None,
        "Require all new buildings to install solar panels",
    ),
]


def test_titles_name_the_measure():
    from policymine.practices import _title

    for section, text, instrument, expected in TITLES:
        assert _title(section, text, text, instrument)[0] == expected, (section, text)


def test_near_duplicates_in_a_document_merge_into_one_record_citing_every_page():
    import numpy as np

    from policymine.practices import merge_duplicates

    a, b, c = np.eye(3, dtype=np.float32)
    near_a = (a + 0.05 * b) / np.linalg.norm(a + 0.05 * b)
    records = [
        {"passage_id": 1, "score": 0.9, "title": "Solar obligation", "page": 4},
        {
            "passage_id": 5,
            "score": 0.7,
            "title": "Table of measures",
            "page": 30,
        },  # its summary row
        {"passage_id": 8, "score": 0.8, "title": "Solar obligation", "page": 44},  # its cost table
        {"passage_id": 9, "score": 0.8, "title": "Green roof grants", "page": 12},
    ]
    merged = merge_duplicates(records, {1: a, 5: near_a, 8: c, 9: b})
    assert [r["passage_id"] for r in merged] == [1, 9]
    assert merged[0]["pages"] == [4, 30, 44] and sorted(merged[0]["merged"]) == [5, 8]
    assert merged[1]["pages"] == [12] and merged[1]["merged"] == []


def test_a_changed_detector_version_rebuilds_the_stored_records(fake_index, tmp_path, monkeypatch):
    import shutil

    from policymine import practices

    copy = tmp_path / "ix"
    shutil.copytree(fake_index, copy)
    with Store(copy) as store:
        before = store.db.execute("SELECT COUNT(*) FROM practices").fetchone()[0]
    monkeypatch.setattr(practices, "detector_version", lambda model: "test-2")
    calls = []
    real = practices.build_practices
    monkeypatch.setattr(
        practices, "build_practices", lambda store, ids=None: calls.append(1) or real(store, ids)
    )
    found = list_practices(settings_for(copy), limit=3)
    assert calls == [1] and found
    with Store(copy) as store:
        assert store.meta()["practices"] == "test-2"
        assert store.db.execute("SELECT COUNT(*) FROM practices").fetchone()[0] == before
    list_practices(settings_for(copy), limit=3)
    assert calls == [1]  # rebuilt once, not on every read
