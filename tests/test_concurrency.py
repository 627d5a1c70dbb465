"""Concurrent use of one index: searches while an ingest writes, and a second ingest refused.

The ingest runs as a real `policymine` child process (fake embedder, slowed down); searches
run here, through `Searcher` and through the `policymine search` command.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

from conftest import CORPUS, child_env, fake_cli, settings_for
from test_crash import DELAY, assert_consistent, contents, documents_in, start_ingest

from policymine.search import Searcher

QUERIES = [
    "rooftop solar incentives",
    "participatory budgeting",
    "green roofs and stormwater",
    "climate fund",
]
MODES = ("hybrid", "dense", "keyword")


def _results(index_dir) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(query, mode) -> hits as (document, passage text), from one Searcher."""
    with Searcher(settings_for(index_dir)) as searcher:
        return {
            (q, m): [(h.doc, h.text) for h in searcher.search(q, k=5, mode=m)]
            for q in QUERIES
            for m in MODES
        }


def test_search_during_an_ingest_sees_whole_documents_and_a_second_ingest_is_refused(
    tmp_path, fake_index
):
    """fake_index is the same corpus ingested in one go: what every search is checked against."""
    corpus = tmp_path / "docs"
    shutil.copytree(CORPUS, corpus)
    total = len(list(corpus.glob("*.pdf")))
    index_dir = tmp_path / "ix"
    reference = {name: texts for name, (texts, _) in contents(fake_index).items()}

    writer = start_ingest(corpus, index_dir, POLICYMINE_TEST_EMBED_DELAY=DELAY)
    deadline = time.monotonic() + 60
    while documents_in(index_dir) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)

    started = time.monotonic()
    second = subprocess.run(
        fake_cli("ingest", corpus, "--index-dir", index_dir, "-q"),
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert second.returncode == 1 and time.monotonic() - started < 30
    assert second.stderr.strip() == (
        f"error: another ingest (pid {writer.pid}) is writing to {index_dir}; wait for it to finish"
    )
    command = subprocess.Popen(
        fake_cli("search", "solar incentives", "--index-dir", index_dir, "--json"),
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    partial_views = 0
    while writer.poll() is None:
        before = documents_in(index_dir)
        for hits in _results(index_dir).values():
            for doc, text in hits:
                assert text in reference[doc]  # a passage of a document that is wholly in
        partial_views += 0 < before < total
    assert writer.returncode == 0, writer.stderr.read()
    assert partial_views >= 2, "the searches should have run while the ingest was half done"

    out, errors = command.communicate(timeout=60)
    assert command.returncode == 0, errors
    for hit in json.loads(out):
        assert hit["text"] in reference[hit["doc"]]

    assert_consistent(index_dir)
    assert _results(index_dir) == _results(
        fake_index
    )  # once done, the same answers as one uninterrupted run
