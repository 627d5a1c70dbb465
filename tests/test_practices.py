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
        and rec.title.startswith("The City will require")
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
