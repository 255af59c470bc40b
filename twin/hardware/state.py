"""The in-force state of a transmitter (MODEL §1, §2.6, §5): what radiates, and where."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HardwareState:
    """State of a transmitter at one instant.

    s (N,M): along-axis element coordinates in metres (PASS: along-guide PA positions,
    which slide; fixed arrays: the elements' fixed offsets along the array axis);
    active (N,M) bool: elements radiating now (PASS clusters / paper 001 sub-arrays
    switch per slot); analog (N,M) complex or None: analog phase-shifter weights of a
    hybrid array (None: none, the equal power split applies).
    """

    s: np.ndarray
    active: np.ndarray
    analog: np.ndarray | None = None

    def with_(self, **changes) -> "HardwareState":
        """A copy with some fields replaced."""
        d = {"s": self.s, "active": self.active, "analog": self.analog}
        d.update(changes)
        return HardwareState(**d)
