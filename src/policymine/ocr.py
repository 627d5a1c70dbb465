"""OCR for the pages whose text layer is missing or garbled, with the Tesseract command line.

Only used with `--ocr`: extraction renders just those pages (pypdfium2, 300 dpi) and reads
them back with `tesseract`. Tesseract is a system program, not a Python package, so its
absence is reported with the command that installs it.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

from .errors import ConfigError

INSTALL_HINT = "apt install tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu"
DPI = 300
TIMEOUT = 180  # seconds for one page


def available() -> bool:
    """Whether the `tesseract` program is on PATH."""
    return shutil.which("tesseract") is not None


def require() -> None:
    """Raise a ConfigError that says how to install Tesseract when it is missing."""
    if not available():
        raise ConfigError(
            f"--ocr needs the Tesseract program, which is not installed: {INSTALL_HINT}"
        )


def advice() -> str:
    """What to tell a user whose file needs OCR."""
    if available():
        return "rerun with --ocr to read it with Tesseract"
    return f"install Tesseract ({INSTALL_HINT}) and rerun with --ocr"


def languages(lang: str) -> str:
    """Tesseract language list for a document language: its own first, English as fallback."""
    installed = _installed_languages()
    wanted = {"de": ["deu", "eng"], "en": ["eng", "deu"]}.get(lang, ["eng", "deu"])
    chosen = [code for code in wanted if code in installed]
    return "+".join(chosen) or "eng"


def _installed_languages() -> set[str]:
    try:
        result = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.strip() for line in result.stdout.splitlines()[1:] if line.strip()}


def read_pages(path: Path, numbers: list[int], lang: str) -> dict[int, str]:
    """The OCR text of the given 1-based pages of a PDF (pages Tesseract fails on are left out)."""
    import pypdfium2

    langs = languages(lang)
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # extraction already runs one process per core
    texts: dict[int, str] = {}
    pdf = pypdfium2.PdfDocument(str(path))
    try:
        for number in numbers:
            page = pdf[number - 1]
            try:
                image = page.render(scale=DPI / 72).to_pil()
            finally:
                page.close()
            png = io.BytesIO()
            image.save(png, format="PNG")
            try:
                result = subprocess.run(
                    ["tesseract", "stdin", "stdout", "-l", langs, "--dpi", str(DPI)],
                    input=png.getvalue(),
                    capture_output=True,
                    timeout=TIMEOUT,
                    env=env,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                continue
            if result.returncode == 0:
                texts[number] = result.stdout.decode("utf-8", errors="replace")
    finally:
        pdf.close()
    return texts
