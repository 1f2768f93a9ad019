"""Headless-Chromium harness for the report tests: open a report file, record console
errors and network requests, save a full-page screenshot."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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


class _Recorder(Protocol):
    console_errors: list[str]
    page_errors: list[str]
    requests: list[str]


@contextmanager
def _open_page(html: Path, record: _Recorder, *, width: int, height: int) -> Iterator[Any]:
    """Open ``html`` from disk in headless Chromium (skipping the test when Chromium is
    absent), record console errors, page errors and requests on ``record``, and yield
    the loaded page; the browser closes on the way out."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on(
                "console",
                lambda m: record.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: record.page_errors.append(str(e)))
            page.on("request", lambda r: record.requests.append(r.url))
            page.goto(html.resolve().as_uri(), wait_until="load")
            yield page
        finally:
            browser.close()


def visit(html: Path, screenshot_name: str, *, width: int = 1200) -> PageVisit:
    """Open ``html`` from disk in headless Chromium and record what happened."""
    result = PageVisit()
    with _open_page(html, result, width=width, height=900) as page:
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
    return result


@dataclass
class ReportChecks:
    """What the journalist-facing checks found in a report (issue 15)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    findings_top: float = -1.0
    findings: list[dict] = field(default_factory=list)
    direction: str = ""
    lang: str = ""
    map_paths: dict[str, int] = field(default_factory=dict)
    unmatched_areas: str = ""
    unmatched_features: str = ""
    sorted_desc: list[float] = field(default_factory=list)
    filtered_rows: int = -1
    filter_query: str = ""
    flagged_only_rows: int = -1
    flagged_expected: int = -1
    screenshots: list[Path] = field(default_factory=list)


def check_report(html: Path, name: str, *, width: int = 1400) -> ReportChecks:
    """Open a report at ``width`` px and exercise what a reader does: find the findings,
    read their numbers, look at the maps, sort and filter the drill-down."""
    res = ReportChecks()
    with _open_page(html, res, width=width, height=1200) as page:
        res.direction = page.evaluate("document.documentElement.dir || 'ltr'")
        res.lang = page.evaluate("document.documentElement.lang")
        res.findings_top = page.evaluate(
            "document.getElementById('findings').getBoundingClientRect().top + scrollY"
        )
        res.findings = page.evaluate(
            """() => Array.from(document.querySelectorAll('li.finding')).map(li => ({
                id: li.id, top: li.getBoundingClientRect().top + scrollY,
                headline: li.querySelector('.headline').textContent,
                evidence: Array.from(li.querySelectorAll('ul.evidence li')).map(e => ({
                    test: e.dataset.test, subject: e.dataset.subject,
                    statistic: e.dataset.statistic, ci_low: e.dataset.ciLow,
                    ci_high: e.dataset.ciHigh, p_adjusted: e.dataset.pAdjusted})) }))"""
        )
        shot = SCREENSHOTS / f"{name}-top.png"
        page.screenshot(path=str(shot))
        res.screenshots.append(shot)
        for map_id in ("map-turnout", "map-leader", "map-evidence"):
            n = page.locator(f"#{map_id} path.area")
            if n.count():
                res.map_paths[map_id] = n.count()
                # rendered: every path has a non-empty box
                boxes = page.evaluate(
                    f"Array.from(document.querySelectorAll('#{map_id} path.area'))"
                    ".filter(p => p.getBBox().width > 0 && p.getBBox().height > 0)"
                    ".length"
                )
                res.map_paths[map_id] = min(res.map_paths[map_id], boxes)
        if page.locator(".unmatched-areas").count():
            res.unmatched_areas = page.locator(".unmatched-areas").inner_text()
            res.unmatched_features = page.locator(".unmatched-features").inner_text()
        table = page.locator("#drilldown-table")
        if table.count():
            # sort by stations, descending (two clicks), read the column back
            th = table.locator("th").nth(1)
            th.click()
            th.click()
            res.sorted_desc = page.evaluate(
                """() => Array.from(document.querySelectorAll('#drilldown-table tbody tr'))
                    .map(r => parseFloat(r.cells[1].dataset.sort))"""
            )
            first = page.evaluate(
                "document.querySelector('#drilldown-table tbody tr').dataset.area"
            )
            res.filter_query = first.split(" / ")[-1][:6]
            page.locator(".drill-filter").fill(res.filter_query)
            res.filtered_rows = page.locator("#drilldown-table tbody tr:not([hidden])").count()
            page.locator(".drill-filter").fill("")
            page.locator(".drill-flagged").check()
            res.flagged_only_rows = page.locator("#drilldown-table tbody tr:not([hidden])").count()
            res.flagged_expected = page.locator(
                "#drilldown-table tbody tr:not([data-flags='0'])"
            ).count()
        shot = SCREENSHOTS / f"{name}-full.png"
        page.screenshot(path=str(shot), full_page=True)
        res.screenshots.append(shot)
    return res


@dataclass
class SectionChecks:
    """What a reader sees of one section (the eforensics section, issue 16)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    direction: str = ""
    heading: str = ""
    findings_top: float = -1.0
    section_top: float = -1.0
    figures: list[str] = field(default_factory=list)
    tooltip_text: str = ""
    tables: dict[str, list[str]] = field(default_factory=dict)
    callouts: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def check_section(html: Path, section_id: str, name: str, *, width: int = 1400) -> SectionChecks:
    """Open a report, scroll to one section, tap its first figure's first tooltip target,
    read its tables' first columns and save a screenshot of the section alone."""
    res = SectionChecks()
    with _open_page(html, res, width=width, height=1200) as page:
        res.direction = page.evaluate("document.documentElement.dir || 'ltr'")
        sec = page.locator(f"section#{section_id}")
        res.heading = sec.locator("h2").inner_text()
        res.findings_top = page.evaluate(
            "document.getElementById('findings').getBoundingClientRect().top + scrollY"
        )
        res.section_top = page.evaluate(
            f"document.getElementById('{section_id}').getBoundingClientRect().top + scrollY"
        )
        res.figures = sec.locator("figure").evaluate_all("els => els.map(e => e.id)")
        res.callouts = sec.locator(".callout").all_inner_texts()
        res.tables = page.evaluate(
            f"""() => Object.fromEntries(Array.from(
                document.querySelectorAll('section#{section_id} h3')).map(h => {{
                    let el = h.nextElementSibling;
                    const rows = el && el.classList.contains('tablewrap')
                        ? Array.from(el.querySelectorAll('tbody tr')).map(
                            tr => tr.children[0].textContent) : [];
                    return [h.id, rows];
                }}))"""
        )
        target = sec.locator("figure svg.fig .tip").first
        if target.count():
            target.scroll_into_view_if_needed()
            target.click(force=True)
            res.tooltip_text = page.locator("#tooltip").inner_text()
            page.mouse.click(2, 2)
        res.screenshot = SCREENSHOTS / name
        sec.screenshot(path=str(res.screenshot))
    return res
