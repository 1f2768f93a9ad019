"""``import electwatch``: the small public API of docs/api.md."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import electwatch

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_import_loads_no_subpackage():
    code = (
        "import sys, electwatch; "
        "print(sorted(m for m in sys.modules if m.startswith('electwatch.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_public_name_is_the_subpackage_object():
    from electwatch import claims, data, errors, forensics, reports, simulate, turnout

    homes = [data, forensics, turnout, claims, reports, simulate, errors]
    for name in electwatch.__all__:
        if name == "__version__":
            continue
        value = getattr(electwatch, name)
        assert any(getattr(home, name, None) is value for home in homes), name
    assert set(electwatch.__all__) <= set(dir(electwatch))
    assert set(electwatch.__all__) == {"__version__", *electwatch._EXPORTS}


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'load_result'"):
        _ = electwatch.load_result  # type: ignore[attr-defined]  # the misspelling is the point


def test_docs_use_only_public_names():
    used = set(re.findall(r"\belectwatch\.([A-Za-z_]+)\(", DOCS.read_text(encoding="utf-8")))
    used |= set(re.findall(r"except electwatch\.([A-Za-z_]+)", DOCS.read_text(encoding="utf-8")))
    assert used, "docs/api.md shows no electwatch.<name>(...) call"
    assert used <= set(electwatch.__all__), used - set(electwatch.__all__)


def test_the_documented_pipeline_runs_on_a_small_synthetic_election(tmp_path):
    """SYNTHETIC: the calls of docs/api.md, on 1,500 stations and 150 observed."""
    from electwatch.simulate import ElectionParameters, FraudParameters

    results, _ = electwatch.simulate_election(
        ElectionParameters(n_stations=1500, n_regions=6), FraudParameters(), seed=3
    )
    observations_frame, truth = electwatch.simulate_observer_campaign(
        results, 150, design="stratified", seed=4
    )
    path = tmp_path / "observations.json"
    observations_frame.write_json(path)
    observations = electwatch.load_observations(path)
    frame = electwatch.frame_from_results(results, strata=["region"])
    analysis = electwatch.estimate_turnout(
        observations, frame, strata=["region"], n_resamples=200, seed=0
    )
    est = analysis.estimates["stratified"]
    assert est.quantity == "turnout" and est.n == 150
    # an unbiased estimator with full observation: its 95% CI covers the truth
    # (fixed seeds, so this is one reproducible draw, not a coverage claim)
    assert est.ci_low <= truth.true_turnout <= est.ci_high
    with pytest.raises(electwatch.ElectwatchError):
        electwatch.load_results(tmp_path / "missing.csv", "russia-cec")
