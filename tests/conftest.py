"""Shared fixtures: an isolated index dir per test, a deterministic fake embedder, built indexes."""

from __future__ import annotations

import os
import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from policymine import config
from policymine.embed import EMBEDDERS

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
REAL_CORPUS = Path(os.environ.get("POLICYMINE_REAL_CORPUS", ROOT.parent / "shared" / "corpus"))
needs_real_corpus = pytest.mark.skipif(
    not REAL_CORPUS.is_dir(), reason=f"real policy PDFs not found at {REAL_CORPUS} (set POLICYMINE_REAL_CORPUS)"
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class FakeEmbedder:
    """Hashed bag of words: deterministic, instant, and texts sharing words come out similar."""

    name = "fake"
    dim = 64

    def embed_batch(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i, zlib.crc32(word.encode()) % self.dim] += 1.0
            if not out[i].any():
                out[i, 0] = 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


EMBEDDERS["fake"] = FakeEmbedder


@pytest.fixture(autouse=True)
def _isolated_index_dir(tmp_path, monkeypatch):
    """Every test gets its own default index dir and runs from a scratch working directory."""
    monkeypatch.setenv("POLICYMINE_INDEX_DIR", str(tmp_path / "indexes"))
    monkeypatch.chdir(tmp_path)


def settings_for(index_dir: Path, **kw) -> config.Settings:
    """Settings for a test index, with the fake model unless told otherwise."""
    return config.Settings(index_dir=index_dir, **{"model": "fake", "workers": 1, **kw})


@pytest.fixture(scope="session")
def fake_index(tmp_path_factory) -> Path:
    """The bundled corpus ingested with the fake embedder (real extraction, spaCy and SQLite)."""
    from policymine.pipeline import ingest

    index_dir = tmp_path_factory.mktemp("fake") / "indexes"
    report = ingest([CORPUS], settings_for(index_dir, workers=2))
    assert report.count("added") == len(list(CORPUS.glob("*.pdf")))
    return index_dir


@pytest.fixture(scope="session")
def real_index(tmp_path_factory) -> Path:
    """The bundled corpus ingested with the real all-MiniLM-L6-v2 model."""
    from policymine.pipeline import ingest

    index_dir = tmp_path_factory.mktemp("real") / "indexes"
    report = ingest([CORPUS], config.Settings(index_dir=index_dir, workers=2))
    assert not report.failed
    return index_dir


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of three bundled briefs, for incremental-ingest tests."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("01-berlin-solar.pdf", "06-boston-participatory-budgeting.pdf", "07-denver-climate-fund.pdf"):
        shutil.copy(CORPUS / name, folder / name)
    return folder


def make_bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """One file per kind of bad input: name -> (path, the reason extract() must give)."""
    from reportlab.pdfgen import canvas

    folder.mkdir(parents=True, exist_ok=True)
    good = (CORPUS / "01-berlin-solar.pdf").read_bytes()
    (folder / "notes.pdf").write_text("hello, this is not a PDF at all")
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "truncated.pdf").write_bytes(good[:3000])
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 20)
    encrypted = canvas.Canvas(str(folder / "encrypted.pdf"), encrypt="secret")
    encrypted.drawString(100, 700, "Confidential climate plan for the city council.")
    encrypted.save()
    scanned = canvas.Canvas(str(folder / "scanned.pdf"))
    scanned.rect(72, 72, 400, 600, fill=1)  # a page with ink but no text layer
    scanned.save()
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04 not supported")
    return {
        "not a pdf": (folder / "notes.pdf", "not a PDF"),
        "empty": (folder / "empty.pdf", "empty file"),
        "truncated": (folder / "truncated.pdf", "corrupt or truncated PDF"),
        "corrupt": (folder / "corrupt.pdf", "corrupt or truncated PDF"),
        "encrypted": (folder / "encrypted.pdf", "encrypted PDF"),
        "no text layer": (folder / "scanned.pdf", "no text layer"),
        "unsupported type": (folder / "slides.pptx", "unsupported file type"),
        "missing": (folder / "does-not-exist.pdf", "no such file"),
    }


# The CLI in a child process with the fake embedder registered, for tests that kill or race a
# real `policymine` process. POLICYMINE_TEST_EMBED_DELAY (seconds per batch) slows embedding
# down, so that a test can act while an ingest is under way.
_FAKE_CLI = """
import os, sys, time
sys.path.insert(0, {tests!r})
import conftest
from policymine.embed import EMBEDDERS

class SlowFake(conftest.FakeEmbedder):
    def embed_batch(self, texts):
        time.sleep(float(os.environ.get("POLICYMINE_TEST_EMBED_DELAY", "0")))
        return super().embed_batch(texts)

EMBEDDERS["fake"] = SlowFake
from policymine.cli import app
app()
"""


def fake_cli(*args: object) -> list[str]:
    """argv that runs `policymine ARGS --model fake` in a child process (run it with `child_env()`)."""
    import sys

    code = _FAKE_CLI.format(tests=str(Path(__file__).parent))
    return [sys.executable, "-c", code, *map(str, args), "--model", "fake"]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child policymine: this checkout's sources first, offline models."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env
