"""Fixed-antenna transmitters (MODEL §2.6): a fully digital ULA (paper 000 MIMO), a
partially connected hybrid array (paper 000 mMIMO, paper 002 hMIMO) and a ULA split into
switched sub-arrays (paper 001 baseline 1). No element moves.

All are half-wavelength ULAs (unless the scene gives a spacing) of ``N·M`` elements along
``axis`` centred at ``centre``, split into N contiguous sub-arrays of M elements, one per
RF chain: element m of RF chain n sits at ``centre + s_{n,m}·axis`` with fixed offsets s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.hardware.base import Transmitter
from twin.hardware.state import HardwareState
from twin.physics.channel import analog_weights, power_split_factor  # noqa: F401 - analog_weights re-exported


@dataclass(frozen=True, eq=False)
class FixedArray(Transmitter):
    """Elements at fixed offsets ``offsets`` (N,M) along ``axis`` from ``centre``.

    kind: "ula" (N RF chains × 1 element), "hybrid" (N × M behind phase shifters: the
    element weights are the in-force analog weights, ``e^{jφ}/√M``), or "subarray-ula"
    (one RF chain, the M elements grouped in switched sub-arrays = clusters; the active
    sub-array shares the power equally, MODEL §2.6).
    """

    centre: np.ndarray
    axis: np.ndarray
    offsets: np.ndarray
    cluster: np.ndarray
    fc: float
    floor: object | None = None
    kind: str = "ula"

    movable = False

    @property
    def steerable(self) -> bool:
        return self.kind == "hybrid"

    @property
    def installed(self) -> np.ndarray:
        return np.ones(self.offsets.shape, bool)

    @property
    def feed(self) -> np.ndarray:
        return np.broadcast_to(self.centre, (self.offsets.shape[0], 3)).copy()

    @property
    def direction(self) -> np.ndarray:
        return np.broadcast_to(self.axis, (self.offsets.shape[0], 3)).copy()

    @property
    def length(self) -> np.ndarray:
        return np.ptp(self.offsets, axis=1)

    @property
    def spacing(self) -> np.ndarray:
        return np.full(self.offsets.shape[0], self.element_spacing)

    @property
    def element_spacing(self) -> float:
        flat = np.sort(self.offsets.ravel())
        return float(np.min(np.diff(flat))) if flat.size > 1 else 0.0

    @property
    def speed(self) -> np.ndarray:
        return np.zeros(self.offsets.shape[0])

    @property
    def cluster_bounds(self) -> tuple:
        out = []
        for n in range(self.offsets.shape[0]):
            ids = sorted(set(self.cluster[n][self.cluster[n] >= 0].tolist()))
            out.append(tuple((float(self.offsets[n][self.cluster[n] == c].min()),
                              float(self.offsets[n][self.cluster[n] == c].max())) for c in ids))
        return tuple(out)

    def positions(self, s=None) -> np.ndarray:
        """Element positions (N,M,3) (fixed: ``s`` is ignored)."""
        return self.centre[None, None, :] + self.offsets[..., None] * self.axis[None, None, :]

    def uniform_positions(self) -> np.ndarray:
        return self.offsets.copy()

    def weights(self, state: HardwareState) -> np.ndarray:
        """Analog weights where given (hybrid), else the equal split over the active
        elements of each RF chain (1 for a single-element chain)."""
        act = self._active(state)
        w = state.analog if state.analog is not None else power_split_factor(act) * np.ones(act.shape)
        return np.where(act, w, 0.0)

    def initial_analog(self) -> np.ndarray | None:
        if self.kind != "hybrid":
            return None
        return np.full(self.offsets.shape, 1.0 / np.sqrt(self.offsets.shape[1]), complex)

    def initial_state(self) -> HardwareState:
        act = self.installed
        if self.kind == "subarray-ula":          # one sub-array radiates at a time
            act = self.cluster == 0
        return HardwareState(self.offsets.copy(), act, self.initial_analog())

    def describe(self) -> dict:
        d = super().describe()
        d.update(centre=self.centre.tolist(), axis=self.axis.tolist(),
                 element_spacing_m=self.element_spacing)
        return d


def ula_offsets(n_rf: int, per_rf: int, spacing: float) -> np.ndarray:
    """(n_rf, per_rf) offsets of a ULA of ``n_rf·per_rf`` elements centred on 0, split into
    contiguous sub-arrays (one per RF chain)."""
    total = n_rf * per_rf
    return ((np.arange(total) - (total - 1) / 2.0) * spacing).reshape(n_rf, per_rf)


