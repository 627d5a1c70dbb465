"""Screenshots of the browser app's pages for docs/web/, at a laptop's and a phone's width.

    policymine serve --index-dir indexes &          # an index of the bundled corpus
    python scripts/web_screenshots.py http://127.0.0.1:8765 docs/web

Drives Debian's chromium (/usr/bin/chromium) through Playwright; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import quote_plus

SIZES = {"laptop": (1366, 900), "phone": (390, 844)}


def pages(base: str, page) -> dict[str, str]:
    """name -> URL of each page to capture (the page view is the first hit's page)."""
    query = "incentives for rooftop solar"
    search = f"{base}/?q={quote_plus(query)}&explain=1&k=5"
    page.goto(search)
    passage = page.locator("li.hit").first.get_attribute("data-pid")
    return {
        "search": search,
        "page-view": f"{base}/page?passage={passage}",
        "similar": f"{base}/elsewhere?id={passage}",
        "practices": f"{base}/practices?topic=housing",
        "digest": f"{base}/digest?topic=energy&limit=12",
        "overview": f"{base}/overview",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="where policymine serve answers, e.g. http://127.0.0.1:8765")
    parser.add_argument("out", type=Path, help="folder for the PNGs")
    parser.add_argument("--full", action="store_true", help="whole pages, not the first screen")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from policymine.web import CHROMIUM, CHROMIUM_ARGS

    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        for size, (width, height) in SIZES.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            for name, url in pages(args.base.rstrip("/"), page).items():
                page.goto(url)
                page.wait_for_load_state("networkidle")
                path = args.out / f"{name}-{size}.png"
                page.screenshot(path=str(path), full_page=args.full)
                print(path, file=sys.stderr)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
