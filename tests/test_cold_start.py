"""The query path stays light: a fresh `policymine search` must not import torch or spaCy.

Importing sentence-transformers alone takes about 7 s on a 2-core machine, which would make
every command-line search slow. The query model runs in numpy (numpy_bert.py) instead; this
test fails as soon as a heavy import creeps back into the search path.
"""

import os
import re
import subprocess
import sys

import pytest

HEAVY = (
    "torch",
    "transformers",
    "sentence_transformers",
    "spacy",
    "scipy",
    "sklearn",
    "pdfplumber",
    "pypdfium2",
)
# Budgets for the search path. The module count is exact and does not drift with the machine's
# load (488 modules today: numpy, faiss, typer, rich, tokenizers, safetensors and our own);
# the time budget is loose because CI machines are noisy, yet torch alone would break it.
MODULE_BUDGET = 550
IMPORT_BUDGET_S = 4.0  # summed self time of every import; ~0.5 s on an idle 2-core machine


def _importtime(*args):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "policymine", *args],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [
        re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        for line in result.stderr.splitlines()
    ]
    return result, {m.group(4): int(m.group(1)) for m in rows if m}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_search_imports_nothing_heavy(real_index, mode):
    result, imports = _importtime(
        "search",
        "incentives for rooftop solar",
        "--index-dir",
        str(real_index),
        "-k",
        "2",
        "--mode",
        mode,
        "--json",
    )
    assert "solar" in result.stdout.lower()
    heavy = sorted({name for name in imports if name.split(".")[0] in HEAVY})
    assert not heavy, f"heavy modules on the search path: {heavy}"
    # the index has the ONNX export, but a one-off search loads numpy's weights faster (embed.py)
    assert "onnxruntime" not in imports
    assert len(imports) <= MODULE_BUDGET, (
        f"{len(imports)} modules on the search path (budget {MODULE_BUDGET})"
    )
    seconds = sum(imports.values()) / 1e6
    assert seconds <= IMPORT_BUDGET_S, (
        f"imports on the search path took {seconds:.2f} s (budget {IMPORT_BUDGET_S} s)"
    )


@pytest.mark.slow
def test_similar_imports_nothing_heavy(real_index):
    _, imports = _importtime(
        "similar", "--text", "green roofs", "--index-dir", str(real_index), "-k", "1", "--json"
    )
    assert not {name for name in imports if name.split(".")[0] in HEAVY}
