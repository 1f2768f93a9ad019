"""Draft a mapping TOML from a file's header (``electwatch mappings init FILE``).

Roles are guessed from the column names in English, Russian, Persian and Spanish
(compared through :func:`~electwatch.core.numbers.name_key`, so Arabic and Persian
letter forms match alike) and from which columns hold counts. The draft is for the
user to review: every guess is commented with the header it came from, and columns
left unassigned are listed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from electwatch.core.numbers import NumberFormatError, name_key, parse_count
from electwatch.data.reading import read_table

# (role, words): a column whose name key contains one of the words; order matters
# ("invalid" before "valid", "недействительных" before "действительных").
ROLE_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("percent", ("%", "percent", "процент", "درصد", "porcentaje")),
    (
        "registered",
        (
            "registered",
            "eligible",
            "electorate",
            "on the list",
            "внесенных в спис",
            "включенных в спис",
            "избирателей в спис",
            "واجدین",
            "واجد شرایط",
            "lista nominal",
            "electores",
            "inscritos",
            "padrón",
            "padron",
        ),
    ),
    (
        "invalid",
        ("invalid", "spoiled", "rejected", "недействительн", "باطله", "باطل", "nulos", "nulo"),
    ),
    ("blank", ("blank", "سفید", "blanco")),
    ("valid", ("valid", "действительн", "صحیح", "válidos", "validos")),
    (
        "cast",
        (
            "total votes",
            "ballots cast",
            "votes cast",
            "turnout count",
            "cast",
            "в ящиках",
            "مجموع آرا",
            "کل آرا",
            "آرای ماخوذه",
            "آرای اخذ شده",
            "votos emitidos",
            "total de votos",
            "votantes",
        ),
    ),
    ("seats", ("seats", "کرسی", "escaños", "escanos", "мандат")),
    ("votes", ("votes", "vote", "آرا", "رای", "رأی", "votos", "голоса", "голосов")),
    (
        "outcome",
        (
            "candidate",
            "party",
            "outcome",
            "list",
            "نامزد",
            "کاندید",
            "حزب",
            "candidato",
            "partido",
            "кандидат",
            "партия",
        ),
    ),
    (
        "station",
        (
            "station",
            "precinct",
            "polling",
            "uik",
            "уик",
            "участ",
            "شعبه",
            "صندوق",
            "casilla",
            "mesa",
            "sección",
            "seccion",
        ),
    ),
    (
        "area",
        (
            "region",
            "province",
            "district",
            "constituency",
            "county",
            "municipality",
            "state",
            "tik",
            "oik",
            "регион",
            "область",
            "округ",
            "тик",
            "район",
            "استان",
            "شهرستان",
            "حوزه",
            "بخش",
            "شهر",
            "estado",
            "provincia",
            "distrito",
            "municipio",
            "departamento",
            "entidad",
        ),
    ),
]
_SINGLE = ("registered", "invalid", "blank", "valid", "seats", "votes", "outcome")


@dataclass
class Draft:
    """A drafted mapping: ``toml`` to write, ``roles`` guessed (role -> columns)."""

    toml: str
    roles: dict[str, list[str]] = field(default_factory=dict)
    shape: str = "wide"
    unassigned: list[str] = field(default_factory=list)


def guess_role(column: str) -> str | None:
    key = name_key(column)
    for role, words in ROLE_WORDS:
        for w in words:
            wk = name_key(w)
            if re.search(rf"(?<!\w){re.escape(wk)}", key) if wk.isascii() else wk in key:
                return role
    return None


def _is_count_column(values: pl.Series) -> bool:
    sample = [v for v in values.head(200).to_list() if v not in (None, "")]
    if not sample:
        return False
    ok = 0
    for v in sample:
        try:
            parse_count(v if isinstance(v, str) else str(v))
            ok += 1
        except NumberFormatError:
            pass
    return ok >= 0.9 * len(sample)


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def draft_mapping(
    path: str | Path, *, encoding: str = "auto", delimiter: str | None = None
) -> Draft:
    """Draft a mapping for ``path`` from its header and first rows."""
    path = Path(path)
    raw = read_table(path, encoding=encoding, delimiter=delimiter)
    header = raw.frame.columns
    counts = {c: _is_count_column(raw.frame[c].cast(pl.String)) for c in header}
    roles: dict[str, list[str]] = {}
    unassigned = []
    for c in header:
        role = guess_role(c)
        if role in _SINGLE and roles.get(role):
            role = None
        counted = ("registered", "invalid", "blank", "valid", "cast", "seats", "votes")
        if role in counted and not counts[c]:
            role = None
        if role is None:
            if counts[c]:
                role = "candidate"
            elif c.strip().lower() in {"url", "link", "source"}:
                role = "ignore"
        if role is None:
            unassigned.append(c)
            continue
        roles.setdefault(role, []).append(c)

    long_form = bool(roles.get("outcome") and roles.get("votes"))
    name = re.sub(r"[^\w.-]+", "-", path.name.split(".")[0]) or "my-mapping"
    lines = [
        f"# Drafted by `electwatch mappings init {path.name}` from its header: REVIEW every",
        "# guess before use (roles were guessed from the column names).",
        f"name = {_q(name)}",
    ]
    if raw.delimiter and raw.delimiter != ",":
        lines.append(f"delimiter = {_q(raw.delimiter)}")
    if raw.encoding not in ("utf-8",):
        lines.append(f"encoding = {_q(raw.encoding.replace('-sig', ''))}")
    areas = roles.get("area", [])
    stations = roles.get("station", [])
    if long_form:
        lines.append('shape = "long"')
        area_cols = areas or stations
        lines.append(
            "areas = { "
            + ", ".join(f"{_q(name_key(a) or 'level')} = {_q(a)}" for a in area_cols)
            + " }   # top-down"
        )
        lines.append(f"outcome = {_q(roles['outcome'][0])}")
        lines.append(f"votes = {_q(roles['votes'][0])}")
        if roles.get("seats"):
            lines.append(f"seats = {_q(roles['seats'][0])}")
        outcomes = raw.frame[roles["outcome"][0]].cast(pl.String).unique().drop_nulls().to_list()
        from electwatch.data.long import outcome_kind

        found: dict[str, list[str]] = {}
        for o in sorted(outcomes):
            kind = outcome_kind(o, {})
            if kind != "candidate":
                found.setdefault(kind, []).append(o)
        if found:
            lines.append(
                "outcome_roles = { "
                + ", ".join(f"{k} = [{', '.join(_q(v) for v in vs)}]" for k, vs in found.items())
                + " }"
            )
        else:
            lines.append("# outcome_roles = { blank = [...], invalid = [...] }  # none recognised")
    else:
        ids = stations or areas[-1:]
        if not ids:
            lines.append('station_id = "?"   # no id column recognised: name one')
        elif len(ids) == 1 and areas and stations:
            lines.append(
                f"station_id = [{_q(areas[0])}, {_q(ids[0])}]   # station numbers may repeat "
                "across areas"
            )
        else:
            lines.append(f"station_id = {_q(ids[0])}")
        if areas:
            lines.append(
                "areas = { "
                + ", ".join(f"{_q(name_key(a))} = {_q(a)}" for a in areas)
                + " }   # top-down: check the order"
            )
        if not stations:
            lines.append('level = "area"   # no station column: rows look like areas')
        for role in ("registered", "valid", "invalid", "blank"):
            if roles.get(role):
                lines.append(f"{role} = {_q(roles[role][0])}")
        if roles.get("cast"):
            cast = roles["cast"]
            lines.append(
                f"cast = {_q(cast[0])}"
                if len(cast) == 1
                else "cast = [" + ", ".join(_q(c) for c in cast) + "]   # summed"
            )
        cands = roles.get("candidate", [])
        if cands:
            lines.append("candidates = { " + ", ".join(f"{_q(c)} = {_q(c)}" for c in cands) + " }")
        else:
            lines.append("# candidates = { ... }   # no candidate column recognised")
    for role in ("percent", "ignore"):
        for c in roles.get(role, []):
            lines.append(f"# not read ({role}): {_q(c)}")
    for c in unassigned:
        lines.append(f"# unassigned: {_q(c)}")
    return Draft("\n".join(lines) + "\n", roles, "long" if long_form else "wide", unassigned)
