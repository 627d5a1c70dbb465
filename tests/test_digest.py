import base64
import csv
import os
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import REAL_CORPUS, needs_real_corpus, settings_for

from policymine.clean import comparable
from policymine.digest import (
    OTHERS,
    build_digest,
    gate_for,
    group_practices,
    key_figure,
    render_html,
    render_markdown,
    write_digest,
    year_of,
)
from policymine.errors import PolicymineError
from policymine.practices import record
from policymine.store import Store
from policymine.types import Hit, Practice


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


def test_query_digest_keeps_only_what_passes_the_gate(fake_index, tmp_path):
    settings = settings_for(fake_index)
    digest = build_digest(settings, query="residents vote on the budget", max_practices=40)
    gate = gate_for("fake")
    assert digest.practices and all(p.hit.score >= gate.threshold for p in digest.practices)
    everything = build_digest(settings, topic="energy")
    assert len(digest.practices) < 40 and len(everything.practices) < 40  # a gate, not a count
    capped = build_digest(settings, query="residents vote on the budget", max_practices=1)
    assert len(capped.practices) == 1  # --limit is a maximum


def test_nothing_qualifies_writes_nothing_and_says_what_was_searched(fake_index, tmp_path):
    from typer.testing import CliRunner

    from policymine.cli import app

    digest = build_digest(settings_for(fake_index), query="zebra migration across antarctica")
    assert not digest.practices and not digest.clusters
    with pytest.raises(PolicymineError, match="“zebra migration across antarctica”"):
        write_digest(digest, tmp_path / "empty.html")
    assert not (tmp_path / "empty.html").exists()
    out = tmp_path / "none.html"
    args = ["digest", "--query", "zebra migration across antarctica", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--index-dir", str(fake_index), "--model", "fake"])
    assert result.exit_code == 1 and not out.exists()
    message = result.output.strip()
    assert "\n" not in message and "no practice record answers" in message
    assert "zebra migration across antarctica" in message and str(fake_index) in message


def test_html_citations_link_to_the_pdf_page(fake_index, tmp_path):
    digest = build_digest(settings_for(fake_index), topic="energy")
    page = render_html(digest)
    for p in digest.practices:
        link = digest.link(p)
        assert link and link.startswith("file:///") and f"href='{link}'" in page
        if p.hit.doc.endswith(".pdf"):
            assert link.endswith(f".pdf#page={p.quote_page}")
    assert "practices of this digest by city and instrument" in page
    assert "whole index" not in page


def _practice(city, title, instrument, quote, quantities=(), years=(), score=0.9, doc=None):
    hit = Hit(
        rank=1,
        passage_id=abs(hash((city, title))) % 10**6,
        doc=doc or f"{city.lower()}.pdf",
        title=f"{city} plan",
        page=3,
        text=quote,
        score=score,
        topics=[],
        city=city,
        country="US",
        lang="en",
    )
    return Practice(
        hit=hit,
        score=0.9,
        instrument=instrument,
        title=title,
        quote=quote,
        quote_page=3,
        quantities=list(quantities),
        years=list(years),
    )


def test_like_measures_grouped_across_cities_and_labelled_by_the_measure():
    trees = [
        _practice(
            c,
            f"{c} tree protection ordinance",
            "regulation",
            f"The {c} tree protection ordinance requires a permit to remove a tree.",
        )
        for c in ("Atlanta", "Boulder", "Napa")
    ]
    solar = [
        _practice(
            c,
            "Solar obligation for new buildings",
            "regulation",
            "New buildings must carry a solar obligation on their roofs.",
        )
        for c in ("Berlin", "Hamburg")
    ]
    lone = [
        _practice(
            "Tulsa",
            "Council minutes",
            "participation_process",
            "Public comment was heard on the budget at the meeting.",
        )
    ]
    practices = trees + solar + lone
    rng = np.random.default_rng(1)
    base = {"tree": rng.normal(size=16), "solar": rng.normal(size=16), "lone": rng.normal(size=16)}
    vectors = np.vstack(
        [base["tree"] + 0.1 * rng.normal(size=16) for _ in trees]
        + [base["solar"] + 0.1 * rng.normal(size=16) for _ in solar]
        + [base["lone"]]
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    clusters = group_practices(practices, vectors)
    labels = [c.label for c in clusters]
    assert labels == [
        "Tree protection ordinance: rules and requirements",
        "Solar obligation: rules and requirements",
        OTHERS,
    ], labels
    assert clusters[0].cities == ["Atlanta", "Boulder", "Napa"] and not clusters[-1].compared


def test_key_figure_prefers_money_then_percent_from_the_quote():
    p = _practice(
        "Denver",
        "Energize Denver",
        "regulation",
        "Buildings over 25,000 sq ft cut energy use by 30 % with $ 4 million in rebates from 2024.",
        quantities=["25,000 sq", "30 %", "$ 4 million", "12 buildings"],
        years=[2024, 2030],
    )
    assert key_figure(p) == "$ 4 million"
    p.quantities = ["12 buildings", "30 %"]
    assert key_figure(p) == "30 %"
    assert year_of(p) == "2024"
    p.quote, p.quantities = "No figure here at all in this quote of a measure.", []
    assert key_figure(p) == "" and year_of(p) == "2024"


def test_quote_keeps_a_name_with_an_abbreviation_whole():
    text = (
        "The City restored Rodney Cook Sr. Park in Vine City to hold stormwater. "
        "The park stores up to 10 million gallons during heavy rain."
    )
    rec = record(1, text, "Green infrastructure", [], {3: comparable(text)}, 3, score=0.9)
    assert rec is not None and "Rodney Cook Sr. Park" in rec.quote


@pytest.mark.slow
def test_digest_on_the_real_model(real_index):
    settings = settings_for(real_index, model="minilm")
    digest = build_digest(settings, query="green roofs and trees to cool the city")
    assert digest.practices and len(digest.cities) >= 2
    assert_quotes_on_their_pages(digest, real_index)
    # Munich's SoBoN, Boston's participatory budget and Pittsburgh's bike network padded the
    # heat digest of issue 17: the gate keeps them out
    heat = build_digest(settings, query="protecting residents from urban heat")
    assert not {"Munich", "Boston", "Pittsburgh"} & set(heat.cities)


REAL_INDEX = os.environ.get("POLICYMINE_REAL_INDEX", "/tmp/real2")
CHROMIUM = "/usr/bin/chromium"  # Debian's, as tests/test_web.py launches it; never a downloaded one


@pytest.mark.slow
@pytest.mark.realcorpus
@needs_real_corpus
def test_real_corpus_digests_quote_their_pages(tmp_path):
    """On a copy of the prebuilt real-corpus index, when there is one (ingesting 43 PDFs takes 20 minutes)."""
    import shutil

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


def test_digest_renders_in_headless_chromium(fake_index, tmp_path):
    """The HTML digest as a reader sees it: tables, the figure decoded, links to PDF pages, nothing
    fetched from the network. POLICYMINE_DIGEST_SCREENSHOT=docs/digest.png keeps the screenshot."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}")
    digest = build_digest(settings_for(fake_index), topic="energy")
    out = write_digest(digest, tmp_path / "digest.html")
    shot = Path(os.environ.get("POLICYMINE_DIGEST_SCREENSHOT", tmp_path / "digest.png"))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 1400})
        fetched = []
        page.on("request", lambda r: fetched.append(r.url))
        page.goto(out.as_uri())
        page.wait_for_function("() => document.querySelector('figure img').complete")
        assert page.inner_text("h1") == digest.title
        assert page.evaluate("document.querySelector('figure img').naturalWidth") > 100
        assert page.locator("table.compare").count() == len(digest.clusters)
        rows = page.locator("table.compare tr").count() - len(digest.clusters)
        assert rows == len(digest.practices)
        hrefs = page.eval_on_selector_all(
            "table.compare a, p.cite a", "els => els.map(e => e.href)"
        )
        assert len(hrefs) == 2 * len(digest.practices)
        assert all(h.startswith("file:///") for h in hrefs)
        assert all(u.startswith(("file:", "data:")) for u in fetched), fetched
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert shot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
@pytest.mark.realcorpus
def test_every_judged_digest_quotes_its_pages(tmp_path):
    """The 20 queries and 5 topics of eval/judge_digests.py on a copy of a real-corpus index
    (POLICYMINE_REAL_INDEX): every quote is on the page it cites, every HTML citation links there."""
    import shutil

    if not (Path(REAL_INDEX) / "policymine.db").exists():
        pytest.skip(f"no real-corpus index at {REAL_INDEX} (set POLICYMINE_REAL_INDEX)")
    copy = tmp_path / "real"
    shutil.copytree(REAL_INDEX, copy, ignore=shutil.ignore_patterns(".ingest.lock"))
    settings = settings_for(copy, model="minilm")
    root = Path(__file__).resolve().parents[1] / "eval"
    with (root / "qrels.tsv").open(encoding="utf-8") as f:
        queries = {r["qid"]: r["query"] for r in csv.DictReader(f, delimiter="\t")}
    subjects = [("query", queries[f"en{i:02d}"]) for i in range(1, 21)]
    subjects += [("topic", t) for t in ("energy", "mobility", "housing", "participation", "health")]
    quotes = 0
    for kind, subject in subjects:
        digest = build_digest(settings, **{kind: subject}, max_practices=12)
        assert_quotes_on_their_pages(digest, copy)
        page = render_html(digest)
        for p in digest.practices:
            assert f"#page={p.quote_page}'" in page or not p.hit.doc.endswith(".pdf")
        quotes += len(digest.practices)
    assert quotes >= 50
