"""The applicability protocol shared by every statistic (electwatch.core.applicability)."""

from __future__ import annotations

import warnings

import pytest

from electwatch.core.applicability import (
    MinimumSample,
    NotApplicable,
    Requirement,
    SmallSampleWarning,
    Statistic,
    too_small,
)


class MeanOfCounts(Statistic[dict, float]):
    name = "mean_of_counts"
    requires = (Requirement("register", "a register per station", lambda d: "register" in d),)
    minimum = MinimumSample(3, "three counts at least", "a made-up rule for the test")

    def sample_size(self, data):
        return len(data["counts"])

    def compute(self, data):
        return sum(data["counts"]) / len(data["counts"])


def test_runs_when_it_applies():
    assert MeanOfCounts().run({"register": 1, "counts": [1, 2, 3]}) == 2


def test_missing_input_is_named():
    answer = MeanOfCounts().run({"counts": [1, 2, 3]})
    assert isinstance(answer, NotApplicable)
    assert answer.missing == "register"
    assert "register per station" in answer.reason
    assert answer.to_dict()["applicable"] is False


def test_too_small_never_computes():
    class Exploding(MeanOfCounts):
        def compute(self, data):
            raise AssertionError("computed below the minimum")

    answer = Exploding().run({"register": 1, "counts": [1]}, area="Yazd", level="province")
    assert isinstance(answer, NotApplicable)
    assert answer.missing == "minimum_n" and answer.n == 1 and answer.area == "Yazd"
    assert "below the minimum of 3" in str(answer) and "made-up rule" in str(answer)


def test_too_small_warns_when_asked():
    with pytest.warns(SmallSampleWarning):
        too_small("x", 1, MinimumSample(2, "two"), warn=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert too_small("x", 2, MinimumSample(2, "two"), warn=True) is None


def test_describe_lists_requirements_and_minimum():
    described = MeanOfCounts.describe()
    assert described["requires"] == [{"name": "register", "needs": "a register per station"}]
    assert described["minimum"]["n"] == 3
