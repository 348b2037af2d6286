"""External data sources of the big-data pre-screen (seed 002, stage 1).

``base`` is the interface a real provider implements; ``runner`` calls all sources in parallel,
each under its own deadline; ``simulators`` are the shipped stand-ins (the only simulated part
of the system), deterministic per applicant; ``personas`` are the seed's applicants.
"""

from node.sources.base import (
    DataSource,
    Features,
    FeatureValue,
    SourceError,
    SourceOutcome,
    SourceRequest,
    reason_code,
)
from node.sources.runner import Stage1Result, run_sources, run_stage1
from node.sources.simulation import SimulatorSettings
from node.sources.simulators import SEED_PERSONAS_FILE, SOURCE_NAMES, default_sources

__all__ = [
    "SEED_PERSONAS_FILE",
    "SOURCE_NAMES",
    "DataSource",
    "FeatureValue",
    "Features",
    "SimulatorSettings",
    "SourceError",
    "SourceOutcome",
    "SourceRequest",
    "Stage1Result",
    "default_sources",
    "reason_code",
    "run_sources",
    "run_stage1",
]
