"""Results forensics: digit tests, turnout shape, fingerprints, the Klimek model,
integer-percent spikes, Shpilkin's excess votes, turnout-share regression,
blank/invalid ranks and arithmetic consistency, at every area level.

Entry point: :func:`run_battery` -> :class:`ForensicsReport`.
"""

from electwatch.forensics.areas import (
    AreaGroups,
    StationArrays,
    area_groups,
    national_groups,
    station_arrays,
)
from electwatch.forensics.battery import TESTS, ForensicsReport, pseudo_unit_mask, run_battery
from electwatch.forensics.blank_invalid import blank_invalid_tests
from electwatch.forensics.consistency import ConsistencyCheck, consistency_tests
from electwatch.forensics.digit_patterns import (
    BeberScaccoResult,
    beber_scacco,
    beber_scacco_from_summary,
)
from electwatch.forensics.digits import (
    BENFORD_2ND,
    BENFORD_2ND_MEAN,
    BENFORD_2ND_VAR,
    adjacent_digits_test,
    c05s_test,
    last_digit,
    last_digit_tests,
    p05s_test,
    pooled_last_digit_test,
    second_digit,
    second_digit_test,
)
from electwatch.forensics.eforensics import EforensicsFit, EforensicsModel, eforensics
from electwatch.forensics.fingerprint import Fingerprint, fingerprint
from electwatch.forensics.integer_percent import (
    integer_percent_tests,
    integer_probability,
    is_integer_percent,
)
from electwatch.forensics.klimek import KlimekFit, fit_klimek
from electwatch.forensics.multiple import adjust_results, bh_adjust
from electwatch.forensics.regression import turnout_share_tests
from electwatch.forensics.shpilkin import ShpilkinCurves, robust_mode, shpilkin_tests
from electwatch.forensics.statistics import BATTERY, BatteryStatistic, describe_battery
from electwatch.forensics.turnout_shape import turnout_shape_tests
from electwatch.forensics.types import TestResult

__all__ = [
    "BATTERY",
    "BENFORD_2ND",
    "BENFORD_2ND_MEAN",
    "BENFORD_2ND_VAR",
    "TESTS",
    "AreaGroups",
    "BatteryStatistic",
    "BeberScaccoResult",
    "ConsistencyCheck",
    "EforensicsFit",
    "EforensicsModel",
    "Fingerprint",
    "ForensicsReport",
    "KlimekFit",
    "ShpilkinCurves",
    "StationArrays",
    "TestResult",
    "adjacent_digits_test",
    "adjust_results",
    "area_groups",
    "beber_scacco",
    "beber_scacco_from_summary",
    "bh_adjust",
    "blank_invalid_tests",
    "c05s_test",
    "consistency_tests",
    "describe_battery",
    "eforensics",
    "fingerprint",
    "fit_klimek",
    "integer_percent_tests",
    "integer_probability",
    "is_integer_percent",
    "last_digit",
    "last_digit_tests",
    "national_groups",
    "p05s_test",
    "pooled_last_digit_test",
    "pseudo_unit_mask",
    "robust_mode",
    "run_battery",
    "second_digit",
    "second_digit_test",
    "shpilkin_tests",
    "station_arrays",
    "turnout_shape_tests",
    "turnout_share_tests",
]
