"""Fixed-array ISAC baselines of paper 000 §IV-B (MODEL §2.6, §4.4): MIMO (N-antenna fully
digital half-wavelength ULA at the BS) and mMIMO (N RF chains × M antennas, partially
connected hybrid: each RF chain drives its own M-element sub-array through phase
shifters), both followed by the CRB SDR (:mod:`twin.optim.sdr`).

Geometry (paper 000 §IV-A puts the BS at the origin and does not say more): the transmit
ULA is centred at the receive ULA's (x, y), at the waveguides' height, along the receive
array's axis (+y, broadside +x towards the service area).

Analog phases (MODEL §2.6 "the baseline's own rule"): sub-array n is conjugate-matched
to an aim point, ``w_{n,m} = g(p_{n,m}, a_n)^* / (|g| √M)``; rules: ``"target"`` (every
sub-array on the target), ``"users"`` (sub-arrays cycle over [target, user 1, …, user K]),
``"sum"`` (phase of ``Σ_j g(p, a_j)/|g|`` over the target and all users); ``"best"`` solves
the SDR for each rule and keeps the lowest CRB.

The target-channel gradient of a fixed array is taken by central differences (step
1e-5 m) of :func:`twin.physics.channel.array_channel`, exactly as the twin's evaluator does
for a policy with ``fixed_array = True``, so optimiser and trace report the same CRB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.physics.channel import analog_weights, array_channel
from twin.units import wavelength

RULES = ("target", "users", "sum")
FD_STEP_M = 1e-5


@dataclass(frozen=True)
class ArraySite:
    """Where a BS-side array goes (MODEL §2.6): centre (3,), unit axis (3,) of the ULA,
    carrier fc (Hz), and the default size: n_rf RF chains × per_rf elements each (the PASS
    it is compared with: N guides × M PAs)."""

    centre: np.ndarray
    axis: np.ndarray
    fc: float
    n_rf: int
    per_rf: int


@dataclass(frozen=True)
class FixedArray:
    """Antennas behind N RF chains: positions (N,M,3), analog weights (N,M) (MODEL §2.6)."""

    positions: np.ndarray
    weights: np.ndarray
    fc: float

    def channel(self, points) -> np.ndarray:
        """(N,K) effective channel ``[h_k]_n = Σ_m w_{n,m} g(p_{n,m}, q_k)`` (MODEL §2.6)."""
        return array_channel(self.positions, np.atleast_2d(points), self.fc, self.weights)

    def target(self, q):
        """h_t (N,) and ∂h_t/∂(x_t, y_t) (2,N) (central differences, as the evaluator)."""
        q = np.asarray(q, float)
        h = self.channel(q[None])[:, 0]
        dh = np.stack([(self.channel((q + FD_STEP_M * e)[None])[:, 0]
                        - self.channel((q - FD_STEP_M * e)[None])[:, 0]) / (2 * FD_STEP_M)
                       for e in (np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))])
        return h, dh


def bs_array_positions(site: ArraySite, n_rf: int, per_rf: int = 1) -> np.ndarray:
    """(n_rf, per_rf, 3) element positions of a λ/2 ULA of ``n_rf·per_rf`` elements at the
    site, split into contiguous sub-arrays (one per RF chain)."""
    axis = np.asarray(site.axis, float)
    axis = axis / np.linalg.norm(axis)
    centre = np.asarray(site.centre, float)
    total = n_rf * per_rf
    offs = (np.arange(total) - (total - 1) / 2.0) * wavelength(site.fc) / 2.0
    return (centre[None, :] + offs[:, None] * axis[None, :]).reshape(n_rf, per_rf, 3)


def mimo_array(site: ArraySite, n_rf: int | None = None) -> FixedArray:
    """MIMO baseline: N-antenna fully digital λ/2 ULA at the BS (paper 000 §IV-B 1)."""
    N = site.n_rf if n_rf is None else int(n_rf)
    pos = bs_array_positions(site, N, 1)
    return FixedArray(pos, np.ones((N, 1), complex), site.fc)


def mmimo_array(site: ArraySite, users, target, rule: str = "target", n_rf: int | None = None,
                per_rf: int | None = None) -> FixedArray:
    """mMIMO baseline (paper 000 §IV-B 2): N RF chains × M antennas, partially connected,
    analog phases by ``rule`` (one of :data:`RULES`)."""
    N = site.n_rf if n_rf is None else int(n_rf)
    M = site.per_rf if per_rf is None else int(per_rf)
    pos = bs_array_positions(site, N, M)
    pts = [np.asarray(target, float)] + [np.asarray(u, float) for u in np.atleast_2d(users)]
    if rule == "target":
        aims = [pts[0]] * N
    elif rule == "users":
        aims = [pts[n % len(pts)] for n in range(N)]
    elif rule == "sum":
        aims = [np.array(pts)] * N
    else:
        raise ValueError(f"unknown analog rule {rule!r}; choose one of {', '.join(RULES)} or 'best'")
    return FixedArray(pos, analog_weights(pos, aims, site.fc), site.fc)


def fixed_array_sdr(array: FixedArray, sdr, users, q, setup, sinr_target, power_w, noise_w):
    """The CRB SDR (MODEL §4.3) for a fixed array."""
    H = array.channel(users)
    h, dh = array.target(q)
    return sdr.solve(H, h, dh, q, setup, sinr_target, power_w, noise_w)


def best_mmimo(site: ArraySite, sdr, users, q, setup, sinr_target, power_w, noise_w, rule: str = "best"):
    """mMIMO with the analog rule ``rule`` or, for ``"best"``, the rule of lowest CRB.
    Returns (FixedArray, SdrResult, rule)."""
    rules = RULES if rule == "best" else (rule,)
    best = None
    for r in rules:
        arr = mmimo_array(site, users, q, r)
        res = fixed_array_sdr(arr, sdr, users, q, setup, sinr_target, power_w, noise_w)
        if best is None or (res.ok and (not best[1].ok or res.objective < best[1].objective)):
            best = (arr, res, r)
    return best
