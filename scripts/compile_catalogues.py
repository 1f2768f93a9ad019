"""Extract, check and compile the gettext catalogues of electwatch.i18n.

    .venv/bin/python scripts/compile_catalogues.py          # .po -> .mo (after editing a .po)
    .venv/bin/python scripts/compile_catalogues.py --update # add new message ids to every .po
    .venv/bin/python scripts/compile_catalogues.py --check  # exit 1 if a message is
                                                            # untranslated or a .mo is stale

Two domains share ``src/electwatch/i18n/locale/<locale>/LC_MESSAGES/``:

* ``electwatch``, the web pages: message ids extracted with Babel from the templates
  (``_()``), the Python code (``_``, ``N_``, ``gettext``, ``ngettext``) and the page
  scripts (``t()``);
* ``reports``, the HTML report: ids extracted from the report template (``_()``) and
  the section titles (``Section(id, title)``), plus the ids the report builds at run
  time, which it declares in ``electwatch.reports.language.message_ids()``.

The compiled ``.mo`` files are committed and shipped in the wheel; both domains are
loaded by ``electwatch.i18n.catalogue``.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
# the report's run-time message ids are read from this tree's code, not from whatever
# electwatch the interpreter happens to have installed
sys.path.insert(0, str(ROOT / "src"))
LOCALE_DIR = ROOT / "src" / "electwatch" / "i18n" / "locale"


def _report_message_ids() -> Iterable[str]:
    from electwatch.reports.language import message_ids

    return message_ids()


@dataclass(frozen=True)
class Domain:
    methods: tuple[tuple[str, str], ...]
    keywords: dict[str, Any]
    #: ids built at run time, which extraction cannot see
    declared: Callable[[], Iterable[str]] | None = None


DOMAINS = {
    "electwatch": Domain(
        methods=(
            ("src/electwatch/web/templates/**.html", "jinja2"),
            ("src/electwatch/web/static/observer.js", "javascript"),
            ("src/electwatch/web/static/tally.js", "javascript"),
            # only the packages that translate: the keyword ``t`` would also match a
            # table indexed as ``t["column"]`` in statistics code (Babel reads it as a call)
            ("src/electwatch/web/**.py", "python"),
            ("src/electwatch/i18n/**.py", "python"),
        ),
        keywords={"_": None, "N_": None, "t": None, "gettext": None, "ngettext": (1, 2)},
    ),
    "reports": Domain(
        methods=(
            ("src/electwatch/reports/templates/*.j2", "jinja2"),
            ("src/electwatch/reports/**.py", "python"),
        ),
        # a section's title is its second argument; titles built with an f-string name
        # one area and are not translated (Babel says so and skips them)
        keywords={"_": None, "gettext": None, "Section": (2,)},
        declared=_report_message_ids,
    ),
}


@cache
def extract(domain: str) -> Catalog:
    spec = DOMAINS[domain]
    template = Catalog(project="electwatch")
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), list(spec.methods), keywords=spec.keywords, strip_comment_tags=True
    ):
        if message:
            template.add(message, locations=[(filename, lineno)])
    for message in spec.declared() if spec.declared else ():
        if message not in template:
            template.add(message)
    return template


def po_paths() -> list[Path]:
    return sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))


def mo_bytes(po: Path) -> bytes:
    with po.open("rb") as f:
        catalog = read_po(f)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _message_id(m: Any) -> str:
    return m.id if isinstance(m.id, str) else m.id[0]


def problems() -> list[str]:
    """Untranslated message ids, missing or unknown domains and stale .mo files, one
    line each."""
    out = []
    for locale_dir in sorted(p for p in LOCALE_DIR.iterdir() if p.is_dir()):
        for domain in DOMAINS:
            if not (locale_dir / "LC_MESSAGES" / f"{domain}.po").is_file():
                out.append(f"{locale_dir.name}: no catalogue of domain {domain!r}")
    for po in po_paths():
        where = f"{po.parent.parent.name}/{po.stem}"
        if po.stem not in DOMAINS:
            out.append(f"{where}: unknown domain (expected one of {sorted(DOMAINS)})")
            continue
        found = {_message_id(m) for m in extract(po.stem) if m.id}
        with po.open("rb") as f:
            catalog = read_po(f)
        have = {
            _message_id(m)
            for m in catalog
            if m.id
            and not m.fuzzy
            and (m.string if isinstance(m.string, str) else all(m.string or ()))
        }
        out += [f"{where}: untranslated {m!r}" for m in sorted(found - have)]
        # without a fixed creation date Babel stamps "now" into the header, so the .mo
        # would differ at every compilation
        if "POT-Creation-Date:" not in po.read_text(encoding="utf-8"):
            out.append(f"{_shown(po)} has no POT-Creation-Date header")
        mo = po.with_suffix(".mo")
        if not mo.is_file() or mo.read_bytes() != mo_bytes(po):
            out.append(f"{_shown(mo)} is stale: run scripts/compile_catalogues.py")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--update", action="store_true")
    args = ap.parse_args()
    if args.check:
        found = problems()
        print("\n".join(found) or "catalogues complete and compiled")
        return 1 if found else 0
    paths = [po for po in po_paths() if po.stem in DOMAINS]
    if args.update:
        for po in paths:
            with po.open("rb") as f:
                catalog = read_po(f)
            catalog.update(extract(po.stem), no_fuzzy_matching=True)
            with po.open("wb") as f:
                write_po(f, catalog, omit_header=False, no_location=True, sort_output=True)
    for po in paths:
        po.with_suffix(".mo").write_bytes(mo_bytes(po))
        print(f"compiled {_shown(po.with_suffix('.mo'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
