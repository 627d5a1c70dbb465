"""The pipeline: runs the stages over files, for `ingest` (into an index) and `tag` (to JSONL).

extract (in worker processes) -> segment -> embed -> tag -> store + index. A file whose
sha256 is unchanged is skipped before any model is loaded; a changed file replaces its old
passages in the database and in the vector index; a file that fails is reported with its
reason and the rest of the batch goes on. Each document is committed on its own, and the
vector index is saved every 10 documents and at the end (and repaired from the database
if a crash intervened). Extraction workers have a per-file time limit and die with the ingest.

`analysed()` is the seam between the heavy stages and the one writer: it turns files into
analysed documents on the chosen executor (processes on this machine, or Ray: see
distributed.py), and `ingest` and `tag_files` consume what it yields, in one process.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import SUPPORTED_SUFFIXES, Settings
from .embed import embed, export_query_model, get_embedder, model_spec
from .errors import ExtractionError, PolicymineError, one_line
from .extract import extract, sha256_file
from .index import INDEX_FILE, build, open_index, save_index
from .practices import DETECTOR_VERSION, document_records, ensure_practices
from .segment import segment
from .store import Store, write_lock
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
    warnings: list[str] = field(
        default_factory=list
    )  # the index works, but not as well as it could

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
        return {
            "summary": self.summary(),
            "files": [asdict(f) for f in self.files],
            "warnings": self.warnings,
        }


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
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_SUFFIXES
                and p.stem.lower() not in FOLDER_NOTES
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


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
READY = "ready"  # a worker's first message


def _die_with_parent(parent: int) -> None:
    """End this worker when the ingest that started it ends, even by SIGKILL: on Linux the
    kernel sends SIGKILL (prctl PR_SET_PDEATHSIG), elsewhere a thread watches the parent."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
        else:
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _extraction_worker(conn, settings: Settings, parent: int) -> None:
    """A worker process: extract each path received, send back the Document or the error."""
    _die_with_parent(parent)
    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # Ctrl-C reaches the whole group; the parent acts on it
    conn.send(READY)  # a file's time limit starts when a worker is up, not while it boots
    while True:
        try:
            path = conn.recv()
        except (EOFError, OSError):
            return
        if path is None:
            return
        conn.send(_extract_safely(path, settings))


class _Worker:
    """One extraction process and the file it is working on."""

    def __init__(self, context, settings: Settings):
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_extraction_worker, args=(child, settings, os.getpid()), daemon=True
        )
        self.process.start()
        child.close()
        self.ready = False
        self.crashed = False
        self.path: Path | None = None
        self.deadline = 0.0

    def started(self) -> None:
        """Note that the process has booted (its first message), or died booting."""
        try:
            self.ready = self.conn.recv() == READY
        except (EOFError, OSError):
            self.process.join(1)
        self.crashed = not self.ready

    def give(self, path: Path, timeout: float) -> None:
        """Start on a file, due within `timeout` seconds."""
        self.path, self.deadline = path, time.monotonic() + timeout
        self.conn.send(path)

    def take(self) -> tuple[Path, Document | ExtractionError]:
        """The finished file and its result (an error if the worker died on it)."""
        path, self.path = self.path, None
        try:
            return path, self.conn.recv()
        except (EOFError, OSError):
            self.process.join(1)
            self.crashed = True
            return path, ExtractionError(
                path, f"extraction worker crashed (exit code {self.process.exitcode})"
            )

    def kill(self) -> None:
        """Stop the process at once (it holds no state worth saving)."""
        self.process.kill()
        self.process.join()
        self.conn.close()


def extract_all(
    paths: list[Path], settings: Settings
) -> Iterator[tuple[Path, Document | ExtractionError]]:
    """Extract files in parallel worker processes, yielding each as it finishes.

    A file that takes longer than `settings.file_timeout` seconds, or that crashes its
    worker, comes back as an ExtractionError; its worker is replaced and the rest go on.
    Workers end with this generator, and with the process that runs it, however it ends.
    """
    if not paths:
        return
    # spawn, not fork: the parent may hold torch threads, which fork does not survive.
    context = multiprocessing.get_context("spawn")
    # Biggest files first, so no worker is left with a long file at the end.
    queue = deque(sorted(paths, key=lambda p: -p.stat().st_size if p.is_file() else 0))
    workers = [_Worker(context, settings) for _ in range(min(settings.workers, len(paths)))]
    failed_boots = 0  # in a row: a worker killed while booting is replaced, a broken install is not

    def renew(i: int) -> None:
        workers[i].kill()
        workers[i] = _Worker(context, settings)

    try:
        while True:
            for worker in workers:
                if worker.ready and worker.path is None and queue:
                    worker.give(queue.popleft(), settings.file_timeout)
            busy = [w for w in workers if w.path is not None]
            if not busy and not queue:
                return
            due = min((w.deadline for w in busy), default=None)
            wait(
                [w.conn for w in workers if w.path is not None or not w.ready],
                timeout=None if due is None else max(0.0, due - time.monotonic()),
            )
            for i, worker in enumerate(workers):
                # poll() now, not wait()'s answer: the consumer may have taken its time since
                # then, and a result that came meanwhile must not be killed as overdue.
                if worker.ready and worker.path is None:
                    continue
                if not worker.conn.poll():
                    if worker.path is not None and time.monotonic() >= worker.deadline:
                        path = worker.path
                        renew(i)
                        yield (
                            path,
                            ExtractionError(path, f"timed out after {settings.file_timeout:g} s"),
                        )
                elif not worker.ready:
                    worker.started()
                    failed_boots = failed_boots + 1 if worker.crashed else 0
                    if failed_boots >= 3:
                        raise PolicymineError(
                            f"extraction workers fail to start (exit code {worker.process.exitcode})"
                        )
                    if worker.crashed:
                        renew(i)
                else:
                    done = worker.take()
                    if worker.crashed:
                        renew(i)
                    yield done
    finally:
        for worker in workers:
            worker.kill()


@contextmanager
def _terminate_as_interrupt():
    """SIGTERM ends a writer the way Ctrl-C does: the document in hand rolled back, workers
    stopped, the vector index saved (signals can only be handled in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    with (
        _terminate_as_interrupt(),
        write_lock(settings.index_dir),
        Store(settings.index_dir, create=True) as store,
    ):
        store.index_meta().check_compatible(settings.index_dir, model=(name, dim))
        todo: list[tuple[Path, str]] = []
        for path in files:
            stored = store.document_by_path(str(path.resolve())) if path.is_file() else None
            if stored and stored.sha256 == sha256_file(path):
                report.files.append(FileResult(str(path), "skipped"))
            else:
                todo.append((path, "updated" if stored else "added"))
        index = open_index(
            store, dim, save=True
        )  # repaired, if a crash left it behind the database
        if not store.documents():  # a new index: practice records are written document by document
            store.set_meta(practices=DETECTOR_VERSION)
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
        ensure_practices(store)  # an index from before practice records gets them all once
        if store.documents():  # once per index; an older index gets it with its next ingest
            problem = export_query_model(name, settings.index_dir)
            if problem:
                report.warnings.append(
                    f"queries will embed in numpy, more slowly: no ONNX export ({problem})"
                )
    report.seconds = time.time() - started
    return report


def _index_files(
    todo,
    store,
    index,
    model: tuple[str, int],
    settings: Settings,
    report: IngestReport,
    progress: Progress | None,
) -> None:
    status = dict(todo)
    pages = {path: page_count(path) for path, _ in todo}
    if progress:  # before the models load, so the bar is up while they do
        progress.begin(len(todo), sum(pages.values()))
    taxonomy = load_taxonomy(settings.taxonomy)
    store.index_meta().check_compatible(settings.index_dir, taxonomy=taxonomy.key)
    name, dim = model
    store.set_meta(
        model=name, dim=dim, taxonomy=taxonomy.key, topics=json.dumps(list(taxonomy.topics))
    )
    # Records document by document in an index that has them all; an older one is backfilled after.
    records_each = store.index_meta().practices == DETECTOR_VERSION
    # The one writer: whichever executor analysed a file, it is stored here, one at a time.
    for done, item in enumerate(analysed([p for p, _ in todo], settings, taxonomy), start=1):
        path = item.path
        if item.error is not None:
            report.files.append(FileResult(str(path), "failed", reason=item.error.reason))
        else:
            try:
                # practice records in the document's own transaction: a kill cannot leave it without them
                practices = document_records(item.doc, item.passages) if records_each else ()
                removed, ids = store.replace_document(
                    item.doc, item.tags, item.passages, item.vectors, practices
                )
                # the vectors right after the commit: an interrupt must not find them in one store only
                index.remove(removed)
                index.add(ids, item.vectors)
                report.files.append(
                    FileResult(str(path), status[path], len(item.doc.pages), len(item.passages))
                )
            except Exception as exc:  # noqa: BLE001 - one bad document must not sink the batch
                reason = f"indexing failed ({type(exc).__name__}: {one_line(str(exc))})"
                report.files.append(FileResult(str(path), "failed", reason=reason))
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
    with (
        _terminate_as_interrupt(),
        write_lock(settings.index_dir),
        Store(settings.index_dir, write=True) as store,
    ):
        ids, texts = store.passage_texts()
        vectors = embed(texts, get_embedder(settings.model), settings.batch_size, on_batch)
        # The ids stay while the vectors change, so a crash before the new file is saved would
        # leave an old file that passes open_index's id check: remove it first (it is rebuilt).
        (settings.index_dir / INDEX_FILE).unlink(missing_ok=True)
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
                    "entities": [
                        {"text": e.text, "label": e.label, "norm": e.norm} for e in p.entities
                    ],
                    **({"explain": item.explain[i]} if explain else {}),
                }
                for i, p in enumerate(item.passages)
            ],
            "warnings": doc.warnings,
        }
