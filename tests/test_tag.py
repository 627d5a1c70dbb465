import pytest
from conftest import CORPUS

from policymine.config import Settings
from policymine.embed import embed, get_embedder
from policymine.errors import ConfigError
from policymine.extract import extract
from policymine.segment import segment
from policymine.tag import Gazetteer, Tagger, load_taxonomy
from policymine.types import Passage

CONTRACT = [
    "climate",
    "energy",
    "housing",
    "mobility",
    "participation",
    "economy",
    "equity",
    "health",
    "environment",
    "land_use",
    "governance",
    "digital",
    "education",
]


@pytest.fixture(scope="module")
def tagger():
    return Tagger(get_embedder("fake"), Settings(model="fake"))


def test_default_taxonomy_follows_the_contract():
    taxonomy = load_taxonomy()
    assert list(taxonomy.topics) == CONTRACT
    for topic in taxonomy.topics.values():
        assert topic.description and topic.terms_en and topic.terms_de and topic.examples


def test_user_taxonomy(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'name = "mine"\nversion = "2"\n[topics.heat]\ndescription = "urban heat"\nterms_en = ["heat wave"]\n'
    )
    assert load_taxonomy(path).key == "mine@2"
    path.write_text("[topics.heat]\n")
    with pytest.raises(ConfigError, match="needs at least a description"):
        load_taxonomy(path)
    with pytest.raises(ConfigError, match="cannot read taxonomy"):
        load_taxonomy(tmp_path / "missing.toml")


def test_gazetteer_normalises_german_and_english_names():
    gazetteer = Gazetteer.default()
    assert (
        gazetteer.lookup("München").name
        == gazetteer.lookup("Munich").name
        == gazetteer.lookup("Muenchen").name
    )
    assert gazetteer.lookup("Stadt Hameln").country == "DE"
    assert gazetteer.lookup("Pittsburgh").country == "US"


def test_terms_count_english_phrases_and_german_compounds(tagger):
    hits = dict(
        zip(
            tagger.topic_ids,
            tagger.matched_terms("Rooftop solar and heat pumps; Förderprogramm für Wärmepumpen"),
        )
    )
    assert {"rooftop solar", "heat pump", "waermepumpe"} <= hits["energy"]
    assert hits["participation"] == set()


def test_every_assignment_is_explained(tagger):
    text = "Residents can apply for grants for heat pumps and rooftop solar on their homes."
    vector = tagger.embedder.embed_batch([text])[0]
    explained = tagger.explain(text, vector)
    assert "energy" in explained
    assert (
        "heat pump" in explained["energy"]["terms"] and -1 <= explained["energy"]["similarity"] <= 1
    )
    assert set(explained) == set(tagger.labels(tagger.topic_scores([text], vector[None, :])[0]))


def test_passages_get_topics_entities_and_places(tagger):
    passages = [
        Passage(
            doc="x",
            page=1,
            text="Berlin passed the Solar Act: owners must install photovoltaic panels and rooftop solar systems, "
            "with grants from the Inflation Reduction Act for heat pumps and renewable energy.",
        ),
        Passage(
            doc="x",
            page=1,
            text="Residents voted on the participatory budget at public meetings and neighbourhood assemblies.",
        ),
    ]
    vectors = embed([p.text for p in passages], tagger.embedder)
    tagger.tag(passages, vectors, "en")
    assert "energy" in passages[0].topics
    assert "participation" in passages[1].topics
    labels = {(e.norm or e.text, e.label) for e in passages[0].entities}
    assert ("Berlin", "GPE") in labels
    assert ("Inflation Reduction Act", "LAW") in labels


@pytest.mark.parametrize(
    "name, city, country",
    [
        ("02-munich-sobon.pdf", "Munich", "DE"),
        ("04-freiburg-vauban.pdf", "Freiburg im Breisgau", "DE"),
        ("05-pittsburgh-mobility.pdf", "Pittsburgh", "US"),
    ],
)
def test_document_city(tagger, name, city, country):
    doc = extract(CORPUS / name)
    passages = segment(doc)
    tagger.tag(passages, embed([p.text for p in passages], tagger.embedder), doc.lang)
    tags = tagger.document_tags(doc, passages)
    assert (tags.city, tags.country) == (city, country)
    assert tags.topics and all(0 < s <= 1 for s in tags.topics.values())
