import pytest
from conftest import settings_for

from policymine.digest import build_digest, render_html, render_markdown, write_digest
from policymine.errors import PolicymineError
from policymine.practices import assess
from policymine.types import Hit


def _hit(text):
    return Hit(rank=1, passage_id=1, doc="d.pdf", title="T", page=3, text=text, score=0.5, topics=[], city=None, country=None, lang="en")


def test_practice_assessment():
    practice = assess(_hit("In 2021 the city launched a grant programme that subsidised 2,000 heat pumps, cutting emissions by 12 percent."))
    assert practice.score >= 0.8 and practice.instrument in ("subsidy", "programme")
    assert assess(_hit("Table of contents and acknowledgements.")).score < 0.5
    assert practice.citation == "T (d.pdf), p. 3"


def test_topic_digest_groups_by_city_with_citations(fake_index, tmp_path):
    digest = build_digest(settings_for(fake_index), topic="energy")
    assert digest.groups and all(g.practices for g in digest.groups)
    cities = [g.city for g in digest.groups]
    assert len(cities) == len(set(cities))
    for group in digest.groups:
        assert len(group.practices) <= 3
        for p in group.practices:
            assert "energy" in p.hit.topics and p.hit.city == group.city
    markdown = render_markdown(digest)
    first = digest.groups[0].practices[0]
    assert f"({first.hit.doc}), p. {first.hit.page}" in markdown
    assert markdown.startswith("# Practice digest: energy")
    assert "<h2>" in render_html(digest) and "<script" not in render_html(digest)
    assert write_digest(digest, tmp_path / "d.html").read_text().startswith("<!doctype html>")


def test_query_digest_and_errors(fake_index, tmp_path):
    digest = build_digest(settings_for(fake_index), query="affordable housing quota for new development")
    assert digest.groups and digest.query
    with pytest.raises(PolicymineError, match="--topic or --query"):
        build_digest(settings_for(fake_index))
    with pytest.raises(PolicymineError, match="must end in .md or .html"):
        write_digest(digest, tmp_path / "d.pdf")
