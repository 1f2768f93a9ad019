"""electwatch: an open election-integrity toolkit.

Subpackages, one per capability:

- :mod:`electwatch.data` — election data model, column mappings, loaders, validation
- :mod:`electwatch.simulate` — synthetic elections (Klimek et al. 2012 fraud model)
  and observer campaigns, the ground truth for tests
- :mod:`electwatch.forensics` — statistical tests on official results
- :mod:`electwatch.turnout` — turnout estimation from observed polling stations
- :mod:`electwatch.claims` — the claims ledger
- :mod:`electwatch.storage` — database layer of the observation intake service
- :mod:`electwatch.web` — the intake web service and API
- :mod:`electwatch.reports` — self-contained HTML reports
- :mod:`electwatch.cli` — the ``electwatch`` command
"""

__version__ = "0.1.0"
