"""The report opened in headless Chromium: no console errors, no network, a screenshot.

Skips with the reason when Playwright or /usr/bin/chromium is absent, and (for the real
file) when ../shared/data is absent.
"""

from __future__ import annotations

import pytest

from report_browser import visit
from report_fixtures import demo_output, real_2012_output

pytestmark = pytest.mark.browser


def check_visit(html, name, width=1200):
    v = visit(html, name, width=width)
    assert v.console_errors == [], v.console_errors
    assert v.page_errors == [], v.page_errors
    # the only request is the report file itself
    assert v.requests == [html.resolve().as_uri()], v.requests
    assert v.screenshot is not None and v.screenshot.stat().st_size > 20_000
    return v


def test_simulated_report_in_chromium():
    out = demo_output()
    v = check_visit(out.html_path, "report-demo.png")
    assert "Demo election" in v.title
    assert v.figures >= 3
    # the inline script shows a tooltip on tap
    assert "stations" in v.tooltip_text or "digit" in v.tooltip_text
    assert len(v.omitted_notes) == len(out.omitted)
    # a phone-width rendering works the same way
    check_visit(out.html_path, "report-demo-phone.png", width=390)


@pytest.mark.realdata
def test_real_2012_report_in_chromium(president_2012_path):
    out = real_2012_output(president_2012_path)
    v = check_visit(out.html_path, "report-russia-president-2012.png")
    assert v.figures >= 3
    assert "stations" in v.tooltip_text
