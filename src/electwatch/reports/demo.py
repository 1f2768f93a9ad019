"""The built-in example: a SYNTHETIC election with injected fraud, an observer campaign
and a few published claims, run through the whole pipeline into one report.

This is what ``electwatch demo --out DIR`` runs. The inputs are written to
``DIR/inputs/`` first and the report is built from those files, so the report's
reproducibility block carries their hashes and the equivalent ``electwatch report``
command.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path

import polars as pl

from electwatch.data import ElectionResults
from electwatch.reports.builder import report_from_files
from electwatch.reports.model import ProgressCallback, ReportOutput, no_progress

#: size of the example: big enough for the forensics to bite, small enough to run in seconds
DEMO_STATIONS = 20_000
DEMO_REGIONS = 20
DEMO_FRAUD = {"fi": 0.10, "fe": 0.01, "alpha": 2.0}
DEMO_OBSERVED = 1_000


def write_demo_inputs(inputs_dir: Path, seed: int) -> dict[str, Path]:
    """Simulate the example election and observer campaign and write them as files."""
    from electwatch.simulate import (
        ElectionParameters,
        FraudParameters,
        simulate_election,
        simulate_observer_campaign,
        write_results,
    )

    inputs_dir.mkdir(parents=True, exist_ok=True)
    results, _truth = simulate_election(
        ElectionParameters(n_stations=DEMO_STATIONS, n_regions=DEMO_REGIONS),
        FraudParameters(**DEMO_FRAUD),
        seed=seed,
        name=f"Demo election (SYNTHETIC, seed {seed})",
    )
    results_path = write_results(results, inputs_dir / "demo-election.csv")
    obs, _ = simulate_observer_campaign(
        results,
        DEMO_OBSERVED,
        design="capital_heavy",
        window=(8.0, 20.0),
        undercount=0.05,
        seed=seed + 1,
    )
    obs_path = inputs_dir / "demo-observations.csv"
    obs.with_columns(
        pl.col("hourly").list.eval(pl.element().cast(pl.String)).list.join(";")
    ).write_csv(obs_path)
    claims_path = inputs_dir / "demo-claims.toml"
    claims_path.write_text(demo_claims(results, obs), encoding="utf-8")
    return {"results": results_path, "observations": obs_path, "claims": claims_path}


def demo_claims(results: ElectionResults, observations: pl.DataFrame) -> str:
    """Claims about the example, in the claims-ledger TOML format (electwatch.claims).

    Derived from the simulated data so that each illustrates one outcome: an official
    figure that holds, an observer extrapolation whose arithmetic is right but whose
    naive method is biased, a rounding slip in an arithmetic chain, and a bound that
    the estimates contradict.
    """
    s = results.summary()
    eligible = int(s.registered or 0)
    n_obs = observations.height
    counted = int(observations["voters"].sum())
    per_station = round(counted / n_obs, 1)
    naive_turnout = per_station * s.stations / eligible
    wrong_voters = round(per_station * s.stations * 1.08 / 1e5) / 10  # an 8% slip
    bound = math.floor((s.turnout or 0) * 100 - 10)
    subject = "Demo election (SYNTHETIC)"
    ranked = sorted(s.candidate_votes, key=lambda k: -s.candidate_votes[k])
    runner_up = ranked[1] if len(ranked) > 1 else ranked[0]
    first_region = str(results.frame[results.area_levels[0]].sort()[0])
    region_invalid = int(
        results.frame.filter(pl.col(results.area_levels[0]) == first_region)["invalid"].sum()
    )
    claims: list[dict[str, object]] = [
        {
            "id": "commission-turnout",
            "source": "Election commission",
            "quantity": "turnout",
            "value": f"{(s.turnout or 0) * 100:.1f}%",
            "method": "official protocols",
        },
        {
            "id": "observers-counted",
            "source": "Observer network",
            "quantity": "voters_counted",
            "value": counted,
            "method": f"voters counted at {n_obs:,} watched stations, 08:00-20:00",
        },
        {
            "id": "observers-per-station",
            "source": "Observer network",
            "quantity": "voters_per_station",
            "value": per_station,
            "method": "counted voters / observed stations",
            "formula": "counted / observed",
            "inputs": {"counted": "@observers-counted", "observed": n_obs},
        },
        {
            "id": "observers-turnout",
            "source": "Observer network",
            "quantity": "turnout",
            "value": f"{naive_turnout * 100:.1f}%",
            "method": "naive expansion / registered voters",
            "formula": "per_station * stations / eligible",
            "inputs": {
                "per_station": "@observers-per-station",
                "stations": s.stations,
                "eligible": eligible,
            },
        },
        {
            "id": "blog-voters",
            "source": "A blog post",
            "quantity": "voters",
            "value": f"{wrong_voters:.1f} million",
            "method": "observers' figures, re-multiplied",
            "formula": "per_station * stations",
            "inputs": {"per_station": "@observers-per-station", "stations": s.stations},
        },
        {
            "id": "newspaper-turnout",
            "source": "A newspaper",
            "quantity": "turnout",
            "value": f"about {round((s.turnout or 0) * 100)}%",
            "relation": "about",
            "method": "'about' the commission's figure, rounded to a whole percent",
        },
        {
            "id": "runner-up-second",
            "source": "A news agency",
            "quantity": "rank",
            "candidate": runner_up,
            "value": "2nd",
            "method": "'came second' nationally",
        },
        {
            "id": "region-invalid",
            "source": "Regional commission",
            "quantity": "invalid",
            "area": first_region,
            "value": region_invalid,
            "method": f"invalid ballots in {first_region} (checked against that region only)",
        },
        {
            "id": "opposition-bound",
            "source": "Opposition statement",
            "quantity": "turnout",
            "value": f"{bound}%",
            "relation": "<=",
            "method": "'turnout was at most' (no method given)",
        },
    ]
    lines = [
        f"# SYNTHETIC claims about the electwatch demo election (seeded); subject: {subject}",
        "",
    ]
    for c in claims:
        lines.append("[[claims]]")
        record: dict[str, object] = {
            "subject": subject,
            "election": "Demo election",
            **c,
            "notes": "SYNTHETIC claim about the electwatch demo",
        }
        for k, v in record.items():
            lines.append(f"{k} = {_toml(v)}")
        lines.append("")
    return "\n".join(lines)


def _toml(v: object) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)


def demo_report(
    out_dir: str | Path,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    options: dict[str, object] | None = None,
) -> ReportOutput:
    """Simulate the example, then write the full report into ``out_dir``."""
    out = Path(out_dir)
    callback = progress or no_progress
    callback("Simulating the example election", 0.0)
    files = write_demo_inputs(out / "inputs", seed)
    argv = [
        "electwatch",
        "report",
        "--results",
        str(files["results"]),
        "--observations",
        str(files["observations"]),
    ]
    if "claims" in files:
        argv += ["--claims", str(files["claims"])]
    opts = dict(options or {})
    model_argv: list[str] = []
    if opts.get("eforensics"):
        model_argv = ["--model", str(opts["eforensics"])]
        cols = opts.get("covariates")
        if isinstance(cols, list | tuple) and cols:
            model_argv += ["--covariates", ",".join(map(str, cols))]
    argv += [*model_argv, "--out", str(out), "--seed", str(seed)]
    return report_from_files(
        out,
        results_path=files["results"],
        observations_path=files["observations"],
        claims_path=files.get("claims"),
        seed=seed,
        command_line=shlex.join(["electwatch", "demo", *model_argv, "--out", str(out)])
        + f" --seed {seed}  (equivalent to: {shlex.join(argv)})",
        progress=callback,
        extras={
            "seeds": {"simulated election": seed, "observer campaign": seed + 1},
            "synthetic": True,
        },
        options=opts,
    )
