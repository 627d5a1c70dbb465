"""Stage 6a: keyword search from postings held in memory, scored exactly as FTS5's bm25().

FTS5 ranks the matches of a query by calling bm25() on each, and bm25() reads the passage's
length from the docsize table: a query whose words occur in tens of thousands of passages
spent ~16 ms there at 100k passages, most of a warm query's budget. `policymine serve`
therefore loads the postings once (term -> passages and term frequencies; ~3 s and ~50 MB at 100k)
and computes the same sum with numpy, with FTS5's constants and its order of floating-point
operations (fts5_aux.c), so the scores are FTS5's to the bit:

    score = sum over query words i of idf_i * f_i * (k1 + 1) / (f_i + k1 * (1 - b + b * D / avgdl))
    idf_i = log((N - n_i + 0.5) / (n_i + 0.5)), or 1e-6 where that is not positive

(f_i: occurrences in the passage, D: the passage's tokens, avgdl: tokens per passage, N: passages,
n_i: passages with word i). Equal scores go by passage id, here and in Store.keyword. The
SQL query stays the fallback: for a word the tokenizer splits in two ("e_bike"), which is a
phrase and needs positions, and once another process has written to the database.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .store import Store

K1, B = 1.2, 0.75  # FTS5's bm25 constants


class KeywordIndex:
    """The full-text index's postings in numpy arrays, answering OR queries of single words."""

    def __init__(self, index_dir: Path):
        """Load the postings of the index in `index_dir` (a few seconds per 100k passages)."""
        # An own connection: its data_version tells whether anyone wrote since the load.
        self._store = Store(index_dir, follow=True)
        self._lock = threading.Lock()  # the connection is used by the searchers' threads
        self._tokens: dict[str, list[str]] = {}
        self._version = self._store.data_version()
        with self._store.snapshot():
            self.ids = self._store.passage_ids()
            n_rows = self._store.keyword_row_count()
            postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
            for term, docs in self._store.keyword_postings():
                ids, counts = np.unique(
                    np.fromstring(docs, dtype=np.int64, sep=","), return_counts=True
                )
                postings[term] = (
                    np.searchsorted(self.ids, ids).astype(np.int32),
                    counts.astype(np.float64),
                )
        lengths = np.bincount(
            np.concatenate([p for p, _ in postings.values()] or [np.zeros(0, np.int32)]),
            weights=np.concatenate([c for _, c in postings.values()] or [np.zeros(0)]),
            minlength=len(self.ids),
        )
        self.rows = n_rows
        avgdl = lengths.sum() / n_rows if n_rows else 1.0
        self._lengths, self._avgdl = lengths, avgdl
        self._exact: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
        # Per posting: the part of its term's score that does not depend on the query.
        self._postings = {term: self._part(*posting) for term, posting in postings.items()}

    def _part(self, positions: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lengths, avgdl = self._lengths, self._avgdl
        return (
            positions,
            (counts * (K1 + 1.0)) / (counts + K1 * (1 - B + B * lengths[positions] / avgdl)),
        )

    def _exact_postings(self, forms: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """The postings of words as written (the unstemmed table), loaded on first use. Its
        tokens are the stemmed table's before stemming, so passage lengths are the same."""
        missing = [f for f in forms if f not in self._exact]
        if missing:
            with self._lock:
                found = self._store.exact_postings(missing)
            for form in missing:
                docs = found.get(form)
                if docs is None:
                    self._exact[form] = None
                    continue
                ids, counts = np.unique(
                    np.fromstring(docs, dtype=np.int64, sep=","), return_counts=True
                )
                self._exact[form] = self._part(
                    np.searchsorted(self.ids, ids).astype(np.int32), counts.astype(np.float64)
                )
        return [p for f in forms if (p := self._exact[f]) is not None]

    def close(self) -> None:
        """Close the connection."""
        self._store.close()

    def current(self) -> bool:
        """False once another connection has committed to the database since the load."""
        with self._lock:
            return self._store.data_version() == self._version

    def _terms(self, word: str) -> list[str]:
        if word not in self._tokens:
            with self._lock:
                self._tokens[word] = self._store.keyword_tokens(word)
        return self._tokens[word]

    def search(
        self,
        words: Sequence[str],
        limit: int,
        allowed: Sequence[int] | None = None,
        exact: Sequence[str] = (),
    ) -> list[tuple[int, float]] | None:
        """(passage id, bm25 score) of the best passages with any of the words, as
        Store.keyword ranks them; None when only SQL can answer (see the module docstring).

        Args:
            words: the query's words (search.query_terms), each an FTS5 phrase.
            limit: how many.
            allowed: only these passage ids (the filters), or None for all.
            exact: words matched as written in the unstemmed table (Store.keyword's `exact`),
                each an FTS5 phrase; their bm25 is added after the stemmed words'.
        """
        phrases = [self._terms(w) for w in words]
        if any(len(p) != 1 for p in phrases) or not self.current():
            return None
        total = self._total([self._postings.get(term) for (term,) in phrases])
        if exact:
            extra = self._total(self._exact_postings(exact))
            total = extra if total is None else total if extra is None else total + extra
        if total is None:
            return []
        matched = np.flatnonzero(total)  # every term of every match adds more than 0
        if allowed is not None:
            matched = matched[np.isin(self.ids[matched], np.asarray(allowed, dtype=np.int64))]
        if len(matched) > limit:  # the best `limit`, and every passage tied with the last of them
            cut = np.partition(total[matched], len(matched) - limit)[len(matched) - limit]
            matched = matched[total[matched] >= cut]
        order = np.lexsort((matched, -total[matched]))[:limit]  # matched is in id order
        return [(int(self.ids[i]), float(total[i])) for i in matched[order]]

    def _total(self, postings: Sequence[tuple[np.ndarray, np.ndarray] | None]) -> np.ndarray | None:
        """Each passage's bm25 sum over the given terms' postings (None: no term occurs)."""
        positions, scores = [], []
        for posting in postings:  # in query order: the sums then add up as FTS5's do
            if posting is not None:
                where, part = posting
                hits = len(where)
                idf = math.log((self.rows - hits + 0.5) / (hits + 0.5))
                positions.append(where)
                scores.append(part * (idf if idf > 0.0 else 1e-6))
        if not positions:
            return None
        where = np.concatenate(positions)
        return np.bincount(where, weights=np.concatenate(scores), minlength=len(self.ids))
