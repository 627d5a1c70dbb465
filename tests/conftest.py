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
from policymine.embed import MODELS, ModelSpec

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
REAL_CORPUS = Path(os.environ.get("POLICYMINE_REAL_CORPUS", ROOT.parent / "shared" / "corpus"))
needs_real_corpus = pytest.mark.skipif(
    not REAL_CORPUS.is_dir(),
    reason=f"real policy PDFs not found at {REAL_CORPUS} (set POLICYMINE_REAL_CORPUS)",
)

config.set_offline()  # the child processes some tests start inherit it


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


MODELS["fake"] = ModelSpec(FakeEmbedder.name, FakeEmbedder.dim, FakeEmbedder)


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
    for name in (
        "01-berlin-solar.pdf",
        "06-boston-participatory-budgeting.pdf",
        "07-denver-climate-fund.pdf",
    ):
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
from policymine.embed import MODELS, ModelSpec

class SlowFake(conftest.FakeEmbedder):
    def embed_batch(self, texts):
        time.sleep(float(os.environ.get("POLICYMINE_TEST_EMBED_DELAY", "0")))
        return super().embed_batch(texts)

MODELS["fake"] = ModelSpec(SlowFake.name, SlowFake.dim, SlowFake)
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


def minimal_pdf(objects: list[bytes]) -> bytes:
    """A PDF of the given objects (numbered from 1, the first the catalog) with a correct xref."""
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def make_malformed_pdfs(folder: Path, truncations: int = 12, seed: int = 7) -> dict[str, Path]:
    """Malformed and extreme PDFs at scale: name -> path. Besides make_bad_inputs' kinds: a real
    brief cut at many offsets, random bytes, HTML named .pdf, a page count of two billion,
    1,000 tiny pages, an image-only page, a real PDF named .txt and binary bytes named .md."""
    from reportlab.pdfgen import canvas

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    files: dict[str, Path] = {}
    good = (CORPUS / "02-munich-sobon.pdf").read_bytes()
    for cut in np.linspace(0.02, 0.98, truncations):
        offset = int(cut * len(good))
        files[f"cut at byte {offset}"] = path = folder / f"cut-{offset:06d}.pdf"
        path.write_bytes(good[:offset])
    files["random bytes"] = folder / "random.pdf"
    files["random bytes"].write_bytes(rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    files["random bytes after a header"] = folder / "random-header.pdf"
    files["random bytes after a header"].write_bytes(
        b"%PDF-1.7\n" + rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    )
    files["html"] = folder / "page.pdf"
    files["html"].write_text("<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>")
    text = b"BT /F1 12 Tf 72 720 Td (Only one page is really here.) Tj ET"
    files["huge page count"] = folder / "huge-count.pdf"
    files["huge page count"].write_bytes(
        minimal_pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 2147483647 >>",
                (
                    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
                    b" /Resources << /Font << /F1 5 0 R >> >> >>"
                ),
                b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
                b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            ]
        )
    )
    files["1,000 pages"] = long_pdf(folder / "thousand-pages.pdf", 1000)
    files["a PDF named .txt"] = folder / "renamed.txt"
    files["a PDF named .txt"].write_bytes(good)
    files["binary .md"] = folder / "binary.md"
    files["binary .md"].write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    from PIL import Image

    picture = folder / "picture.png"
    Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(picture)
    files["images only"] = folder / "images-only.pdf"
    images = canvas.Canvas(str(files["images only"]))
    images.drawImage(str(picture), 72, 400, width=400, height=300)
    images.save()
    picture.unlink()
    return files


def long_pdf(path: Path, pages: int) -> Path:
    """A PDF of many tiny pages, one sentence each (1,000 pages take ~7 s to extract)."""
    from reportlab.pdfgen import canvas

    long = canvas.Canvas(str(path), pagesize=(200, 100))
    for number in range(1, pages + 1):
        long.drawString(10, 50, f"Section {number}: the city funds {number} metres of bus lanes.")
        long.showPage()
    long.save()
    return path
