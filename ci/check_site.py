"""Open every page of the built documentation site in headless Chromium; fail on what a reader would see broken.

Usage::

    python ci/check_site.py site/            # after: mkdocs build --strict

The site is served on 127.0.0.1 (an ``http.server`` in a thread; a free port), and every ``.html``
file under the folder is opened with Playwright driving the system's Chromium (``chromium``,
``chromium-browser`` or ``google-chrome`` on PATH, or ``--browser PATH``; nothing is downloaded).
A page fails on:

- a console message of type error, or an uncaught page error (a script that throws);
- a request of the page that failed or got an HTTP error (a missing script, style sheet or font);
- an ``<img>`` whose ``naturalWidth`` is 0 once the page has loaded (a missing or unreadable picture);
- an internal link (``a[href]`` to the same origin) whose page part does not answer HTTP 200.
  Each distinct URL is fetched once and reported once, with the pages that link to it; the
  ``#anchor`` part is checked too when ``--anchors`` is given (the target page must have an element
  with that id).

Every problem is listed, then a one-line summary; the exit status is 1 when there was any problem,
2 when the check could not run (no browser, no such folder).
"""
from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

#: Collected in the page after load: its images and its links, resolved by the browser.
PAGE_PROBE = """() => ({
  images: Array.from(document.images).map(image => ({
    src: image.currentSrc || image.src, complete: image.complete, width: image.naturalWidth})),
  links: Array.from(document.querySelectorAll('a[href]')).map(link => link.href),
  ids: Array.from(document.querySelectorAll('[id]')).map(element => element.id),
})"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the base class names its argument "format"
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a page closed while a response was still being written is the browser's choice, not a fault of the site
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _browser_executable(given: str | None) -> str | None:
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _page_urls(site: Path, base: str) -> list[str]:
    urls = []
    for page in sorted(site.rglob("*.html")):
        relative = page.relative_to(site).as_posix()
        urls.append(f"{base}/{relative}")
    return urls


def _status(url: str) -> int | str:
    request = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError) as error:
        return f"no answer ({error})"


def _short(url: str, base: str) -> str:
    """``url`` without the server's address (the path in the site), for the messages."""
    if not url.startswith(base):
        return url
    return url[len(base):] or "/"


def check_site(site: Path, browser_path: str, anchors: bool = False,
               timeout_ms: int = 30_000) -> tuple[list[str], dict]:
    """Return the problems found and the counts checked (pages, images, links, anchors)."""
    from playwright.sync_api import sync_playwright

    server, base = _serve(site)
    problems: list[str] = []
    counts = {"pages": 0, "images": 0, "links": 0, "targets": 0, "anchors": 0}
    page_ids: dict[str, set[str]] = {}
    links_from: dict[str, list[str]] = {}  # internal URL (anchor kept) -> the pages linking to it
    try:
        with sync_playwright() as playwright:
            # --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start
            browser = playwright.chromium.launch(executable_path=browser_path, headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            try:
                for url in _page_urls(site, base):
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    where = _short(url, base)
                    open_page = {"checking": True}  # what happens while the page closes is not the page's fault

                    def report(problem: str, open_page=open_page) -> None:
                        if open_page["checking"]:
                            problems.append(problem)

                    page.on("console", lambda message, where=where, report=report: report(
                        f"{where}: console error: {message.text}") if message.type == "error" else None)
                    page.on("pageerror", lambda error, where=where, report=report: report(
                        f"{where}: page error: {error}"))
                    page.on("requestfailed", lambda request, where=where, report=report: report(
                        f"{where}: request failed: {_short(request.url, base)} ({request.failure})"))
                    page.on("response", lambda response, where=where, report=report: report(
                        f"{where}: HTTP {response.status} for {_short(response.url, base)}")
                        if response.status >= 400 else None)
                    response = page.goto(url, wait_until="load", timeout=timeout_ms)
                    if response is None or response.status != 200:
                        problems.append(f"{where}: the page itself answered {getattr(response, 'status', None)}")
                    # lazy images are asked for once scrolled into view: scroll so that every picture loads
                    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
                    page.wait_for_load_state("networkidle", timeout=timeout_ms)
                    probe = page.evaluate(PAGE_PROBE)
                    open_page["checking"] = False
                    page.close()
                    counts["pages"] += 1
                    page_ids[urldefrag(url)[0]] = set(probe["ids"])
                    for image in probe["images"]:
                        counts["images"] += 1
                        if not image["complete"] or image["width"] == 0:
                            problems.append(f"{where}: image does not show (naturalWidth 0): "
                                            f"{_short(image['src'], base)}")
                    for link in probe["links"]:
                        if link.startswith(base + "/") or link == base:
                            counts["links"] += 1
                            pages = links_from.setdefault(link, [])
                            if where not in pages:
                                pages.append(where)
            finally:
                browser.close()

        statuses: dict[str, int | str] = {}
        for link, pages in sorted(links_from.items()):
            target, fragment = urldefrag(link)
            where = pages[0] + (f" (and {len(pages) - 1} other page(s))" if len(pages) > 1 else "")
            if target not in statuses:
                statuses[target] = _status(target)
                counts["targets"] += 1
            if statuses[target] != 200:
                problems.append(f"{where}: link to {_short(link, base)} answers {statuses[target]}")
                continue
            if anchors and fragment:
                counts["anchors"] += 1
                ids = page_ids.get(_page_for(target, site, base))
                if ids is not None and unquote(fragment) not in ids:
                    problems.append(f"{where}: link to {_short(link, base)}: no element with id {unquote(fragment)!r}")
    finally:
        server.shutdown()
        server.server_close()
    return problems, counts


def _page_for(target: str, site: Path, base: str) -> str:
    """The page URL that serves ``target`` (a folder URL is served by its index.html)."""
    path = urlsplit(target).path
    if path.endswith("/") or (site / unquote(path).lstrip("/")).is_dir():
        return base + path.rstrip("/") + "/index.html"
    return base + path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the built site folder (mkdocs build's site/)")
    parser.add_argument("--browser", help="a Chromium executable (default: chromium on PATH)")
    parser.add_argument("--anchors", action="store_true", help="also check that each link's #anchor exists")
    arguments = parser.parse_args(argv)
    site = arguments.site.resolve()
    if not (site / "index.html").is_file():
        print(f"check_site: {site} has no index.html; build the site first (mkdocs build --strict)", file=sys.stderr)
        return 2
    browser = _browser_executable(arguments.browser)
    if browser is None:
        print("check_site: no Chromium found (chromium, chromium-browser or google-chrome on PATH, or --browser); "
              "install one with `apt-get install chromium`", file=sys.stderr)
        return 2
    problems, counts = check_site(site, browser, anchors=arguments.anchors)
    for problem in problems:
        print(problem)
    anchors = f", {counts['anchors']} anchors" if arguments.anchors else ""
    print(f"check_site: {counts['pages']} pages, {counts['images']} images, {counts['links']} internal links "
          f"({counts['targets']} distinct pages and files){anchors} checked: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
