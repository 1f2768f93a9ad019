"""Mebane's finite-mixture fraud model (eforensics) fitted by maximum likelihood.

Ferrari, McAlister & Mebane (2018), "Developments in positive empirical models of
election frauds: dimensions and decisions"; Mebane (2016), "Election forensics: frauds
tests and observation-level frauds probabilities". Variants ``bl`` (binomial) and
``bbl`` (beta-binomial); covariates on turnout, vote share, fraud magnitudes and fraud
probabilities; incremental and extreme fraud, manufactured and stolen votes apart.
See docs/eforensics.md for the model, the fit, its validation and when it misleads.

Entry points: :func:`fit_eforensics` (arrays) and :class:`EforensicsModel` /
:func:`eforensics` (station-level :class:`~electwatch.data.model.ElectionResults`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from electwatch.core.applicability import MinimumSample, NotApplicable, Requirement, Statistic
from electwatch.data.model import ElectionResults
from electwatch.forensics.eforensics.fit import RawFit, fit_model
from electwatch.forensics.eforensics.model import VARIANTS, Likelihood, ModelData
from electwatch.forensics.eforensics.results import (
    CAVEAT,
    AreaFraud,
    EforensicsFit,
    ParameterEstimate,
    StationFraud,
    dress,
)

STATION_MEDIAN_MAX = 10_000  # median register above this: the rows are areas, not stations

MINIMUM = MinimumSample(
    500,
    "the fraud magnitudes of a class are estimated from the stations in it: at an "
    "extreme-fraud weight of 0.02 that is about 10 stations at n = 500, and below that "
    "the magnitudes are not identified (recovery study in docs/eforensics.md)",
    "Ferrari, McAlister & Mebane 2018 (examples with 2,000 units); docs/eforensics.md",
)


def fit_eforensics(
    eligible: np.ndarray,
    abstentions: np.ndarray,
    winner: np.ndarray,
    *,
    variant: str = "bl",
    x_turnout: np.ndarray | None = None,
    x_vote: np.ndarray | None = None,
    x_fraud: np.ndarray | None = None,
    x_probability: np.ndarray | None = None,
    names_turnout: list[str] | None = None,
    names_vote: list[str] | None = None,
    names_fraud: list[str] | None = None,
    names_probability: list[str] | None = None,
    station_ids: np.ndarray | None = None,
    areas: np.ndarray | None = None,
    area_level: str = "national",
    winner_name: str = "",
    nodes: int | None = None,
    starts: int = 2,
    seed: int = 0,
    quadrature: str = "adaptive",
) -> EforensicsFit:
    """Fit the model to counts per station (eligible voters N, abstentions a = N -
    cast, winner's votes w). Covariate matrices exclude the intercept."""
    n = len(eligible)
    data = ModelData.build(
        eligible,
        abstentions,
        winner,
        x_turnout=x_turnout,
        x_vote=x_vote,
        x_fraud=x_fraud,
        x_probability=x_probability,
        names_turnout=names_turnout,
        names_vote=names_vote,
        names_fraud=names_fraud,
        names_probability=names_probability,
    )
    raw = fit_model(data, variant, nodes=nodes, starts=starts, seed=seed, quadrature=quadrature)
    ids = np.arange(1, n + 1).astype(str) if station_ids is None else np.asarray(station_ids)
    ar = np.full(n, "national", dtype=object) if areas is None else np.asarray(areas)
    return dress(
        raw, station_ids=ids, areas=ar, excluded={}, area_level=area_level, winner=winner_name
    )


def _covariate_matrix(frame: pl.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Numeric columns as they are; text columns as 0/1 indicators of every level but
    the first (sorted), like R's treatment contrasts."""
    mats: list[np.ndarray] = []
    names: list[str] = []
    for col in columns:
        s = frame[col]
        if s.dtype.is_numeric():
            if s.null_count():
                raise ValueError(f"covariate {col!r} has {s.null_count()} missing values")
            mats.append(s.cast(pl.Float64).to_numpy()[:, None])
            names.append(col)
        else:
            text = s.cast(pl.String).fill_null("(missing)").to_numpy()
            levels = sorted(set(text.tolist()))
            for lv in levels[1:]:
                mats.append((text == lv).astype(float)[:, None])
                names.append(f"{col}{lv}")
    if not mats:
        return np.zeros((frame.height, 0)), []
    return np.hstack(mats), names


def _station_level(results: ElectionResults) -> bool:
    reg = results.registered
    reg = reg[np.isfinite(reg)]
    return reg.size > 0 and float(np.median(reg)) <= STATION_MEDIAN_MAX


@dataclass
class EforensicsModel(Statistic[ElectionResults, EforensicsFit]):
    """The eforensics model on station-level results (the leader is the winner).

    ``covariates`` enter turnout and the winner's share; ``probability_covariates``
    the fraud probabilities; ``area_level`` sums the expected frauded votes."""

    variant: str = "bl"
    covariates: tuple[str, ...] = ()
    probability_covariates: tuple[str, ...] = ()
    area_level: str | None = None
    starts: int = 2
    seed: int = 0
    nodes: int | None = None  # quadrature nodes per fraud share (None: automatic)
    quadrature: str = "adaptive"  # or "fixed" (nodes on each share's normal law)

    name = "eforensics"
    requires = (
        Requirement(
            "register",
            "a register (eligible voters) per station",
            lambda r: r.has_registers,
        ),
        Requirement(
            "station_rows",
            "station-level rows (a median register of at most 10,000: larger rows are "
            "areas, whose counts are sums the model's binomials do not describe)",
            _station_level,
        ),
        Requirement("winner", "at least one candidate", lambda r: len(r.candidates) >= 1),
    )
    minimum = MINIMUM

    def sample_size(self, data: ElectionResults) -> int:
        return int(self._usable(data).sum())

    @staticmethod
    def _usable(r: ElectionResults) -> np.ndarray:
        reg = r.registered
        cast = r.cast.astype(float)
        ok = np.isfinite(reg) & (reg > 0) & (cast <= reg)
        return ok

    def compute(self, data: ElectionResults) -> EforensicsFit:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}")
        reg = data.registered
        cast = data.cast.astype(float)
        winner = data.winner or data.candidates[0]
        w = data.votes(winner).astype(float)
        no_reg = ~(np.isfinite(reg) & (reg > 0))
        over = ~no_reg & (cast > reg)
        # stations abroad register whoever comes to vote: no eligible population
        abroad = ~no_reg & ~over & np.asarray(data.abroad, dtype=bool)
        ok = ~no_reg & ~over & ~abroad
        excluded = {}
        if abroad.any():
            excluded["abroad (the register is whoever came: no eligible population)"] = int(
                abroad.sum()
            )
        if no_reg.any():
            excluded["no register (eligible voters missing or zero)"] = int(no_reg.sum())
        if over.any():
            excluded["more ballots cast than registered voters"] = int(over.sum())
        frame = data.frame.filter(pl.Series(ok))
        x_cov, names_cov = _covariate_matrix(frame, self.covariates)
        x_pi, names_pi = _covariate_matrix(frame, self.probability_covariates)
        level = self.area_level or (data.area_levels[0] if data.area_levels else "national")
        if level != "national":
            areas = frame[level].cast(pl.String).fill_null("?").to_numpy()
        else:
            areas = np.full(frame.height, "national", dtype=object)
        fit = fit_eforensics(
            reg[ok],
            reg[ok] - cast[ok],
            w[ok],
            variant=self.variant,
            x_turnout=x_cov if x_cov.shape[1] else None,
            x_vote=x_cov if x_cov.shape[1] else None,
            x_probability=x_pi if x_pi.shape[1] else None,
            names_turnout=names_cov,
            names_vote=names_cov,
            names_probability=names_pi,
            station_ids=frame["station_id"].cast(pl.String).to_numpy(),
            areas=areas,
            area_level=level,
            winner_name=winner,
            starts=self.starts,
            seed=self.seed,
            nodes=self.nodes,
            quadrature=self.quadrature,
        )
        fit.excluded.update(excluded)
        return fit


def eforensics(
    results: ElectionResults,
    variant: str = "bl",
    *,
    covariates: Sequence[str] = (),
    probability_covariates: Sequence[str] = (),
    area_level: str | None = None,
    starts: int = 2,
    seed: int = 0,
    nodes: int | None = None,
    quadrature: str = "adaptive",
) -> EforensicsFit | NotApplicable:
    """Run :class:`EforensicsModel` (``variant`` 'bl' or 'bbl') on station results."""
    model = EforensicsModel(
        variant,
        tuple(covariates),
        tuple(probability_covariates),
        area_level,
        starts,
        seed,
        nodes,
        quadrature,
    )
    return model.run(results)


__all__ = [
    "CAVEAT",
    "MINIMUM",
    "AreaFraud",
    "EforensicsFit",
    "EforensicsModel",
    "Likelihood",
    "ModelData",
    "ParameterEstimate",
    "RawFit",
    "StationFraud",
    "eforensics",
    "fit_eforensics",
]
