"""Stage 6: semantic search over passages, with filters, and "similar practices elsewhere".

`search()` embeds the query with the index's model, asks FAISS for the nearest passages
(restricted by SQL filters on topic, city, country and document), and caps the hits per
document so that one long plan cannot crowd out every other city.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from .config import Settings
from .embed import Embedder, get_embedder, model_spec
from .errors import NotFoundError, PolicymineError
from .index import VectorIndex, check_model, open_index
from .store import Row, Store
from .types import Hit

OVERSAMPLE = 8  # candidates fetched per wanted hit, before the per-document cap


@dataclass(frozen=True)
class Filters:
    """Restrictions on which passages may be returned."""

    topic: str | None = None
    city: str | None = None
    country: str | None = None
    doc: str | None = None


class Searcher:
    """An open index (database, vectors, model) that answers queries. Use as a context manager."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.index_dir)
        try:
            name, dim = model_spec(settings.model)
            check_model(self.store, name, dim)
            self.index: VectorIndex = open_index(self.store, dim)
        except PolicymineError:
            self.store.close()
            raise

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()

    @cached_property
    def embedder(self) -> Embedder:
        """The query model, loaded on first use: `similar` and topic digests never need it."""
        return get_embedder(self.settings.model)

    @property
    def topics(self) -> list[str]:
        """The topic ids of the taxonomy the index was tagged with."""
        return json.loads(self.store.meta().get("topics", "[]"))

    def check_topic(self, topic: str | None) -> None:
        """NotFoundError naming the known topics when `topic` is not one of them."""
        if topic and topic not in self.topics:
            raise NotFoundError(f"unknown topic {topic!r}; known topics: {', '.join(self.topics)}")

    def search(self, query: str, k: int = 10, filters: Filters = Filters()) -> list[Hit]:
        """The k passages nearest to the query, at most `per_doc` from one document."""
        if not query.strip():
            raise PolicymineError("empty query: say what you are looking for, e.g. \"rooftop solar incentives\"")
        self.check_topic(filters.topic)
        allowed = self.store.filter_ids(filters.topic, filters.city, filters.country, filters.doc)
        vector = self.embedder.embed_batch([query])[0]
        return self._hits(self.index.search(vector, k * OVERSAMPLE, allowed), k)

    def similar(self, passage_id: int, k: int = 10) -> list[Hit]:
        """Passages most like the given one, from other documents."""
        doc = self.store.doc_of(passage_id)
        _, vectors = self.store.vectors([passage_id])
        allowed = self.store.filter_ids(exclude_doc=doc)
        return self._hits(self.index.search(vectors[0], k * OVERSAMPLE, allowed), k)

    def _hits(self, scored: list[tuple[int, float]], k: int) -> list[Hit]:
        rows = self.store.rows([i for i, _ in scored])
        hits: list[Hit] = []
        per_doc: dict[str, int] = {}
        for pid, score in scored:
            row = rows.get(pid)
            if row is None or per_doc.get(row.doc, 0) >= self.settings.per_doc:
                continue
            per_doc[row.doc] = per_doc.get(row.doc, 0) + 1
            hits.append(to_hit(row, rank=len(hits) + 1, score=score))
            if len(hits) == k:
                break
        return hits


def to_hit(row: Row, rank: int, score: float) -> Hit:
    """A search hit from a stored passage row."""
    return Hit(
        rank=rank,
        passage_id=row.id,
        doc=row.doc,
        title=row.title,
        page=row.page,
        page_end=row.page_end,
        text=row.text,
        score=round(score, 4),
        topics=list(row.topics),
        city=row.city,
        country=row.country,
        lang=row.lang,
        section=row.section,
    )


def search(query: str, settings: Settings, k: int = 10, filters: Filters = Filters()) -> list[Hit]:
    """Semantic search over the index in `settings.index_dir`.

    Args:
        query: what to look for, in plain words.
        settings: index location, model, per-document cap.
        k: how many hits.
        filters: topic, city, country, document restrictions.

    Returns:
        Hits, best first, ranks from 1.
    """
    with Searcher(settings) as searcher:
        return searcher.search(query, k, filters)


def similar(passage_id: int, settings: Settings, k: int = 10) -> list[Hit]:
    """Passages from other documents most like passage `passage_id`."""
    with Searcher(settings) as searcher:
        return searcher.similar(passage_id, k)
