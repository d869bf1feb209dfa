"""Simulated nodes (no containers) for scale tests and controller work, as kwok does."""

from kubeherd.sim.nodes import EXIT_CODE, RUN_SECONDS, NodeTemplate, SimulatedNodes

__all__ = ["EXIT_CODE", "RUN_SECONDS", "NodeTemplate", "SimulatedNodes"]
