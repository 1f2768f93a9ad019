"""The three input paths read counts alike, through the one shared normalizer.

Issue 10: the results loader (``electwatch.data.load_results``), the observation
reader (``electwatch.turnout.observations.load_observations``) and the web CSV import
(``electwatch.web.bulk.parse_reports_csv``) must give the same integer as
:func:`electwatch.core.numbers.parse_count` for a count written in ASCII, Persian or
Arabic-Indic digits, with or without thousands separators, and each must refuse the
values parse_count refuses, with its own one-line error naming the column.

All files here are SYNTHETIC, written by the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from electwatch_devtools.testing import seed, throwaway_database
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electwatch.core.numbers import (
    ARABIC_INDIC_DIGITS,
    PERSIAN_DIGITS,
    NumberFormatError,
    parse_count,
)
from electwatch.data import ColumnMapping, load_results
from electwatch.errors import DataValidationError
from electwatch.storage import credentials
from electwatch.storage.db import make_engine, session_factory, upgrade
from electwatch.storage.service import Scope
from electwatch.turnout.observations import load_observations
from electwatch.web.auth import Principal
from electwatch.web.bulk import MAX_VOTERS, parse_reports_csv

credentials.SCRYPT_N = 2**10  # as in service_support: seeding hashes a few secrets

SCRIPTS = ("0123456789", PERSIAN_DIGITS, ARABIC_INDIC_DIGITS)
SEPARATORS = ("", ",", "\u066c")  # none, ASCII comma, Arabic thousands separator ٬
# Refused by parse_count: a fraction, a superscript, a sign, a decimal comma (not
# grouped by three), a double sign (the observation reader once crashed on it and on
# "²": str.isdigit() accepted them and int() then raised), a fraction in Arabic-Indic
# digits with the Arabic decimal separator, an exponent, a Persian decimal comma.
BAD_VALUES = ("1.5", "²", "-3", "12,34", "--3", "١٫٥", "1e3", "۱۲,۳۴")


def spell(n: int, script: str, sep: str) -> str:
    text = f"{n:,}".replace(",", sep) if sep else str(n)
    return text.translate(str.maketrans("0123456789", script))


spelled_counts = st.builds(
    lambda n, script, sep: (n, spell(n, script, sep)),
    # the web import caps a station's voters at MAX_VOTERS; stay inside every path's range
    st.integers(0, MAX_VOTERS),
    st.sampled_from(SCRIPTS),
    st.sampled_from(SEPARATORS),
)

# --- the three paths, each reading one cell and returning the integer or raising ----

RESULTS_MAPPING = {
    "station_id": "station",
    "cast": "cast",
    "candidates": {"A": "a"},
}


def _quoted(cell: str) -> str:
    return '"' + cell + '"'


def results_path(tmp: Path, cell: str) -> int:
    path = tmp / "results.csv"
    path.write_text(f"station,cast,a\n1,{_quoted(cell)},{_quoted(cell)}\n", encoding="utf-8")
    r = load_results(path, ColumnMapping.from_dict(RESULTS_MAPPING), allow_inconsistent=True)
    assert r.frame["cast"].to_list() == r.frame["A"].to_list()
    return int(r.frame["A"][0])


def observations_path(tmp: Path, cell: str) -> int:
    path = tmp / "observations.csv"
    path.write_text(
        "station_id,observer_id,window_start,window_end,voters,outcome:A\n"
        f"S1,obs-1,08:00,10:00,{_quoted(cell)},{_quoted(cell)}\n",
        encoding="utf-8",
    )
    obs = load_observations(path)
    assert obs.frame["voters"].to_list() == obs.frame["outcome:A"].to_list()
    return int(obs.frame["voters"][0])


@dataclass
class WebImport:
    factory: object
    election_id: int
    principal: Principal
    station: str
    observer: str

    def read(self, cell: str) -> int:
        text = (
            "station_id,observer_id,window_start,window_end,voters,outcome:A\n"
            f"{self.station},{self.observer},08:00,10:00,{_quoted(cell)},{_quoted(cell)}\n"
        )
        items, errors = parse_reports_csv(
            self.factory, self.election_id, self.principal, text.encode("utf-8")
        )
        if errors:
            raise WebImportRefused(errors)
        (item,) = items
        assert item.outcomes == {"A": item.voters}
        return item.voters


class WebImportRefused(Exception):
    def __init__(self, errors: list[dict[str, object]]) -> None:
        super().__init__(errors)
        self.errors = errors


@pytest.fixture(scope="module")
def web() -> Iterator[WebImport]:
    with throwaway_database("sqlite") as url:
        engine = make_engine(url)
        upgrade(engine)
        factory = session_factory(engine)
        sd = seed(factory)
        admin = sd.users["admin"]
        principal = Principal(
            user_id=0,
            username=admin.username,
            role="admin",
            pseudonym=admin.pseudonym,
            credential_id="test",
            kind="token",
            scope=Scope(),
        )
        yield WebImport(
            factory,
            sd.election_id,
            principal,
            sd.observer_stations[0],
            sd.users["observer"].pseudonym,
        )
        engine.dispose()


# --- properties ------------------------------------------------------------------


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(count=spelled_counts)
def test_three_paths_read_a_count_as_parse_count_does(
    tmp_path: Path, web: WebImport, count: tuple[int, str]
) -> None:
    n, cell = count
    assert parse_count(cell) == n
    assert results_path(tmp_path, cell) == n
    assert observations_path(tmp_path, cell) == n
    assert web.read(cell) == n


@pytest.mark.parametrize("cell", BAD_VALUES)
def test_three_paths_refuse_what_parse_count_refuses(
    tmp_path: Path, web: WebImport, cell: str
) -> None:
    with pytest.raises(NumberFormatError):
        parse_count(cell)

    with pytest.raises(DataValidationError) as results_error:
        results_path(tmp_path, cell)
    with pytest.raises(DataValidationError) as observation_error:
        observations_path(tmp_path, cell)
    with pytest.raises(WebImportRefused) as web_error:
        web.read(cell)

    for exc in (results_error.value, observation_error.value):
        message = str(exc)
        assert "\n" not in message and message, message
        assert exc.column in {"cast", "a", "voters", "outcome:A"}, message
    # the web import lists every bad cell: voters and the outcome column, one line each
    assert {e["column"] for e in web_error.value.errors} == {"voters", "outcome:A"}
    for e in web_error.value.errors:
        assert e["row"] == 1 and e["value"] == cell
        assert "\n" not in str(e["message"]), e
