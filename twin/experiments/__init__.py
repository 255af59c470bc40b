"""Experiments: figure reproductions, policy comparison, sweeps."""
