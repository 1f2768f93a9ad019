"""The report's language: English (the message ids) or Persian (right to left).

The Persian messages of the report live in the project's shared translation folder,
``electwatch/i18n/locale/fa/LC_MESSAGES/reports.po`` (gettext domain ``reports``),
beside the web pages' catalogue. :func:`report_language` reads that PO file with a
minimal gettext-compatible reader (the web's compiled-catalogue API,
``electwatch.i18n.translator``, was not on main when this was written; the report's
messages are a separate domain so they merge without conflict). Digits shown to a
Persian reader are Persian digits (۰-۹, ٬ for thousands, ٫ for the decimal point).
"""

from __future__ import annotations

import ast
import gettext
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from electwatch.i18n import LOCALE_DIR  # the one translation folder of the project

DOMAIN = "reports"
#: shipped report languages: code -> writing direction
LANGUAGES = {"en": "ltr", "fa": "rtl"}
_TO_PERSIAN = str.maketrans("0123456789,.", "۰۱۲۳۴۵۶۷۸۹٬٫")


def read_po(path: Path) -> dict[str, str]:
    """``msgid -> msgstr`` of a PO file (single and continued lines; no plurals)."""
    messages: dict[str, str] = {}
    key: str | None = None
    current: list[str] = []
    ids: list[str] = []
    strs: list[str] = []

    def flush() -> None:
        if ids and strs:
            mid, mstr = "".join(ids), "".join(strs)
            if mid and mstr:
                messages[mid] = mstr
        ids.clear()
        strs.clear()

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("msgid "):
            flush()
            key, current = "id", ids
            line = line[len("msgid ") :]
        elif line.startswith("msgstr "):
            key, current = "str", strs
            line = line[len("msgstr ") :]
        if key is None or not line.startswith('"'):
            continue
        current.append(ast.literal_eval(line))
    flush()
    return messages


class _POTranslations(gettext.NullTranslations):
    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        return self._messages.get(message, message)


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
        return text.translate(_TO_PERSIAN) if self.locale == "fa" else text

    def missing(self) -> list[str]:
        """Message ids of the report without a translation (a test keeps it empty)."""
        if self.locale == "en" or not isinstance(self.translations, _POTranslations):
            return []
        from electwatch.reports.findings import _DOES_NOT_SHOW, HEADLINES, WORDS

        wanted = [*HEADLINES.values(), *WORDS, *_DOES_NOT_SHOW.values()]
        return [m for m in wanted if m not in self.translations._messages]


@cache
def report_language(locale: str = "en") -> ReportLanguage:
    """The report's messages and digits for ``locale`` (``en`` or ``fa``)."""
    if locale not in LANGUAGES:
        raise ValueError(f"no report language {locale!r}; choose one of {sorted(LANGUAGES)}")
    if locale == "en":
        return ReportLanguage("en", gettext.NullTranslations())
    po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    return ReportLanguage(locale, _POTranslations(read_po(po)))
