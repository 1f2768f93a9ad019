"""The report's language: English (the message ids) or Persian (right to left).

The report's messages are gettext domain ``reports`` in the project's one translation
folder, ``electwatch/i18n/locale/fa/LC_MESSAGES/reports.po``, compiled to
``reports.mo`` by ``scripts/compile_catalogues.py`` and loaded with
:func:`electwatch.i18n.catalogue`, the machinery of the web pages' domain
(``electwatch``). The two domains are kept apart so that the report's and the pages'
messages are edited and checked each against its own sources. Digits shown to a
Persian reader are Persian digits (۰-۹, ٬ for thousands, ٫ for the decimal point).
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass, field
from functools import cache

from electwatch.i18n import LOCALES, catalogue, localize_digits

DOMAIN = "reports"
#: shipped report languages: code -> writing direction
LANGUAGES = {code: direction for code, (_name, direction) in LOCALES.items()}


def message_ids() -> tuple[str, ...]:
    """The report's message ids that its code builds at run time and Babel therefore
    cannot extract: headline templates, words among headline values, strengths, "what
    this does not show" lines, the findings' introduction and the eforensics section's
    caveats. ``compile_catalogues.py``
    adds them to the ids it extracts from the template and the section titles."""
    from electwatch.reports.findings import _DOES_NOT_SHOW, _ORDER, HEADLINES, WORDS
    from electwatch.reports.sections_eforensics import MESSAGES as EFORENSICS
    from electwatch.reports.sections_findings import INTRODUCTION

    return (
        *HEADLINES.values(),
        *WORDS,
        *_ORDER,
        *_DOES_NOT_SHOW.values(),
        INTRODUCTION,
        *EFORENSICS,
    )


@dataclass(frozen=True)
class ReportLanguage:
    locale: str
    translations: gettext.NullTranslations = field(repr=False, compare=False)

    @property
    def direction(self) -> str:
        return LANGUAGES[self.locale]

    def gettext(self, message: str, /, **values: object) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    def digits(self, text: str) -> str:
        """ASCII digits of a formatted text in this language's digits."""
        return localize_digits(text, self.locale)

    def missing(self) -> list[str]:
        """Run-time message ids (:func:`message_ids`) that the reader would see in
        English (a test keeps it empty; ``compile_catalogues.py --check`` also covers
        the template's messages)."""
        if self.locale == "en":
            return []
        return [m for m in message_ids() if self.translations.gettext(m) == m]


@cache
def report_language(locale: str = "en") -> ReportLanguage:
    """The report's messages and digits for ``locale`` (``en`` or ``fa``)."""
    if locale not in LANGUAGES:
        raise ValueError(f"no report language {locale!r}; choose one of {sorted(LANGUAGES)}")
    return ReportLanguage(locale, catalogue(DOMAIN, locale))
