"""The Ray executor gives what the local one gives: same documents, passages, tags and vectors.

A local Ray (2 CPUs) runs the real stages with the real MiniLM model: the fake embedder of
conftest.py is registered only in this process, and Ray workers are other processes.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS

from policymine import config
from policymine.errors import ConfigError
from policymine.index import INDEX_FILE, VectorIndex
from policymine.pipeline import ingest, tag_files

try:
    import ray
except ImportError:  # the optional extra: pip install 'policymine[ray]'
    ray = None
needs_ray = pytest.mark.skipif(
    ray is None, reason="Ray is not installed: pip install 'policymine[ray]'"
)


@pytest.fixture(scope="module")
def local_ray():
    """A Ray of 2 CPUs on this machine, for this module's tests."""
    from policymine.executors.ray import runtime_env

    ray.init(num_cpus=2, include_dashboard=False, runtime_env=runtime_env())
    yield
    ray.shutdown()


def _contents(index_dir: Path) -> dict[str, dict]:
    """Everything an ingest stored, per document name, without the ids that differ between runs."""
    db = sqlite3.connect(index_dir / "policymine.db")
    out = {}
    for doc_id, name, title, lang, city, country, n_pages in db.execute(
        "SELECT id, name, title, lang, city, country, n_pages FROM documents"
    ):
        passages = db.execute(
            "SELECT id, page, page_end, section, kind, text, char_start, char_end, vector FROM passages"
            " WHERE doc_id = ? ORDER BY id",
            (doc_id,),
        ).fetchall()
        ids = [row[0] for row in passages]
        out[name] = {
            "doc": (title, lang, city, country, n_pages),
            "doc_topics": sorted(
                db.execute("SELECT topic, score FROM document_topics WHERE doc_id = ?", (doc_id,))
            ),
            "passages": [row[1:8] for row in passages],
            "topics": [
                sorted(
                    db.execute("SELECT topic, score FROM passage_topics WHERE passage_id = ?", (i,))
                )
                for i in ids
            ],
            "entities": [
                sorted(
                    db.execute(
                        "SELECT text, label, norm, country FROM entities WHERE passage_id = ?", (i,)
                    )
                )
                for i in ids
            ],
            "vectors": np.vstack([np.frombuffer(row[8], dtype=np.float32) for row in passages]),
        }
    db.close()
    return out


@pytest.mark.slow
@needs_ray
def test_ray_ingest_matches_local_ingest(real_index, local_ray, tmp_path):
    ray_dir = tmp_path / "ray-index"
    report = ingest([CORPUS], config.Settings(index_dir=ray_dir, executor="ray", workers=2))
    assert not report.failed
    assert report.count("added") == len(list(CORPUS.glob("*.pdf")))

    local, distributed = _contents(real_index), _contents(ray_dir)
    assert sorted(distributed) == sorted(local)
    for name, want in local.items():
        got = distributed[name]
        for key in ("doc", "doc_topics", "passages", "topics", "entities"):
            assert got[key] == want[key], f"{name}: {key} differs"
        np.testing.assert_allclose(got["vectors"], want["vectors"], atol=1e-5, err_msg=name)
    passages = sum(len(d["passages"]) for d in local.values())
    for index_dir in (real_index, ray_dir):
        assert len(VectorIndex.load(index_dir / INDEX_FILE, 384)) == passages


@pytest.mark.slow
@needs_ray
def test_ray_tag_matches_local_tag(local_ray, tmp_path, monkeypatch):
    monkeypatch.chdir(CORPUS)  # a relative path: Ray workers run in another working directory
    files = [
        Path("02-munich-sobon.pdf"),
        CORPUS / "06-boston-participatory-budgeting.pdf",
        tmp_path / "missing.pdf",
    ]

    def tagged(executor: str) -> list:
        settings = config.Settings(index_dir=tmp_path / "unused", executor=executor, workers=2)
        records = list(tag_files(files, settings, explain=True))
        return sorted((r if isinstance(r, dict) else {"error": str(r)} for r in records), key=str)

    local, distributed = tagged("local"), tagged("ray")
    assert distributed == local
    assert [r["error"] for r in local if "error" in r] == [f"{files[2]}: no such file"]


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    from policymine.executors.ray import analysed as analysed_on_ray

    with pytest.raises(ConfigError, match=r"pip install 'policymine\[ray\]'"):
        list(analysed_on_ray([CORPUS / "02-munich-sobon.pdf"], config.Settings(executor="ray")))


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"executor": "spark"}, "executor must be one of local, ray"),
        ({"ray_address": "auto"}, "add --executor ray"),
    ],
)
def test_executor_settings_are_checked(overrides, error):
    with pytest.raises(ConfigError, match=error):
        config.Settings(**overrides)
