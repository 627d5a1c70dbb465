import shutil

import pytest
from conftest import CORPUS, make_bad_inputs, settings_for

from policymine.errors import ExtractionError
from policymine.index import open_index
from policymine.pipeline import discover, ingest, tag_files
from policymine.store import Store


def _state(index_dir):
    with Store(index_dir) as store:
        docs = {d.name: d for d in store.documents()}
        ids = sorted(store.passage_ids())
        faiss_ids = sorted(open_index(store, 64).ids())
    return docs, ids, faiss_ids


def test_discover_finds_supported_files_recursively(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in (
        "a/x.pdf",
        "a/b/y.md",
        "a/b/z.txt",
        "a/skip.docx",
        "a/.hidden.pdf",
        "a/README.md",
        "a/b/LICENSE.txt",
    ):
        (tmp_path / name).write_text("x")
    assert sorted(p.name for p in discover([tmp_path / "a"])) == ["x.pdf", "y.md", "z.txt"]
    assert [p.name for p in discover([tmp_path / "a" / "README.md"])] == [
        "README.md"
    ]  # named: taken


def test_incremental_ingest_unchanged_changed_pruned(corpus_copy, tmp_path):
    settings = settings_for(tmp_path / "ix")
    first = ingest([corpus_copy], settings)
    assert first.summary()["added"] == 3 and not first.failed
    docs, ids, faiss_ids = _state(settings.index_dir)
    assert ids == faiss_ids and len(ids) == first.summary()["passages"]

    again = ingest([corpus_copy], settings)
    assert again.summary()["skipped"] == 3 and again.summary()["added"] == 0
    assert again.seconds < 1.0

    changed = corpus_copy / "01-berlin-solar.pdf"
    shutil.copy(CORPUS / "03-hamburg-green-roofs.pdf", changed)  # new content under the old name
    update = ingest([corpus_copy], settings)
    assert update.summary()["updated"] == 1 and update.summary()["skipped"] == 2
    docs2, ids2, faiss_ids2 = _state(settings.index_dir)
    old_berlin = set(ids) - set(ids2)
    assert old_berlin and not old_berlin & set(faiss_ids2)
    assert ids2 == faiss_ids2
    assert docs2["01-berlin-solar.pdf"].sha256 != docs["01-berlin-solar.pdf"].sha256

    (corpus_copy / "06-boston-participatory-budgeting.pdf").unlink()
    kept = ingest([corpus_copy], settings)
    assert kept.summary()["removed"] == 0 and len(_state(settings.index_dir)[0]) == 3
    pruned = ingest([corpus_copy], settings, prune=True)
    assert pruned.summary()["removed"] == 1
    docs3, ids3, faiss_ids3 = _state(settings.index_dir)
    assert (
        set(docs3) == {"01-berlin-solar.pdf", "07-denver-climate-fund.pdf"} and ids3 == faiss_ids3
    )


def test_bad_files_are_reported_and_the_rest_is_ingested(corpus_copy, tmp_path):
    settings = settings_for(tmp_path / "ix", workers=2)
    ingest([corpus_copy / "07-denver-climate-fund.pdf"], settings)
    before = _state(settings.index_dir)[1]
    bad = make_bad_inputs(tmp_path / "bad")
    report = ingest([corpus_copy, *(path for path, _ in bad.values())], settings)
    reasons = {f.path: f.reason for f in report.failed}
    assert len(reasons) == len(bad)
    for path, reason in bad.values():
        assert reason in reasons[str(path)]
    assert report.summary()["added"] == 2 and report.summary()["skipped"] == 1
    docs, ids, faiss_ids = _state(settings.index_dir)
    assert set(before) <= set(ids) and ids == faiss_ids and len(docs) == 3


def test_tag_files_yields_records_and_errors(tmp_path):
    bad = make_bad_inputs(tmp_path / "bad")
    records = list(
        tag_files([CORPUS / "02-munich-sobon.pdf", bad["empty"][0]], settings_for(tmp_path / "ix"))
    )
    [record] = [r for r in records if isinstance(r, dict)]
    [error] = [r for r in records if isinstance(r, ExtractionError)]
    assert record["city"] == "Munich" and record["passages"] and "housing" in record["topics"]
    assert error.reason == "empty file"
    assert not (tmp_path / "ix").exists()  # tagging never writes an index


@pytest.fixture(scope="module")
def slow_pdf(tmp_path_factory):
    """4,000 tiny pages: half a minute to extract, far beyond the limits the tests set."""
    from conftest import long_pdf

    return long_pdf(tmp_path_factory.mktemp("slow") / "slow.pdf", 4000)


def test_a_file_over_the_time_limit_is_killed_and_reported_and_the_rest_go_on(tmp_path, slow_pdf):
    import multiprocessing

    from policymine.executors.local import extract_all

    slow = slow_pdf
    quick = tmp_path / "quick.md"  # a text file: done in milliseconds however busy the machine
    quick.write_text(
        "# Heat plan\n\nThe city plants trees along every school route to cool the streets.\n"
    )
    settings = settings_for(tmp_path / "ix", workers=2, file_timeout=2)
    results = dict(extract_all([slow, quick], settings))
    assert str(results[slow]) == f"{slow}: timed out after 2 s"
    assert results[quick].pages
    assert not multiprocessing.active_children()  # the stuck worker was killed, the other stopped
    report = ingest([slow], settings)  # and in an ingest's report
    assert [(f.path, f.reason) for f in report.failed] == [(str(slow), "timed out after 2 s")]


def test_a_worker_that_dies_on_a_file_is_reported_and_replaced(tmp_path, slow_pdf):
    import multiprocessing
    import os
    import signal
    import threading
    import time

    from policymine.executors.local import extract_all

    slow = slow_pdf  # the biggest file, so the one worker starts on it

    def crash_the_worker():  # as a segfault in a PDF library would
        deadline = time.monotonic() + 30
        while not multiprocessing.active_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(4.0)  # booted (~1 s) and well into the file
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)

    killer = threading.Thread(target=crash_the_worker)
    killer.start()
    results = dict(
        extract_all([CORPUS / "01-berlin-solar.pdf", slow], settings_for(tmp_path / "ix"))
    )
    killer.join()
    assert str(results[slow]) == f"{slow}: extraction worker crashed (exit code -9)"
    assert results[CORPUS / "01-berlin-solar.pdf"].pages  # the replacement worker did the next file
    assert not multiprocessing.active_children()


def test_every_configured_executor_is_registered_and_an_unknown_one_is_a_config_error(tmp_path):
    from policymine import config, executors
    from policymine.errors import ConfigError

    assert tuple(executors.EXECUTORS) == config.EXECUTORS
    settings = settings_for(tmp_path / "ix")
    object.__setattr__(settings, "executor", "spark")  # past Settings' own check
    with pytest.raises(ConfigError, match=r"^executor must be one of local, ray, got 'spark'$"):
        executors.analysed([], settings)


def test_largest_first_orders_files_by_size_with_missing_ones_last(tmp_path):
    from policymine.executors import largest_first

    small, big, missing = tmp_path / "small.md", tmp_path / "big.md", tmp_path / "missing.pdf"
    small.write_text("a")
    big.write_text("a" * 100)
    assert largest_first([missing, small, big]) == [big, small, missing]
