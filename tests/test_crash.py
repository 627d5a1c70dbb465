"""Crash safety: an ingest killed at any moment leaves a consistent index, and the same
command run again finishes the job, as if nothing had happened.

These tests run `policymine ingest` as a real child process (with the fake embedder, slowed
down so that the kills land while documents are being written) and SIGKILL it.
"""

from __future__ import annotations

import random
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
from conftest import CORPUS, child_env, fake_cli

from policymine.index import INDEX_FILE, VectorIndex, open_index
from policymine.store import DB_FILE, Store

SEED = 20240607
DELAY = "0.25"  # seconds per embedding batch (one batch per brief): ~10 documents in 3-4 s


def documents_in(index_dir: Path) -> int:
    """Committed documents, read without the library (0 while there is no database yet)."""
    try:
        with sqlite3.connect(f"file:{index_dir / DB_FILE}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    except sqlite3.Error:
        return 0


def _children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _gone(pids: list[int], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() and "Z" not in _state(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def assert_consistent(index_dir: Path) -> None:
    """Every document whole (pages, passages, keyword rows), and the vector index, once
    opened, holding exactly the stored passages with their stored vectors."""
    with Store(index_dir, write=True) as store:  # FTS5's integrity-check is a write command
        db = store.db
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for doc_id, n_pages, pages, passages in db.execute(
            "SELECT d.id, d.n_pages, (SELECT COUNT(*) FROM pages WHERE doc_id = d.id),"
            " (SELECT COUNT(*) FROM passages WHERE doc_id = d.id) FROM documents d"
        ):
            assert pages == n_pages and passages > 0, f"document {doc_id} is half in"
        # FTS5's own check that its index matches the passages table (raises if not).
        db.execute("INSERT INTO passages_fts(passages_fts) VALUES ('integrity-check')")
        fts_rows = db.execute("SELECT COUNT(*) FROM passages_fts_docsize").fetchone()[0]
        stored = store.passage_ids()
        assert fts_rows == len(stored)
        index = open_index(store, 64)
        assert np.array_equal(np.sort(index.ids()), stored)
        ids, vectors = store.vectors()
        if len(ids):
            held = np.vstack([index.index.reconstruct(int(i)) for i in ids])
            assert np.allclose(held, vectors, atol=1e-6)


def contents(index_dir: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    """Per document: its passage texts in order and their vectors."""
    with Store(index_dir) as store:
        out = {}
        for doc_id, name in store.db.execute("SELECT id, name FROM documents"):
            rows = store.db.execute(
                "SELECT text, vector FROM passages WHERE doc_id = ? ORDER BY id", (doc_id,)
            ).fetchall()
            out[name] = (
                [r[0] for r in rows],
                np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows]),
            )
        return out


def start_ingest(corpus: Path, index_dir: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        fake_cli("ingest", corpus, "--index-dir", index_dir, "--workers", "2", "-q"),
        env=child_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ingest_killed_at_random_points_resumes_to_the_uninterrupted_result(tmp_path, fake_index):
    """fake_index is the uninterrupted run: the same corpus, model and settings, in one go."""
    corpus = tmp_path / "docs"
    shutil.copytree(CORPUS, corpus)
    total = len(list(corpus.glob("*.pdf")))

    index_dir = tmp_path / "killed"
    rng = random.Random(SEED)
    # Kill points: before anything is written, then after 1..total-1 committed documents
    # plus a random fraction of the next one (inside a transaction, an embedding, a save).
    targets = [0, *sorted(rng.sample(range(1, total), 3))]
    kills = 0
    for target in targets:
        proc = start_ingest(corpus, index_dir, POLICYMINE_TEST_EMBED_DELAY=DELAY)
        deadline = time.monotonic() + 60
        while (
            documents_in(index_dir) < target and proc.poll() is None and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.5) if target else rng.uniform(0.3, 2.0))
        workers = _children(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(30)
        assert _gone(workers), "extraction workers outlived the killed ingest"
        if (index_dir / DB_FILE).exists():
            assert_consistent(index_dir)
    assert kills >= 3  # the kills landed while the ingest was at work
    assert 0 < documents_in(index_dir) < total

    resumed = start_ingest(corpus, index_dir)
    assert resumed.wait(120) == 0, resumed.stderr.read()
    assert_consistent(index_dir)
    # the FAISS file a writer leaves matches the database without any repair
    with Store(index_dir) as store:
        saved = VectorIndex.load(index_dir / INDEX_FILE, 64)
        assert np.array_equal(np.sort(saved.ids()), store.passage_ids())
    got, want = contents(index_dir), contents(fake_index)
    assert sorted(got) == sorted(want) and len(got) == total
    for name, (texts, vectors) in want.items():
        assert got[name][0] == texts, name
        assert np.allclose(got[name][1], vectors, atol=1e-5), name


def test_sigterm_ends_an_ingest_cleanly_and_its_workers_with_it(tmp_path):
    corpus = tmp_path / "docs"
    shutil.copytree(CORPUS, corpus)
    index_dir = tmp_path / "ix"
    proc = start_ingest(corpus, index_dir, POLICYMINE_TEST_EMBED_DELAY=DELAY)
    deadline = time.monotonic() + 60
    while documents_in(index_dir) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = _children(proc.pid)
    assert workers, "the ingest should have extraction workers running"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) != 0
    assert _gone(workers), "extraction workers outlived the ingest"
    assert_consistent(index_dir)
    # a clean stop saves the vector index: the file matches the database as it is
    with Store(index_dir) as store:
        saved = VectorIndex.load(index_dir / INDEX_FILE, 64)
        assert np.array_equal(np.sort(saved.ids()), store.passage_ids())
