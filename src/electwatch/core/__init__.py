"""Pieces several packages share: the number and name normalizer, the applicability
protocol of statistics, and (in :mod:`electwatch.i18n`) the translation catalogues.

Nothing here imports another electwatch package, so every layer may use it.
"""
