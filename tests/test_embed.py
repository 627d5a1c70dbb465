import numpy as np
import pytest

from policymine.embed import embed, get_embedder, model_spec
from policymine.errors import ConfigError


def test_unknown_model_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown embedding model 'nope'"):
        model_spec("nope")


def test_embed_batches_and_reports_progress():
    seen = []
    vectors = embed(["a b", "c d", "e f"], get_embedder("fake"), batch_size=2, on_batch=seen.append)
    assert vectors.shape == (3, 64) and seen == [2, 1]


@pytest.mark.slow
def test_minilm_loads_offline_from_its_package():
    model = get_embedder("minilm")
    vectors = model.embed_batch(
        [
            "subsidies for rooftop solar panels",
            "grants for photovoltaic systems on roofs",
            "a public hearing on zoning",
        ]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
