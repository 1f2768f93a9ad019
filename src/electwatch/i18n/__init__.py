"""Translations shared by the web service and the reports (gettext catalogues).

English is the source language (the message ids); Persian ships in
``locale/fa/LC_MESSAGES/<domain>.po`` with its compiled ``.mo`` beside it
(``scripts/compile_catalogues.py`` rebuilds them; a test fails when one is stale or a
message is untranslated). Two gettext domains share the folder and the machinery
(:func:`catalogue`): ``electwatch``, the web pages (:func:`translator`), and
``reports``, the HTML report (:mod:`electwatch.reports.language`).

    >>> t = translator("fa")
    >>> t.direction, t.gettext("Sign in")
    ('rtl', 'ورود')
    >>> t.number(1234)
    '۱٬۲۳۴'
    >>> negotiate("fa-IR,fa;q=0.9,en;q=0.5")
    'fa'

A message with values uses named placeholders, ``t.gettext("Station %(code)s",
code="A1")``; the translation may move them. Numbers shown to a Persian reader use
Persian digits (``t.number``); numbers typed by anyone are read back through
:mod:`electwatch.core.numbers`, which accepts every digit script.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path

from electwatch.i18n.jalali import MONTHS_EN, MONTHS_FA, JalaliDate, from_jalali, to_jalali

__all__ = [
    "CALENDARS",
    "DEFAULT_LOCALE",
    "DOMAIN",
    "LOCALES",
    "LOCALE_DIR",
    "JalaliDate",
    "Translator",
    "catalogue",
    "from_jalali",
    "localize_digits",
    "negotiate",
    "to_jalali",
    "translator",
]

DOMAIN = "electwatch"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: shipped languages: code -> (name in that language, writing direction)
LOCALES: dict[str, tuple[str, str]] = {"en": ("English", "ltr"), "fa": ("فارسی", "rtl")}
DEFAULT_LOCALE = "en"
CALENDARS = ("gregorian", "jalali")

_TO_PERSIAN = str.maketrans("0123456789,.", "۰۱۲۳۴۵۶۷۸۹٬٫")


def localize_digits(text: str, locale: str) -> str:
    """ASCII digits and separators as the reader writes them: Persian digits with ٬ for
    thousands and ٫ for the decimal point in ``fa``; unchanged otherwise."""
    return text.translate(_TO_PERSIAN) if locale == "fa" else text


@dataclass(frozen=True)
class Translator:
    """The messages, digits, dates and direction of one language."""

    locale: str
    translations: gettext.NullTranslations = field(repr=False, compare=False)

    @property
    def direction(self) -> str:
        return LOCALES[self.locale][1]

    @property
    def language_name(self) -> str:
        return LOCALES[self.locale][0]

    @property
    def default_calendar(self) -> str:
        return "jalali" if self.locale == "fa" else "gregorian"

    def gettext(self, message: str, /, **values: object) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        text = self.translations.ngettext(singular, plural, n)
        return text % {"num": self.number(n), **values}

    def digits(self, text: str) -> str:
        """ASCII digits (and , .) of an already formatted text in this language's digits."""
        return localize_digits(text, self.locale)

    def number(self, value: float | int, decimals: int = 0) -> str:
        """A number with grouped thousands, in this language's digits."""
        return self.digits(f"{value:,.{decimals}f}")

    def percent(self, share: float, decimals: int = 1) -> str:
        text = self.number(100 * share, decimals)
        return f"{text}٪" if self.locale == "fa" else f"{text}%"

    def date(self, value: date | datetime | str | None, calendar: str | None = None) -> str:
        """A calendar date in words: "11 Esfand 1402" / "۱۱ اسفند ۱۴۰۲" / "1 March 2024"."""
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        if isinstance(value, datetime):
            value = value.date()
        if (calendar or self.default_calendar) == "jalali":
            j = to_jalali(value)
            months = MONTHS_FA if self.locale == "fa" else MONTHS_EN
            return self.digits(f"{j.day} {months[j.month - 1]} {j.year}")
        from babel.dates import format_date

        return self.digits(format_date(value, format="long", locale=self.locale))

    def catalogue(self, messages: tuple[str, ...]) -> dict[str, str]:
        """``{message id: translation}`` for the given ids (the scripts' catalogue)."""
        return {m: self.translations.gettext(m) for m in messages}


@cache
def catalogue(domain: str, locale: str) -> gettext.NullTranslations:
    """The compiled gettext catalogue ``LOCALE_DIR/<locale>/LC_MESSAGES/<domain>.mo`` of
    a shipped locale code (``"fa"``); English, the language of the message ids, needs
    none. A shipped locale without the domain's ``.mo`` raises ``FileNotFoundError``
    (a packaging defect, which ``compile_catalogues.py --check`` reports)."""
    if locale not in LOCALES:
        raise ValueError(f"no locale {locale!r}; shipped: {sorted(LOCALES)}")
    if locale == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    return gettext.translation(domain, LOCALE_DIR, languages=[locale])


@cache
def translator(locale: str | None = None) -> Translator:
    """The translator of a shipped locale (``"fa"``, ``"fa-IR"`` and ``"fa_IR"`` alike);
    an unknown locale gets English."""
    code = (locale or DEFAULT_LOCALE).replace("_", "-").split("-")[0].lower()
    if code not in LOCALES:
        code = DEFAULT_LOCALE
    return Translator(code, catalogue(DOMAIN, code))


def negotiate(accept_language: str | None, available: tuple[str, ...] | None = None) -> str:
    """The best shipped locale for an ``Accept-Language`` header (RFC 9110 section
    12.5.4): languages by decreasing q, a region falling back to its language
    (``fa-IR`` -> ``fa``); ``q=0`` refuses; English when nothing matches."""
    offered = available or tuple(LOCALES)
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        if not tag:
            continue
        q = 1.0
        for p in params.split(";"):
            key, _, val = p.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, i, tag))
    for _, _, tag in sorted(ranked):
        base = tag.split("-")[0]
        if tag == "*":
            return offered[0] if DEFAULT_LOCALE not in offered else DEFAULT_LOCALE
        if base in offered:
            return base
    return DEFAULT_LOCALE
