"""electwatch.i18n: Solar Hijri dates, language negotiation, the catalogues."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from electwatch.i18n import from_jalali, negotiate, to_jalali, translator
from electwatch.i18n.jalali import JalaliDate, is_leap

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("gregorian", "jalali"),
    [
        (date(2024, 3, 1), (1402, 12, 11)),  # the pair: 11 Esfand 1402
        (date(2024, 3, 20), (1403, 1, 1)),  # Nowruz 1403
        (date(2025, 3, 20), (1403, 12, 30)),  # 1403 is a leap year: Esfand has 30 days
        (date(2025, 3, 21), (1404, 1, 1)),
        (date(2009, 6, 12), (1388, 3, 22)),  # Iran's presidential election, 22 Khordad 1388
        (date(1979, 2, 11), (1357, 11, 22)),  # 22 Bahman 1357
    ],
)
def test_known_date_pairs(gregorian: date, jalali: tuple[int, int, int]) -> None:
    assert to_jalali(gregorian) == JalaliDate(*jalali)
    assert from_jalali(*jalali) == gregorian


def test_every_day_follows_the_month_lengths_for_a_century() -> None:
    """Day by day from 1950 to 2050 the Jalali date advances by exactly one day, with
    months of 31 (1-6), 30 (7-11) and 29/30 (Esfand, 30 only in leap years), and the
    round trip is exact."""
    d = date(1950, 1, 1)
    prev = to_jalali(d)
    while d < date(2050, 1, 1):
        d += timedelta(days=1)
        j = to_jalali(d)
        assert from_jalali(j.year, j.month, j.day) == d
        if j.day != 1:
            assert (j.year, j.month, j.day - 1) == (prev.year, prev.month, prev.day)
        else:
            length = 31 if prev.month <= 6 else 30 if prev.month <= 11 else 29 + is_leap(prev.year)
            assert prev.day == length
        prev = j


def test_impossible_jalali_day_is_refused() -> None:
    with pytest.raises(ValueError, match="day 30"):
        from_jalali(1402, 12, 30)  # 1402 is not leap


def test_negotiate_accept_language() -> None:
    assert negotiate("fa-IR,fa;q=0.9,en;q=0.5") == "fa"
    assert negotiate("en;q=0.5,fa") == "fa"
    assert negotiate("de-DE,de;q=0.9") == "en"
    assert negotiate("fa;q=0,en") == "en"
    assert negotiate(None) == "en"
    assert negotiate("fa;q=abc") == "en"


def test_persian_translator_direction_digits_and_dates() -> None:
    fa, en = translator("fa"), translator("en-GB")
    assert (fa.direction, en.direction) == ("rtl", "ltr")
    assert fa.gettext("Sign in") == "ورود"
    assert en.gettext("Sign in") == "Sign in"
    assert fa.number(1234) == "۱٬۲۳۴"
    assert fa.percent(0.523) == "۵۲٫۳٪"
    assert fa.date("2024-03-01") == "۱۱ اسفند ۱۴۰۲"
    assert en.date(date(2024, 3, 1), "jalali") == "11 Esfand 1402"
    assert en.date(date(2024, 3, 1)) == "March 1, 2024"
    assert fa.gettext("Station %(code)s", code="A1") == "شعبهٔ A1"


def test_catalogues_are_complete_and_compiled() -> None:
    """Every message of the pages, scripts and code has a Persian translation and the
    shipped .mo matches its .po."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compile_catalogues.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _compile_script(monkeypatch: pytest.MonkeyPatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "compile_catalogues", ROOT / "scripts" / "compile_catalogues.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # its dataclass looks its module up in sys.modules
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_the_check_covers_the_report_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An untranslated report message or a reports.mo older than reports.po fails the
    check (on a copy of the locale folder)."""
    import shutil

    script = _compile_script(monkeypatch)
    locale_dir = tmp_path / "locale"
    shutil.copytree(script.LOCALE_DIR, locale_dir)
    monkeypatch.setattr(script, "LOCALE_DIR", locale_dir)
    assert script.problems() == []
    po = locale_dir / "fa" / "LC_MESSAGES" / "reports.po"
    text = po.read_text(encoding="utf-8")
    # a template message (extracted) and a run-time one (declared by the report)
    text = text.replace('msgstr "نقشه‌ها"', 'msgstr ""', 1)
    text = text.replace('msgstr "میلیون"', 'msgstr ""', 1)
    po.write_text(text, encoding="utf-8")
    found = script.problems()
    assert "fa/reports: untranslated 'Maps'" in found
    assert "fa/reports: untranslated 'million'" in found
    assert f"{po.with_suffix('.mo')} is stale: run scripts/compile_catalogues.py" in found
    (locale_dir / "fa" / "LC_MESSAGES" / "reports.po").unlink()
    assert "fa: no catalogue of domain 'reports'" in script.problems()


def test_the_report_and_the_pages_load_catalogues_the_same_way() -> None:
    import gettext

    from electwatch.i18n import LOCALE_DIR, catalogue
    from electwatch.reports.language import report_language

    fa = report_language("fa")
    assert fa.translations is catalogue("reports", "fa")
    assert isinstance(fa.translations, gettext.GNUTranslations)
    assert translator("fa").translations is catalogue("electwatch", "fa")
    assert (LOCALE_DIR / "fa" / "LC_MESSAGES" / "reports.mo").is_file()
    assert fa.gettext("Maps") == "نقشه‌ها" and fa.gettext("unknown id") == "unknown id"
    assert report_language("en").gettext("Maps") == "Maps"
    with pytest.raises(ValueError, match="no locale"):
        catalogue("reports", "xx")
