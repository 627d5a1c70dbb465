import base64
import re

import pytest
from conftest import REAL_CORPUS, needs_real_corpus, settings_for

from policymine.clean import comparable
from policymine.digest import build_digest, render_html, render_markdown, write_digest
from policymine.errors import PolicymineError
from policymine.store import Store


def assert_quotes_on_their_pages(digest, index_dir):
    """Every quote of the digest is in the extracted text of the page it cites."""
    with Store(index_dir) as store:
        for p in digest.practices:
            page = store.page_text(p.hit.doc, p.quote_page)
            assert page is not None and comparable(p.quote.removesuffix(" …")) in comparable(
                page
            ), (
                p.citation,
                p.quote,
            )


def test_topic_digest_clusters_with_citations(fake_index, tmp_path):
    digest = build_digest(settings_for(fake_index), topic="energy")
    assert digest.clusters and all(c.practices for c in digest.clusters)
    assert all("energy" in p.hit.topics for p in digest.practices)
    ids = [p.hit.passage_id for p in digest.practices]
    assert len(ids) == len(set(ids))
    assert_quotes_on_their_pages(digest, fake_index)
    markdown = render_markdown(digest, "d.png")
    first = digest.practices[0]
    assert (
        f"({first.hit.doc}), p. {first.quote_page}" in markdown
        and "| cluster | cities |" in markdown
    )
    assert markdown.startswith("# Practice digest: energy")
    page = write_digest(digest, tmp_path / "d.html").read_text()
    assert page.startswith("<!doctype html>") and "<script" not in page and "<table>" in page
    assert not re.search(
        r"(src|href)=['\"]?https?:", page
    )  # self-contained: nothing from the network
    png = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert png and base64.b64decode(png.group(1)).startswith(b"\x89PNG")
    md = write_digest(digest, tmp_path / "d.md")
    assert (tmp_path / "d.png").read_bytes().startswith(b"\x89PNG") and "](d.png)" in md.read_text()


def test_query_digest_city_filter_and_errors(fake_index, tmp_path):
    digest = build_digest(
        settings_for(fake_index), query="affordable housing quota for new development"
    )
    assert digest.practices and digest.query
    only = build_digest(
        settings_for(fake_index), query="affordable housing quota", cities=["munich"]
    )
    assert only.practices and {p.hit.city for p in only.practices} == {"Munich"}
    assert "Practice digest" in render_html(only)
    with pytest.raises(PolicymineError, match="--topic or --query"):
        build_digest(settings_for(fake_index))
    with pytest.raises(PolicymineError, match="must end in .md or .html"):
        write_digest(digest, tmp_path / "d.pdf")


@pytest.mark.slow
def test_digest_on_the_real_model(real_index):
    digest = build_digest(
        settings_for(real_index, model="minilm"), query="protecting residents from urban heat"
    )
    assert digest.practices and len(digest.cities) >= 2
    assert_quotes_on_their_pages(digest, real_index)


REAL_INDEX = "/tmp/real2"


@pytest.mark.slow
@pytest.mark.realcorpus
@needs_real_corpus
def test_real_corpus_digests_quote_their_pages(tmp_path):
    """On a copy of the prebuilt real-corpus index, when there is one (ingesting 43 PDFs takes 20 minutes)."""
    import shutil
    from pathlib import Path

    if not (Path(REAL_INDEX) / "policymine.db").exists():
        pytest.skip(f"no prebuilt index of {REAL_CORPUS} at {REAL_INDEX}")
    copy = tmp_path / "real"
    shutil.copytree(REAL_INDEX, copy)
    settings = settings_for(copy, model="minilm")
    for kwargs in (
        {"topic": "housing"},
        {"topic": "participation"},
        {"query": "protecting residents from extreme heat"},
    ):
        digest = build_digest(settings, **kwargs)
        assert len(digest.cities) >= 5
        assert_quotes_on_their_pages(digest, copy)
