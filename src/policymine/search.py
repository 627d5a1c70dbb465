"""Stage 6: search passages by meaning and by words, with filters, and find similar practices.

Three modes answer a query:
- `dense`: the query's embedding against the FAISS index (finds paraphrases, other languages
  with a multilingual model);
- `keyword`: SQLite FTS5 with bm25 ranking and Porter stemming (finds the exact programme
  name, the acronym, the number the embedding blurs); `serve` computes the same ranking from
  postings in memory (keyword.py), ten times faster at 100k passages;
- `hybrid` (default): both ranked lists fused by reciprocal rank fusion.
Filters run inside each list (a FAISS id selector, a SQL WHERE), so a filtered query still
returns k hits when k exist, and at most `per_doc` hits come from one document.

`similar` finds comparable passages in other documents and cities, diversified with
maximal marginal relevance (MMR) so that ten near-copies of one measure do not fill the page.

Nothing here imports torch or spaCy: a query is embedded by the light query-side model
(see embed.py), so that a fresh `policymine search` answers in about a second.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .clean import STOPWORDS
from .config import Settings
from .embed import MODELS, Embedder, get_query_embedder, model_spec
from .errors import Option, OptionError, PolicymineError
from .filters import resolve_filters
from .index import VectorIndex, open_index
from .keyword import KeywordIndex
from .store import DB_FILE, Row, Store
from .types import Filters, Hit

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

MODES = ("hybrid", "dense", "keyword")
POOL = 100  # candidates taken from each ranked list before fusion and the per-document cap
RRF_K = 60  # the usual constant of reciprocal rank fusion (Cormack et al. 2009); not tuned
DENSE_WEIGHT = 0.5  # `fusion = "weighted"`: share of the dense score in the weighted sum
MMR_LAMBDA = 0.7  # `similar`: relevance vs. novelty; 1.0 would be plain nearest neighbours
# Fragments (captions, source lines, stray headings) are left out of the dense list: the
# embedding of a five-word line matches a short query better than any paragraph does, so
# they topped searches while never answering one. Keyword search still finds them.
MIN_DENSE_WORDS = 15
# Language-aware fusion: the keyword list votes only for passages in the query's language (the
# language of most of its own best hits), and a passage in another language, which words cannot
# find, counts its dense rank twice. Without it an English query's keyword list pushes the
# German plans that dense search finds out of a hybrid list.
LANGUAGE_AWARE = False  # off: on the dev queries it cost 0.004 nDCG@10 (minilm index)
# Boilerplate (boilerplate.py: tables of contents, references, running headers, table
# fragments, cover matter) keeps this share of its hybrid score: still found, below the text.
BOILERPLATE_WEIGHT = 0.5
LANGUAGE_VOTERS = 10  # the keyword list's first hits that say which language the query is in
# Context: a passage is scored by its vector plus CONTEXT_WEIGHT times those of its neighbours
# (the passages before and after it in its document, a page apart at most), as a reader judges
# a paragraph with its surroundings: a short passage on its own says too little for a query,
# and a 200-word window (issue 15's baseline) beat the passage alone. Off (0): on the dev
# queries it lifted English queries (hybrid nDCG@10 0.551 -> 0.597) but cost the German and
# mixed ones more (0.526 -> 0.514 over all; benchmarks/search_variants.py).
CONTEXT_WEIGHT = 0.0
# The relevance floor per model: a query whose best dense similarity is below it, and whose best
# keyword hit holds under half its words, has no close match (Hit.nearest). Calibrated by
# eval/calibrate_floor.py on the real corpus's index, dev queries only: the middle of the gap
# between the lowest best similarity of an analyst query (minilm 0.444, use 0.313) and the
# highest of an off-domain one (0.408, 0.272). On the test queries, no analyst query is flagged
# and 9 of 12 off-domain ones are, with either model (the previous guess, 0.3, flagged 7 of 12
# with minilm).
FLOOR = {"minilm": 0.426, "use": 0.29}


@dataclass
class _Candidate:
    """A passage in the fused ranking, with what each ranked list said about it."""

    id: int
    score: float = 0.0
    dense: tuple[int, float] | None = None  # (rank from 1, cosine similarity)
    keyword: tuple[int, float] | None = None  # (rank from 1, bm25 score)


def index_model(settings: Settings) -> Settings:
    """`settings` with the embedding model the index in `settings.index_dir` records, so that a
    reader (search, similar, serve, digest) embeds queries as the passages were embedded: after
    `reembed --model use`, a plain `search` works. Unchanged when there is no index yet (the
    reader then says so) or it records a model this policymine does not know."""
    if not (Path(settings.index_dir) / DB_FILE).is_file():
        return settings
    with Store(settings.index_dir) as store:
        recorded = store.index_meta().model
    return settings.with_(model=recorded) if recorded in MODELS else settings


def query_terms(query: str) -> list[str]:
    """The words of a query worth matching, lowercased, without stopwords or repeats."""
    words = re.findall(r"\w+", query.lower())
    return list(
        dict.fromkeys(w for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit()))
    )


def fts_query(terms: list[str], operator: str = "OR") -> str:
    """An FTS5 query matching any of the terms (`operator` "AND": all of them); bm25 ranks
    passages with more of them higher."""
    return f" {operator} ".join(f'"{t}"' for t in terms)


# Words whose Porter stem joins distinct policy terms: "heat" (heat waves, Hitze) and "heating"
# (Heizung) both stem to "heat", "transit" and "transition" to "transit", "community" and
# "communication" to "commun". A query word from this list is matched as written, with its
# plural, in the unstemmed full-text table (Store.keyword's `exact`); other words are stemmed.
SPLIT_WORDS = {
    word: group
    for group in (
        ("heat", "heats", "heated"),
        ("heating", "heatings"),
        ("park", "parks"),
        ("parking",),
        ("transit",),
        ("transition", "transitions"),
        ("community", "communities"),
        ("communication", "communications"),
        ("general",),
        ("generation", "generations"),
        ("organic",),
        ("organization", "organizations", "organisation", "organisations"),
        ("university", "universities"),
        ("universal",),
    )
    for word in group
}


def split_terms(terms: list[str]) -> tuple[list[str], list[str]]:
    """(words to stem, word forms to match as written: see SPLIT_WORDS)."""
    exact = [form for t in terms if t in SPLIT_WORDS for form in SPLIT_WORDS[t]]
    return [t for t in terms if t not in SPLIT_WORDS], list(dict.fromkeys(exact))


RESCUE_DEPTH = 3  # the keyword list's first hits that an identifier in the query can rescue
_YEAR_RE = re.compile(r"(1[89]|20)\d\d")
_DECADE_RE = re.compile(r"(1[89]|20)?\d0(s|er)")


def identifiers(terms: list[str]) -> list[str]:
    """The query words that name one thing exactly: numbers of four or more digits that are not
    years ("13920"), and words of letters and two or more digits ("sb100", "pm10"). Short
    numbers, years, decades and formulas ("95 percent", "by 2050", "1990s", "co2") are left
    out: many passages hold them."""
    return [
        t
        for t in terms
        if (t.isdigit() and len(t) >= 4 and not _YEAR_RE.fullmatch(t))
        or (
            sum(ch.isdigit() for ch in t) >= 2
            and any(ch.isalpha() for ch in t)
            and not _DECADE_RE.fullmatch(t)
        )
    ]


class SearchResources:
    """What the searchers of one index share, read-only once loaded: the vector index, the ids of
    fragments, the query model and, warm, the keyword postings in memory.

    A one-off search builds its own, which loads each part on first use through its searcher's
    connection: a keyword search never opens the vector index, `similar` and topic digests never
    load the query model. `serve` loads one warm (`load`), hands it to each of its searchers,
    and `reload`s it after an ingest.
    """

    def __init__(self, settings: Settings, warm: bool = False, store: Store | None = None):
        """Nothing is loaded yet.

        Args:
            settings: index folder and model.
            warm: for a process that answers many queries (`serve`): the keyword postings in
                memory (keyword.py; ~3 s at 100k passages) and the query model in onnxruntime
                (0.4 s). Each query then takes milliseconds less, which a one-off search from
                the shell would not win back.
            store: the connection that loads the vector index on first use (a one-off
                searcher's own); None: a connection of its own, opened for the load.
        """
        self.settings = settings
        self.warm = warm
        self.dim = model_spec(settings.model)[1]
        self.keywords: KeywordIndex | None = None
        self._store = store
        self._vectors: tuple[VectorIndex, np.ndarray, np.ndarray] | None = None

    @classmethod
    def load(cls, settings: Settings, warm: bool = True) -> SearchResources:
        """All of them loaded now, so that no query waits for a load."""
        resources = cls(settings, warm)
        resources.reload()
        resources.embedder.embed_batch(["warm up"])
        return resources

    def reload(self) -> None:
        """Load the vector index, fragment ids and (warm) keyword postings again, after another
        process (an ingest) has written to the index.

        A search running meanwhile finishes on the old ones, which are left to the garbage
        collector rather than closed under it.
        """
        # An own connection: open_index's read transaction must not wrap the queries that other
        # threads run on their searchers' connections meanwhile.
        with Store(self.settings.index_dir) as store:
            store.index_meta().check_compatible(
                self.settings.index_dir, model=model_spec(self.settings.model)
            )
            vectors = self._read_vectors(store)
        keywords = KeywordIndex(self.settings.index_dir) if self.warm else None
        self._vectors, self.keywords = vectors, keywords

    @property
    def vectors(self) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
        """The vector index, the ids of the passages left out of the dense list (under
        MIN_DENSE_WORDS words) and the ids of boilerplate passages (demoted), loaded on first
        use; one triple, even while a reload swaps them."""
        vectors = self._vectors
        if vectors is None:
            if self._store is None:
                self.reload()
            else:
                self._vectors = self._read_vectors(self._store)
            vectors = self._vectors
        assert vectors is not None  # for the type checker: one branch loaded them
        return vectors

    def _read_vectors(self, store: Store) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
        return (
            open_index(store, self.dim),
            store.fragment_ids(MIN_DENSE_WORDS),
            store.boilerplate_ids(),
        )

    @property
    def index(self) -> VectorIndex:
        """The vector index (see `vectors`)."""
        return self.vectors[0]

    @property
    def fragments(self) -> np.ndarray:
        """Ids of the passages left out of the dense list (see `vectors`)."""
        return self.vectors[1]

    @property
    def boilerplate(self) -> np.ndarray:
        """Ids of the boilerplate passages, ascending (see `vectors`)."""
        return self.vectors[2]

    @cached_property
    def embedder(self) -> Embedder:
        """The query model, loaded on first use."""
        return get_query_embedder(self.settings.model, self.settings.index_dir, self.warm)

    def close(self) -> None:
        """Close the keyword postings' connection."""
        if self.keywords:
            self.keywords.close()


class Searcher:
    """An open index (database, vectors, query model) that answers queries. Use as a context manager."""

    def __init__(self, settings: Settings, resources: SearchResources | None = None):
        """Open the index in `settings.index_dir`.

        Args:
            settings: index folder, model, per-document cap, fusion.
            resources: the vector index, query model and keyword postings, shared with other
                searchers and owned by the caller (`serve`); None: this searcher's own, each
                loaded when first needed.
        """
        self.settings = settings
        # serve's searchers live on and must see what an ingest commits later
        self.store = Store(settings.index_dir, follow=resources is not None)
        try:
            self.store.index_meta().check_compatible(
                settings.index_dir, model=model_spec(settings.model)
            )
        except PolicymineError:
            self.store.close()
            raise
        self._owns_resources = resources is None
        if resources is None:
            resources = SearchResources(settings, store=self.store)
        self.resources = resources

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database, and the resources if they are this searcher's own."""
        if "_background" in self.__dict__:
            self._background.shutdown()
        if self._owns_resources:
            self.resources.close()
        self.store.close()

    @cached_property
    def _background(self) -> ThreadPoolExecutor:
        """The thread that runs the keyword list alongside the dense one."""
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyword")

    @property
    def topics(self) -> list[str]:
        """The topic ids of the taxonomy the index was tagged with."""
        return json.loads(self.store.meta().get("topics", "[]"))

    def check_topic(self, topic: str | None) -> str | None:
        """The index's spelling of `topic`, or an error naming the known ones (IndexMeta.check_topic)."""
        return self.store.index_meta().check_topic(topic)

    # ------------------------------------------------------------------ search

    def search(
        self,
        query: str,
        k: int = 10,
        filters: Filters | None = None,
        mode: str = "hybrid",
        explain: bool = False,
        per_doc: int | None = None,
    ) -> list[Hit]:
        """The k best passages for a query, at most `per_doc` from one document.

        Args:
            query: what to look for, in plain words.
            k: how many hits.
            filters: topic, city, country, document, language and year restrictions (None: none).
            mode: "hybrid", "dense" or "keyword".
            explain: attach to each hit why it matched (`Hit.explain`).
            per_doc: at most this many hits from one document (default: `settings.per_doc`).

        Returns:
            Hits, best first, ranks from 1.
        """
        if not query.strip():
            raise PolicymineError(
                'empty query: say what you are looking for, e.g. "rooftop solar incentives"'
            )
        if mode not in MODES:
            raise PolicymineError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
        self.store.refresh()
        filters = filters or Filters()
        filters = resolve_filters(filters, self.store)
        terms = query_terms(query)
        if mode == "keyword" and not terms:
            raise OptionError(
                f"no words to match in {query!r} (only stopwords): try ", Option("mode", "dense")
            )
        pool = max(POOL, 4 * k)
        vector = None
        keywords = self.resources.keywords
        allowed = self.store.filter_ids(filters) if mode != "keyword" or keywords else None
        while True:  # widen the pool until k hits survive the per-document cap, or nothing is left
            # The keyword list runs in a second thread while this one embeds the query and asks
            # FAISS: SQLite and numpy both release the GIL, so hybrid costs the slower list only.
            keyword_list = (
                self._background.submit(self._keyword, keywords, terms, pool, filters, allowed)
                if mode != "dense" and terms
                else None
            )
            dense = []
            if mode != "keyword":
                if vector is None:
                    vector = self.resources.embedder.embed_batch([query])[0]
                index, fragments, _ = self.resources.vectors
                dense = self._in_context(vector, index.search(vector, pool, allowed, fragments))
            keyword = keyword_list.result() if keyword_list else []
            ranked = self._fuse(dense, keyword, mode)
            ranked = self._rescue(ranked, keyword, terms)
            hits = self._capped(ranked, k, per_doc or self.settings.per_doc)
            if len(hits) == k or (len(dense) < pool and len(keyword) < pool):
                break
            pool *= 4
        if hits and dense and not self._close(dense, keyword, terms):
            for hit in hits:
                hit.nearest = True
        if explain:
            self._explain(hits, ranked, vector, terms, mode)
        return hits

    def _in_context(
        self, vector: np.ndarray, dense: list[tuple[int, float]]
    ) -> list[tuple[int, float]]:
        """The dense list rescored with each passage's neighbours (CONTEXT_WEIGHT), best first."""
        if not CONTEXT_WEIGHT or not dense:
            return dense
        ids = [pid for pid, _ in dense]
        around = self.store.neighbours(ids)
        found, vectors = self.store.vectors(
            sorted({*ids, *(n for ns in around.values() for n in ns)})
        )
        at = dict(zip(found.tolist(), vectors))
        rescored = []
        for pid, sim in dense:
            if pid not in at:  # stored vectors of an index being rewritten: keep its own score
                rescored.append((pid, sim))
                continue
            context = at[pid] + CONTEXT_WEIGHT * sum(
                (at[n] for n in around.get(pid, ()) if n in at), np.zeros_like(at[pid])
            )
            rescored.append((pid, float(context @ vector / (np.linalg.norm(context) or 1.0))))
        return sorted(rescored, key=lambda pair: (-pair[1], pair[0]))

    def _close(
        self, dense: list[tuple[int, float]], keyword: list[tuple[int, float]], terms: list[str]
    ) -> bool:
        """Whether anything matches the query closely: the best dense similarity reaches the
        model's floor (FLOOR), or the best keyword hit holds at least half the query's words.
        Without either, the hits are only the nearest passages, noise presented as answers."""
        if dense[0][1] >= FLOOR.get(self.settings.model, 0.0):
            return True
        if not keyword or not terms:
            return False
        top = [keyword[0][0]]
        held = sum(
            any(self.store.keyword_scores(fts_query([f]), top, exact=True) for f in SPLIT_WORDS[t])
            if t in SPLIT_WORDS
            else bool(self.store.keyword_scores(fts_query([t]), top))
            for t in terms
        )
        return held >= 0.5 * len(terms)

    def _keyword(
        self,
        keywords: KeywordIndex | None,
        terms: list[str],
        limit: int,
        filters: Filters,
        allowed: list[int] | None,
    ) -> list[tuple[int, float]]:
        """The keyword list: from the postings in memory when loaded and able, else by SQL.
        Words of SPLIT_WORDS are matched as written, the others stemmed."""
        stemmed, exact = split_terms(terms)
        hits = keywords.search(stemmed, limit, allowed, exact) if keywords else None
        if hits is not None:
            return hits
        return self.store.keyword(
            fts_query(stemmed) if stemmed else None,
            limit,
            filters,
            exact=fts_query(exact) if exact else None,
        )

    def _fuse(
        self, dense: list[tuple[int, float]], keyword: list[tuple[int, float]], mode: str
    ) -> list[_Candidate]:
        """One ranking from the dense and keyword lists (either may be empty)."""
        candidates: dict[int, _Candidate] = {}
        for rank, (pid, sim) in enumerate(dense, start=1):
            candidates.setdefault(pid, _Candidate(pid)).dense = (rank, sim)
        for rank, (pid, bm25) in enumerate(keyword, start=1):
            candidates.setdefault(pid, _Candidate(pid)).keyword = (rank, bm25)
        top_bm25 = keyword[0][1] if keyword else 1.0
        others = (
            self._other_language(candidates, keyword)
            if mode == "hybrid" and LANGUAGE_AWARE and keyword and dense
            else set()
        )
        for c in candidates.values():
            if mode == "dense":
                c.score = c.dense[1]
            elif mode == "keyword":
                c.score = c.keyword[1]
            elif self.settings.fusion == "weighted":
                # bm25 has no fixed scale: divide by the best score so that both parts lie in 0..1
                c.score = DENSE_WEIGHT * (c.dense[1] if c.dense else 0.0) + (1 - DENSE_WEIGHT) * (
                    c.keyword[1] / top_bm25 if c.keyword else 0.0
                )
            elif c.id in others:  # words cannot find it: its dense rank stands in for them
                c.score = 2.0 / (RRF_K + c.dense[0]) if c.dense else 0.0
            else:
                c.score = sum(1.0 / (RRF_K + part[0]) for part in (c.dense, c.keyword) if part)
        if BOILERPLATE_WEIGHT != 1.0 and mode == "hybrid":
            boilerplate = self.resources.boilerplate
            ids = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
            found = ids[np.isin(ids, boilerplate, assume_unique=True)]
            for pid in found.tolist():
                candidates[pid].score *= BOILERPLATE_WEIGHT
        return sorted(candidates.values(), key=lambda c: (-c.score, c.id))

    def _other_language(
        self, candidates: dict[int, _Candidate], keyword: list[tuple[int, float]]
    ) -> set[int]:
        """Ids of the candidates whose document is not in the query's language: the language
        that holds most of the bm25 score of the keyword list's first LANGUAGE_VOTERS hits."""
        languages = self.store.languages(list(candidates))
        weight: dict[str, float] = {}
        for pid, bm25 in keyword[:LANGUAGE_VOTERS]:
            weight[languages.get(pid, "")] = weight.get(languages.get(pid, ""), 0.0) + bm25
        query_lang = max(weight, key=lambda lang: weight[lang])
        return {pid for pid, lang in languages.items() if lang != query_lang}

    def _rescue(
        self,
        ranked: list[_Candidate],
        keyword: list[tuple[int, float]],
        terms: list[str],
    ) -> list[_Candidate]:
        """The keyword list's first hits that hold every identifier of the query (a contract
        number, a code: see `identifiers`) moved to the front, best keyword rank first, so that
        an exact reference found by words is not outvoted by passages near in meaning."""
        wanted = identifiers(terms)
        if not wanted or not keyword:
            return ranked
        top = [pid for pid, _ in keyword[:RESCUE_DEPTH]]
        holding = set(self.store.keyword_scores(fts_query(wanted, "AND"), top))
        first = [c for c in ranked if c.id in holding]
        first.sort(key=lambda c: c.keyword[0] if c.keyword else POOL)
        return first + [c for c in ranked if c.id not in holding]

    def _capped(self, ranked: list[_Candidate], k: int, cap: int) -> list[Hit]:
        """The first k candidates with at most `per_doc` from one document."""
        hits: list[Hit] = []
        per_doc: dict[str, int] = {}
        step = 4 * k  # rows are read a slice at a time: most queries need only the first
        for start in range(0, len(ranked), step):
            chunk = ranked[start : start + step]
            rows = self.store.rows([c.id for c in chunk])
            for c in chunk:
                row = rows.get(c.id)
                if row is None or per_doc.get(row.doc, 0) >= cap:
                    continue
                per_doc[row.doc] = per_doc.get(row.doc, 0) + 1
                hits.append(row.to_hit(rank=len(hits) + 1, score=c.score))
                if len(hits) == k:
                    return hits
        return hits

    def _explain(
        self,
        hits: list[Hit],
        ranked: list[_Candidate],
        vector: np.ndarray | None,
        terms: list[str],
        mode: str,
    ) -> None:
        """Attach to each hit its dense similarity, keyword terms with their bm25 share, and ranks."""
        ids = [h.passage_id for h in hits]
        by_id = {c.id: c for c in ranked}
        sims = {}
        if vector is not None:
            stored_ids, vectors = self.store.vectors(ids)
            sims = dict(zip(stored_ids.tolist(), (vectors @ vector).tolist()))
        per_term = {
            t: self.store.keyword_scores(fts_query([t]), ids) for t in split_terms(terms)[0]
        }
        for t in terms:
            if t in SPLIT_WORDS:  # its forms' scores, summed, under the word asked for
                for form in SPLIT_WORDS[t]:
                    for pid, score in self.store.keyword_scores(
                        fts_query([form]), ids, exact=True
                    ).items():
                        per_term.setdefault(t, {})[pid] = per_term.get(t, {}).get(pid, 0.0) + score
        rows = self.store.rows(ids)
        fusion = {"dense": "cosine", "keyword": "bm25"}.get(mode, self.settings.fusion)
        for h in hits:
            c = by_id[h.passage_id]
            matched = {
                t: round(s[h.passage_id], 3) for t, s in per_term.items() if h.passage_id in s
            }
            h.explain = {
                "dense": {
                    "similarity": round(sims[h.passage_id], 4),
                    "rank": c.dense[0] if c.dense else None,
                }
                if h.passage_id in sims
                else None,
                "keyword": {
                    "bm25": round(sum(matched.values()), 3),
                    "rank": c.keyword[0] if c.keyword else None,
                    "terms": dict(sorted(matched.items(), key=lambda kv: -kv[1])),
                },
                "fused": {"method": fusion, "score": round(c.score, 5), "rank": h.rank},
                "topics": rows[h.passage_id].topics,
            }

    # ------------------------------------------------------------------ similar

    def similar(
        self,
        passage_id: int | None = None,
        text: str | None = None,
        k: int = 10,
        filters: Filters | None = None,
        per_doc: int | None = None,
    ) -> list[Hit]:
        """Comparable passages from other documents (and other cities), diversified with MMR.

        Args:
            passage_id: a stored passage; its own document and city are left out.
            text: or any text, e.g. a practice you are drafting.
            k: how many hits.
            filters: as for search.
            per_doc: as for search.
        """
        if (passage_id is None) == (text is None or not text.strip()):
            raise OptionError(
                "give ", Option("id", argument="a passage id"), " or ", Option("text"), ", not both"
            )
        self.store.refresh()
        filters = filters or Filters()
        filters = resolve_filters(filters, self.store)
        city = None
        if passage_id is not None:
            doc, city = self.store.doc_of(passage_id)
            filters = replace(filters, exclude_doc=doc)
            vector = self.store.vectors([passage_id])[1][0]
        else:
            vector = self.resources.embedder.embed_batch([text])[0]
        allowed = self.store.filter_ids(filters)
        pool = max(POOL, 4 * k)
        index, fragments, _ = self.resources.vectors
        scored = index.search(vector, pool, allowed, fragments)
        rows = self.store.rows([pid for pid, _ in scored])
        if city:  # "what did other cities do": the source's own city only when nothing else is left
            others = [(pid, s) for pid, s in scored if rows[pid].city != city]
            scored = others if len(others) >= k else scored
        return self._mmr(vector, scored, rows, k, per_doc or self.settings.per_doc)

    def _mmr(
        self,
        vector: np.ndarray,
        scored: list[tuple[int, float]],
        rows: dict[int, Row],
        k: int,
        cap: int,
    ) -> list[Hit]:
        """Greedy maximal marginal relevance under the per-document cap."""
        if not scored:
            return []
        ids, vectors = self.store.vectors([pid for pid, _ in scored])
        relevance = vectors @ vector
        pairwise = vectors @ vectors.T
        chosen: list[int] = []
        per_doc: dict[str, int] = {}
        left = set(range(len(ids)))
        while left and len(chosen) < k:
            redundancy = pairwise[:, chosen].max(axis=1) if chosen else np.zeros(len(ids))
            gain = MMR_LAMBDA * relevance - (1 - MMR_LAMBDA) * redundancy
            best = max(left, key=lambda i: gain[i])
            left.discard(best)
            doc = rows[int(ids[best])].doc
            if per_doc.get(doc, 0) >= cap:
                continue
            per_doc[doc] = per_doc.get(doc, 0) + 1
            chosen.append(best)
        return [
            rows[int(ids[i])].to_hit(rank=r, score=float(relevance[i]))
            for r, i in enumerate(chosen, start=1)
        ]


def search(
    query: str,
    settings: Settings,
    k: int = 10,
    filters: Filters | None = None,
    mode: str = "hybrid",
    explain: bool = False,
) -> list[Hit]:
    """Search the index in `settings.index_dir`; see `Searcher.search`."""
    with Searcher(settings) as searcher:
        return searcher.search(query, k, filters, mode, explain)


def similar(
    passage_id: int | None,
    settings: Settings,
    k: int = 10,
    filters: Filters | None = None,
    text: str | None = None,
) -> list[Hit]:
    """Passages from other documents like passage `passage_id` (or like `text`); see `Searcher.similar`."""
    with Searcher(settings) as searcher:
        return searcher.similar(passage_id, text, k, filters)
