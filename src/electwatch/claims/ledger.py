"""The claims ledger: load claims, check their arithmetic, hold them against each other,
against turnout estimates and against official results.

Every check is a :class:`ClaimCheck` row with a status:

``ok``            the arithmetic reproduces the stated figure at its stated precision
``mismatch``      it does not (the row says by how much)
``consistent``    two figures (claims, estimate, official) are compatible
``conflict``      they are not: their intervals do not overlap
``unverifiable``  nothing to check the claim against
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from scipy import stats

from electwatch.claims.model import (
    Claim,
    ClaimError,
    StatedNumber,
    evaluate,
    parse_rank,
    parse_relation,
)
from electwatch.core import formatting
from electwatch.turnout.estimate import Estimate

STATUSES = ("ok", "mismatch", "consistent", "conflict", "unverifiable")


@dataclass(frozen=True)
class ClaimCheck:
    """One check of one claim (or one pair of figures)."""

    claim: str
    kind: str  # arithmetic | vs_claim | vs_estimate | vs_official
    status: str
    stated: float | None
    reference: float | None  # recomputed value, other claim, estimate or official figure
    against: str | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.stated is None or self.reference in (None, 0):
            return None
        assert self.reference is not None
        return self.stated / self.reference

    def to_dict(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "kind": self.kind,
            "status": self.status,
            "stated": self.stated,
            "reference": self.reference,
            "ratio": self.ratio,
            "against": self.against,
            "detail": self.detail,
            **({"extra": self.extra} if self.extra else {}),
        }


@dataclass
class Ledger:
    """A set of claims keyed by id, in file order."""

    claims: dict[str, Claim]
    file: str = "<memory>"

    def __iter__(self) -> Any:
        return iter(self.claims.values())

    def __len__(self) -> int:
        return len(self.claims)

    def __getitem__(self, key: str) -> Claim:
        return self.claims[key]

    def resolve_inputs(self, claim: Claim) -> dict[str, float]:
        """Input numbers of a claim; ``"@id"`` takes another claim's stated value."""
        out: dict[str, float] = {}
        for name, raw in claim.inputs.items():
            if isinstance(raw, str) and raw.startswith("@"):
                ref = raw[1:]
                if ref not in self.claims:
                    raise ClaimError(
                        f"{self.file}: claim {claim.id!r} input {name!r} refers "
                        f"to unknown claim {ref!r}"
                    )
                out[name] = self.claims[ref].value
            else:
                try:
                    out[name] = StatedNumber.parse(raw).value
                except ValueError as exc:
                    raise ClaimError(
                        f"{self.file}: claim {claim.id!r} input {name!r}: {exc}"
                    ) from None
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "claims": [c.to_dict() for c in self]}


def _claim_from_record(rec: Mapping[str, Any], file: str, k: int) -> Claim:
    where = f"{file}: claim #{k}"
    for key in ("id", "source", "quantity", "value"):
        if key not in rec:
            raise ClaimError(f"{where} has no {key!r} (needs id, source, quantity, value)")
    cid = str(rec["id"])
    try:
        relation = parse_relation(rec.get("relation", "="))
    except ValueError as exc:
        raise ClaimError(f"{where} ({cid}) {exc}") from None
    try:
        if relation == "rank" or rec["quantity"] == "rank":
            relation = "rank"
            rank = parse_rank(rec["value"])
            stated = StatedNumber(float(rank), 0.0, str(rec["value"]))
        else:
            stated = StatedNumber.parse(rec["value"])
    except ValueError as exc:
        raise ClaimError(f"{where} ({cid}) value: {exc}") from None
    round_ = rec.get("round")
    if round_ is not None and (isinstance(round_, bool) or not isinstance(round_, int)):
        raise ClaimError(f"{where} ({cid}) round must be a whole number, not {round_!r}")
    inputs = rec.get("inputs", {})
    if not isinstance(inputs, dict):
        raise ClaimError(f"{where} ({cid}) inputs must be a table of name = number")
    if rec.get("formula") is not None and not inputs:
        raise ClaimError(f"{where} ({cid}) has a formula but no inputs")
    tol = rec.get("tolerance")
    known = {
        "id",
        "source",
        "quantity",
        "value",
        "date",
        "subject",
        "method",
        "relation",
        "formula",
        "inputs",
        "tolerance",
        "url",
        "notes",
        "election",
        "area",
        "round",
        "candidate",
    }
    unknown = set(rec) - known
    if unknown:
        raise ClaimError(f"{where} ({cid}) has unknown keys {sorted(unknown)}")
    tolerance = None
    if tol is not None:
        tolerance = StatedNumber.parse(tol).value
    return Claim(
        id=cid,
        source=str(rec["source"]),
        quantity=str(rec["quantity"]),
        stated=stated,
        date=None if rec.get("date") is None else str(rec["date"]),
        subject=rec.get("subject"),
        method=rec.get("method"),
        relation=relation,
        formula=rec.get("formula"),
        inputs=dict(inputs),
        tolerance=tolerance,
        url=rec.get("url"),
        notes=rec.get("notes"),
        election=None if rec.get("election") is None else str(rec["election"]),
        area=None if rec.get("area") is None else str(rec["area"]),
        round=round_,
        candidate=None if rec.get("candidate") is None else str(rec["candidate"]),
    )


def ledger_from_records(records: Iterable[Mapping[str, Any]], file: str = "<memory>") -> Ledger:
    claims: dict[str, Claim] = {}
    for k, rec in enumerate(records, start=1):
        c = _claim_from_record(rec, file, k)
        if c.id in claims:
            raise ClaimError(f"{file}: claim id {c.id!r} used twice")
        claims[c.id] = c
    ledger = Ledger(claims, file)
    for c in ledger:  # fail early on bad references and formulas
        if c.formula:
            evaluate(c.formula, ledger.resolve_inputs(c))
    return ledger


def load_claims(path: str | Path) -> Ledger:
    """Load a claims TOML file (an array of tables ``[[claims]]``)."""
    p = Path(path)
    if not p.exists():
        raise ClaimError(f"{path}: file not found")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ClaimError(f"{path}: not valid TOML: {exc}") from None
    records = data.get("claims")
    if not isinstance(records, list) or not records:
        raise ClaimError(f"{path}: no [[claims]] tables")
    return ledger_from_records(records, str(path))


# --- checks ---------------------------------------------------------------------------


def check_arithmetic(ledger: Ledger) -> list[ClaimCheck]:
    """Recompute each claim from the numbers it rests on; compare at stated precision."""
    rows = []
    for c in ledger:
        if not c.formula:
            rows.append(
                ClaimCheck(
                    c.id,
                    "arithmetic",
                    "unverifiable",
                    c.value,
                    None,
                    detail="no formula: the claim rests on no stated numbers",
                )
            )
            continue
        computed = evaluate(c.formula, ledger.resolve_inputs(c))
        diff = c.value - computed
        ok = abs(diff) <= c.precision * (1 + 1e-9)
        rows.append(
            ClaimCheck(
                c.id,
                "arithmetic",
                "ok" if ok else "mismatch",
                c.value,
                computed,
                against=c.formula,
                detail=(
                    f"{c.formula} = {_fmt(computed, c)}; stated {c.stated.text} "
                    f"(+/-{_fmt(c.precision, c)})" + ("" if ok else f"; off by {_fmt(diff, c)}")
                ),
            )
        )
    return rows


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def check_consistency(ledger: Ledger) -> list[ClaimCheck]:
    """Hold claims about the same subject and quantity against each other."""
    rows = []
    groups: dict[tuple[str | None, str], list[Claim]] = {}
    for c in ledger:
        groups.setdefault((c.subject, c.quantity), []).append(c)
    for (_subject, _qty), claims in groups.items():
        for a, b in combinations(claims, 2):
            ok = _overlap(a.interval(), b.interval())
            rows.append(
                ClaimCheck(
                    a.id,
                    "vs_claim",
                    "consistent" if ok else "conflict",
                    a.value,
                    b.value,
                    against=b.id,
                    detail=(
                        f"{a.relation} {a.stated.text} ({a.source}) vs {b.relation} "
                        f"{b.stated.text} ({b.source})"
                        + ("" if ok or not b.value else f"; ratio {a.value / b.value:.3g}")
                    ),
                )
            )
    return rows


def _estimate_figure(est: Estimate, quantity: str) -> tuple[float, float] | None:
    """(value, SE) of an estimate in the unit of a claim quantity, if it has it."""
    if quantity == "turnout" and est.quantity == "turnout":
        return est.estimate, est.standard_error
    if quantity in ("voters", "cast") and est.total_voters is not None:
        return est.total_voters, est.total_voters_se or math.nan
    if quantity == "voters_per_station" and est.per_station is not None and est.total_stations:
        se = (est.total_voters_se or math.nan) / est.total_stations
        return est.per_station, se
    return None


def subjects(ledger: Ledger) -> list[str | None]:
    """The distinct subjects of a ledger, in file order."""
    return list(dict.fromkeys(c.subject for c in ledger))


def _about(ledger: Ledger, subject: str | None) -> list[Claim]:
    """Claims about ``subject`` (prefix match: "national" matches "national, observed")."""
    if subject is None:
        subs = subjects(ledger)
        if len(subs) > 1:
            raise ClaimError(
                f"{ledger.file}: claims are about {len(subs)} subjects {subs}; say which one "
                "the estimate or results are about (--subject on the command line, "
                "subject= in Python)"
            )
        return list(ledger)
    return [c for c in ledger if (c.subject or "").startswith(subject)]


def check_against_estimates(
    ledger: Ledger, estimates: Mapping[str, Estimate], subject: str | None = None
) -> list[ClaimCheck]:
    """Is each claim about ``subject`` inside the estimate's interval? z and p-value."""
    rows = []
    for c in _about(ledger, subject):
        for name, est in estimates.items():
            fig = _estimate_figure(est, c.quantity)
            if fig is None:
                continue
            value, se = fig
            z_crit = stats.norm.ppf(0.5 + est.confidence / 2)
            lo, hi = value - z_crit * se, value + z_crit * se
            if math.isnan(se):
                lo = hi = value
            ok = _overlap(c.interval(), (lo, hi))
            nearest = min(max(value, c.interval()[0]), c.interval()[1])
            z = (nearest - value) / se if se and not math.isnan(se) else math.nan
            p = float(2 * stats.norm.sf(abs(z))) if not math.isnan(z) else math.nan
            log10p = (
                float((math.log(2) + stats.norm.logsf(abs(z))) / math.log(10))
                if not math.isnan(z)
                else math.nan
            )
            rows.append(
                ClaimCheck(
                    c.id,
                    "vs_estimate",
                    "consistent" if ok else "conflict",
                    c.value,
                    value,
                    against=name,
                    detail=(
                        f"estimate {_fmt(value, c)} [{_fmt(lo, c)}, {_fmt(hi, c)}] "
                        f"({est.method}); "
                        + (f"z = {z:.1f}, p = {p:.2g}" if not math.isnan(z) else "no sampling SE")
                    ),
                    extra={"z": z, "p_value": p, "log10_p": log10p, "ci": [lo, hi]},
                )
            )
    return rows


def official_figures(summary: Any) -> dict[str, float]:
    """Quantities an official results summary (``ResultsSummary``) can answer."""
    out: dict[str, float] = {
        "cast": summary.cast,
        "voters": summary.cast,
        "stations": summary.stations,
    }
    if summary.turnout is not None:
        out["turnout"] = summary.turnout
    if summary.registered is not None:
        out["registered"] = summary.registered
        out["eligible"] = summary.registered
    if summary.invalid is not None:
        out["invalid"] = summary.invalid
    if summary.blank is not None:
        out["blank"] = summary.blank
    for name, votes in summary.candidate_votes.items():
        out[f"votes:{name}"] = votes
    if summary.stations:
        out["voters_per_station"] = summary.cast / summary.stations
    return out


def check_against_official(
    ledger: Ledger,
    official: Mapping[str, float],
    label: str = "official results",
    subject: str | None = None,
) -> list[ClaimCheck]:
    """Hold claims about ``subject`` against the official figures."""
    rows = []
    for c in _about(ledger, subject):
        if c.quantity not in official:
            continue
        rows.append(_vs_figure(c, float(official[c.quantity]), label))
    return rows


@dataclass(frozen=True)
class LedgerReport:
    """All checks of a ledger, in a table."""

    claims: tuple[Claim, ...]
    checks: tuple[ClaimCheck, ...]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for r in self.checks:
            out[r.status] += 1
        return out

    @property
    def failed(self) -> list[ClaimCheck]:
        return [r for r in self.checks if r.status in ("mismatch", "conflict")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "claims": [c.to_dict() for c in self.claims],
            "checks": [r.to_dict() for r in self.checks],
            "counts": self.counts(),
        }


def check_ledger(
    ledger: Ledger,
    *,
    estimates: Mapping[str, Estimate] | None = None,
    official: Mapping[str, float] | None = None,
    official_label: str = "official results",
    subject: str | None = None,
) -> LedgerReport:
    """Run every check: arithmetic, claim vs claim, vs estimates, vs official results."""
    rows: list[ClaimCheck] = []
    rows += check_arithmetic(ledger)
    rows += check_consistency(ledger)
    if estimates:
        rows += check_against_estimates(ledger, estimates, subject)
    if official:
        rows += check_against_official(ledger, official, official_label, subject)
    return LedgerReport(tuple(ledger), tuple(rows))


def _fmt(x: float, c: Claim | None = None) -> str:
    return formatting.stated(x, c is not None and c.stated.percent)


def claims_table_rows(report: LedgerReport) -> Sequence[tuple[str, ...]]:
    """Plain rows (claim, kind, status, stated, reference, against, detail) for tables."""
    by_id = {c.id: c for c in report.claims}
    out = []
    for r in report.checks:
        c = by_id.get(r.claim)
        out.append(
            (
                r.claim,
                r.kind,
                "consistent within rounding"
                if r.status == "consistent" and r.detail.startswith("consistent within rounding")
                else r.status,
                "" if r.stated is None else (c.stated.text if c else _fmt(r.stated)),
                "" if r.reference is None else _fmt(r.reference, c),
                r.against or "",
                r.detail,
            )
        )
    return out


def estimates_from_json(data: Mapping[str, Any], prefix: str = "estimate") -> dict[str, Estimate]:
    """Estimates from ``electwatch estimate --json`` output (or one ``Estimate.to_dict()``)."""
    raw = data.get("estimates", {"estimate": data}) if isinstance(data, Mapping) else {}
    out: dict[str, Estimate] = {}
    for name, d in raw.items():
        if not isinstance(d, Mapping) or "estimate" not in d or "method" not in d:
            raise ClaimError(f"{prefix}: {name!r} is not an estimate")

        def f(key: str, d: Mapping[str, Any] = d) -> float:
            v = d.get(key)
            return math.nan if v is None else float(v)

        out[f"{prefix}:{name}"] = Estimate(
            method=str(d["method"]),
            quantity=str(d.get("quantity", "turnout")),
            estimate=f("estimate"),
            standard_error=f("standard_error"),
            ci_low=f("ci_low"),
            ci_high=f("ci_high"),
            confidence=float(d.get("confidence", 0.95)),
            n=int(d.get("n", 0)),
            total_stations=d.get("total_stations"),
            total_voters=d.get("total_voters"),
            total_voters_se=d.get("total_voters_se"),
            per_station=d.get("per_station"),
            eligible=d.get("eligible"),
        )
    return out


# --- what a claim is about: election, round, area -----------------------------------------


def _vs_figure(c: Claim, v: float, label: str, kind: str = "vs_official") -> ClaimCheck:
    """A claim against an exact figure: a conflict only when the difference exceeds the
    claim's own stated precision (or tolerance); within it, "consistent within rounding"."""
    lo, hi = c.interval()
    ok = lo <= v <= hi
    if c.relation == "rank":
        detail = f"{label}: rank {v:.0f}; claim: came {c.stated.text}"
    elif ok and v != c.value and c.relation in ("=", "about"):
        detail = (
            f"consistent within rounding: {label} {c.quantity} = {_fmt(v, c)}; claim "
            f"{c.relation_text} {c.stated.text} (±{_fmt(c.precision, c)})"
        )
    elif ok:
        detail = f"{label} {c.quantity} = {_fmt(v, c)}; claim {c.relation_text} {c.stated.text}"
    else:
        detail = (
            f"conflict: {label} {c.quantity} = {_fmt(v, c)}; claim {c.relation_text} "
            f"{c.stated.text} (±{_fmt(c.precision, c)}): off by {_fmt(abs(v - c.value), c)}"
        )
    return ClaimCheck(
        c.id, kind, "consistent" if ok else "conflict", c.value, v, against=label, detail=detail
    )


def claim_scope(claim: Claim, election: str, round: int | None = None) -> tuple[bool, str]:
    """Is ``claim`` about ``election`` (and its ``round``)? Returns (yes, why not).

    The claim's ``election`` (else its ``subject``) must name the election: equal to its
    name, or contained in it, after :func:`electwatch.core.numbers.name_key` (case,
    spacing, Persian letter forms). A claim naming no election matches none: claims
    about an unnamed "national election" are never plotted beside a named one.
    """
    from electwatch.core.numbers import name_key

    said = claim.election or claim.subject
    if not said:
        return False, "names no election"
    want, got = name_key(election), name_key(said)
    if not got or got not in want:
        return False, f"is about {said!r}, not {election!r}"
    if claim.round is not None and round is not None and claim.round != round:
        return False, f"is about round {claim.round}, not round {round}"
    return True, ""


def _rank(votes: Mapping[str, float], who: str) -> int | None:
    """1-based rank of ``who`` by votes (ties share the better rank)."""
    if who not in votes:
        return None
    return 1 + sum(1 for k, v in votes.items() if k != who and v > votes[who])


def results_figures(results: Any, area: str | None = None) -> tuple[dict[str, float], str]:
    """Official figures of ``results`` (an ``ElectionResults``) for the whole election or
    one ``area`` (matched by :func:`name_key` against the names of every area level,
    full path or last part). Ranks: ``rank:<candidate>``, ``rank:blank``,
    ``rank:invalid`` among the candidates (blank/invalid ranked as if candidates).
    Raises ClaimError when the area is not in the results."""
    import numpy as np

    from electwatch.core.numbers import name_key

    label = "official results"
    sub = results
    if area:
        key = name_key(area)
        mask = None
        for level in results.area_levels:
            names = results.frame[level].cast(str).fill_null("").to_list()
            hit = np.array([name_key(n) == key for n in names])
            if hit.any():
                mask = hit
                area = names[int(np.argmax(hit))]  # the results' own spelling
                break
        if mask is None:
            raise ClaimError(f"no area {area!r} in the results (levels {results.area_levels})")
        sub = results.subset(mask)
        label = f"official results, {area}"
    s = sub.summary()
    figures = official_figures(s)
    votes = {k: float(v) for k, v in s.candidate_votes.items()}
    # a candidate with no count in this area (not standing there) has no rank
    standing = {k: v for k, v in votes.items() if bool(np.isfinite(sub.count(k)).any()) or v > 0}
    for who in standing:
        figures[f"rank:{who}"] = float(_rank(standing, who) or 0)
        if s.cast:
            figures[f"share:{who}"] = standing[who] / s.cast
    for kind, total in (("blank", s.blank), ("invalid", s.invalid)):
        if total is not None:
            figures[f"rank:{kind}"] = float(_rank({**standing, kind: float(total)}, kind) or 0)
    return figures, label


def _figure_key(c: Claim) -> str:
    if c.relation == "rank":
        return (
            f"rank:{c.candidate or c.quantity}" if c.quantity != "rank" else (f"rank:{c.candidate}")
        )
    if c.candidate and c.quantity in ("votes", "share"):
        return f"{c.quantity}:{c.candidate}"
    return c.quantity


@dataclass(frozen=True)
class ScopedReport:
    """Checks of the claims about one election; the others, with the reason."""

    report: LedgerReport
    election: str
    excluded: dict[str, str]  # claim id -> why it is not about this election

    def to_dict(self) -> dict[str, Any]:
        return {**self.report.to_dict(), "election": self.election, "excluded": self.excluded}


def check_against_results(
    ledger: Ledger,
    results: Any,
    *,
    estimates: Mapping[str, Estimate] | None = None,
) -> ScopedReport:
    """Check the claims about ``results``' election (and round): arithmetic, against each
    other, against ``estimates`` (whole-election claims only) and against the official
    figures of the claim's own area (the whole election when it names none)."""
    election = results.election.name
    round_ = getattr(results.contest, "round", None)
    mine: dict[str, Claim] = {}
    excluded: dict[str, str] = {}
    for c in ledger:
        ok, why = claim_scope(c, election, round_)
        if ok:
            mine[c.id] = c
        else:
            excluded[c.id] = why
    # arithmetic may reference claims of other subjects (inputs "@id"): keep the full ledger
    rows = [r for r in check_arithmetic(ledger) if r.claim in mine]
    scoped = Ledger(mine, ledger.file)
    national = Ledger({k: c for k, c in mine.items() if not c.area}, ledger.file)
    rows += check_consistency(national)
    if estimates and len(national):
        rows += check_against_estimates(national, estimates, subject="")
    cache: dict[str | None, tuple[dict[str, float], str] | str] = {}
    for c in scoped:
        if c.area not in cache:
            try:
                cache[c.area] = results_figures(results, c.area)
            except ClaimError as exc:
                cache[c.area] = str(exc)
        got = cache[c.area]
        if isinstance(got, str):
            rows.append(ClaimCheck(c.id, "vs_official", "unverifiable", c.value, None, detail=got))
            continue
        figures, label = got
        key = _figure_key(c)
        if key in figures:
            rows.append(_vs_figure(c, figures[key], label))
    return ScopedReport(LedgerReport(tuple(scoped), tuple(rows)), election, excluded)
