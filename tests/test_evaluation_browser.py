"""The evaluation report page in a real headless Chromium (through Playwright), opened from file:// as a reader would.

Skips, saying how to install them, only where no Chromium executable or no ``playwright`` module is
found; ``.ci/run`` installs Debian's chromium. Playwright drives the system's browser
(``executable_path``): it downloads nothing.
"""
from __future__ import annotations

import importlib.util
import io
import pathlib
import shutil

import numpy as np
import pytest

from superexplain.evaluation.html import write_html
from test_evaluation_html import hand_made_report

INSTALL = ("install a browser with `apt-get install chromium` (Debian/Ubuntu) and the driver with "
           "`pip install playwright` (no browser download is needed)")


def _browser_executable() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    executable = _browser_executable()
    if executable is None:
        pytest.skip(f"no Chromium executable (chromium, chromium-browser or google-chrome) on PATH: {INSTALL}")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip(f"the playwright module is not installed: {INSTALL}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start
        launched = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()


def _open(browser, index_html: str) -> dict:
    """Load the page from file:// and collect what a reader's browser would report."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    console_errors, page_errors, failed = [], [], []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on("requestfailed", lambda request: failed.append(request.url))
    url = pathlib.Path(index_html).resolve().as_uri()
    page.goto(url, wait_until="load")
    images = page.evaluate("Array.from(document.images).map(image => "
                           "({src: image.getAttribute('src'), complete: image.complete, width: image.naturalWidth}))")
    rows = page.evaluate("Array.from(document.querySelectorAll('#scores tbody tr')).map(row => "
                         "row.querySelector('th').textContent)")
    best = page.evaluate("document.querySelectorAll('#scores td.best strong').length")
    screenshot = page.screenshot(full_page=True)
    page.close()
    return {"console": console_errors, "errors": page_errors, "failed": failed, "images": images, "rows": rows,
            "best": best, "screenshot": screenshot}


def _assert_renders(result: dict, data: dict) -> None:
    from PIL import Image

    assert result["console"] == [] and result["errors"] == [] and result["failed"] == []
    assert result["images"], "the page shows no images"
    broken = [image["src"] for image in result["images"] if not (image["complete"] and image["width"] > 0)]
    assert broken == []
    expected = len({figure["file"] for figure in data["figures"]}) + sum(
        1 + len(item["maps"]) for item in data["images"])
    assert len(result["images"]) == expected
    rows = data["methods"] + data["controls"]
    assert [text.split(" (control)")[0] for text in result["rows"]] == rows
    assert result["best"] == len(data["best"])
    pixels = np.asarray(Image.open(io.BytesIO(result["screenshot"])).convert("L"), dtype=float)
    assert pixels.shape[0] >= 900 and pixels.shape[1] == 1200
    assert pixels.std() > 10  # text, tables and pictures, not a blank page
    assert (pixels < 128).mean() > 0.005 and not (pixels == 255).all()


def test_a_hand_made_report_renders_in_chromium_without_errors_and_every_image_resolves(browser, tmp_path):
    data = hand_made_report(str(tmp_path / "report with space"), draw="matplotlib")
    _assert_renders(_open(browser, write_html(data, str(tmp_path / "report with space"))), data)


def test_a_real_evaluation_of_the_demo_model_renders_in_chromium(browser, tmp_path, demo_model, demo_data):
    import superexplain

    # two quick checks keep this test within its seconds; test_evaluation.py covers the checks themselves
    report = superexplain.evaluate(demo_model, demo_data.images[:2], methods=("gradcam",),
                                   checks=("deletion_auc", "sparseness"), random_state=0, verbose=0)
    index_html = report.write(str(tmp_path / "report"))
    assert index_html == str(tmp_path / "report" / "index.html")
    _assert_renders(_open(browser, index_html), report.data)
