"""The forensics battery as a list of statistics that know when they apply.

Every test of the battery is a small :class:`~electwatch.core.applicability.Statistic`
subclass: it declares what it needs (a register column, enough candidates, blank or
invalid counts, ...) and the smallest sample it stands behind, with the reason and a
citation, and its ``run()`` answers a list of :class:`TestResult` rows or a
:class:`NotApplicable`. The battery (:data:`BATTERY`) is the list of these classes;
:func:`electwatch.forensics.run_battery` runs each one on a :class:`BatteryInput`.

The minimum applies twice: to the whole input (``sample_size``: the units the test
would use nationally) and to every area row (``TestResult.n``): an area row below the
minimum becomes a ``NotApplicable`` with the area and level, so no p-value is ever
printed for fewer units than the test declares (Iran 2009 by province: one count per
province, so per-province digit tests are not applicable; the national one runs on
the 30 provinces' counts when the minimum allows).

``kind`` says how a statistic enters the flags:

* ``calibrated``: its false-positive rate at the 5% level is 2-8% on clean simulated
  elections, at its own minimum n (``scripts/forensics_fpr_study.py``,
  docs/forensics-fpr.md); these alone enter Benjamini-Hochberg and the flagged-area
  ranking.
* ``descriptive``: a statistic whose null is not what a clean election gives
  (turnout skewness, kurtosis and the dip test flag 20-40% of clean simulated
  elections; the second-digit Benford law does not hold for clean counts, Deckert,
  Myagkov & Ordeshook 2011, Political Analysis 19(3)). Reported, never flagged.
* ``estimate``: a model estimate with an interval (Klimek fi/fe), flagged by its own
  documented rule but not ranked.
* ``check``: a fact about the protocols (arithmetic consistency, blank/invalid rank).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from electwatch.core.applicability import MinimumSample, NotApplicable, Requirement, Statistic
from electwatch.data.model import ElectionResults
from electwatch.forensics.areas import AreaGroups, StationArrays
from electwatch.forensics.digit_patterns import BEBER_SCACCO_MIN
from electwatch.forensics.types import NATIONAL, TestResult

CALIBRATED = "calibrated"
DESCRIPTIVE = "descriptive"
ESTIMATE = "estimate"
CHECK = "check"


@dataclass
class BatteryInput:
    """What every statistic of the battery reads.

    ``arr``/``groups``: the stations the statistical tests use (pseudo-units removed
    unless asked for) and their area codes per level (national first, nested);
    ``all_arr``/``all_groups``: every station, for totals and checks;
    ``clusters``: for each level, the level just below (cluster-robust SEs).
    """

    results: ElectionResults
    arr: StationArrays
    groups: list[AreaGroups]
    all_arr: StationArrays
    all_groups: list[AreaGroups]
    clusters: list[AreaGroups | None]
    rng: np.random.Generator
    options: dict[str, Any] = field(default_factory=dict)
    #: which of the file's units ``arr`` holds (pseudo-units out by default)
    keep: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: filled by statistics for the report (fingerprint, Klimek fits, curves, ...)
    extras: dict[str, Any] = field(default_factory=dict)

    def option(self, name: str, default: Any) -> Any:
        value = self.options.get(name)
        return default if value is None else value

    @property
    def has_register(self) -> bool:
        return bool(np.any(self.arr.registered > 0))


def _has_register(data: BatteryInput) -> bool:
    return data.has_register


def _two_candidates(data: BatteryInput) -> bool:
    return data.arr.votes.shape[1] >= 2


def _has_column(name: str) -> Requirement[BatteryInput]:
    return Requirement(
        name,
        f"{name} ballot counts",
        lambda d: bool(np.isfinite(getattr(d.all_arr, name)).any()),
    )


REGISTER = Requirement("register", "a register (eligible voters) per unit", _has_register)
TWO_CANDIDATES = Requirement("candidates", "at least two candidates", _two_candidates)


def _stands(results: ElectionResults) -> np.ndarray | None:
    """Units x candidates: on the unit's ballot, from the loader's long form when it
    has one (``results.stands(candidate)``), else None (one list everywhere)."""
    stands = getattr(results, "stands", None)
    if stands is None or getattr(results, "outcomes", None) is None:
        return None
    return np.stack([np.asarray(stands(c), dtype=bool) for c in results.candidates], axis=1)


def _station_rows(data: BatteryInput) -> bool:
    # the loader marks area tables (provinces, constituencies) with level "area"
    return getattr(data.results, "level", "station") == "station"


STATION_ROWS = Requirement(
    "station_rows",
    "rows that are polling stations (this table's rows are areas)",
    _station_rows,
)


def _n_with_register(data: BatteryInput) -> int:
    return int(np.sum((data.arr.registered > 0) & np.isfinite(data.arr.turnout())))


class BatteryStatistic(Statistic[BatteryInput, list[TestResult]]):
    """A battery test: ``tests`` are the result names it produces, ``kind`` how it
    enters the flags (see the module docstring)."""

    kind: ClassVar[str] = CALIBRATED
    tests: ClassVar[tuple[str, ...]] = ()
    step: ClassVar[str] = ""

    def sample_size(self, data: BatteryInput) -> int:
        return data.arr.n


# --- digit tests -------------------------------------------------------------------

#: digits of the counts below ten are not uniform: EFToolkit keeps them, electwatch
#: drops them by default (docs/forensics.md, "--compat eftoolkit")
LAST_DIGIT_MIN = MinimumSample(
    30,
    "the z-test of the last-digit mean uses the normal approximation to the mean of "
    "uniform digits (variance 8.25), which holds to within a point of size from 30 "
    "counts on",
    "Beber & Scacco 2012, Political Analysis 20(2):211-234; docs/forensics-fpr.md",
)
CHI2_MIN = MinimumSample(
    50,
    "Pearson's chi-square needs about 5 expected counts per digit (10 digits)",
    "Cochran 1954, Biometrics 10(4):417-451; docs/forensics-fpr.md",
)
SHARE_MIN = MinimumSample(
    50,
    "the exact binomial test of a 0/5 share of 0.2 has a size of 2-8% from 50 counts on "
    "(fewer counts make it too discrete)",
    "Mebane 2015, Election Forensics Toolkit guide; docs/forensics-fpr.md",
)


def _n_bootstrap(data: BatteryInput, kind: str, g: AreaGroups) -> int:
    """Bootstrap intervals for the winner everywhere and for the other subjects at the
    national level; the other subjects' area rows get the normal interval (the
    bootstrap of every candidate in every region was a third of the battery's time)."""
    if kind == "winner" or g.n_groups == 1:
        return int(data.option("n_bootstrap", 1000))
    return 0


def _levels_for(data: BatteryInput, kind: str) -> list[AreaGroups]:
    """The winner is tested at every level asked for; the other subjects (other
    candidates, ballots cast, each unit's leader) nationally and at the first area
    level asked for (on a national file of 2,700 TIKs they would multiply the
    battery's rows by ten for areas of ~35 stations where few counts reach the
    minimum)."""
    return data.groups if kind == "winner" else data.groups[:2]


def _digit_subjects(data: BatteryInput) -> list[tuple[str, np.ndarray, str]]:
    """(subject, counts, kind) of the digit tests: the national winner first (its
    rows keep the historical subject text), then every other candidate, the ballots
    cast (turnout counts) and each unit's own leader (EFToolkit's set)."""
    arr = data.arr
    subjects = [(f"winner's votes ({arr.winner})", arr.winner_votes, "winner")]
    if data.option("all_candidates", True):
        for j, name in enumerate(arr.candidates):
            if j != arr.winner_index:
                subjects.append((f"votes for {name}", arr.votes[:, j], "candidate"))
        subjects.append(("ballots cast (turnout counts)", arr.cast, "cast"))
        if arr.votes.shape[1] >= 2:
            subjects.append(("each unit's leader's votes", arr.votes.max(axis=1), "unit_leader"))
    return subjects


class _CountDigitStatistic(BatteryStatistic):
    """A digit test of vote counts, run for every digit subject (the winner, the other
    candidates, ballots cast, each unit's leader) at the levels each subject is tested
    at; counts below ``min_count`` are left out by the test function itself."""

    step = "digit tests"

    @staticmethod
    def test_function() -> Callable[..., list[TestResult]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample_size(self, data: BatteryInput) -> int:
        return int(np.sum(data.arr.winner_votes >= data.option("min_count", 10)))

    def compute(self, data: BatteryInput) -> list[TestResult]:
        run = self.test_function()
        out: list[TestResult] = []
        for subject, counts, kind in _digit_subjects(data):
            for g in _levels_for(data, kind):
                out += run(
                    counts,
                    g,
                    subject=subject,
                    min_count=data.option("min_count", 10),
                    n_bootstrap=_n_bootstrap(data, kind, g),
                    rng=data.rng,
                )
        return out


class LastDigitTests(_CountDigitStatistic):
    name = "last_digit"
    tests = ("last_digit_mean", "last_digit_chi2")
    minimum = LAST_DIGIT_MIN

    @staticmethod
    def test_function() -> Callable[..., list[TestResult]]:
        from electwatch.forensics.digits import last_digit_tests

        return last_digit_tests


class C05sTest(_CountDigitStatistic):
    name = "c05s"
    tests = ("c05s",)
    minimum = SHARE_MIN

    @staticmethod
    def test_function() -> Callable[..., list[TestResult]]:
        from electwatch.forensics.digits import c05s_test

        return c05s_test


class P05sTest(BatteryStatistic):
    name = "p05s"
    tests = ("p05s",)
    step = "digit tests"
    minimum = SHARE_MIN

    def sample_size(self, data: BatteryInput) -> int:
        return int(np.sum(data.arr.valid >= data.option("min_denominator", 100)))

    def compute(self, data: BatteryInput) -> list[TestResult]:
        from electwatch.forensics.digits import p05s_test

        arr = data.arr
        # EFToolkit's percentages are of the ballots cast ("TotalVotes"), electwatch's
        # of the valid votes (a candidate's published result)
        of_cast = data.option("p05s_of", "valid") == "cast"
        den, what = (arr.cast, "ballots cast") if of_cast else (arr.valid, "valid")
        subjects = [(f"winner's % of {what} ({arr.winner})", arr.winner_votes, den)]
        if data.option("all_candidates", True):
            subjects += [
                (f"% of {what} for {name}", arr.votes[:, j], den)
                for j, name in enumerate(arr.candidates)
                if j != arr.winner_index
            ]
            if data.has_register:
                subjects.append(("turnout % (cast of registered)", arr.cast, arr.registered))
        out: list[TestResult] = []
        for k, (subject, num, den) in enumerate(subjects):
            for g in _levels_for(data, "winner" if k == 0 else "other"):
                out += p05s_test(
                    num,
                    np.nan_to_num(den),
                    g,
                    subject=subject,
                    min_denominator=data.option("min_denominator", 100),
                    rounding=data.option("rounding", "half_up"),
                    n_bootstrap=_n_bootstrap(data, "winner" if k == 0 else "other", g),
                    rng=data.rng,
                )
        return out


class PooledLastDigitTest(BatteryStatistic):
    """Beber & Scacco's pooled test: the last digits of every candidate's counts in
    every unit, pooled (2012, Political Analysis 20(2); their 2009 Iran analysis)."""

    name = "pooled_last_digit"
    tests = ("pooled_last_digit_chi2", "adjacent_digits")
    step = "digit tests"
    minimum = CHI2_MIN
    requires = (TWO_CANDIDATES,)

    def sample_size(self, data: BatteryInput) -> int:
        return int(np.sum(data.arr.votes >= data.option("min_count", 10)))

    def compute(self, data: BatteryInput) -> list[TestResult]:
        from electwatch.forensics.digits import adjacent_digits_test, pooled_last_digit_test

        out: list[TestResult] = []
        for g in data.groups:
            out += pooled_last_digit_test(data.arr.votes, g, min_count=data.option("min_count", 10))
            out += adjacent_digits_test(data.arr.votes, g, min_count=data.option("min_count", 10))
        return out


class BeberScaccoTest(BatteryStatistic):
    """Beber & Scacco's Iran 2009 numbers on every candidate's counts pooled, national
    only: the exact spike-and-dip probability, the binomial adjacency tail, their
    product and (n <= 300) the calibrated p-value of the product
    (:mod:`electwatch.forensics.digit_patterns`). Descriptive: the published rule,
    "reject when the probability is below 5%", rejects 10% of fair elections of 116
    counts (docs/forensics.md)."""

    name = "beber_scacco"
    tests = ("beber_scacco",)
    step = "digit tests"
    kind = DESCRIPTIVE
    requires = (TWO_CANDIDATES,)
    minimum = BEBER_SCACCO_MIN

    def sample_size(self, data: BatteryInput) -> int:
        return int(np.sum(data.arr.votes >= data.option("min_count", 10)))

    def compute(self, data: BatteryInput) -> list[TestResult]:
        from electwatch.forensics.digit_patterns import beber_scacco_test

        # Monte Carlo of the joint probability: 20 runs per integer-percent run
        # (20,000 by default; n_mc=0 turns it off)
        runs = 20 * int(data.option("n_mc", 1000))
        return [
            beber_scacco_test(data.arr.votes, min_count=data.option("min_count", 10), mc_runs=runs)
        ]


class SecondDigitTest(BatteryStatistic):
    name = "2bl_second_digit_mean"
    tests = ("2bl_second_digit_mean",)
    step = "digit tests"
    kind = DESCRIPTIVE
    minimum = LAST_DIGIT_MIN

    def sample_size(self, data: BatteryInput) -> int:
        return int(np.sum(data.arr.winner_votes >= 10))

    def compute(self, data: BatteryInput) -> list[TestResult]:
        from electwatch.forensics.digits import second_digit_test

        return [
            r
            for subject, counts, kind in _digit_subjects(data)
            for g in _levels_for(data, kind)
            for r in second_digit_test(
                counts,
                g,
                subject=subject,
                n_bootstrap=_n_bootstrap(data, kind, g),
                rng=data.rng,
            )
        ]


# --- turnout and votes ----------------------------------------------------------------


class TurnoutShape(BatteryStatistic):
    name = "turnout_shape"
    tests = ("turnout_skewness", "turnout_kurtosis", "turnout_dip")
    step = "turnout shape"
    kind = DESCRIPTIVE
    requires = (REGISTER, STATION_ROWS)
    minimum = MinimumSample(
        20,
        "the kurtosis test's normal approximation needs n >= 20",
        "Anscombe & Glynn 1983, Biometrika 70(1):227-234; scipy.stats.kurtosistest",
    )

    def sample_size(self, data: BatteryInput) -> int:
        return _n_with_register(data)

    def compute(self, data: BatteryInput) -> list[TestResult]:
        from electwatch.forensics.turnout_shape import turnout_shape_tests

        t = data.arr.turnout()
        return [
            r
            for g in data.groups
            for r in turnout_shape_tests(
                t, g, n_bootstrap=data.option("n_bootstrap", 1000), rng=data.rng
            )
        ]


class IntegerPercentTest(BatteryStatistic):
    name = "integer_percent"
    tests = ("integer_percent",)
    step = "integer percentages"
    requires = (REGISTER, STATION_ROWS)
    minimum = MinimumSample(
        100,
        "the Monte Carlo p-value of the count of integer-percent units is discrete; from "
        "100 units of >= 100 ballots its size is within 2-8%",
        "Kobak, Shpilkin & Pshenichnikov 2016, AoAS 10(1):54-73; docs/forensics-fpr.md",
    )

    def sample_size(self, data: BatteryInput) -> int:
        return int(np.sum((data.arr.cast >= 100) & (data.arr.registered > 0)))

    def compute(self, data: BatteryInput) -> list[TestResult]:
        from electwatch.forensics.integer_percent import integer_percent_tests

        return integer_percent_tests(
            data.arr, data.groups, n_mc=data.option("n_mc", 1000), rng=data.rng
        )


class ShpilkinExcess(BatteryStatistic):
    name = "shpilkin_excess_votes"
    tests = ("shpilkin_excess_votes",)
    step = "Shpilkin excess votes"
    requires = (REGISTER, STATION_ROWS, TWO_CANDIDATES)
    minimum = MinimumSample(
        30,
        "the votes-by-turnout curves need units spread over the turnout range; with fewer "
        "than 30 the reference turnout is one unit's",
        "Kobak, Shpilkin & Pshenichnikov 2016, Significance 13(4):20-23",
    )

    def sample_size(self, data: BatteryInput) -> int:
        return _n_with_register(data)

    def compute(self, data: BatteryInput) -> list[TestResult]:
        from electwatch.forensics.shpilkin import shpilkin_tests

        out: list[TestResult] = []
        for g in data.groups:
            res, curves = shpilkin_tests(
                data.arr, g, t0=data.option("t0", None), min_stations=self.minimum.n
            )
            out += res
            if curves is not None:
                data.extras["shpilkin"] = curves
        return out


class ShareTurnoutSlope(BatteryStatistic):
    name = "share_turnout_slope"
    tests = ("share_turnout_slope",)
    step = "turnout-share regression"
    requires = (REGISTER, TWO_CANDIDATES)
    minimum = MinimumSample(
        20,
        "the HC3 standard error of a weighted slope is calibrated from about 20 units on",
        "Long & Ervin 2000, Am. Statistician 54:217-224; tests/test_forensics_fpr.py",
    )

    def sample_size(self, data: BatteryInput) -> int:
        return _n_with_register(data)

    def compute(self, data: BatteryInput) -> list[TestResult]:
        from electwatch.forensics.regression import turnout_share_tests

        return [
            r
            for g, below in zip(data.groups, data.clusters, strict=True)
            for r in turnout_share_tests(data.arr, g, below, min_stations=self.minimum.n)
        ]


class SobyaninCorrelation(BatteryStatistic):
    """EFToolkit's "Sobyanin" (OLS slope of a candidate's share of ballots cast on
    turnout, minus the mean share) and its turnout-share correlation, per candidate.
    Descriptive: regional political geography moves both in clean elections; the
    calibrated slope test is ``share_turnout_slope``."""

    name = "sobyanin"
    tests = ("sobyanin", "turnout_share_correlation")
    step = "turnout-share regression"
    kind = DESCRIPTIVE
    requires = (REGISTER,)
    minimum = MinimumSample(
        3,
        "a slope and a correlation need at least 3 units",
        "Kalinin & Mebane, EFToolkit (R), BasicElectionForensics",
    )

    def sample_size(self, data: BatteryInput) -> int:
        return _n_with_register(data)

    def compute(self, data: BatteryInput) -> list[TestResult]:
        from electwatch.forensics.regression import sobyanin_tests

        cols = range(data.arr.votes.shape[1]) if data.option("all_candidates", True) else None
        return [
            r
            for g in data.groups[:2]  # national and the first area level, as EFToolkit's
            for r in sobyanin_tests(data.arr, g, candidates=cols, min_units=self.minimum.n)
        ]


class KlimekModel(BatteryStatistic):
    name = "klimek"
    tests = ("klimek_fi", "klimek_fe", "klimek_fi_single_blob", "klimek_fe_single_blob")
    step = "fingerprint and Klimek fit"
    kind = ESTIMATE
    requires = (REGISTER, STATION_ROWS)
    minimum = MinimumSample(
        50,
        "the mixture fit of the fingerprint needs at least 50 units of >= 100 registered",
        "Klimek, Yegorov, Hanel & Thurner 2012, PNAS 109(41):16469-16473",
    )

    def sample_size(self, data: BatteryInput) -> int:
        return int(np.sum((data.arr.registered >= 100) & np.isfinite(data.arr.turnout())))

    def compute(self, data: BatteryInput) -> list[TestResult]:
        from dataclasses import replace

        from electwatch.forensics.fingerprint import fingerprint
        from electwatch.forensics.klimek import fit_klimek

        fp = data.extras.get("fingerprint") or fingerprint(data.arr)
        data.extras["fingerprint"] = fp
        if not data.option("klimek", True):
            return []
        alpha = data.options.get("klimek_alpha", 2.0)  # None: profiled
        single = fit_klimek(fp, alpha=alpha)
        data.extras["klimek_single"] = single
        fit = single
        # clean shapes per top-level area of the file, whatever levels were asked for
        top = data.groups[1] if len(data.groups) > 1 else None
        levels = data.results.area_levels
        if levels and (top is None or top.level != levels[0]):
            from electwatch.forensics.areas import area_groups

            full = area_groups(data.results, levels[0])
            top = AreaGroups(full.level, full.codes[data.keep], full.names)
        if top is not None and 2 <= top.n_groups <= 500:
            fit = fit_klimek(fp, top.codes[fp.mask], alpha=single.alpha)
        data.extras["klimek"] = fit
        rows = fit.as_results()
        if fit is not single and top is not None:
            rows = [
                replace(r, details=r.details | {"clean_shape": f"per {top.level}"}) for r in rows
            ]
            rows += [
                replace(
                    r,
                    test=r.test + "_single_blob",
                    reading=r.reading + " [single national clean blob, as in the paper]",
                    flagged=False,
                )
                for r in single.as_results()
            ]
        return rows


# --- checks -------------------------------------------------------------------------


class BlankInvalidRank(BatteryStatistic):
    name = "blank_invalid_rank"
    tests = ("blank_rank", "invalid_rank")
    step = "blank/invalid ranks"
    kind = CHECK
    requires = (
        Requirement(
            "blank_or_invalid",
            "blank or invalid ballot counts",
            lambda d: bool(
                np.isfinite(d.all_arr.blank).any() or np.isfinite(d.all_arr.invalid).any()
            ),
        ),
    )

    def compute(self, data: BatteryInput) -> list[TestResult]:
        from electwatch.forensics.blank_invalid import blank_invalid_tests

        stands = _stands(data.results)
        return [r for g in data.all_groups for r in blank_invalid_tests(data.all_arr, g, stands)]


class ArithmeticConsistency(BatteryStatistic):
    name = "consistency"
    tests = ("consistency",)
    step = "arithmetic consistency"
    kind = CHECK

    def compute(self, data: BatteryInput) -> list[TestResult]:
        from electwatch.forensics.consistency import consistency_tests

        out: list[TestResult] = []
        for g in data.all_groups:
            res, summ = consistency_tests(data.results, data.all_arr, g)
            out += res
            if summ:
                data.extras["consistency"] = summ
        return out


#: the battery, in the order of the report
BATTERY: tuple[type[BatteryStatistic], ...] = (
    SecondDigitTest,
    LastDigitTests,
    C05sTest,
    P05sTest,
    PooledLastDigitTest,
    BeberScaccoTest,
    TurnoutShape,
    KlimekModel,
    IntegerPercentTest,
    ShpilkinExcess,
    ShareTurnoutSlope,
    SobyaninCorrelation,
    BlankInvalidRank,
    ArithmeticConsistency,
)

#: per-test minimum of the area rows (a statistic producing several tests may give
#: one of them its own minimum, e.g. the chi-square's 50 against the mean's 30)
ROW_MINIMUM: dict[str, MinimumSample] = {
    test: cls.minimum for cls in BATTERY if cls.minimum is not None for test in cls.tests
}
ROW_MINIMUM["last_digit_chi2"] = CHI2_MIN

#: test name -> kind
KIND: dict[str, str] = {test: cls.kind for cls in BATTERY for test in cls.tests}


def kind_of(test: str) -> str:
    if test.startswith("consistency_"):
        return CHECK
    return KIND.get(test, CHECK)


def split_by_minimum(rows: list[TestResult]) -> tuple[list[TestResult], list[NotApplicable]]:
    """Area rows below their test's minimum n become :class:`NotApplicable`."""
    kept: list[TestResult] = []
    dropped: list[NotApplicable] = []
    why: dict[str, str] = {}
    for r in rows:
        minimum = ROW_MINIMUM.get(r.test)
        if minimum is not None and r.n < minimum.n:
            if r.test not in why:
                why[r.test] = minimum.reason + (
                    f" ({minimum.citation})" if minimum.citation else ""
                )
            reason = f"n = {r.n} is below the minimum of {minimum.n}: {why[r.test]}"
            dropped.append(
                NotApplicable(
                    r.test,
                    f"{r.subject}: {reason}",
                    "minimum_n",
                    n=r.n,
                    minimum=minimum,
                    area=r.area,
                    level=r.level,
                )
            )
        else:
            kept.append(r)
    return kept, dropped


def describe_battery() -> list[dict[str, Any]]:
    """Every statistic's requirements, minimum and kind (for docs and ``--json``)."""
    return [cls.describe() | {"kind": cls.kind, "tests": list(cls.tests)} for cls in BATTERY]


__all__ = [
    "BATTERY",
    "CALIBRATED",
    "CHECK",
    "DESCRIPTIVE",
    "ESTIMATE",
    "NATIONAL",
    "BatteryInput",
    "BatteryStatistic",
    "describe_battery",
    "kind_of",
    "split_by_minimum",
]
