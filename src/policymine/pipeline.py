"""The pipeline: runs the stages over files, for `ingest` (into an index) and `tag` (to JSONL).

extract (in worker processes) -> segment -> embed -> tag -> store + index. A file whose
sha256 is unchanged is skipped before any model is loaded; a changed file replaces its old
passages in the database and in the vector index; a file that fails is reported with its
reason and the rest of the batch goes on. Each document is committed on its own, and the
vector index is saved every 10 documents and at the end (and repaired from the database
if a crash intervened). Extraction workers have a per-file time limit and die with the ingest.

`executors.analysed()` is the seam between the heavy stages and the one writer: it turns
files into analysed documents (analyse.py) on the chosen executor (processes on this
machine, or Ray: see executors/), and `ingest` and `tag_files` consume what it yields, in
one process. `tagged_paths` lets `tag --resume` pick up an output file where a run stopped.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from . import executors
from .config import SUPPORTED_SUFFIXES, Settings
from .embed import embed, export_query_model, get_embedder, model_spec
from .errors import ExtractionError, PolicymineError, one_line, printable
from .extract import sha256_file
from .index import INDEX_FILE, build, open_index, save_index
from .practices import detector_version, document_records, ensure_practices
from .store import Store, write_lock
from .tag import load_taxonomy

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
    warnings: list[str] = field(default_factory=list)  # added, but not everything went well


@dataclass
class IngestReport:
    """The outcome of an ingest run."""

    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(
        default_factory=list
    )  # the index works, but not as well as it could
    skipped: dict[str, int] = field(
        default_factory=dict
    )  # files of other types in folders, by suffix
    save_error: str | None = None  # the vector index could not be saved (a full disk, say)

    def count(self, status: str) -> int:
        """How many files ended with this status."""
        return sum(f.status == status for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        """The files that could not be ingested."""
        return [f for f in self.files if f.status == "failed"]

    @property
    def ok(self) -> bool:
        """Every file in and the vector index saved."""
        return not self.failed and self.save_error is None

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
            "skipped": self.skipped,
            "save_error": self.save_error,
        }


# A folder's own documentation is not a policy document: ../shared/corpus/README.md was
# indexed as one. Named explicitly, such a file is still taken.
FOLDER_NOTES = {"readme", "license", "licence", "changelog", "contributing", "manifest"}


@dataclass
class Found:
    """The files to process, and what the folders held besides (file counts by suffix)."""

    files: list[Path]
    skipped: dict[str, int]


def scan(paths: Iterable[str | Path]) -> Found:
    """Files to process: given files as they are, folders searched recursively for supported
    types (hidden files and folder notes such as README.md left out, other types counted).

    A symbolic link that loops or leads nowhere is kept, so that it is reported like any
    file that cannot be read, and the rest of the batch goes on.
    """
    found: list[Path] = []
    skipped: Counter[str] = Counter()
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            found.append(path)  # missing, unsupported or a broken link: extract() says why
            continue
        for p in sorted(path.rglob("*")):
            if p.stem.lower() in FOLDER_NOTES or any(
                part.startswith(".") for part in p.relative_to(path).parts
            ):
                continue
            if p.suffix.lower() in SUPPORTED_SUFFIXES and (p.is_file() or _broken_link(p)):
                found.append(p)
            elif p.is_file():
                skipped[p.suffix.lower() or "(no suffix)"] += 1
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(Path(os.path.realpath(p)), p)  # never raises, unlike resolve() on a loop
    return Found(list(unique.values()), dict(skipped.most_common()))


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """The files `scan` finds."""
    return scan(paths).files


def _broken_link(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def skipped_note(skipped: dict[str, int]) -> str:
    """ "skipped 3 files of other types in the folders (2 .docx, 1 .png)"."""
    n = sum(skipped.values())
    kinds = ", ".join(f"{count} {suffix}" for suffix, count in skipped.items())
    return (
        f"skipped {n} file{'s' if n != 1 else ''} of other types in the folders ({kinds});"
        f" policymine reads {', '.join(SUPPORTED_SUFFIXES)}"
    )


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
    except Exception:  # noqa: BLE001 - the real error is reported by extract()
        return 0


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
    paths = list(paths)
    found = scan(paths)
    files = found.files
    report = IngestReport(skipped=found.skipped)
    if not files and not prune:
        where = ", ".join(printable(str(p)) for p in paths) or "no path given"
        raise PolicymineError(
            f"nothing to ingest in {where}"
            + (f": {skipped_note(found.skipped)}" if found.skipped else ": no files there")
        )
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
            store.set_meta(practices=detector_version(name))
        if prune:
            for doc in store.documents():
                if not Path(doc.path).exists():
                    index.remove(store.delete_document(doc.path))
                    report.files.append(FileResult(doc.path, "removed"))
        try:
            if todo:
                _index_files(todo, store, index, (name, dim), settings, report, progress)
        finally:
            _save(store, index, report)
        ensure_practices(store)  # an index from before practice records gets them all once
        store.label_boilerplate()  # and one from before boilerplate labels gets those
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
    records_each = store.index_meta().practices == detector_version(name)
    # The one writer: whichever executor analysed a file, it is stored here, one at a time.
    for done, item in enumerate(
        executors.analysed([p for p, _ in todo], settings, taxonomy), start=1
    ):
        path = item.path
        if item.error is not None:
            report.files.append(FileResult(str(path), "failed", reason=item.error.reason))
        else:
            try:
                # practice records in the document's own transaction: a kill cannot leave it without them
                practices = (
                    document_records(item.doc, item.passages, item.vectors, name)
                    if records_each
                    else ()
                )
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
                reason = (
                    f"not stored: {DISK_FULL}"
                    if _disk_full(exc)
                    else f"indexing failed ({type(exc).__name__}: {one_line(str(exc))})"
                )
                report.files.append(FileResult(str(path), "failed", reason=reason))
            else:
                report.files[-1].warnings = list(item.doc.warnings)
        if done % SAVE_EVERY == 0:
            _save(store, index, report)
        if progress:
            progress.advance(path, pages[path])


DISK_FULL = "the disk is full; free some space and run the same ingest again"


def _disk_full(exc: BaseException) -> bool:
    """Whether an error is a full disk (or quota), from SQLite, the OS or FAISS."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "disk is full" in text or "no space left" in text or "quota exceeded" in text


def _save(store: Store, index, report: IngestReport) -> None:
    """Save the vector index; a failure (a full disk) is noted in the report, not raised: the
    database holds every stored document, and the next run repairs the index from it."""
    try:
        save_index(store, index)
        report.save_error = None  # the last save is the one that counts
    except (OSError, RuntimeError) as exc:
        cause = DISK_FULL if _disk_full(exc) else f"{type(exc).__name__}: {one_line(str(exc), 160)}"
        report.save_error = (
            f"could not save the vector index in {store.path.parent} ({cause}); every document"
            " reported as added is in the database, and the next ingest repairs the index from it"
        )


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
        export_query_model(name, settings.index_dir)  # a slower query start if it cannot
    return len(ids)


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
    files = [f for f in discover(paths) if os.path.realpath(f) not in done]
    pages = {path: page_count(path) for path in files}
    if progress:
        progress.begin(len(files), sum(pages.values()))
    for item in executors.analysed(files, settings, explain=explain):
        if progress:
            progress.advance(item.path, pages[item.path])
        if item.error is not None:
            yield item.error
            continue
        yield item.to_dict()


# The columns of `tag --format csv`, in order.
TAG_CSV_COLUMNS = ["doc", "path", "title", "lang", "city", "country", "pages", "topics", "entities"]


def tagged_paths(out_file: Path, fmt: str) -> set[str]:
    """Paths already in a `tag` output file (jsonl or csv), for --resume.

    A line cut short by a crash is dropped from the file, so the run can append after it.
    """
    if not out_file.exists():
        return set()
    lines = out_file.read_text(encoding="utf-8").splitlines(keepends=True)
    kept, done = [], set()
    if fmt == "csv":
        rows = list(csv.reader(lines))
        if rows and rows[0] != TAG_CSV_COLUMNS:
            raise PolicymineError(
                f"{out_file}: not a policymine tag CSV (its header differs); cannot --resume"
            )
        for line, row in zip(lines, rows):
            if line.endswith("\n") and len(row) == len(TAG_CSV_COLUMNS):
                kept.append(line)
                done.add(row[1])
        done.discard("path")
    else:
        for line in lines:
            try:
                done.add(json.loads(line)["path"])
                kept.append(line)
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    if len(kept) != len(lines):
        out_file.write_text("".join(kept), encoding="utf-8")
    return done
