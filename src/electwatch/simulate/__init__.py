"""Seeded synthetic elections and observer campaigns: the project's ground truth."""

from electwatch.simulate.election import (
    ElectionParameters,
    FraudParameters,
    SimulationTruth,
    simulate_election,
    write_results,
)
from electwatch.simulate.observers import CampaignTruth, simulate_observer_campaign

__all__ = [
    "CampaignTruth",
    "ElectionParameters",
    "FraudParameters",
    "SimulationTruth",
    "simulate_election",
    "simulate_observer_campaign",
    "write_results",
]
