"""electwatch: an open election-integrity toolkit.

The public API (docs/api.md shows it at work)::

    import electwatch

    results = electwatch.load_results("russia-president-2012.csv.zip")  # + mapping
    report = electwatch.run_battery(results, level="region")             # forensics
    frame = electwatch.frame_from_results(results)
    observations = electwatch.load_observations("observations.csv")
    analysis = electwatch.estimate_turnout(observations, frame)          # turnout
    ledger = electwatch.check_ledger(electwatch.load_claims("claims.toml"))
    output = electwatch.report_from_files("report/", results_path=...)   # HTML report

Loading, in :mod:`electwatch.data`: :func:`load_results`, :func:`builtin_mappings`,
:class:`ElectionResults`. Forensics on official results, in
:mod:`electwatch.forensics`: :func:`run_battery`, :class:`ForensicsReport`. Turnout and
quick counts from observers, in :mod:`electwatch.turnout`: :func:`load_observations`,
:func:`frame_from_results`, :func:`estimate_turnout`, :func:`reconcile`. Claims, in
:mod:`electwatch.claims`: :func:`load_claims`, :func:`check_ledger`. Reports, in
:mod:`electwatch.reports`: :func:`build_report`, :func:`report_from_files`,
:func:`demo_report`. SYNTHETIC data, in :mod:`electwatch.simulate`:
:func:`simulate_election`, :func:`simulate_observer_campaign`. Errors a user can cause:
:class:`ElectwatchError`, :class:`DataValidationError`.

The names are loaded on first use (PEP 562 ``__getattr__``), so ``import electwatch``
stays cheap and the package's ``__init__`` imports nothing at run time; the
subpackages' own ``__all__`` hold everything else:

- :mod:`electwatch.core` — the number/name normalizer and the applicability protocol
- :mod:`electwatch.data` — election data model, column mappings, loaders, validation
- :mod:`electwatch.simulate` — synthetic elections (Klimek et al. 2012 fraud model)
  and observer campaigns, the ground truth for tests
- :mod:`electwatch.forensics` — statistical tests on official results
- :mod:`electwatch.turnout` — turnout estimation from observed polling stations
- :mod:`electwatch.claims` — the claims ledger
- :mod:`electwatch.storage` — database layer of the observation intake service
- :mod:`electwatch.web` — the intake web service and API
- :mod:`electwatch.reports` — self-contained HTML reports, all figures
- :mod:`electwatch.cli` — the ``electwatch`` command
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "ElectionResults": "electwatch.data",
    "builtin_mappings": "electwatch.data",
    "load_results": "electwatch.data",
    "ForensicsReport": "electwatch.forensics",
    "run_battery": "electwatch.forensics",
    "estimate_turnout": "electwatch.turnout",
    "frame_from_results": "electwatch.turnout",
    "load_observations": "electwatch.turnout",
    "reconcile": "electwatch.turnout",
    "check_ledger": "electwatch.claims",
    "load_claims": "electwatch.claims",
    "build_report": "electwatch.reports",
    "demo_report": "electwatch.reports",
    "report_from_files": "electwatch.reports",
    "simulate_election": "electwatch.simulate",
    "simulate_observer_campaign": "electwatch.simulate",
    "DataValidationError": "electwatch.errors",
    "ElectwatchError": "electwatch.errors",
}

# a literal list, so that linters and type checkers see the re-exports
__all__ = [
    "DataValidationError",
    "ElectionResults",
    "ElectwatchError",
    "ForensicsReport",
    "__version__",
    "build_report",
    "builtin_mappings",
    "check_ledger",
    "demo_report",
    "estimate_turnout",
    "frame_from_results",
    "load_claims",
    "load_observations",
    "load_results",
    "reconcile",
    "report_from_files",
    "run_battery",
    "simulate_election",
    "simulate_observer_campaign",
]

if TYPE_CHECKING:  # for type checkers and IDEs only; at run time __getattr__ loads them
    from electwatch.claims import check_ledger, load_claims
    from electwatch.data import ElectionResults, builtin_mappings, load_results
    from electwatch.errors import DataValidationError, ElectwatchError
    from electwatch.forensics import ForensicsReport, run_battery
    from electwatch.reports import build_report, demo_report, report_from_files
    from electwatch.simulate import simulate_election, simulate_observer_campaign
    from electwatch.turnout import (
        estimate_turnout,
        frame_from_results,
        load_observations,
        reconcile,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'electwatch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
