"""The feasible set of PA coordinates (MODEL §1): bounds, order and minimum spacing δ
inside each group (a guide, or a cluster segment), and the one routine each for the
interval a single PA may move in, projecting onto the set, and snapping to a point set
(a lattice or preinstalled positions).

Arrays only: build it from any deployment-like object with :meth:`LegalSet.of`
(``bounds()``, ``spacing``, ``installed``, ``cluster``), or directly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LegalSet:
    """lo, hi (N,M) per-slot limits (the guide or the PA's cluster segment); spacing (N,)
    minimum distance δ between neighbours of one group; installed (N,M) bool; group (N,M)
    int: PAs with the same group index on a guide keep order and spacing among themselves
    (−1 everywhere: the whole guide is one group)."""

    lo: np.ndarray
    hi: np.ndarray
    spacing: np.ndarray
    installed: np.ndarray
    group: np.ndarray

    @classmethod
    def of(cls, deployment) -> "LegalSet":
        """From a deployment (duck-typed: ``bounds()``, ``spacing``, ``installed``,
        ``cluster``; e.g. ``twin.hardware.PassDeployment``)."""
        lo, hi = deployment.bounds()
        return cls(np.asarray(lo, float), np.asarray(hi, float),
                   np.asarray(deployment.spacing, float), np.asarray(deployment.installed, bool),
                   np.asarray(deployment.cluster, int))

    @classmethod
    def segment(cls, lo: float, hi: float, npas: int, spacing: float) -> "LegalSet":
        """``npas`` PAs on one segment [lo, hi] of one guide (shape (1, npas))."""
        shape = (1, int(npas))
        return cls(np.full(shape, float(lo)), np.full(shape, float(hi)), np.array([float(spacing)]),
                   np.ones(shape, bool), np.zeros(shape, int))

    @property
    def n_guides(self) -> int:
        return self.installed.shape[0]

    def members(self, n: int, m: int) -> np.ndarray:
        """Indices of the installed PAs of guide n in PA m's group, in order."""
        idx = np.flatnonzero(self.installed[n])
        return idx[self.group[n, idx] == self.group[n, m]]

    def order(self) -> list[tuple[int, int]]:
        """The coordinate order of a sweep: guide by guide, PA by PA (paper 000 Algorithm
        2, paper 002 Algorithm 1)."""
        return [(n, int(m)) for n in range(self.n_guides) for m in np.flatnonzero(self.installed[n])]

    def interval(self, s, n: int, m: int) -> tuple[float, float]:
        """[lo, hi] that PA (n, m) may take with every other PA fixed: its bounds, and δ
        from its neighbours in the group (MODEL §1). Empty (hi < lo) when it is pinned."""
        same = self.members(n, m)
        k = int(np.searchsorted(same, m))
        d = self.spacing[n]
        lo = self.lo[n, m] if k == 0 else max(self.lo[n, m], s[n, same[k - 1]] + d)
        hi = self.hi[n, m] if k == len(same) - 1 else min(self.hi[n, m], s[n, same[k + 1]] - d)
        return lo, hi

    def _groups(self, n):
        ids = np.unique(self.group[n][self.installed[n]])
        return [np.flatnonzero(self.installed[n] & (self.group[n] == g)) for g in ids]

    def legalize(self, s) -> np.ndarray:
        """Project coordinates onto the set: sorted per group, inside the bounds, adjacent
        PAs ≥ δ apart (MODEL §1). Forward then backward pass; exact when the segment can
        hold the PAs. Non-installed slots are 0."""
        s = np.array(s, float)
        lo, hi = self.lo, self.hi
        for n in range(self.n_guides):
            d = self.spacing[n]
            for idx in self._groups(n):
                v = np.sort(np.clip(s[n, idx], lo[n, idx], hi[n, idx]))
                a, b = lo[n, idx[0]], hi[n, idx[0]]
                for i in range(1, v.size):
                    v[i] = max(v[i], v[i - 1] + d)
                v[-1] = min(v[-1], b)
                for i in range(v.size - 2, -1, -1):
                    v[i] = min(v[i], v[i + 1] - d)
                v[0] = max(v[0], a)
                s[n, idx] = v
        return np.where(self.installed, s, 0.0)

    def snap(self, s, points) -> np.ndarray:
        """Move every guide's PAs to a sorted point set, keeping their order and the
        spacing δ: each to its nearest point, then a forward pass (each at least δ past the
        previous) and a backward pass (each at least δ before the next, the last on the
        set). ``points``: (P,) shared by every guide, or a sequence of one (P_n,) array per
        guide. Used for the Discrete-PASS-Z lattice (paper 000 §IV-B) and preinstalled
        positions (paper 002 discrete mode). Raises ValueError if a guide cannot hold its
        PAs on the set at that spacing."""
        s = np.array(s, float)
        for n in range(self.n_guides):
            shared = isinstance(points, np.ndarray) and points.ndim == 1
            pts = np.asarray(points if shared else points[n], float)
            idx = np.flatnonzero(self.installed[n])
            if idx.size == 0:
                continue
            P, d = len(pts), self.spacing[n]
            x = np.sort(s[n, idx])
            k = np.argmin(np.abs(pts[None, :] - x[:, None]), axis=1)       # nearest (first on ties)
            for i in range(1, len(k)):
                nxt = P if k[i - 1] >= P else int(np.searchsorted(pts, pts[k[i - 1]] + d - 1e-12))
                k[i] = max(k[i], nxt)
            k[-1] = min(k[-1], P - 1)
            for i in range(len(k) - 2, -1, -1):
                prv = int(np.searchsorted(pts, pts[k[i + 1]] - d + 1e-12, side="right")) - 1
                k[i] = min(k[i], prv)
            if k[0] < 0:
                raise ValueError(f"guide {n}: {idx.size} PAs do not fit on {P} points at spacing {d:g} m")
            s[n, idx] = pts[k]
        return s


def lattice(length: float, z: int) -> np.ndarray:
    """The Z+1 points ``{0, L/Z, …, L}`` of a guide of length L (Discrete-PASS-Z)."""
    return np.arange(int(z) + 1) * (float(length) / int(z))
