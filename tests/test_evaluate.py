import math

import pytest

from policymine.evaluate import Judged, query_metrics
from policymine.types import Hit


def _hit(doc, page, page_end=None):
    return Hit(
        rank=0,
        passage_id=0,
        doc=doc,
        title="",
        page=page,
        page_end=page_end,
        text="",
        score=0,
        topics=[],
        city=None,
        country=None,
        lang="en",
    )


def test_query_metrics_by_hand():
    judged = Judged(
        "en01", "q", "all", {("a.pdf", 1): 2, ("a.pdf", 2): 1, ("b.pdf", 5): 1, ("c.pdf", 1): 0}
    )
    hits = [_hit("c.pdf", 1), _hit("a.pdf", 1, 2), _hit("a.pdf", 1), _hit("x.pdf", 3)]
    m = query_metrics(judged, hits)
    # rank 2 covers pages 1-2 of a.pdf: one gain of 2 (its best new page); rank 3 repeats page 1: no gain
    dcg = 2 / math.log2(3)
    idcg = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["ndcg@10"] == pytest.approx(dcg / idcg)
    assert m["recall@20"] == pytest.approx(2 / 3)
    assert m["mrr"] == pytest.approx(1 / 2)
    assert query_metrics(judged, [_hit("x.pdf", 1)]) == {
        "ndcg@10": 0.0,
        "recall@20": 0.0,
        "mrr": 0.0,
    }
