"""Walk through the browser app's flows on any index, checking each, and take screenshots.

What tests/test_web.py checks on the bundled corpus, done on whatever index `serve` answers for
(the real corpus's, a user's): each flow prints "ok" or what went wrong, and the script exits 1
if any failed. Screenshots of each page at a laptop's and a phone's width go to OUT.

    policymine serve --index-dir indexes &
    python scripts/web_tour.py http://127.0.0.1:8765 docs/web
    python scripts/web_tour.py http://127.0.0.1:8765 docs/web --prefix real- \\
        --query "protected bike lanes on main streets" --topic mobility

Drives Debian's chromium (/usr/bin/chromium) through Playwright; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote_plus

SIZES = {"laptop": (1366, 900), "phone": (390, 844)}


class Tour:
    """The flows, in order; each leaves what later flows and the screenshots need."""

    def __init__(self, page, query: str, topic: str):
        self.page, self.query, self.topic = page, query, topic
        self.shots: dict[str, str] = {}
        self.passage = ""

    def hits(self) -> list[str]:
        return self.page.locator("li.hit").evaluate_all("els => els.map(e => e.dataset.pid)")

    def search_with_a_filter(self) -> str:
        page = self.page
        page.goto("/")
        page.fill("#q", self.query)
        page.click("details.filters summary")
        country = page.locator("select[name=country] option").nth(1)
        code = country.get_attribute("value")
        page.select_option("select[name=country]", code)
        page.click("form.search button[type=submit]")
        page.wait_for_url(f"**country={code}**")
        metas = page.locator("li.hit .meta").all_inner_texts()
        assert metas and all(f", {code} ·" in m for m in metas), metas[:3]
        return f"{len(metas)} hits, all in {code}"

    def empty_and_nonsense_queries(self) -> str:
        page = self.page
        page.goto("/?q=+++")
        assert page.locator("li.hit").count() == 0 and page.locator("section.intro a").count()
        page.goto("/?q=qwzxv+blorftian&mode=keyword")
        assert "No passages match" in page.inner_text("p.empty")
        return "examples offered; nothing found for nonsense"

    def explain(self) -> str:
        page = self.page
        url = f"/?q={quote_plus(self.query)}&k=5"
        page.goto(url)
        self.passage = self.hits()[0]
        self.shots["search"] = f"{url}&explain=1"
        first = page.locator("li.hit").first
        first.locator("a.why-link").click()
        first.locator(".why").wait_for()
        why = first.locator(".why").inner_text()
        assert "rrf" in why, why
        return "why? filled in place"

    def page_view(self) -> str:
        page = self.page
        page.goto(f"/?q={quote_plus(self.query)}&k=5")
        page.locator("li.hit h3 a").first.click()
        page.wait_for_selector(".paper img")
        marks = page.locator(".paper .hl").count()
        pager = page.inner_text("nav.pager")
        self.shots["page-view"] = page.url
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "before => document.querySelector('nav.pager').innerText !== before", arg=pager
        )
        where = re.search(r"page \d+ of \d+", pager)
        return f"{marks} highlighted boxes on {where and where.group()}; the arrow turned the page"

    def similar(self) -> str:
        page = self.page
        page.goto(f"/?q={quote_plus(self.query)}&k=5")
        first = page.locator("li.hit").first
        source = first.locator(".meta").inner_text().split(" · ")[1].split(" p.")[0]
        first.get_by_role("link", name="similar elsewhere").click()
        page.wait_for_selector("li.hit")
        self.shots["similar"] = page.url
        metas = page.locator("li.hit .meta").all_inner_texts()
        assert metas and all(source not in m for m in metas), source
        return f"{len(metas)} hits, none from {source}"

    def practices_facets(self) -> str:
        page = self.page
        page.goto(f"/practices?topic={self.topic}")
        facet = page.locator("details.facet", has_text="instrument").locator("li a").first
        label, count = facet.inner_text().rsplit(maxsplit=1)
        facet.click()
        page.wait_for_selector("a.chip >> nth=1")
        shown = int(page.inner_text("p.summary").split()[0])
        assert shown == int(count), (shown, count)
        self.shots["practices"] = page.url
        return f"{label}: {shown} records"

    def digest(self) -> str:
        page = self.page
        page.goto("/digest")
        page.select_option("select[name=topic]", self.topic)
        page.fill("input[name=limit]", "12")
        page.click("form.digest button")
        page.wait_for_selector("section.cluster, [role=status]")
        self.shots["digest"] = page.url
        with page.expect_download() as info:
            page.click("a[href^='/digest.md']")
        markdown = Path(info.value.path()).read_text(encoding="utf-8")
        assert markdown.startswith("# Practice digest") and "Source: " in markdown
        return f"{page.locator('section.cluster').count()} groups; Markdown downloaded"

    def csv_export(self) -> str:
        page = self.page
        page.goto(f"/?q={quote_plus(self.query)}&k=5")
        shown = self.hits()
        with page.expect_download() as info:
            page.click("a[href^='/export.csv']")
        rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text("utf-8"))))
        assert [r["passage_id"] for r in rows] == shown
        return f"{len(rows)} rows, as shown"

    def keyboard_only(self) -> str:
        page = self.page
        page.goto("/overview")
        page.keyboard.press("/")  # no query box here: nothing happens
        page.goto("/")
        page.keyboard.type(self.query)
        page.keyboard.press("Enter")
        page.wait_for_selector("li.hit")
        for tabs in range(1, 41):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.closest('li.hit h3') !== null"):
                break
        else:
            raise AssertionError("the first hit cannot be reached with Tab")
        page.keyboard.press("Enter")
        page.wait_for_selector(".paper img")
        return f"first hit reached with {tabs} Tab presses and opened"

    def error_page(self) -> str:
        response = self.page.goto("/?q=solar&year_from=2030&year_to=2000")
        alert = self.page.inner_text("[role=alert]")
        assert response.status == 400 and "year_from" in alert, alert
        said = next(line for line in alert.splitlines() if "year_from" in line)
        return f"400: {said[:80]}"

    def overview(self) -> str:
        self.page.goto("/overview")
        self.shots["overview"] = "/overview"
        return self.page.inner_text("p.summary").splitlines()[0]

    def flows(self) -> list[Callable[[], str]]:
        return [
            self.search_with_a_filter,
            self.empty_and_nonsense_queries,
            self.explain,
            self.page_view,
            self.similar,
            self.practices_facets,
            self.digest,
            self.csv_export,
            self.keyboard_only,
            self.error_page,
            self.overview,
        ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", help="where policymine serve answers, e.g. http://127.0.0.1:8765")
    parser.add_argument("out", type=Path, help="folder for the PNGs")
    parser.add_argument("--query", default="incentives for rooftop solar")
    parser.add_argument("--topic", default="energy", help="for the practices and the digest")
    parser.add_argument("--prefix", default="", help="before each PNG's name, e.g. real-")
    parser.add_argument("--full", action="store_true", help="whole pages, not the first screen")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from policymine.web import CHROMIUM, CHROMIUM_ARGS

    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        context = browser.new_context(base_url=args.base.rstrip("/"), accept_downloads=True)
        tour = Tour(context.new_page(), args.query, args.topic)
        for flow in tour.flows():
            try:
                print(f"ok      {flow.__name__:28} {flow()}")
            except Exception as exc:  # noqa: BLE001 - report the flow, go on with the next
                failed += 1
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                print(f"FAILED  {flow.__name__:28} {type(exc).__name__}: {reason}"[:300])
        for size, (width, height) in SIZES.items():
            page = context.new_page()
            page.set_viewport_size({"width": width, "height": height})
            for name, url in tour.shots.items():
                page.goto(url)
                page.wait_for_load_state("networkidle")
                path = args.out / f"{args.prefix}{name}-{size}.png"
                page.screenshot(path=str(path), full_page=args.full)
                print(path, file=sys.stderr)
            page.close()
        browser.close()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
