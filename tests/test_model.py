"""Data model: vetting statistics, area hierarchy, accessors."""

from __future__ import annotations

import numpy as np
import pytest

from electwatch.data import Candidate, CandidateStatus, Contest, Vetting
from electwatch.simulate import ElectionParameters, simulate_election


def test_vetting_from_published_counts():
    # "about 600 registered, 7 approved by the vetting body"
    v = Vetting(registered=600, approved=7)
    assert v.approval_rate == pytest.approx(7 / 600)
    assert v.to_dict()["approval_rate"] == pytest.approx(0.011667, abs=1e-6)
    contest = Contest("President", round=1, vetting=v)
    assert contest.vetting_summary().approved == 7


def test_vetting_counted_from_candidates():
    cands = [
        Candidate("A"),
        Candidate("B", CandidateStatus.DISQUALIFIED),
        Candidate("C", CandidateStatus.REGISTERED),
        Candidate("D"),
    ]
    v = Contest("President", candidates=cands).vetting_summary()
    assert (v.registered, v.approved, v.disqualified) == (4, 2, 1)
    assert v.approval_rate == 0.5


def test_vetting_rejects_impossible_counts():
    with pytest.raises(ValueError, match="cannot exceed"):
        Vetting(registered=5, approved=7)


def test_by_area_partitions_stations():
    results, _ = simulate_election(ElectionParameters(n_stations=3_000, n_regions=6), seed=3)
    parts = dict(results.by_area("region"))
    assert len(parts) == 6
    assert sum(p.n_stations for p in parts.values()) == 3_000
    assert sum(int(p.cast.sum()) for p in parts.values()) == int(results.cast.sum())
    with pytest.raises(KeyError, match="no area level"):
        next(results.by_area("province"))


def test_turnout_is_nan_without_register(tmp_path):
    results, _ = simulate_election(ElectionParameters(n_stations=10, n_regions=2), seed=1)
    t = results.turnout()
    assert np.allclose(t, results.cast / results.registered)
    assert results.national_turnout() == pytest.approx(
        results.cast.sum() / results.registered.sum()
    )
