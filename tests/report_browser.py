"""Headless-Chromium harness for the report tests: open a report file, record console
errors and network requests, save a full-page screenshot."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


@dataclass
class PageVisit:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    title: str = ""
    figures: int = 0
    omitted_notes: list[str] = field(default_factory=list)
    tooltip_text: str = ""


def chromium_path() -> str:
    """The Chromium executable, or skip the test saying why."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is not installed")
    path = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    if not path:
        pytest.skip("Chromium not found at /usr/bin/chromium (apt-get install chromium)")
    return str(path)


def visit(html: Path, screenshot_name: str, *, width: int = 1200) -> PageVisit:
    """Open ``html`` from disk in headless Chromium and record what happened."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    result = PageVisit()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on(
                "console",
                lambda m: result.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: result.page_errors.append(str(e)))
            page.on("request", lambda r: result.requests.append(r.url))
            page.goto(html.resolve().as_uri(), wait_until="load")
            result.title = page.title()
            result.figures = page.locator("svg.fig").count()
            result.omitted_notes = page.locator(".callout.omitted").all_inner_texts()
            # a tap on the first tooltip target shows its text (the touch path of the JS)
            # a tap on the tallest tooltip target shows its text (the touch path of the JS)
            has_tip = page.evaluate(
                """() => {
                    let best = null, h = 0;
                    for (const el of document.querySelectorAll('svg.fig .tip')) {
                        const r = el.getBoundingClientRect();
                        if (r.height > h) { h = r.height; best = el; }
                    }
                    if (best) best.setAttribute('data-test-target', '1');
                    return best !== null;
                }"""
            )
            if has_tip:
                page.locator("[data-test-target]").click()
                result.tooltip_text = page.locator("#tooltip").inner_text()
                page.mouse.click(2, 2)
            result.screenshot = SCREENSHOTS / screenshot_name
            page.screenshot(path=str(result.screenshot), full_page=True)
        finally:
            browser.close()
    return result
