import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import settings_for

from policymine.serve import make_server, parse_params


@pytest.fixture(scope="module")
def url(fake_index):
    server = make_server(settings_for(fake_index), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_search_over_http_takes_the_cli_parameters(url):
    status, body = get(
        f"{url}/search?q=participatory+budgeting&k=3&mode=keyword&country=US&per-doc=1&explain=1"
    )
    assert status == 200 and body["took_ms"] >= 0
    hits = body["hits"]
    assert (
        hits[0]["doc"] == "06-boston-participatory-budgeting.pdf"
        and hits[0]["explain"]["keyword"]["terms"]
    )
    assert all(h["country"] == "US" for h in hits) and len({h["doc"] for h in hits}) == len(hits)


def test_similar_and_health(url):
    status, body = get(f"{url}/similar?text=residents+vote+on+the+budget&k=2")
    assert status == 200 and len(body["hits"]) == 2
    passage = body["hits"][0]["passage_id"]
    status, body = get(f"{url}/similar?id={passage}&k=2")
    assert status == 200 and all(h["passage_id"] != passage for h in body["hits"])
    health = get(f"{url}/health")[1]
    assert health["status"] == "ok" and health["keyword_postings"] == "memory"


@pytest.mark.parametrize(
    "path, status, message",
    [
        ("/search", 400, "missing parameter q"),
        ("/search?q=solar&k=many", 400, "expects a whole number"),
        ("/search?q=solar&mode=fuzzy", 400, "unknown search mode"),
        ("/search?q=solar&year_from=2020&year_to=2010", 400, "is after year_to 2010"),
        ("/similar?id=999999", 404, "no passage with id 999999"),
        ("/nothing", 404, "no such endpoint"),
    ],
)
def test_bad_requests_get_a_json_error(url, path, status, message):
    code, body = get(url + path)
    assert code == status and message in body["error"]


def test_serve_takes_the_search_rules_topics_in_any_case_and_the_floor(url):
    status, upper = get(f"{url}/search?q=solar&k=3&topic=Energy")
    assert (
        status == 200 and upper["hits"] == get(f"{url}/search?q=solar&k=3&topic=energy")[1]["hits"]
    )
    assert upper["close"] is True


def test_parse_params():
    assert parse_params("q=a+b&year-from=2015&k=3") == {"q": "a b", "year_from": 2015, "k": 3}


@pytest.mark.parametrize(
    "path, message",
    [
        ("/search?q=solar&k=0", "'k' must be within 1..1000"),
        ("/search?q=solar&k=5000", "'k' must be within 1..1000"),
        ("/search?q=solar&per_doc=0", "'per_doc' must be within 1..100"),
        ("/search?q=solar&topic=weather", "unknown topic 'weather'"),
        ("/search?q=solar&colour=red", "unknown parameter 'colour'"),
        ("/search?q=" + "x" * 1001, "at most 1000"),
        ("/search?q=+++", "missing parameter q"),
        ("/search?q=solar&year-from=20", "'year-from' must be within"),
        ("/similar?q=solar", "unknown parameter 'q'"),
    ],
)
def test_every_parameter_is_checked(url, path, message):
    code, body = get(url + path)
    assert code == 400 and message in body["error"]


def test_concurrent_requests_all_answer(url):
    from concurrent.futures import ThreadPoolExecutor

    queries = [
        "rooftop solar",
        "participatory budgeting",
        "heat",
        "affordable housing",
        "bike lanes",
    ] * 8
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(
            pool.map(lambda q: get(f"{url}/search?q={q.replace(' ', '+')}&k=3"), queries)
        )
    assert all(code == 200 and len(body["hits"]) == 3 for code, body in answers)
    # the same query answers the same however many run at once
    by_query = {}
    for q, (_, body) in zip(queries, answers):
        by_query.setdefault(q, set()).add(tuple(h["passage_id"] for h in body["hits"]))
    assert all(len(results) == 1 for results in by_query.values())


@pytest.mark.slow
def test_serve_on_the_real_model_answers_as_the_cli_does(real_index):
    """serve embeds in onnxruntime (ingest's ONNX export) and ranks keywords from memory; the
    one-off search embeds in numpy and ranks keywords in SQL: the hits must be the same."""
    from policymine.search import search
    from policymine.serve import Service

    settings = settings_for(real_index, model="minilm")
    service = Service(settings, threads=1)
    try:
        health = service.handle("/health", {})
        assert health["query_model"] == "onnxruntime" and health["keyword_postings"] == "memory"
        for query in (
            "incentives for rooftop solar",
            "residents vote on the city budget",
            "Klimaschutz Förderprogramm",
        ):
            for mode in ("hybrid", "dense", "keyword"):
                served = service.handle("/search", {"q": query, "mode": mode, "k": 5})["hits"]
                local = [h.to_dict() for h in search(query, settings, k=5, mode=mode)]
                assert [h["passage_id"] for h in served] == [h["passage_id"] for h in local], (
                    query,
                    mode,
                )
                assert [h["score"] for h in served] == pytest.approx(
                    [h["score"] for h in local], abs=1e-4
                )
    finally:
        service.close()


def test_serve_picks_up_an_ingest_without_a_restart(tmp_path, monkeypatch):
    from conftest import CORPUS

    from policymine import serve
    from policymine.pipeline import ingest

    monkeypatch.setattr(serve, "RELOAD_POLL_S", 0.05)
    monkeypatch.setattr(serve, "RELOAD_QUIET_S", 0.3)
    settings = settings_for(tmp_path / "ix")
    ingest([CORPUS / "01-berlin-solar.pdf"], settings)
    service = serve.Service(settings, threads=2)
    try:
        before = service.handle("/health", {})["passages"]
        ingest([CORPUS / "06-boston-participatory-budgeting.pdf"], settings)
        deadline = time.monotonic() + 30  # an ingest's quiet spells may bring earlier reloads too
        while service.handle("/health", {})["passages"] == before and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)  # the reload is counted just after the new index is in place
        health = service.handle("/health", {})
        assert service.reloads >= 1 and health["reload_error"] is None
        assert health["passages"] > before and health["keyword_postings"] == "memory"
        for mode in ("dense", "keyword", "hybrid"):
            hits = service.handle(
                "/search",
                {"q": "participatory budgeting Boston", "mode": mode, "k": 10, "per_doc": 10},
            )["hits"]
            assert "06-boston-participatory-budgeting.pdf" in {h["doc"] for h in hits}, mode
    finally:
        service.close()
