"""CLI commands for experiments (compare, sweep): registered into the main parser."""

from __future__ import annotations


def add_experiment_commands(sub) -> None:
    """Hook for `pass-twin compare` / `pass-twin sweep` (twin.experiments)."""
    try:
        from twin.experiments.compare import add_commands
    except ImportError:
        return
    add_commands(sub)
