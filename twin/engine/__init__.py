"""The discrete-event engine (MODEL §5)."""

from twin.engine.simulation import Simulation, run_scene

__all__ = ["Simulation", "run_scene"]
