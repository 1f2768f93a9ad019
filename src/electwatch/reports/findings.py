"""Findings first: at most five plain-language findings from the forensics results.

One function, :func:`findings`, reads the battery's results as written to
``results.json`` (``ForensicsReport.to_dict()``) and returns the findings that the
report puts first, the CLI prints and ``results.json`` carries under ``findings``, so
that the three can never say different things.

Rules (docs/reports.md, "Findings"):

* Only **calibrated** tests make a finding: tests whose false-positive rate at the 5%
  level is near 5% on clean simulated elections (last-digit mean and chi-square, C05s,
  P05s, the per-candidate and pooled digit tests, integer percentages, Shpilkin's
  excess, the turnout-share slope). Descriptive statistics (turnout skewness,
  kurtosis, the dip test, the second-digit Benford law) never do: their null is not
  what a clean election gives. ``results.json``'s ``battery`` list says which kind each
  test is; without it the list above is used.
* A national finding needs its test flagged (after Benjamini-Hochberg where the test
  has a p-value; by the test's documented rule otherwise). Tests of one family (the
  digit tests; the round-number tests) make one finding together.
* One finding counts the areas of the top level flagged by at least one calibrated
  test, naming the three with the most flagged tests.
* Strength: ``strong`` when at least two calibrated tests of the finding deviate and
  the strongest has an adjusted p below 0.001 (or, without a p-value, an interval far
  from the null: its lower end above half the estimate); ``moderate`` when one does;
  ``weak`` otherwise. Sorted strong first, then by p-value.
* When no calibrated test deviates nationally the single finding says so, and what
  that does not show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from electwatch.core import formatting as fmt

NATIONAL = "national"
MAX_FINDINGS = 5

#: tests the battery calibrates on clean simulations (used when results.json carries no
#: ``battery`` description); the forensics docs (docs/forensics-fpr.md) hold the study
CALIBRATED_TESTS = frozenset(
    {
        "last_digit_mean",
        "last_digit_chi2",
        "pooled_last_digit_chi2",
        "adjacent_digits",
        "c05s",
        "p05s",
        "integer_percent",
        "shpilkin_excess_votes",
        "share_turnout_slope",
    }
)
#: never a finding, whatever results.json says
DESCRIPTIVE_TESTS = frozenset(
    {
        "turnout_skewness",
        "turnout_kurtosis",
        "turnout_dip",
        "2bl_second_digit_mean",
        "beber_scacco",
    }
)

#: families of tests that make one finding together
FAMILIES: dict[str, tuple[str, ...]] = {
    "last_digits": ("last_digit_mean", "last_digit_chi2", "pooled_last_digit_chi2",
                    "adjacent_digits"),
    "round_numbers": ("c05s", "p05s"),
    "integer_percent": ("integer_percent",),
    "shpilkin": ("shpilkin_excess_votes",),
    "slope": ("share_turnout_slope",),
}  # fmt: skip

_DOES_NOT_SHOW = {
    "last_digits": "Digit tests cannot say which stations or how many votes; honest "
    "counts of small numbers or a few large stations can also skew last digits.",
    "round_numbers": "Counts ending in 0 or 5 say nothing of who gained; estimated or "
    "rounded honest reporting produces them too.",
    "integer_percent": "Whole-number percentages show that some protocols were written to "
    "a target, not how many votes changed.",
    "shpilkin": "The excess is a model estimate: it assumes the leader's votes would follow "
    "the others' at high turnout, which real geography can break.",
    "slope": "A share that rises with turnout also follows from real political geography "
    "(rural areas voting more and more for the leader); it is not proof of stuffing.",
    "areas": "A flagged area deviates from what clean counting gives; it is a place to "
    "look, not a finding of fraud there.",
    "none": "No deviation is not proof of a clean election: these tests miss fraud that "
    "leaves the numbers' shape alone (for example inflating every station alike).",
}


@dataclass(frozen=True)
class Evidence:
    """One calibrated test behind a finding (the numbers as results.json has them)."""

    test: str
    subject: str
    statistic: float | None
    null_value: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_adjusted: float | None
    n: int
    flagged: bool
    reading: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "subject": self.subject,
            "statistic": self.statistic,
            "null_value": self.null_value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "n": self.n,
            "flagged": self.flagged,
            "reading": self.reading,
        }

    def text(self) -> str:
        """``c05s (winner's counts): 0.2134 vs 0.2 [0.21, 0.22], p < 0.001``."""
        parts = [f"{self.test} ({self.subject}): {fmt.significant(self.statistic)}"]
        if self.null_value is not None:
            parts.append(f" vs {fmt.significant(self.null_value)}")
        if self.ci_low is not None and self.ci_high is not None:
            parts.append(f", 95% interval {fmt.interval(self.ci_low, self.ci_high)}")
        p = self.p_adjusted if self.p_adjusted is not None else self.p_value
        if p is not None:
            parts.append(f", {fmt.p_value(p)}")
        return "".join(parts)


@dataclass(frozen=True)
class Finding:
    id: str
    family: str
    headline: str
    strength: str  # strong | moderate | weak | none
    evidence: list[Evidence] = field(default_factory=list)
    does_not_show: str = ""
    link: str = "#forensics"
    #: areas named in the finding (area findings)
    areas: list[str] = field(default_factory=list)
    #: numbers of the headline -> value, as in results.json (for checks and translations)
    numbers: dict[str, float] = field(default_factory=dict)
    #: the headline template's values, formatted (electwatch.reports.language translates)
    values: dict[str, str] = field(default_factory=dict)

    @property
    def strength_text(self) -> str:
        n = sum(e.flagged for e in self.evidence)
        tests = "; ".join(e.text() for e in self.evidence if e.flagged) or "; ".join(
            e.text() for e in self.evidence
        )
        return f"{self.strength}: {n} of {len(self.evidence)} calibrated tests deviate — {tests}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "family": self.family,
            "headline": self.headline,
            "strength": self.strength,
            "strength_text": self.strength_text,
            "evidence": [e.to_dict() for e in self.evidence],
            "does_not_show": self.does_not_show,
            "link": self.link,
            "areas": list(self.areas),
            "numbers": dict(self.numbers),
            "values": dict(self.values),
        }


def kinds_of_tests(data: Mapping[str, Any]) -> dict[str, str]:
    """test name -> kind (calibrated, descriptive, estimate, check)."""
    kinds = {t: "calibrated" for t in CALIBRATED_TESTS}
    for entry in data.get("battery") or []:
        for t in entry.get("tests", []):
            kinds[t] = str(entry.get("kind", "check"))
    for t in DESCRIPTIVE_TESTS:
        kinds[t] = "descriptive"
    return kinds


def _evidence(row: Mapping[str, Any]) -> Evidence:
    def num(key: str) -> float | None:
        v = row.get(key)
        return None if v is None or fmt.is_missing(v) else float(v)

    return Evidence(
        test=str(row["test"]),
        subject=str(row.get("subject", "")),
        statistic=num("statistic"),
        null_value=num("null_value"),
        ci_low=num("ci_low"),
        ci_high=num("ci_high"),
        p_value=num("p_value"),
        p_adjusted=num("p_adjusted"),
        n=int(row.get("n") or 0),
        flagged=bool(row.get("flagged")),
        reading=str(row.get("reading", "")),
    )


def _p(e: Evidence) -> float:
    p = e.p_adjusted if e.p_adjusted is not None else e.p_value
    return 1.0 if p is None else p


def _strength(flagged: Sequence[Evidence]) -> str:
    if not flagged:
        return "none"
    best = min(flagged, key=_p)
    decisive = _p(best) < 0.001 if (best.p_value is not None) else _far_from_null(best)
    if len(flagged) >= 2 and decisive:
        return "strong"
    if decisive:
        return "moderate"
    return "weak"


def _far_from_null(e: Evidence) -> bool:
    """Without a p-value: the interval's near end is beyond half the estimate."""
    if e.statistic is None or e.ci_low is None or e.ci_high is None:
        return False
    null = e.null_value or 0.0
    effect = e.statistic - null
    near = (e.ci_low - null) if effect > 0 else (null - e.ci_high)
    return near > abs(effect) / 2


#: where each family's evidence is drawn in the report
_LINKS = {
    "last_digits": "#digits",
    "round_numbers": "#forensics",
    "integer_percent": "#distributions",
    "shpilkin": "#fig-shpilkin",
    "slope": "#fingerprint",
}

_ORDER = {"strong": 0, "moderate": 1, "weak": 2, "none": 3}


#: headline templates (English message ids; electwatch.reports.language translates them)
HEADLINES = {
    "shpilkin": "About %(excess)s votes for %(leader)s above what the pattern of "
    "low-turnout stations predicts (95%% interval %(low)s to %(high)s).",
    "slope": "Where turnout is higher, %(leader)s's share %(direction)s: %(slope)s points "
    "per 10 points of turnout (95%% interval %(low)s to %(high)s).",
    "integer_percent": "%(excess)s more stations than chance report a whole-number turnout "
    "or result percentage (95%% interval %(low)s to %(high)s).",
    "round_numbers": "Numbers end in 0 or 5 more often than chance: %(parts)s against %(null)s.",
    "last_digits": "The last digits of the counts are not what honest counting gives "
    "(%(k)s of %(m)s digit tests deviate; %(names)s).",
    "areas": "%(flagged)s of %(total)s areas (%(level)s) deviate on at least one calibrated "
    "test; most tests deviate in %(names)s.",
    "none": "No calibrated test deviates from what clean counting gives, nationally or in "
    "any area.",
}
#: pieces of headlines that are words, not numbers (translated too)
WORDS = ("rises", "falls", "of vote counts", "of rounded percentages", "and", "million",
         "billion")  # fmt: skip


def render_headline(family: str, values: Mapping[str, str], gettext: Any = None) -> str:
    """A finding's headline from its template and formatted values; ``gettext`` (a
    translator's) translates the template and the words among the values."""
    tr = gettext or (lambda m: m)
    vals = {
        k: " ".join(tr(w) if w in WORDS else w for w in str(v).split(" "))
        for k, v in values.items()
    }
    return tr(HEADLINES[family]) % vals


def _headline(family: str, ev: list[Evidence], data: Mapping[str, Any]) -> tuple[dict, dict]:
    """(values of the headline template, numbers as results.json has them)."""
    flagged = sorted((e for e in ev if e.flagged), key=_p)
    leader = str(data.get("winner") or "the leader")
    first = flagged[0]
    if family == "shpilkin":
        return (
            {"excess": fmt.large(first.statistic), "leader": leader,
             "low": fmt.large(first.ci_low), "high": fmt.large(first.ci_high)},
            {"statistic": first.statistic},
        )  # fmt: skip
    if family == "slope":
        lo, hi = first.ci_low, first.ci_high
        return (
            {"leader": leader, "direction": "rises" if (first.statistic or 0) > 0 else "falls",
             "slope": fmt.fixed(abs(first.statistic or 0) * 10, 2),
             "low": fmt.fixed(None if lo is None else lo * 10, 2, missing="—"),
             "high": fmt.fixed(None if hi is None else hi * 10, 2, missing="—")},
            {"statistic": first.statistic},
        )  # fmt: skip
    if family == "integer_percent":
        return (
            {"excess": fmt.count(first.statistic), "low": fmt.count(first.ci_low),
             "high": fmt.count(first.ci_high)},
            {"statistic": first.statistic},
        )  # fmt: skip
    if family == "round_numbers":
        what = {"c05s": "of vote counts", "p05s": "of rounded percentages"}
        parts = [f"{fmt.percent(e.statistic, 1)} {what.get(e.test, e.test)}" for e in flagged]
        return (
            {"parts": " and ".join(parts), "null": fmt.percent(flagged[0].null_value, 0)},
            {e.test: e.statistic for e in flagged if e.statistic is not None},
        )
    names = ", ".join(sorted({e.subject for e in flagged}))
    return (
        {"k": str(len(flagged)), "m": str(len(ev)), "names": names},
        {"flagged_tests": float(len(flagged))},
    )


def findings(data: Mapping[str, Any], max_findings: int = MAX_FINDINGS) -> list[Finding]:
    """At most ``max_findings`` findings from ``results.json`` content (see the module
    docstring for the rules). Deterministic: same results, same findings."""
    kinds = kinds_of_tests(data)
    rows = data.get("results") or []
    national = [r for r in rows if r.get("level") == NATIONAL]
    out: list[Finding] = []
    for family, tests in FAMILIES.items():
        ev = [
            _evidence(r)
            for r in national
            if r.get("test") in tests and kinds.get(str(r.get("test"))) == "calibrated"
        ]
        flagged = [e for e in ev if e.flagged]
        if not flagged:
            continue
        values, numbers = _headline(family, ev, data)
        out.append(
            Finding(
                id="",
                family=family,
                headline=render_headline(family, values),
                values=values,
                strength=_strength(flagged),
                evidence=sorted(ev, key=lambda e: (not e.flagged, _p(e))),
                does_not_show=_DOES_NOT_SHOW[family],
                link=_LINKS[family],
                numbers=numbers,
            )
        )
    out.sort(key=lambda f: (_ORDER[f.strength], min(_p(e) for e in f.evidence)))
    area = _area_finding(data, rows, kinds)
    if area is not None:
        # the area finding always has a place: it says where to look
        out = [*out[: max_findings - 1], area]
    if not out:
        out.append(
            Finding(
                id="",
                family="none",
                headline=render_headline("none", {}),
                strength="none",
                evidence=[
                    _evidence(r) for r in national if kinds.get(str(r.get("test"))) == "calibrated"
                ],
                does_not_show=_DOES_NOT_SHOW["none"],
                link="#forensics",
            )
        )
    out = out[:max_findings]
    return [Finding(**{**f.__dict__, "id": f"finding-{k}"}) for k, f in enumerate(out, start=1)]


def _area_finding(
    data: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], kinds: Mapping[str, str]
) -> Finding | None:
    levels = [lv for lv in data.get("levels") or [] if lv != NATIONAL]
    if not levels:
        return None
    level = levels[0]
    areas: set[str] = set()
    per_area: dict[str, list[Evidence]] = {}
    for r in rows:
        if r.get("level") != level:
            continue
        areas.add(str(r.get("area")))
        if r.get("flagged") and kinds.get(str(r.get("test"))) == "calibrated":
            per_area.setdefault(str(r.get("area")), []).append(_evidence(r))
    if not per_area:
        return None
    n_all = int((data.get("counts") or {}).get("areas", {}).get(level, len(areas)))
    ranked = sorted(per_area.items(), key=lambda kv: (-len(kv[1]), min(_p(e) for e in kv[1])))
    top = [name for name, _ in ranked[:3]]
    n_flag = len(per_area)
    evidence = [e for _, evs in ranked[:3] for e in evs]
    values = {"flagged": fmt.count(n_flag), "total": fmt.count(n_all), "level": level,
              "names": ", ".join(top)}  # fmt: skip
    return Finding(
        id="",
        family="areas",
        headline=render_headline("areas", values),
        values=values,
        strength=_strength(evidence),
        evidence=evidence,
        does_not_show=_DOES_NOT_SHOW["areas"],
        link="#drilldown",
        areas=top,
        numbers={"flagged_areas": float(n_flag), "areas": float(n_all)},
    )


def flagged_areas(
    rows: Sequence[tuple[str, str, str, bool]], kinds: Mapping[str, str] | None = None
) -> dict[str, set[str]]:
    """level -> areas with at least one flagged calibrated test, from ``(test, level,
    area, flagged)`` rows (the count the summary, the drill-down and the area finding
    share)."""
    kinds = kinds if kinds is not None else kinds_of_tests({})
    out: dict[str, set[str]] = {}
    for test, level, area, flagged in rows:
        if flagged and level != NATIONAL and kinds.get(test) == "calibrated":
            out.setdefault(level, set()).add(area)
    return out
