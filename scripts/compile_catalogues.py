"""Extract, check and compile the gettext catalogues of electwatch.i18n.

    .venv/bin/python scripts/compile_catalogues.py          # .po -> .mo (after editing a .po)
    .venv/bin/python scripts/compile_catalogues.py --update # add new message ids to every .po
    .venv/bin/python scripts/compile_catalogues.py --check  # exit 1 if a message is
                                                            # untranslated or a .mo is stale

Message ids are extracted with Babel from the templates (``_()``), the Python code
(``_``, ``N_``, ``gettext``, ``ngettext``) and the page scripts (``t()``) as listed in
``babel.cfg``. The compiled ``.mo`` files are committed and shipped in the wheel.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE_DIR = ROOT / "src" / "electwatch" / "i18n" / "locale"
KEYWORDS = {"_": None, "N_": None, "t": None, "gettext": None, "ngettext": (1, 2)}
METHODS = [
    ("src/electwatch/web/templates/**.html", "jinja2"),
    ("src/electwatch/web/static/observer.js", "javascript"),
    ("src/electwatch/web/static/tally.js", "javascript"),
    # only the packages that translate: the keyword ``t`` would also match a table
    # indexed as ``t["column"]`` in statistics code (Babel reads it as a call)
    ("src/electwatch/web/**.py", "python"),
    ("src/electwatch/i18n/**.py", "python"),
]


def extract() -> Catalog:
    template = Catalog(project="electwatch")
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS, strip_comment_tags=True
    ):
        if message:
            template.add(message, locations=[(filename, lineno)])
    return template


def po_paths() -> list[Path]:
    return sorted(LOCALE_DIR.glob("*/LC_MESSAGES/electwatch.po"))


def mo_bytes(po: Path) -> bytes:
    with po.open("rb") as f:
        catalog = read_po(f)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


def problems() -> list[str]:
    """Untranslated or unknown message ids and stale .mo files, one line each."""
    found = {m.id if isinstance(m.id, str) else m.id[0] for m in extract() if m.id}
    out = []
    for po in po_paths():
        with po.open("rb") as f:
            catalog = read_po(f)
        have = {
            (m.id if isinstance(m.id, str) else m.id[0])
            for m in catalog
            if m.id and (m.string if isinstance(m.string, str) else all(m.string))
        }
        out += [f"{po.parent.parent.name}: untranslated {m!r}" for m in sorted(found - have)]
        mo = po.with_suffix(".mo")
        if not mo.is_file() or mo.read_bytes() != mo_bytes(po):
            out.append(f"{mo.relative_to(ROOT)} is stale: run scripts/compile_catalogues.py")
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
    if args.update:
        template = extract()
        for po in po_paths():
            with po.open("rb") as f:
                catalog = read_po(f)
            catalog.update(template, no_fuzzy_matching=True)
            with po.open("wb") as f:
                write_po(f, catalog, omit_header=False, no_location=True, sort_output=True)
    for po in po_paths():
        po.with_suffix(".mo").write_bytes(mo_bytes(po))
        print(f"compiled {po.with_suffix('.mo').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
