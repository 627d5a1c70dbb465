"""The browser app (web.py) end to end: `policymine serve` on the bundled corpus, driven by
Debian's chromium through Playwright (never a downloaded browser), and raw HTTP for what a
browser would not send (traversal attempts, other methods)."""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import child_env, fake_cli

from policymine.web import CHROMIUM, CHROMIUM_ARGS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base(fake_index):
    """`policymine serve` (fake embedder) on the bundled corpus, on a free port."""
    port = free_port()
    process = subprocess.Popen(
        fake_cli("serve", "--port", port, "--index-dir", fake_index, "--threads", 2),
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=5).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"serve did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.3)
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium under Playwright; the browser tests skip, saying why, without them."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
    )
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"no chromium at {CHROMIUM}: apt-get install chromium (make install does, as root)"
        )
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, base):
    context = browser.new_context(base_url=base, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()


def get(url: str, accept: str = "*/*") -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def raw(base: str, method: str, path: str) -> tuple[int, bytes]:
    """A request with exactly this path: no client normalises `..` or percent-escapes away."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest(method, path, skip_accept_encoding=True)
    connection.putheader("Accept", "text/html")
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


def hit_ids(page) -> list[int]:
    return [
        int(x) for x in page.locator("li.hit").evaluate_all("els => els.map(e => e.dataset.pid)")
    ]


# ---------------------------------------------------------------------- search


def test_search_with_filters_from_the_form(page):
    page.goto("/")
    page.fill("#q", "participatory budgeting")
    page.click("details.filters summary")
    options = page.locator("select[name=country] option").all_inner_texts()
    assert "US (5)" in options and "DE (5)" in options  # known values with their counts
    page.select_option("select[name=country]", "US")
    page.select_option("select[name=mode]", "keyword")
    page.click("form.search button[type=submit]")
    page.wait_for_selector("li.hit")
    assert "country=US" in page.url and "mode=keyword" in page.url
    metas = page.locator("li.hit .meta").all_inner_texts()
    assert metas and all(", US ·" in m for m in metas)
    assert "06-boston-participatory-budgeting.pdf" in metas[0]
    marks = {m.lower() for m in page.locator("li.hit .text mark").all_inner_texts()}
    assert marks & {"participatory", "budgeting", "budget"}
    # the form keeps what was asked, so the next search refines it
    assert page.input_value("#q") == "participatory budgeting"
    assert page.locator("select[name=country]").input_value() == "US"


def test_empty_query_offers_examples_and_nonsense_finds_nothing(page):
    page.goto("/?q=+++")
    assert page.locator("li.hit").count() == 0
    examples = page.locator("section.intro a")
    assert examples.count() >= 3
    examples.first.click()
    page.wait_for_selector("li.hit")
    page.goto("/?q=qwzxv+blorftian&mode=keyword")
    assert page.locator("li.hit").count() == 0
    assert "No passages match" in page.inner_text("p.empty")
    response = page.goto("/?q=the+and+of&mode=keyword")  # only stopwords: the API's own error
    assert response.status == 400 and "only stopwords" in page.inner_text("[role=alert]")


def test_explain_on_demand_fills_in_why_without_leaving_the_page(page):
    page.goto("/?q=rooftop+solar+incentives")
    url = page.url
    assert page.locator("li.hit .why").count() == 0
    first = page.locator("li.hit").first
    first.locator("a.why-link").click()
    why = first.locator(".why")
    why.wait_for()
    assert "bm25" in why.inner_text() and "rrf" in why.inner_text()
    assert page.url == url
    assert page.locator("li.hit .why").count() == page.locator("li.hit").count()


def test_paging_through_hits(page):
    page.goto("/?q=city+climate+plan&k=10")
    first = hit_ids(page)
    assert len(first) == 10
    page.click("nav.pager a[rel=next]")
    page.wait_for_selector("ol.hits[start='11']")
    second = hit_ids(page)
    assert second and not set(first) & set(second)
    page.click("nav.pager a[rel=prev]")
    page.wait_for_selector("ol.hits[start='1']")
    assert hit_ids(page) == first


def test_a_search_replaces_the_hits_in_place_and_back_returns(page):
    page.goto("/?q=green+roofs")
    first = hit_ids(page)
    page.evaluate("window.notReloaded = true")  # gone if the browser loaded a new page
    page.fill("#q", "participatory budgeting")
    page.press("#q", "Enter")
    page.wait_for_url("**/?q=participatory+budgeting&mode=hybrid&k=10")
    assert page.evaluate("window.notReloaded === true")
    second = hit_ids(page)
    assert second and second != first
    assert page.title().startswith("participatory budgeting")
    page.go_back()
    page.wait_for_function("() => document.querySelector('#q').value === 'green roofs'")
    assert hit_ids(page) == first and page.url.endswith("/?q=green+roofs")
    page.go_forward()
    page.wait_for_function("() => document.querySelector('#q').value === 'participatory budgeting'")
    assert hit_ids(page) == second


def test_keyboard_only_search(page):
    page.goto("/")
    assert page.evaluate("document.activeElement.id") == "q"  # the query box has the focus
    page.keyboard.type("green roofs")
    page.keyboard.press("Enter")
    page.wait_for_selector("li.hit")
    # the hits came in place; their summary has the focus (and is read out), Tab goes on to them
    assert page.evaluate("document.activeElement.matches('p.summary[role=status]')")
    page.keyboard.press("/")  # "/" jumps to the query box from anywhere
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("flat green roofs")  # what was there is selected: typing replaces it
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=flat+green+roofs&mode=hybrid&k=10")
    first_title = page.locator("li.hit h3 a").first
    for _ in range(40):  # tab through the form to the first hit's title
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('li.hit h3') !== null"):
            break
    else:
        pytest.fail("the first hit cannot be reached with Tab")
    href = first_title.get_attribute("href")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{href}")
    page.wait_for_selector(".paper img")
    before = page.inner_text("nav.pager")
    page.keyboard.press("ArrowRight")  # the arrows turn the page
    page.wait_for_function(
        f"() => document.querySelector('nav.pager').innerText !== {json.dumps(before)}"
    )
    assert "page 2 of" in page.inner_text("nav.pager")


def test_hits_download_as_csv_and_json(page):
    page.goto("/?q=heat+action+plan&k=5")
    shown = hit_ids(page)
    with page.expect_download() as info:
        page.click("a[href^='/export.csv']")
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert [int(r["passage_id"]) for r in rows] == shown
    assert rows[0]["rank"] == "1" and rows[0]["text"] and rows[0]["doc"].endswith(".pdf")
    assert info.value.suggested_filename == "hits-heat-action-plan.csv"
    with page.expect_download() as info:
        page.click("a[href^='/export.json']")
    body = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert [h["passage_id"] for h in body["hits"]] == shown and body["query"][
        "q"
    ] == "heat action plan"


# ---------------------------------------------------------------------- page view


def test_page_view_highlights_the_passage_on_the_rendered_page(page, base, fake_index):
    import pypdfium2

    from policymine.store import Store

    page.goto("/?q=solar+mandate+new+buildings&doc=berlin")
    first = page.locator("li.hit").first
    pid = int(first.get_attribute("data-pid"))
    first.locator("h3 a").click()
    page.wait_for_function("() => document.querySelector('.paper img')?.complete")
    assert page.evaluate("document.querySelector('.paper img').naturalWidth") > 500
    boxes = page.locator(".paper .hl").evaluate_all(
        "els => els.map(e => [e.style.left, e.style.top, e.style.width, e.style.height].map(parseFloat))"
    )
    assert boxes, "no highlighted line"
    # the boxes cover the passage's words on the PDF page, and little else
    with Store(fake_index) as store:
        row = store.rows([pid])[pid]
        doc_id = store.passage_location(pid)[0]
        path = store.document(doc_id)["path"]
    pdf = pypdfium2.PdfDocument(path)
    pdf_page = pdf[row.page - 1]
    width, height = pdf_page.get_size()
    text = pdf_page.get_textpage()
    covered = " ".join(
        text.get_text_bounded(
            left * width / 100,
            height - (top + h) * height / 100,
            (left + w) * width / 100,
            height - top * height / 100,
        )
        for left, top, w, h in boxes
    )
    pdf.close()
    words = lambda s: set(re.findall(r"[a-zäöüß]{4,}", s.lower()))
    passage_words, covered_words = words(row.text), words(covered)
    assert len(passage_words & covered_words) >= 0.8 * len(passage_words)
    assert len(covered_words - passage_words) <= 0.25 * len(covered_words)
    # the PDF itself, by document id, opened at the page
    link = page.locator("a.pdf")
    assert link.get_attribute("href") == f"/pdf/{doc_id}#page={row.page}"
    status, headers, body = get(f"{base}/pdf/{doc_id}")
    assert status == 200 and headers["Content-Type"] == "application/pdf" and body[:5] == b"%PDF-"
    assert body == Path(path).read_bytes()
    # previous and next page; the highlight stays with the passage's own page
    if page.locator("a[rel=next]").count():
        page.click("a[rel=next]")
        page.wait_for_selector(f"text=page {row.page + 1} of")
        assert page.locator(".paper .hl").count() == 0
        assert "go there" in page.inner_text("section.passage")
        page.click("a[rel=prev]")
        page.wait_for_selector(".paper .hl")


def test_page_images_are_cacheable_and_scaled(base):
    status, headers, small = get(f"{base}/page.png?document=1&page=1&w=400")
    assert (
        status == 200
        and headers["Content-Type"] == "image/png"
        and small[:8] == b"\x89PNG\r\n\x1a\n"
    )
    assert int.from_bytes(small[16:20], "big") == 400  # the PNG's width
    etag = headers["ETag"]
    request = urllib.request.Request(
        f"{base}/page.png?document=1&page=1&w=400", headers={"If-None-Match": etag}
    )
    try:
        urllib.request.urlopen(request, timeout=30)
        pytest.fail("a cached image was sent again")
    except urllib.error.HTTPError as exc:
        assert exc.code == 304
    status, _, large = get(f"{base}/page.png?document=1&page=1&w=1600")
    assert status == 200 and int.from_bytes(large[16:20], "big") == 1600


# ---------------------------------------------------------------------- similar, practices, digest


def test_similar_elsewhere_from_a_hit_and_from_typed_text(page):
    page.goto("/?q=participatory+budgeting&doc=boston")
    first = page.locator("li.hit").first
    source_doc = first.locator(".meta").inner_text().split(" · ")[1].split(" p.")[0]
    first.get_by_role("link", name="similar elsewhere").click()
    page.wait_for_selector("li.hit")
    assert "Like passage" in page.inner_text("p.source")
    metas = page.locator("li.hit .meta").all_inner_texts()
    assert metas and all(source_doc not in m for m in metas)
    assert all("Boston" not in m for m in metas)  # other cities
    page.goto("/elsewhere")
    page.fill("#text", "residents vote on how to spend part of the city budget")
    page.click("form.similar button")
    page.wait_for_selector("li.hit")
    assert page.locator("li.hit").count() >= 3


def test_practices_facets_narrow_and_widen(page):
    page.goto("/practices")
    total = int(page.inner_text("p.summary").split()[0])
    assert total > 10 and page.locator("article.practice").count() == min(total, 20)
    facet = page.locator("details.facet", has_text="instrument").locator("li a").first
    label, count = facet.inner_text().rsplit(maxsplit=1)
    facet.click()
    page.wait_for_selector("a.chip")
    assert int(page.inner_text("p.summary").split()[0]) == int(count)
    tags = page.locator("article.practice .facts").all_inner_texts()
    assert tags and all(label in t for t in tags)
    quotes = page.locator("article.practice blockquote").all_inner_texts()
    assert all(q.strip() for q in quotes)
    assert (
        page.locator("article.practice .cite a")
        .first.get_attribute("href")
        .startswith("/page?passage=")
    )
    country = page.locator("details.facet", has_text="country").locator("li a").first
    country_count = int(country.inner_text().rsplit(maxsplit=1)[1])
    country.click()
    page.wait_for_selector("a.chip >> nth=1")
    assert int(page.inner_text("p.summary").split()[0]) == country_count
    for _ in range(2):
        page.locator("a.chip").first.click()
        page.wait_for_load_state()
    assert int(page.inner_text("p.summary").split()[0]) == total
    response = page.goto("/practices?instrument=bribery")
    assert response.status == 400 and "unknown instrument" in page.inner_text("[role=alert]")


def test_digest_build_read_and_download(page):
    page.goto("/digest")
    page.select_option("select[name=topic]", "energy")
    page.fill("input[name=limit]", "10")
    page.click("form.digest button")
    page.wait_for_selector("section.cluster")
    assert page.inner_text("h1") == "Practice digest: energy"
    assert page.locator("section.cluster article.practice").count() <= 10
    page.wait_for_function("() => document.querySelector('.heatmap img').complete")
    assert page.evaluate("document.querySelector('.heatmap img').naturalWidth") > 100
    with page.expect_download() as info:
        page.click("a[href^='/digest.html']")
    text = Path(info.value.path()).read_text(encoding="utf-8")
    assert "<h1>Practice digest: energy</h1>" in text and "data:image/png;base64," in text
    with page.expect_download() as info:
        page.click("a[href^='/digest.md']")
    markdown = Path(info.value.path()).read_text(encoding="utf-8")
    assert markdown.startswith("# Practice digest: energy") and "Source: " in markdown
    assert info.value.suggested_filename == "digest-energy.md"


def test_overview_lists_documents_and_counts(page):
    page.goto("/overview")
    assert page.locator("table.docs tbody tr").count() == 10
    assert "10 documents" in page.inner_text("p.summary")
    assert page.locator(".charts section").count() == 3
    page.locator("table.docs a", has_text="Munich").click()
    page.wait_for_selector(".paper img")
    assert "page 1 of 2" in page.inner_text("nav.pager")


def test_pages_fit_a_phone(page):
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/?q=rooftop+solar", "/page?passage=5", "/practices", "/overview", "/digest"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path


# ---------------------------------------------------------------------- errors and safety


def test_error_pages_say_what_went_wrong(page, base):
    response = page.goto("/page?passage=999999")
    assert response.status == 404 and "no passage with id 999999" in page.inner_text("[role=alert]")
    page.click("[role=alert] a[href='/']")  # and lead back
    page.wait_for_selector("#q")
    response = page.goto("/?q=solar&k=0")
    assert response.status == 400 and "'k' must be within 1..1000" in page.inner_text(
        "[role=alert]"
    )
    response = page.goto("/?q=solar&colour=red")
    assert response.status == 400 and "unknown parameter 'colour'" in page.inner_text(
        "[role=alert]"
    )
    response = page.goto("/no-such-page")
    assert response.status == 404 and "no page /no-such-page" in page.inner_text("[role=alert]")
    # images, files and exports answer JSON errors, as the API does
    for path, status, message in [
        ("/page.png?document=1&page=99", 400, "'page' must be within 1..2"),
        ("/page.png?document=1&w=5", 400, "'w' must be within"),
        ("/page.png?document=424242", 404, "no document with id 424242"),
        ("/export.csv?q=solar&page=500", 400, "beyond the first 1000 hits"),
        ("/export.json", 400, "missing parameter q"),
        ("/digest.md", 400, "needs a topic or a query"),
        ("/openapi.json?x=1", 400, "unknown parameter 'x'; it takes no parameters"),
        ("/export.json?q=the+and+of&mode=keyword", 400, "only stopwords): try mode=dense"),
    ]:
        code, headers, body = get(base + path)
        assert code == status and headers["Content-Type"].startswith("application/json"), path
        assert message in json.loads(body)["error"], path
    # the JSON API keeps its JSON 404 for clients that do not ask for HTML
    code, _, body = get(f"{base}/nothing")
    assert code == 404 and "no such endpoint" in json.loads(body)["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/pdf/../../../../etc/passwd",
        "/pdf/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/pdf/%2e%2e/%2e%2e/etc/passwd",
        "/pdf//etc/passwd",
        "/pdf/1/../../../../etc/passwd",
        "/pdf/1%00.pdf",
        "/pdf/-1",
        "/static/../web.py",
        "/static/..%2Fweb.py",
        "/static/%2e%2e%2fserve.py",
        "/static//etc/passwd",
        "/static/web.css/../../serve.py",
        "/static/%2Fetc%2Fpasswd",
        "/page.png?document=../../etc/passwd",
        "/page.png?document=%2Fetc%2Fpasswd&page=1",
        "/page.png?document=1&page=1/../../etc/passwd",
        "/page?document=..%2F..%2Fetc%2Fpasswd",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
    ],
)
def test_traversal_attempts_get_nothing_from_the_disk(base, path):
    status, body = raw(base, "GET", path)
    assert status in (400, 404), (path, status)
    assert b"root:" not in body and b"import " not in body and b"%PDF" not in body


def test_nothing_is_writable_through_the_web_app(base, fake_index):
    def state() -> list[str]:
        files = sorted(fake_index.glob("policymine.db*"))  # the database and its WAL
        return [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]

    before = state()
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/", "/practices", "/digest?topic=energy", "/search?q=x", "/pdf/1"):
            status, body = raw(base, method, path)
            assert status == 405 and json.loads(body)["status"] == 405, (method, path, status)
    for path in ("/practices?topic=housing", "/digest?topic=housing", "/?q=housing"):
        assert get(base + path, "text/html")[0] == 200
    assert state() == before


# Filter values the bundled index has (a value no document has is a 400 that names known ones).
KNOWN = {"city": "Berlin", "country": "DE", "lang": "en", "doc": "berlin", "topic": "energy"}


def test_openapi_schema_describes_the_api_as_it_checks(base):
    status, _, body = get(f"{base}/openapi.json")
    schema = json.loads(body)
    assert status == 200 and schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {"/search", "/similar", "/health"}
    for path in ("/search", "/similar"):
        parameters = schema["paths"][path]["get"]["parameters"]
        names = {p["name"] for p in parameters}
        probe = {"q": "solar"} if path == "/search" else {"text": "solar"}
        # every parameter the schema lists is one the API takes...
        for p in parameters:
            value = KNOWN.get(
                p["name"], p["schema"].get("enum", [p["schema"].get("minimum", 1)])[0]
            )
            if p["name"] in ("q", "text", "id"):
                continue
            code, _, answer = get(f"{base}{path}?{_query({**probe, p['name']: value})}")
            assert code == 200, (path, p["name"], answer)
        # ...with the bounds it enforces...
        for p in parameters:
            bounds = p["schema"]
            if bounds.get("type") == "integer" and p["name"] != "id":
                for bad in (bounds["minimum"] - 1, bounds["maximum"] + 1):
                    code, _, answer = get(f"{base}{path}?{_query({**probe, p['name']: bad})}")
                    assert code == 400 and "must be within" in json.loads(answer)["error"]
        # ...and a parameter it does not list is refused
        code, _, answer = get(f"{base}{path}?{_query({**probe, 'colour': 'red'})}")
        assert code == 400 and "colour" in json.loads(answer)["error"]
        assert "colour" not in names


def _query(params: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(params)
