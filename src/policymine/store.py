"""Stage 5a: the SQLite store: documents, pages, passages, topics, entities and vectors.

SQLite is the source of truth. Each passage keeps its vector, so the FAISS index (index.py)
is a derived structure that can always be rebuilt from here. Passage ids come from an
AUTOINCREMENT column and are never reused, which keeps FAISS ids unambiguous. Each
document is written in one transaction, so a crash never leaves half a document.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from . import boilerplate
from .errors import (
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexReadOnlyError,
    NotFoundError,
    PolicymineError,
)
from .types import Document, DocumentTags, Entity, Filters, Hit, Passage

DB_FILE = "policymine.db"

# Numbered migrations: schema_version is the number applied. Append, never edit.
MIGRATIONS = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        title TEXT NOT NULL,
        lang TEXT NOT NULL,
        year INTEGER,
        city TEXT,
        country TEXT,
        n_pages INTEGER NOT NULL,
        warnings TEXT NOT NULL DEFAULT '[]',
        added_at REAL NOT NULL
    );
    CREATE INDEX documents_name ON documents(name);
    CREATE TABLE pages (
        doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        label TEXT,
        quality REAL NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (doc_id, number)
    );
    CREATE TABLE passages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        page INTEGER NOT NULL,
        section TEXT,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        char_start INTEGER NOT NULL,
        char_end INTEGER NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX passages_doc ON passages(doc_id);
    CREATE TABLE passage_topics (
        passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
        topic TEXT NOT NULL,
        score REAL NOT NULL,
        PRIMARY KEY (passage_id, topic)
    );
    CREATE INDEX passage_topics_topic ON passage_topics(topic, score);
    CREATE TABLE entities (
        passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        label TEXT NOT NULL,
        norm TEXT,
        country TEXT
    );
    CREATE INDEX entities_passage ON entities(passage_id);
    CREATE TABLE document_topics (
        doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        topic TEXT NOT NULL,
        score REAL NOT NULL,
        PRIMARY KEY (doc_id, topic)
    );
    """,
    # 2: passages that run on over a page break record their last page; OCR'd pages say so.
    """
    ALTER TABLE passages ADD COLUMN page_end INTEGER;
    UPDATE passages SET page_end = page;
    ALTER TABLE pages ADD COLUMN source TEXT NOT NULL DEFAULT 'text';
    """,
    # 3: keyword search. FTS5 over passage text with Porter stemming and accents folded
    # ("Förderung" matches "forderung"); triggers keep it in step with `passages`.
    """
    CREATE VIRTUAL TABLE passages_fts USING fts5(
        text, content='passages', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
    );
    INSERT INTO passages_fts(passages_fts) VALUES ('rebuild');
    CREATE TRIGGER passages_fts_insert AFTER INSERT ON passages BEGIN
        INSERT INTO passages_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER passages_fts_delete AFTER DELETE ON passages BEGIN
        INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    """,
    # 4: passage length in words (spaces and line breaks + 1), indexed, so that search finds
    # the fragments it leaves out of the dense list without reading every text at start-up.
    """
    ALTER TABLE passages ADD COLUMN words INTEGER GENERATED ALWAYS AS (
        length(text) - length(replace(replace(text, ' ', ''), char(10), '')) + 1
    ) VIRTUAL;
    CREATE INDEX passages_words ON passages(words);
    """,
    # 5: practice records (practices.py): one row per passage that describes a concrete practice,
    # the fields and their evidence as JSON. Filled at ingest; an older index is backfilled on
    # first use (meta `practices` records the detector version that filled it).
    """
    CREATE TABLE practices (
        passage_id INTEGER PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
        score REAL NOT NULL,
        instrument TEXT,
        status TEXT,
        page INTEGER NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX practices_instrument ON practices(instrument, score);
    """,
    # 6: the boilerplate kind of each passage (boilerplate.py: toc, references, header, table,
    # cover; '' for none), which search demotes. NULL until ingest computes it: an older index
    # gets it for all its passages at its next ingest (Store.label_boilerplate).
    """
    ALTER TABLE passages ADD COLUMN boilerplate TEXT;
    CREATE INDEX passages_boilerplate ON passages(boilerplate);
    """,
    # 7: keyword search without stemming beside the stemmed one, for the words whose Porter stem
    # joins distinct policy terms (heat and heating, transit and transition: search.SPLIT_STEMS).
    """
    CREATE VIRTUAL TABLE passages_exact USING fts5(
        text, content='passages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    INSERT INTO passages_exact(passages_exact) VALUES ('rebuild');
    CREATE TRIGGER passages_exact_insert AFTER INSERT ON passages BEGIN
        INSERT INTO passages_exact(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER passages_exact_delete AFTER DELETE ON passages BEGIN
        INSERT INTO passages_exact(passages_exact, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class IndexMeta:
    """What an index records about itself, read once: the one answer to "is it compatible?"."""

    schema_version: int = 0
    model: str | None = None
    dim: int | None = None
    taxonomy: str | None = None
    topics: tuple[str, ...] = ()
    practices: str | None = None  # the practice detector version that built the stored records

    @classmethod
    def read(cls, db: sqlite3.Connection) -> IndexMeta:
        """The facts in a database's meta table (all unset for a new, empty database)."""
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            return cls()
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        return cls(
            schema_version=int(meta.get("schema_version", 0)),
            model=meta.get("model"),
            dim=int(meta["dim"]) if "dim" in meta else None,
            taxonomy=meta.get("taxonomy"),
            topics=tuple(json.loads(meta.get("topics", "[]"))),
            practices=meta.get("practices"),
        )

    def check_schema(self, index_dir: Path, older_ok: bool = False) -> None:
        """IndexMismatchError unless this policymine reads the schema (`older_ok`: the writer,
        which migrates an older one)."""
        if self.schema_version > SCHEMA_VERSION:
            raise IndexMismatchError(
                f"{index_dir} was written by a newer policymine (schema {self.schema_version},"
                f" this one reads {SCHEMA_VERSION}): upgrade policymine"
            )
        if self.schema_version < SCHEMA_VERSION and not older_ok:
            raise IndexMismatchError(
                f"{index_dir} was written by an older policymine (schema {self.schema_version},"
                f" this one reads {SCHEMA_VERSION}): run `policymine ingest PATH --index-dir"
                f" {index_dir}` once to upgrade it (unchanged files are not read again)"
            )

    def check_topic(self, topic: str | None) -> str | None:
        """The taxonomy's own spelling of `topic` (matched case-insensitively), or a
        PolicymineError naming the known topics: the one check behind search, similar, digest,
        practices and serve (a bad parameter, like a bad mode: serve answers 400, not 404)."""
        if not topic or not self.topics:
            return topic
        match = next((t for t in self.topics if t.lower() == topic.strip().lower()), None)
        if match is None:
            raise PolicymineError(
                f"unknown topic {topic!r}; known topics: {', '.join(self.topics)}"
            )
        return match

    def check_compatible(
        self,
        index_dir: Path,
        model: tuple[str, int] | None = None,
        taxonomy: str | None = None,
    ) -> None:
        """IndexMismatchError, saying what to do, when the index was built with another
        embedding model (name, dim) or tagged with another taxonomy."""
        if model and self.model and (self.model, self.dim) != tuple(model):
            raise IndexMismatchError(
                f"{index_dir} was built with model {self.model} (dim {self.dim}), not {model[0]}"
                f" (dim {model[1]}): use --model {self.model}, or ingest into a new --index-dir"
            )
        if taxonomy and self.taxonomy and self.taxonomy != taxonomy:
            raise IndexMismatchError(
                f"{index_dir} was tagged with taxonomy {self.taxonomy}, not {taxonomy}:"
                " ingest into a new --index-dir to use another taxonomy"
            )


LOCK_FILE = ".ingest.lock"


@contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's writer lock: a second writer fails at once, naming the one at work; a
    folder that cannot be written to (a read-only mount, no permission) fails at once too."""
    index_dir = Path(index_dir)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fh = open(index_dir / LOCK_FILE, "a+")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise IndexReadOnlyError(
            f"cannot write to {index_dir} ({exc.strerror or exc}): searching it works, but to"
            " add files copy it to a folder you can write to and use that --index-dir"
        ) from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip()
            who = f"another ingest (pid {holder})" if holder.isdigit() else "another ingest"
            raise IndexLockedError(
                f"{who} is writing to {index_dir}; wait for it to finish"
            ) from None
        fh.truncate(0)
        fh.write(str(os.getpid()))
        fh.flush()
        yield


def _connect(path: Path, writable: bool, follow: bool = False) -> sqlite3.Connection:
    """A connection to the database file; a reader's is read-only.

    A read-only connection to a WAL database makes -wal and -shm files when none are there.
    None are there when no writer has the database open and nothing waits to be checkpointed:
    the file alone then holds every commit, and a one-off reader opens it immutable (no locks,
    no side files). A reader that follows later commits needs the -shm file, which it can
    make only in a folder it may write to; in a read-only folder nothing can commit anyway.
    """
    if writable:
        return sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    mode = "ro" if _shared(path, follow) else "ro&immutable=1"
    uri = f"file:{quote(str(path.resolve()))}?mode={mode}"
    return sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)


def _shared(path: Path, follow: bool) -> bool:
    """Whether a reader must open the database shared (with locks and the -shm file)."""
    wal = path.with_name(path.name + "-wal")
    return wal.exists() or (follow and os.access(path.parent, os.W_OK))


def _stamp(path: Path) -> tuple[int, int, bool]:
    """What changes when anyone commits to the database: its size and time, and the -wal file."""
    st = path.stat()
    return st.st_mtime_ns, st.st_size, path.with_name(path.name + "-wal").exists()


@dataclass(frozen=True)
class StoredDoc:
    """What the store knows of a file, for incremental ingest."""

    id: int
    path: str
    name: str
    sha256: str


@dataclass(frozen=True)
class Row:
    """A passage joined with its document, as search and digests need it."""

    id: int
    doc: str
    title: str
    page: int
    page_end: int
    section: str | None
    kind: str
    text: str
    city: str | None
    country: str | None
    lang: str
    year: int | None
    topics: dict[str, float]

    def to_hit(self, rank: int, score: float) -> Hit:
        """This passage as a search hit at `rank` with `score`."""
        return Hit(
            rank=rank,
            passage_id=self.id,
            doc=self.doc,
            title=self.title,
            page=self.page,
            page_end=self.page_end,
            text=self.text,
            score=round(score, 4),
            topics=list(self.topics),
            city=self.city,
            country=self.country,
            lang=self.lang,
            section=self.section,
            year=self.year,
        )


class Store:
    """An open policymine database. Use as a context manager.

    Opened for reading (the default), it never writes: no migration, no journal-mode change,
    no -wal or -shm file made where none is (a read-only folder, a shared drive or a CD
    works). `write=True` is for the one writer, which holds `write_lock` and migrates an
    older schema; `create=True` also makes a new database. `follow=True` is for a reader that
    lives on and must see what a writer commits later (`serve`).
    """

    def __init__(
        self, index_dir: Path, create: bool = False, write: bool = False, follow: bool = False
    ):
        self.path = Path(index_dir) / DB_FILE
        self.writable = create or write
        if not self.path.exists():
            if not create:
                raise IndexNotFoundError(
                    f"no index in {index_dir}: create one with"
                    f" `policymine ingest PATH --index-dir {index_dir}`"
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: `serve` opens the store in one thread and answers in another,
        # one request at a time.
        self.follow = follow
        self.db = _connect(self.path, self.writable, follow)
        # An immutable reader sees the file as it was: `refresh` opens it again once it changed.
        self._stamp = None if self.writable or _shared(self.path, follow) else _stamp(self.path)
        try:
            if self.writable:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self._migrate()
            else:
                self.index_meta().check_schema(self.path.parent)
        except BaseException:
            self.db.close()
            raise

    def __enter__(self) -> Store:  # noqa: PYI034 - subclasses are not expected
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def refresh(self) -> None:
        """For a reader opened immutable (no writer was at work then): open the database again
        when someone has committed since, so that a reader kept open sees the new state."""
        if self._stamp is not None and _stamp(self.path) != self._stamp:
            self.db.close()
            self.db = _connect(self.path, False, self.follow)
            self._stamp = None if _shared(self.path, self.follow) else _stamp(self.path)

    def _migrate(self) -> None:
        IndexMeta.read(self.db).check_schema(self.path.parent, older_ok=True)
        for number in range(IndexMeta.read(self.db).schema_version, SCHEMA_VERSION):
            with self.transaction():
                # Another process (an ingest creating this index while a search opens it) may
                # have applied this migration since the version was read: read it again under
                # the write lock.
                if IndexMeta.read(self.db).schema_version > number:
                    continue
                # executescript() would COMMIT on its own; statements one by one keep one transaction.
                for statement in _statements(MIGRATIONS[number]):
                    self.db.execute(statement)
                self.db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(number + 1),)
                )

    def transaction(self):
        """BEGIN IMMEDIATE ... COMMIT, rolled back on error."""
        return _Transaction(self.db)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: the queries inside see one state of the database, whatever an
        ingest commits meanwhile (WAL lets readers and the one writer run side by side)."""
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    # ------------------------------------------------------------------ meta

    def meta(self) -> dict[str, str]:
        """The key/value facts the index records about itself."""
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def index_meta(self) -> IndexMeta:
        """What the index records about itself (schema, model, taxonomy, detector), typed."""
        return IndexMeta.read(self.db)

    def set_meta(self, **values: object) -> None:
        """Record facts about the index (model, dim, taxonomy)."""
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [(k, str(v)) for k, v in values.items()],
            )

    # ------------------------------------------------------------------ writing

    def documents(self) -> list[StoredDoc]:
        """Every stored document."""
        return [
            StoredDoc(*r)
            for r in self.db.execute("SELECT id, path, name, sha256 FROM documents ORDER BY id")
        ]

    def document_places(self) -> list[dict]:
        """Each stored document's name with its city, country and language."""
        return [
            {"doc": name, "city": city, "country": country, "lang": lang}
            for name, city, country, lang in self.db.execute(
                "SELECT name, city, country, lang FROM documents ORDER BY name"
            )
        ]

    def filter_values(self) -> dict[str, list[str]]:
        """The values the filters can take in this index: cities, countries, languages, and
        the documents' names and titles."""
        rows = self.db.execute("SELECT name, title, city, country, lang FROM documents").fetchall()
        return {
            "city": sorted({r[2] for r in rows if r[2]}),
            "country": sorted({r[3] for r in rows if r[3]}),
            "lang": sorted({r[4] for r in rows if r[4]}),
            "doc": sorted({r[0] for r in rows} | {r[1] for r in rows if r[1]}),
        }

    def document_by_path(self, path: str) -> StoredDoc | None:
        """The stored document for a resolved path, if any."""
        row = self.db.execute(
            "SELECT id, path, name, sha256 FROM documents WHERE path = ?", (path,)
        ).fetchone()
        return StoredDoc(*row) if row else None

    def replace_document(
        self,
        doc: Document,
        tags: DocumentTags,
        passages: Sequence[Passage],
        vectors: np.ndarray,
        practices: Sequence[tuple[int, dict]] = (),
    ) -> tuple[list[int], list[int]]:
        """Store a document, replacing an older version at the same path, in one transaction.

        Args:
            practices: its practice records, each with the position of its passage in
                `passages` (practices.document_records; positions also in a record's
                `merged`); stored in the same transaction, with the passage ids assigned here,
                so a document and its records go in together.

        Returns:
            (removed passage ids, new passage ids), for the vector index to follow.
        """
        with self.transaction():
            removed = self._delete_document(doc.path)
            cur = self.db.execute(
                "INSERT INTO documents (path, name, sha256, title, lang, year, city, country, n_pages, warnings, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc.path,
                    doc.name,
                    doc.sha256,
                    doc.title,
                    doc.lang,
                    doc.year,
                    tags.city,
                    tags.country,
                    len(doc.pages),
                    json.dumps(doc.warnings),
                    time.time(),
                ),
            )
            doc_id = cur.lastrowid
            self.db.executemany(
                "INSERT INTO pages (doc_id, number, label, quality, text, source) VALUES (?, ?, ?, ?, ?, ?)",
                [(doc_id, p.number, p.label, p.quality, p.text, p.source) for p in doc.pages],
            )
            self.db.executemany(
                "INSERT INTO document_topics VALUES (?, ?, ?)",
                [(doc_id, t, s) for t, s in tags.topics.items()],
            )
            ids = []
            labels = boilerplate.labels([p.text for p in passages], [p.page for p in passages])
            for passage, vector, label in zip(passages, vectors, labels):
                cur = self.db.execute(
                    "INSERT INTO passages (doc_id, page, page_end, section, kind, text, char_start, char_end, vector, boilerplate)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc_id,
                        passage.page,
                        passage.page_end or passage.page,
                        passage.section,
                        passage.kind,
                        passage.text,
                        passage.char_start,
                        passage.char_end,
                        np.asarray(vector, dtype=np.float32).tobytes(),
                        label,
                    ),
                )
                passage.id = cur.lastrowid
                ids.append(passage.id)
                self.db.executemany(
                    "INSERT INTO passage_topics VALUES (?, ?, ?)",
                    [(passage.id, t, s) for t, s in passage.topics.items()],
                )
                self.db.executemany(
                    "INSERT INTO entities VALUES (?, ?, ?, ?, ?)",
                    [(passage.id, e.text, e.label, e.norm, e.country) for e in passage.entities],
                )
            if practices:
                records = [
                    {**rec, "passage_id": ids[i], "merged": [ids[j] for j in rec.get("merged", [])]}
                    for i, rec in practices
                ]
                self._replace_practices([doc_id], records)
        return removed, ids

    def replace_vectors(
        self, ids: Sequence[int], vectors: np.ndarray, model: str, dim: int
    ) -> None:
        """Swap every passage's vector for one of another model, and record the model, in one transaction."""
        with self.transaction():
            self.db.executemany(
                "UPDATE passages SET vector = ? WHERE id = ?",
                [(np.asarray(v, dtype=np.float32).tobytes(), int(i)) for i, v in zip(ids, vectors)],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [("model", model), ("dim", str(dim))]
            )

    def delete_document(self, path: str) -> list[int]:
        """Remove a document and everything hanging off it; returns its passage ids."""
        with self.transaction():
            return self._delete_document(path)

    def _delete_document(self, path: str) -> list[int]:
        row = self.db.execute("SELECT id FROM documents WHERE path = ?", (path,)).fetchone()
        if not row:
            return []
        ids = [r[0] for r in self.db.execute("SELECT id FROM passages WHERE doc_id = ?", row)]
        self.db.execute("DELETE FROM documents WHERE id = ?", row)
        return ids

    def replace_practices(self, doc_ids: Sequence[int] | None, records: Sequence[dict]) -> None:
        """Swap the practice records of some documents (all when `doc_ids` is None), in one transaction."""
        with self.transaction():
            self._replace_practices(doc_ids, records)

    def _replace_practices(self, doc_ids: Sequence[int] | None, records: Sequence[dict]) -> None:
        if doc_ids is None:
            self.db.execute("DELETE FROM practices")
        else:
            for doc_id in doc_ids:
                self.db.execute(
                    "DELETE FROM practices WHERE passage_id IN (SELECT id FROM passages WHERE doc_id = ?)",
                    (doc_id,),
                )
        self.db.executemany(
            "INSERT OR REPLACE INTO practices VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    r["passage_id"],
                    r["score"],
                    r["instrument"],
                    r["status"],
                    r["page"],
                    json.dumps(r, ensure_ascii=False),
                )
                for r in records
            ],
        )

    # ------------------------------------------------------------------ reading

    def doc_ids(self, paths: Sequence[str] | None = None) -> list[int]:
        """Ids of the stored documents (of the given resolved paths only, when given)."""
        if paths is None:
            return [r[0] for r in self.db.execute("SELECT id FROM documents ORDER BY id")]
        return [
            r[0]
            for p in paths
            for r in self.db.execute("SELECT id FROM documents WHERE path = ?", (p,))
        ]

    def document_passages(
        self, doc_id: int
    ) -> tuple[list[tuple], dict[int, list[Entity]], dict[int, str]]:
        """A document's passages (id, text, section, page, page_end), their entities by id, and its page texts."""
        passages = self.db.execute(
            "SELECT id, text, section, page, page_end FROM passages WHERE doc_id = ? AND kind = 'text' ORDER BY id",
            (doc_id,),
        ).fetchall()
        entities: dict[int, list[Entity]] = {}
        for pid, text, label, norm, country in self.db.execute(
            "SELECT e.passage_id, e.text, e.label, e.norm, e.country FROM entities e JOIN passages p ON p.id = e.passage_id"
            " WHERE p.doc_id = ?",
            (doc_id,),
        ):
            entities.setdefault(pid, []).append(Entity(text, label, norm, country))
        pages = dict(
            self.db.execute("SELECT number, text FROM pages WHERE doc_id = ?", (doc_id,)).fetchall()
        )
        return passages, entities, pages

    def practices(
        self,
        filters: Filters | None = None,
        instrument: str | None = None,
        limit: int | None = None,
        ids: Sequence[int] | None = None,
        min_score: float | None = None,
    ) -> list[tuple[Row, dict]]:
        """Stored practice records with their passage rows, best first: filtered (`min_score`:
        the detector's probability at least this), or of the given passage ids."""
        where, args = _filter_sql(filters or Filters())
        if instrument:
            where, args = f"{where} AND r.instrument = ?", [*args, instrument]
        if min_score is not None:
            where, args = f"{where} AND r.score >= ?", [*args, min_score]
        if ids is not None:
            where, args = f"{where} AND r.passage_id IN ({','.join('?' * len(ids))})", [*args, *ids]
        sql = (
            "SELECT r.passage_id, r.record FROM practices r JOIN passages p ON p.id = r.passage_id"
            f" JOIN documents d ON d.id = p.doc_id WHERE {where} ORDER BY r.score DESC, r.passage_id"
        )
        if limit:
            sql, args = f"{sql} LIMIT ?", [*args, limit]
        found = self.db.execute(sql, args).fetchall()
        rows = self.rows([pid for pid, _ in found])
        return [(rows[pid], json.loads(record)) for pid, record in found if pid in rows]

    def practice_counts(self) -> list[tuple[str, str, int]]:
        """(topic, city, number of practice records) over the whole index, for the topic-by-city matrix."""
        return self.db.execute(
            "SELECT t.topic, d.city, COUNT(*) FROM practices r JOIN passage_topics t ON t.passage_id = r.passage_id"
            " JOIN passages p ON p.id = r.passage_id JOIN documents d ON d.id = p.doc_id"
            " WHERE d.city IS NOT NULL GROUP BY t.topic, d.city"
        ).fetchall()

    def page_text(self, doc: str, page: int) -> str | None:
        """The extracted text of one page of a document (by file name); None if there is no such page."""
        row = self.db.execute(
            "SELECT g.text FROM pages g JOIN documents d ON d.id = g.doc_id WHERE d.name = ? AND g.number = ?",
            (doc, page),
        ).fetchone()
        return row[0] if row else None

    def vectors(self, ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the given passages, or of all passages."""
        if ids is None:
            rows = self.db.execute("SELECT id, vector FROM passages ORDER BY id").fetchall()
        else:  # one query per 500 ids, not per id; rows come back in the order asked
            ids = [int(i) for i in ids]
            found: dict[int, bytes] = {}
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                found.update(
                    self.db.execute(
                        f"SELECT id, vector FROM passages WHERE id IN ({marks})", chunk
                    ).fetchall()
                )
            rows = [(i, found[i]) for i in ids if i in found]
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        return (
            np.array([r[0] for r in rows], dtype=np.int64),
            np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows]),
        )

    def neighbours(self, ids: Sequence[int]) -> dict[int, list[int]]:
        """The passages just before and after each given one in its document, on its page or
        the next or previous one (id -> neighbour ids; passages are numbered in reading order)."""
        around: dict[int, list[int]] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for pid, other in self.db.execute(
                "SELECT p.id, n.id FROM passages p JOIN passages n ON n.doc_id = p.doc_id"
                " AND n.id BETWEEN p.id - 1 AND p.id + 1 AND n.id != p.id"
                f" AND abs(n.page - p.page) <= 1 WHERE p.id IN ({marks})",
                chunk,
            ):
                around.setdefault(pid, []).append(other)
        return around

    def passage_texts(self) -> tuple[list[int], list[str]]:
        """(ids, texts) of every passage, by id."""
        rows = self.db.execute("SELECT id, text FROM passages ORDER BY id").fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def boilerplate_ids(self) -> np.ndarray:
        """Ids of the passages labelled as boilerplate (table of contents, references, running
        header, table fragment, cover matter), ascending."""
        rows = self.db.execute(
            "SELECT id FROM passages WHERE boilerplate != '' AND boilerplate IS NOT NULL ORDER BY id"
        )
        return np.array([r[0] for r in rows], dtype=np.int64)

    def label_boilerplate(self) -> int:
        """Label the passages that have no boilerplate label yet (those of an index from before
        labels), document by document, in one transaction; returns how many were labelled."""
        rows = self.db.execute(
            "SELECT id, doc_id, page, text FROM passages WHERE doc_id IN"
            " (SELECT DISTINCT doc_id FROM passages WHERE boilerplate IS NULL) ORDER BY doc_id, id"
        ).fetchall()
        if not rows:
            return 0
        by_doc: dict[int, list[tuple]] = {}
        for row in rows:
            by_doc.setdefault(row[1], []).append(row)
        with self.transaction():
            for passages in by_doc.values():
                labels = boilerplate.labels([r[3] for r in passages], [r[2] for r in passages])
                self.db.executemany(
                    "UPDATE passages SET boilerplate = ? WHERE id = ?",
                    [(label, r[0]) for label, r in zip(labels, passages)],
                )
        return len(rows)

    def fragment_ids(self, min_words: int) -> np.ndarray:
        """Ids of passages shorter than `min_words` words (counted by spaces and line breaks)."""
        rows = self.db.execute("SELECT id FROM passages WHERE words < ?", (min_words,))
        return np.array([r[0] for r in rows], dtype=np.int64)

    def languages(self, ids: Sequence[int]) -> dict[int, str]:
        """The language code of each given passage's document, by passage id."""
        found: dict[int, str] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            found.update(
                self.db.execute(
                    "SELECT p.id, d.lang FROM passages p JOIN documents d ON d.id = p.doc_id"
                    f" WHERE p.id IN ({marks})",
                    chunk,
                ).fetchall()
            )
        return found

    def passage_ids(self) -> np.ndarray:
        """Every stored passage id, ascending."""
        return np.array(
            [r[0] for r in self.db.execute("SELECT id FROM passages ORDER BY id")], dtype=np.int64
        )

    def filter_ids(self, filters: Filters) -> list[int] | None:
        """Passage ids matching all the filters; None when no filter is set."""
        if not filters:
            return None
        where, args = _filter_sql(filters)
        sql = f"SELECT p.id FROM passages p JOIN documents d ON d.id = p.doc_id WHERE {where}"
        return [r[0] for r in self.db.execute(sql, args)]

    def keyword(
        self, match: str | None, limit: int, filters: Filters, exact: str | None = None
    ) -> list[tuple[int, float]]:
        """(passage id, bm25 score) of the best full-text matches, higher is better.

        Args:
            match: an FTS5 query on the stemmed table, e.g. '"solar" OR "roof"' (None: none).
            limit: how many.
            filters: applied in the same query, so `limit` hits come back when they exist.
            exact: an FTS5 query on the unstemmed table (words matched as written, see
                search.SPLIT_WORDS); a passage's score is then its stemmed bm25 plus its
                unstemmed bm25 (the tables count the same tokens, so the sum is one bm25 over
                all the query's phrases).
        """
        if exact is None:
            return self._keyword("passages_fts", match or "", limit, filters)
        scores: dict[int, float] = {}
        if match:
            scores.update(self._keyword("passages_fts", match, -1, filters))
        for pid, score in self._keyword("passages_exact", exact, -1, filters):
            scores[pid] = scores.get(pid, 0.0) + score
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def _keyword(
        self, table: str, match: str, limit: int, filters: Filters
    ) -> list[tuple[int, float]]:
        # bm25() in ORDER BY, not FTS5's `rank` column: same order, but `ORDER BY rank` took
        # 31 ms where this takes 19 (median of 37 queries at 100k passages). Equal scores (copies
        # of a passage) go by id, as in keyword.py.
        if not filters:  # without the join when nothing filters
            sql = f"SELECT rowid, -bm25({table}) AS s FROM {table} WHERE {table} MATCH ? ORDER BY s DESC, rowid LIMIT ?"
            return self.db.execute(sql, [match, limit]).fetchall()
        where, args = _filter_sql(filters)
        sql = (
            f"SELECT f.rowid, -bm25({table}) AS s FROM {table} f"
            " JOIN passages p ON p.id = f.rowid JOIN documents d ON d.id = p.doc_id"
            f" WHERE {table} MATCH ? AND {where} ORDER BY s DESC, f.rowid LIMIT ?"
        )
        return self.db.execute(sql, [match, *args, limit]).fetchall()

    def exact_postings(self, terms: Sequence[str]) -> dict[str, str]:
        """(term -> passage ids, comma-separated, one per occurrence) of the given terms in the
        unstemmed full-text table; terms no passage has are left out."""
        self.db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.exact_instances USING fts5vocab(main, passages_exact, instance)"
        )
        found = {
            term: self.db.execute(
                "SELECT group_concat(doc) FROM temp.exact_instances WHERE term = ?", (term,)
            ).fetchone()[0]
            for term in terms
        }
        return {term: docs for term, docs in found.items() if docs}

    def keyword_postings(self) -> Iterator[tuple[str, str]]:
        """(term, passage ids) for every term in the full-text index, the ids comma-separated with
        one entry per occurrence. Call inside snapshot() together with keyword_row_count()."""
        self.db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_instances USING fts5vocab(main, passages_fts, instance)"
        )
        # One row per term, not per occurrence: 2.3 s instead of 12 for 6M occurrences.
        yield from self.db.execute(
            "SELECT term, group_concat(doc) FROM temp.fts_instances GROUP BY term"
        )

    def keyword_row_count(self) -> int:
        """Rows in the full-text index: bm25's N."""
        return self.db.execute("SELECT COUNT(*) FROM passages_fts_docsize").fetchone()[0]

    def keyword_tokens(self, text: str) -> list[str]:
        """The index terms the full-text tokenizer makes of `text` ("Planning" -> ["plan"])."""
        if not self.db.execute(
            "SELECT 1 FROM sqlite_temp_master WHERE name = 'fts_tokenizer'"
        ).fetchone():
            # The same tokenizer as passages_fts, read from its own CREATE statement.
            sql = self.db.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'passages_fts'"
            ).fetchone()[0]
            tokenize = re.search(r"tokenize\s*=\s*('[^']*')", sql)
            self.db.execute(
                f"CREATE VIRTUAL TABLE temp.fts_tokenizer USING fts5(text{', tokenize=' + tokenize[1] if tokenize else ''})"
            )
            self.db.execute(
                "CREATE VIRTUAL TABLE temp.fts_tokenizer_terms USING fts5vocab(temp, fts_tokenizer, instance)"
            )
        self.db.execute("INSERT INTO temp.fts_tokenizer(rowid, text) VALUES (1, ?)", (text,))
        try:
            return [
                r[0]
                for r in self.db.execute(
                    "SELECT term FROM temp.fts_tokenizer_terms ORDER BY offset"
                )
            ]
        finally:
            self.db.execute("DELETE FROM temp.fts_tokenizer")

    def data_version(self) -> int:
        """A number that changes whenever another connection commits to the database."""
        return self.db.execute("PRAGMA data_version").fetchone()[0]

    def keyword_scores(
        self, match: str, ids: Sequence[int], exact: bool = False
    ) -> dict[int, float]:
        """bm25 score of each given passage for an FTS5 query (left out where it does not
        match), on the stemmed table or (`exact`) the unstemmed one."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        table = "passages_exact" if exact else "passages_fts"
        sql = f"SELECT rowid, -bm25({table}) FROM {table} WHERE {table} MATCH ? AND rowid IN ({marks})"
        return dict(self.db.execute(sql, [match, *ids]).fetchall())

    def rows(self, ids: Sequence[int]) -> dict[int, Row]:
        """Passages with their document fields and topics, by id."""
        out: dict[int, Row] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            topics: dict[int, dict[str, float]] = {}
            for pid, topic, score in self.db.execute(
                f"SELECT passage_id, topic, score FROM passage_topics WHERE passage_id IN ({marks}) ORDER BY score DESC",
                list(chunk),
            ):
                topics.setdefault(pid, {})[topic] = score
            for r in self.db.execute(
                "SELECT p.id, d.name, d.title, p.page, p.page_end, p.section, p.kind, p.text, d.city, d.country, d.lang, d.year"
                f" FROM passages p JOIN documents d ON d.id = p.doc_id WHERE p.id IN ({marks})",
                list(chunk),
            ):
                out[r[0]] = Row(*r, topics=topics.get(r[0], {}))
        return out

    def topic_passages(self, topic: str, limit: int = 500) -> list[tuple[int, float]]:
        """(passage id, topic score) of passages tagged with a topic, best first."""
        return self.db.execute(
            "SELECT passage_id, score FROM passage_topics WHERE topic = ? ORDER BY score DESC LIMIT ?",
            (topic, limit),
        ).fetchall()

    def document_label(self, doc_id: int) -> str:
        """A document's file name and title, one string (what kind of document it is)."""
        row = self.db.execute(
            "SELECT name, title FROM documents WHERE id = ?", (doc_id,)
        ).fetchone()
        return f"{row[0]} {row[1]}" if row else ""

    def doc_of(self, passage_id: int) -> tuple[str, str | None]:
        """(document name, city) of a passage; NotFoundError if there is no such passage."""
        row = self.db.execute(
            "SELECT d.name, d.city FROM passages p JOIN documents d ON d.id = p.doc_id WHERE p.id = ?",
            (passage_id,),
        ).fetchone()
        if not row:
            raise NotFoundError(f"no passage with id {passage_id} in {self.path.parent}")
        return row[0], row[1]

    def document(self, doc_id: int) -> dict | None:
        """One stored document by id (path, name, title, places, year, pages, sha256), or None."""
        row = self.db.execute(
            "SELECT id, path, name, title, city, country, year, lang, n_pages, sha256"
            " FROM documents WHERE id = ?",
            (doc_id,),
        ).fetchone()
        keys = ("id", "path", "name", "title", "city", "country", "year", "lang", "pages", "sha256")
        return dict(zip(keys, row)) if row else None

    def passage_location(self, passage_id: int) -> tuple[int, int, int]:
        """(document id, page, last page) of a passage; NotFoundError if there is no such passage."""
        row = self.db.execute(
            "SELECT doc_id, page, page_end FROM passages WHERE id = ?", (passage_id,)
        ).fetchone()
        if not row:
            raise NotFoundError(f"no passage with id {passage_id} in {self.path.parent}")
        return row[0], row[1], row[2] or row[1]

    def catalogue(self) -> list[dict]:
        """Every document with its id, places, year, language, pages and topics (best first)."""
        topics: dict[int, list[str]] = {}
        for doc_id, topic in self.db.execute(
            "SELECT doc_id, topic FROM document_topics ORDER BY doc_id, score DESC, topic"
        ):
            topics.setdefault(doc_id, []).append(topic)
        keys = ("id", "doc", "title", "city", "country", "year", "lang", "pages")
        return [
            {**dict(zip(keys, row)), "topics": topics.get(row[0], [])}
            for row in self.db.execute(
                "SELECT id, name, title, city, country, year, lang, n_pages FROM documents ORDER BY name"
            )
        ]

    def version(self) -> tuple[int, int, int]:
        """Changes whenever a document is added, replaced or removed: a key for caches."""
        return tuple(
            self.db.execute(
                "SELECT COUNT(*), COALESCE(MAX(id), 0), (SELECT COUNT(*) FROM practices) FROM documents"
            ).fetchone()
        )

    def info(self) -> dict:
        """What the index holds, for `policymine info`."""
        one = lambda sql: self.db.execute(sql).fetchone()[0]
        meta = self.meta()
        return {
            "index_dir": str(self.path.parent),
            "model": meta.get("model"),
            "dim": int(meta["dim"]) if "dim" in meta else None,
            "taxonomy": meta.get("taxonomy"),
            "schema_version": int(meta.get("schema_version", 0)),
            "documents": one("SELECT COUNT(*) FROM documents"),
            "pages": one("SELECT COUNT(*) FROM pages"),
            "passages": one("SELECT COUNT(*) FROM passages"),
            "topics": {
                **dict.fromkeys(json.loads(meta.get("topics", "[]")), 0),
                **dict(
                    self.db.execute(
                        "SELECT topic, COUNT(*) FROM passage_topics GROUP BY topic ORDER BY 2 DESC"
                    )
                ),
            },
            "cities": {
                (city or "unknown"): n
                for city, n in self.db.execute(
                    "SELECT city, COUNT(*) FROM documents GROUP BY city ORDER BY 2 DESC, 1"
                ).fetchall()
            },
            "languages": dict(
                self.db.execute(
                    "SELECT lang, COUNT(*) FROM documents GROUP BY lang ORDER BY 2 DESC"
                )
            ),
            "documents_list": [
                {"doc": n, "title": t, "city": c, "country": cc, "lang": lg, "pages": np_}
                for n, t, c, cc, lg, np_ in self.db.execute(
                    "SELECT name, title, city, country, lang, n_pages FROM documents ORDER BY name"
                )
            ],
        }


def _statements(script: str) -> list[str]:
    """The SQL statements of a script; a trigger body's own semicolons do not end it."""
    statements, buffer = [], ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                statements.append(buffer.strip())
            buffer = ""
    return statements


def _chunks(ids: Iterable[int], size: int = 500) -> Iterator[list[int]]:
    """The ids as ints, `size` at a time: one query per chunk stays under SQLite's limit on
    bound variables, and is not one query per id."""
    ids = [int(i) for i in ids]
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _filter_sql(filters: Filters) -> tuple[str, list]:
    """A WHERE clause over passages `p` joined with documents `d` for the given filters."""
    conditions = [
        (filters.exclude_doc, "d.name != ?", [filters.exclude_doc]),
        (
            filters.topic,
            "p.id IN (SELECT passage_id FROM passage_topics WHERE topic = ?)",
            [filters.topic],
        ),
        (filters.city, "d.city = ? COLLATE NOCASE", [filters.city]),
        (filters.country, "d.country = ? COLLATE NOCASE", [filters.country]),
        (
            filters.doc,
            "(d.name = ? OR d.name LIKE ? OR d.title LIKE ?)",
            [filters.doc, f"%{filters.doc}%", f"%{filters.doc}%"],
        ),
        (filters.lang, "d.lang = ? COLLATE NOCASE", [filters.lang]),
        (filters.year_from, "d.year >= ?", [filters.year_from]),
        (filters.year_to, "d.year <= ?", [filters.year_to]),
    ]
    clauses = [clause for value, clause, _ in conditions if value is not None]
    args = [arg for value, _, values in conditions if value is not None for arg in values]
    return " AND ".join(clauses) or "1", args


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, *_: object) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")
