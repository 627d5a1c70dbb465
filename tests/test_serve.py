import json
import pickle
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import settings_for

from policymine.errors import OptionError
from policymine.serve import error_message, make_server, parse_params


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
        (
            "/search?q=solar&year_from=2020&year_to=2010",
            400,
            "year_from=2020 is after year_to=2010",
        ),
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
        ("/health?x=1", "unknown parameter 'x' for /health; it takes no parameters"),
        ("/similar?id=1&text=solar", "give id or text, not both"),
        ("/similar", "give id or text"),
        ("/search?q=the+and+of&mode=keyword", "only stopwords): try mode=dense"),
    ],
)
def test_every_parameter_is_checked(url, path, message):
    code, body = get(url + path)
    assert code == 400 and message in body["error"] and body["status"] == 400
    assert "--" not in body["error"]  # query parameters, never the CLI's flags


def test_option_errors_name_flags_for_the_cli_and_parameters_for_http(fake_index):
    from policymine.search import Searcher

    with Searcher(settings_for(fake_index)) as searcher, pytest.raises(OptionError) as raised:
        searcher.search("the and of", mode="keyword")
    assert str(raised.value).endswith("try --mode dense")
    assert error_message(raised.value).endswith("try mode=dense")
    again = pickle.loads(pickle.dumps(raised.value))
    assert str(again) == str(raised.value) and error_message(again) == error_message(raised.value)


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


# ---------------------------------------------------------------------- rude clients, raw sockets


def raw(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` exactly as it is and read the answer to its end: status, headers, body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    return int(status_line.split()[1]), dict(line.split(": ", 1) for line in lines), body


@pytest.mark.parametrize(
    "request_, status, message",
    [
        (b"GET /nothing HTTP/1.1\r\n\r\n", 404, "no such endpoint"),
        (b"GET /search?q=solar&k=many HTTP/1.1\r\n\r\n", 400, "expects a whole number"),
        (b"POST /search?q=solar HTTP/1.1\r\n\r\n", 405, "method POST is not allowed"),
        (b"POST /search HTTP/1.1\r\nContent-Length: 7\r\n\r\nq=solar", 405, "use GET or HEAD"),
        (b"PUT /search HTTP/1.1\r\n\r\n", 405, "method PUT is not allowed"),
        (b"DELETE /health HTTP/1.1\r\n\r\n", 405, "method DELETE is not allowed"),
        (b"PATCH / HTTP/1.1\r\n\r\n", 405, "method PATCH is not allowed"),
        (b"OPTIONS * HTTP/1.1\r\n\r\n", 405, "method OPTIONS is not allowed"),
        (b"BREW /pot HTTP/1.1\r\n\r\n", 501, "this server takes GET and HEAD"),
        (b"GET /search?q=" + b"x" * 100_000 + b" HTTP/1.1\r\n\r\n", 414, "at most 65536 bytes"),
        (b"GET /health HTTP/1.1\r\nX-Big: " + b"y" * 70_000 + b"\r\n\r\n", 431, "Line too long"),
        (b"GET /health HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431, "Too many headers"),
        (b"nonsense\r\n\r\n", 400, "Bad request syntax"),
        (b"GET / HTTP/2.0\r\n\r\n", 505, "Invalid HTTP version"),
    ],
)
def test_every_error_is_json_whatever_its_status(url, request_, status, message):
    code, headers, body = raw(url, request_)
    assert code == status and headers["Content-Type"] == "application/json; charset=utf-8"
    answer = json.loads(body)
    assert answer["status"] == status and message in answer["error"], answer
    assert int(headers["Content-Length"]) == len(body)
    if status in (405, 501):
        assert headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path, status", [("/health", 200), ("/nothing", 404), ("/health?x=1", 400)]
)
def test_head_gets_the_headers_of_get_and_no_body(url, path, status):
    request_ = f"{{}} {path} HTTP/1.1\r\nHost: x\r\n\r\n"
    code, headers, body = raw(url, request_.format("HEAD").encode())
    assert code == status and body == b""
    assert headers["Content-Type"].startswith("application/json")
    got, get_headers, got_body = raw(url, request_.format("GET").encode())
    assert got == status and headers["Content-Length"] == get_headers["Content-Length"]
    assert int(headers["Content-Length"]) == len(got_body) > 0


TIMEOUT = 1.5  # serve_timeout of the servers below, in seconds
SLACK = 10.0  # a loaded test machine may be slow to close or answer; never early


@pytest.fixture
def strict(fake_index):
    """A server that closes silent clients after TIMEOUT and serves 3 connections at once."""
    settings = settings_for(fake_index, serve_timeout=TIMEOUT, serve_connections=3)
    server = make_server(settings, port=0, threads=1)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    server.service.close()


def idle(url: str, send: bytes = b"") -> socket.socket:
    """A connection that sends `send` (perhaps nothing) and then nothing more."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=TIMEOUT + SLACK)
    sock.sendall(send)
    return sock


def closed_after(sock: socket.socket, start: float) -> float:
    """Seconds from `start` until the server closes `sock` (which it does without an answer)."""
    with sock:
        assert sock.recv(65536) == b""
    return time.monotonic() - start


def test_a_silent_client_is_closed_after_the_timeout_and_others_are_answered_meanwhile(strict):
    start = time.monotonic()
    silent, half = idle(strict), idle(strict, b"GET /health HTTP/1.1\r\n")  # no blank line
    status, body = get(f"{strict}/health")  # the third connection: answered at once
    assert status == 200 and body["status"] == "ok" and time.monotonic() - start < TIMEOUT
    for sock in (silent, half):
        assert TIMEOUT * 0.9 <= closed_after(sock, start) <= TIMEOUT + SLACK


def test_connections_over_the_bound_wait_for_a_free_thread(strict):
    start = time.monotonic()
    first = [idle(strict) for _ in range(3)]  # these take every connection thread...
    later = [idle(strict) for _ in range(2)]  # ...so these wait to be accepted
    time.sleep(0.3)
    handlers = [t for t in threading.enumerate() if "process_request_thread" in t.name]
    assert len(handlers) == 3
    status, body = get(f"{strict}/health")  # answered once the first three time out
    waited = time.monotonic() - start
    assert status == 200 and body["status"] == "ok" and TIMEOUT * 0.9 <= waited <= TIMEOUT + SLACK
    assert all(TIMEOUT * 0.9 <= closed_after(sock, start) <= TIMEOUT + SLACK for sock in first)
    assert all(2 * TIMEOUT * 0.9 <= closed_after(sock, start) for sock in later)
