"""The pipeline: runs the stages over files, for `ingest` (into an index) and `tag` (to JSONL).

extract (in worker processes) -> segment -> embed -> tag -> store + index. A file whose
sha256 is unchanged is skipped before any model is loaded; a changed file replaces its old
passages in the database and in the vector index; a file that fails is reported with its
reason and the rest of the batch goes on. Each document is committed on its own, and the
vector index is saved at the end (and rebuilt from the database if a crash intervened).

`analysed()` is the seam between the heavy stages and the one writer: it turns files into
analysed documents on the chosen executor (processes on this machine, or Ray: see
distributed.py), and `ingest` and `tag_files` consume what it yields, in one process.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import SUPPORTED_SUFFIXES, Settings
from .embed import embed, get_embedder, model_spec
from .errors import ExtractionError, IndexLockedError, IndexMismatchError
from .extract import extract, sha256_file
from .index import build, check_model, open_index, save_index
from .segment import segment
from .store import Store
from .tag import Tagger, Taxonomy, load_taxonomy
from .types import Document, DocumentTags, Passage

SAVE_EVERY = 10  # documents between vector index saves


class Progress(Protocol):
    """What the pipeline reports while it works (the CLI draws a progress bar from it)."""

    def begin(self, files: int, pages: int) -> None: ...

    def advance(self, path: Path, pages: int) -> None: ...


@dataclass
class FileResult:
    """What happened to one file."""

    path: str
    status: str  # added | updated | skipped | failed | removed
    pages: int = 0
    passages: int = 0
    reason: str | None = None


@dataclass
class IngestReport:
    """The outcome of an ingest run."""

    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """How many files ended with this status."""
        return sum(f.status == status for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        """The files that could not be ingested."""
        return [f for f in self.files if f.status == "failed"]

    def summary(self) -> dict:
        """Counts for the closing line and for --json."""
        return {
            **{s: self.count(s) for s in ("added", "updated", "skipped", "failed", "removed")},
            "pages": sum(f.pages for f in self.files if f.status in ("added", "updated")),
            "passages": sum(f.passages for f in self.files if f.status in ("added", "updated")),
            "seconds": round(self.seconds, 1),
        }

    def to_dict(self) -> dict:
        return {"summary": self.summary(), "files": [asdict(f) for f in self.files]}


# A folder's own documentation is not a policy document: ../shared/corpus/README.md was
# indexed as one. Named explicitly, such a file is still taken.
FOLDER_NOTES = {"readme", "license", "licence", "changelog", "contributing", "manifest"}


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Files to process: given files as they are, folders searched recursively for supported
    types (hidden files and folder notes such as README.md left out)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and p.stem.lower() not in FOLDER_NOTES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            found.append(path)  # missing or unsupported: extract() says why
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def page_count(path: Path) -> int:
    """Pages of a PDF, read cheaply for the progress bar (0 if unreadable); 1 for text files."""
    if path.suffix.lower() != ".pdf":
        return 1
    try:
        import pypdfium2

        pdf = pypdfium2.PdfDocument(str(path))
        try:
            return len(pdf)
        finally:
            pdf.close()
    except Exception:  # the real error is reported by extract()
        return 0


def _extract_safely(path: Path, settings: Settings) -> Document | ExtractionError:
    """extract() for a worker process: every failure comes back as an ExtractionError value."""
    try:
        return extract(path, settings)
    except ExtractionError as exc:
        return exc
    except Exception as exc:  # a parser bug on an odd file must not stop the batch
        return ExtractionError(path, f"extraction failed ({type(exc).__name__}: {exc})")


def _leave_interrupts_to_parent() -> None:
    """Ctrl-C reaches every process of the terminal's group; only the parent should act on it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def extract_all(paths: list[Path], settings: Settings) -> Iterator[tuple[Path, Document | ExtractionError]]:
    """Extract files in parallel worker processes, yielding each as it finishes."""
    workers = min(settings.workers, len(paths))
    if workers <= 1:
        for path in paths:
            yield path, _extract_safely(path, settings)
        return
    # spawn, not fork: the parent may hold torch threads, which fork does not survive.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_leave_interrupts_to_parent) as pool:
        # Biggest files first, so no worker is left with a long file at the end.
        by_size = sorted(paths, key=lambda p: -p.stat().st_size if p.is_file() else 0)
        futures = {pool.submit(_extract_safely, path, settings): path for path in by_size}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()


@contextmanager
def _ingest_lock(index_dir: Path):
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".ingest.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexLockedError(f"another ingest is writing to {index_dir}; wait for it to finish") from None
        yield


def ingest(
    paths: Iterable[str | Path],
    settings: Settings,
    prune: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Add new and changed files to the index in `settings.index_dir`.

    Args:
        paths: files and folders (.pdf, .txt, .md).
        settings: index location, model, taxonomy, workers.
        prune: also remove documents whose files no longer exist.
        progress: receives file and page counts as work proceeds.

    Returns:
        What happened to each file, and the totals.
    """
    started = time.time()
    report = IngestReport()
    files = discover(paths)
    name, dim = model_spec(settings.model)
    with _ingest_lock(settings.index_dir), Store(settings.index_dir, create=True) as store:
        check_model(store, name, dim)
        todo: list[tuple[Path, str]] = []
        for path in files:
            stored = store.document_by_path(str(path.resolve())) if path.is_file() else None
            if stored and stored.sha256 == sha256_file(path):
                report.files.append(FileResult(str(path), "skipped"))
            else:
                todo.append((path, "updated" if stored else "added"))
        index = open_index(store, dim)
        if prune:
            for doc in store.documents():
                if not Path(doc.path).exists():
                    index.remove(store.delete_document(doc.path))
                    report.files.append(FileResult(doc.path, "removed"))
        try:
            if todo:
                _index_files(todo, store, index, (name, dim), settings, report, progress)
        finally:
            save_index(store, index)
    report.seconds = time.time() - started
    return report


def _index_files(
    todo, store, index, model: tuple[str, int], settings: Settings, report: IngestReport, progress: Progress | None
) -> None:
    status = dict(todo)
    pages = {path: page_count(path) for path, _ in todo}
    if progress:  # before the models load, so the bar is up while they do
        progress.begin(len(todo), sum(pages.values()))
    taxonomy = load_taxonomy(settings.taxonomy)
    recorded = store.meta().get("taxonomy")
    if recorded and recorded != taxonomy.key:
        raise IndexMismatchError(
            f"{settings.index_dir} was tagged with taxonomy {recorded}, not {taxonomy.key}:"
            " ingest into a new --index-dir to use another taxonomy"
        )
    name, dim = model
    store.set_meta(model=name, dim=dim, taxonomy=taxonomy.key, topics=json.dumps(list(taxonomy.topics)))
    # The one writer: whichever executor analysed a file, it is stored here, one at a time.
    for done, item in enumerate(analysed([p for p, _ in todo], settings, taxonomy), start=1):
        path = item.path
        if item.error is not None:
            report.files.append(FileResult(str(path), "failed", reason=item.error.reason))
        else:
            try:
                removed, ids = store.replace_document(item.doc, item.tags, item.passages, item.vectors)
                index.remove(removed)
                index.add(ids, item.vectors)
                report.files.append(FileResult(str(path), status[path], len(item.doc.pages), len(item.passages)))
            except Exception as exc:  # noqa: BLE001 - one bad document must not sink the batch
                report.files.append(FileResult(str(path), "failed", reason=f"indexing failed ({type(exc).__name__}: {exc})"))
        if done % SAVE_EVERY == 0:
            save_index(store, index)
        if progress:
            progress.advance(path, pages[path])


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


class Analyser:
    """segment -> embed -> tag for extracted documents, with the models loaded once.

    The local executor runs one in this process; the Ray executor one per worker actor.
    """

    def __init__(self, settings: Settings, taxonomy: Taxonomy | None = None, explain: bool = False):
        self.settings = settings
        self.tagger = Tagger(get_embedder(settings.model), settings, taxonomy or load_taxonomy(settings.taxonomy))
        self.explain = explain

    def __call__(self, path: Path, doc: Document) -> Analysed:
        """The analysed document; a failure comes back as a value, so the batch goes on."""
        try:
            passages, vectors, tags = _analyse(doc, self.tagger, self.settings)
            why = [self.tagger.explain(p.text, v) for p, v in zip(passages, vectors)] if self.explain else None
        except Exception as exc:  # noqa: BLE001 - one bad document must not sink the batch
            return Analysed(path, error=ExtractionError(path, f"analysis failed ({type(exc).__name__}: {exc})"))
        return Analysed(path, doc, passages, vectors, tags, explain=why)


def analysed(
    paths: list[Path], settings: Settings, taxonomy: Taxonomy | None = None, explain: bool = False
) -> Iterator[Analysed]:
    """Files through extract -> segment -> embed -> tag on `settings.executor`, each as it finishes.

    Args:
        paths: the files (every one comes back once, analysed or with its error).
        settings: executor, model, workers, OCR.
        taxonomy: the topics to tag with (default: `settings.taxonomy`).
        explain: also give, per passage, the terms and similarities behind each topic.
    """
    if settings.executor == "ray":
        from .distributed import analysed_on_ray

        yield from analysed_on_ray(paths, settings, taxonomy, explain)
        return
    analyser = None  # the models load once the first document is extracted, while workers go on
    for path, result in extract_all(paths, settings):
        if isinstance(result, ExtractionError):
            yield Analysed(path, error=result)
        else:
            analyser = analyser or Analyser(settings, taxonomy, explain)
            yield analyser(path, result)


def reembed(settings: Settings, on_batch: Callable[[int], None] | None = None) -> int:
    """Embed every stored passage again with `settings.model`, keeping texts and tags.

    Switching models (say to the multilingual `use`) then needs no new extraction and
    tagging. The vectors, the recorded model and the FAISS file change together: the
    database in one transaction, the FAISS file rebuilt from it.

    Returns:
        The number of passages embedded.
    """
    name, dim = model_spec(settings.model)
    with _ingest_lock(settings.index_dir), Store(settings.index_dir) as store:
        ids, texts = store.passage_texts()
        vectors = embed(texts, get_embedder(settings.model), settings.batch_size, on_batch)
        store.replace_vectors(ids, vectors, model=name, dim=dim)
        save_index(store, build(dim, np.asarray(ids, dtype=np.int64), vectors))
    return len(ids)


def _analyse(doc: Document, tagger: Tagger, settings: Settings):
    """segment -> embed -> tag for one extracted document: (passages, vectors, document tags)."""
    passages = segment(doc, settings)
    vectors = embed([p.text for p in passages], tagger.embedder, settings.batch_size)
    tagger.tag(passages, vectors, doc.lang)
    return passages, vectors, tagger.document_tags(doc, passages)


def tag_files(
    paths: Iterable[str | Path],
    settings: Settings,
    progress: Progress | None = None,
    done: set[str] = frozenset(),
    explain: bool = False,
) -> Iterator[dict | ExtractionError]:
    """Tag documents without indexing them: one record per document (or its error), as finished.

    Args:
        paths: files and folders.
        settings: model, taxonomy, workers, OCR.
        progress: receives file and page counts.
        done: resolved paths to skip (already in the output of an earlier run).
        explain: add, per passage, the matched terms and similarities behind each topic.
    """
    files = [f for f in discover(paths) if str(f.resolve()) not in done]
    pages = {path: page_count(path) for path in files}
    if progress:
        progress.begin(len(files), sum(pages.values()))
    for item in analysed(files, settings, explain=explain):
        if progress:
            progress.advance(item.path, pages[item.path])
        if item.error is not None:
            yield item.error
            continue
        doc, tags = item.doc, item.tags
        yield {
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
                    "page": p.page,
                    "section": p.section,
                    "text": p.text,
                    "topics": p.topics,
                    "entities": [{"text": e.text, "label": e.label, "norm": e.norm} for e in p.entities],
                    **({"explain": item.explain[i]} if explain else {}),
                }
                for i, p in enumerate(item.passages)
            ],
            "warnings": doc.warnings,
        }
