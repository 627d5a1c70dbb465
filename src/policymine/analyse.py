"""Analysis: one extracted document through segment -> embed -> tag, whatever runs it.

`Analyser` loads the models once and turns a Document into an `Analysed` value (a failure
is a value too, so a batch goes on). The executors (executors/) run it: in this process
behind a pool of extraction workers, or in Ray actors. `extract_safely` is extraction as
a worker runs it, with every failure returned as an ExtractionError and the PDF libraries'
log messages and warnings kept as warnings of the file they are about (not loose on stderr).
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import Settings
from .embed import embed, get_embedder
from .errors import ExtractionError, one_line
from .extract import extract
from .segment import MIN_FRAGMENT_WORDS, segment
from .tag import Tagger, Taxonomy, load_taxonomy
from .types import Document, DocumentTags, Passage

# What a `tag` record carries per passage, in this order.
TAG_PASSAGE_FIELDS = ("page", "section", "text", "topics", "entities")


LIBRARY_MESSAGES = 5  # at most this many different library messages kept per file
# Python's own warnings about code (a file handle left to the garbage collector, which may
# be another file's): ignored, as Python does by default.
NOT_ABOUT_THE_FILE = (ResourceWarning, DeprecationWarning, PendingDeprecationWarning)


def extract_safely(path: Path, settings: Settings) -> Document | ExtractionError:
    """extract() for a worker process: every failure comes back as an ExtractionError value,
    and what the PDF libraries log or warn while reading the file becomes its warnings."""
    messages: list[str] = []
    try:
        with library_messages(messages):
            doc = extract(path, settings)
    except ExtractionError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a parser bug on an odd file must not stop the batch
        return ExtractionError(path, f"extraction failed ({type(exc).__name__}: {exc})")
    doc.warnings.extend(summarise(messages))
    return doc


class _Collect(logging.Handler):
    def __init__(self, into: list[str]):
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(f"{record.name.split('.')[0]}: {record.getMessage()}")


@contextmanager
def library_messages(into: list[str]) -> Iterator[None]:
    """Collect the log records (warning and up) and Python warnings raised inside, instead of
    letting them reach stderr without the name of the file they are about."""
    handler = _Collect(into)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for category in NOT_ABOUT_THE_FILE:
                warnings.simplefilter("ignore", category)
            try:
                yield
            finally:
                into.extend(f"{w.category.__name__}: {w.message}" for w in caught)
    finally:
        root.removeHandler(handler)


def summarise(messages: list[str]) -> list[str]:
    """Library messages as file warnings: one line each, repeats counted, the first few kept."""
    counts = Counter(one_line(m, 200) for m in messages)
    kept = [m + (f" ({n} times)" if n > 1 else "") for m, n in counts.most_common(LIBRARY_MESSAGES)]
    if len(counts) > LIBRARY_MESSAGES:
        kept.append(f"and {len(counts) - LIBRARY_MESSAGES} other library messages")
    return kept


@dataclass
class Analysed:
    """One file after extract -> segment -> embed -> tag, or the reason it failed."""

    path: Path
    doc: Document | None = None
    passages: list[Passage] = field(default_factory=list)
    vectors: np.ndarray | None = None
    tags: DocumentTags | None = None
    error: ExtractionError | None = None
    explain: list[dict] | None = None  # per passage, when asked for

    def to_dict(self) -> dict:
        """The `tag` record of an analysed (not failed) document; per passage `explain` if asked."""
        doc, tags = self.doc, self.tags
        return {
            "doc": doc.name,
            "path": doc.path,
            "title": doc.title,
            "lang": doc.lang,
            "city": tags.city,
            "country": tags.country,
            "pages": len(doc.pages),
            "topics": tags.topics,
            "entities": [{"text": t, "label": label, "count": c} for t, label, c in tags.entities],
            "passages": [
                {
                    **p.to_dict(*TAG_PASSAGE_FIELDS),
                    **({"explain": self.explain[i]} if self.explain is not None else {}),
                }
                for i, p in enumerate(self.passages)
            ],
            "warnings": doc.warnings,
        }


class Analyser:
    """segment -> embed -> tag for extracted documents, with the models loaded once.

    The local executor runs one in this process; the Ray executor one per worker actor.
    """

    def __init__(self, settings: Settings, taxonomy: Taxonomy | None = None, explain: bool = False):
        self.settings = settings
        self.tagger = Tagger(
            get_embedder(settings.model), settings, taxonomy or load_taxonomy(settings.taxonomy)
        )
        self.explain = explain

    def __call__(self, path: Path, doc: Document) -> Analysed:
        """The analysed document; a failure comes back as a value, so the batch goes on."""
        try:
            passages, vectors, tags = _analyse(doc, self.tagger, self.settings)
            why = (
                [self.tagger.explain(p.text, v) for p, v in zip(passages, vectors)]
                if self.explain
                else None
            )
        except Exception as exc:  # noqa: BLE001 - one bad document must not sink the batch
            return Analysed(
                path, error=ExtractionError(path, f"analysis failed ({type(exc).__name__}: {exc})")
            )
        if not passages:
            doc.warnings.append(
                f"no passage to search: too little text (a passage needs {MIN_FRAGMENT_WORDS} words)"
            )
        return Analysed(path, doc, passages, vectors, tags, explain=why)


def _analyse(doc: Document, tagger: Tagger, settings: Settings):
    """segment -> embed -> tag for one extracted document: (passages, vectors, document tags)."""
    passages = segment(doc, settings)
    vectors = embed([p.text for p in passages], tagger.embedder, settings.batch_size)
    scores = tagger.tag(passages, vectors, doc.lang, f"{doc.name} {doc.title}")
    return passages, vectors, tagger.document_tags(doc, passages, scores)
