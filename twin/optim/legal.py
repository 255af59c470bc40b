"""The feasible set of PA coordinates (MODEL §1): bounds, order and minimum spacing δ
inside each group (a guide, or a cluster segment), and the one routine each for the
interval a single PA may move in, projecting onto the set, and snapping to a point set
(a lattice or preinstalled positions).

Arrays only: build it from any deployment-like object with :meth:`LegalSet.of`
(``bounds()``, ``spacing``, ``installed``, ``cluster``), or directly."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace
from functools import cached_property

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

    @cached_property
    def _neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        """(prev, next) (N,M): the slot of each installed PA's neighbour in its group
        (−1: none); built once per set, so :meth:`interval` is a table look-up."""
        prev = np.full(self.installed.shape, -1)
        nxt = np.full(self.installed.shape, -1)
        for n in range(self.n_guides):
            for idx in self._groups(n):
                prev[n, idx[1:]] = idx[:-1]
                nxt[n, idx[:-1]] = idx[1:]
        return prev, nxt

    def interval(self, s, n: int, m: int) -> tuple[float, float]:
        """[lo, hi] that PA (n, m) may take with every other PA fixed: its bounds, and δ
        from its neighbours in the group (MODEL §1). Empty (hi < lo) when it is pinned."""
        if not self.installed[n, m]:
            same = self.members(n, m)
            k = int(np.searchsorted(same, m))
            p = same[k - 1] if k > 0 else -1
            q = same[k + 1] if k < len(same) - 1 else -1
        else:
            prev, nxt = self._neighbours
            p, q = prev[n, m], nxt[n, m]
        d = self.spacing[n]
        lo = self.lo[n, m] if p < 0 else max(self.lo[n, m], s[n, p] + d)
        hi = self.hi[n, m] if q < 0 else min(self.hi[n, m], s[n, q] - d)
        return lo, hi

    def bounds_of(self, s, n: int, m: int) -> tuple[float, float]:
        """[lo, hi] of PA (n, m) without its neighbours, for the relaxed candidate set of
        paper 002 (any point at least δ from the others: :meth:`clear_of`). Same
        signature as :meth:`interval`, so either can drive the 1-D search."""
        return self.lo[n, m], self.hi[n, m]

    def clear_of(self, s, n: int, m: int, x, tol: float = 1e-12) -> np.ndarray:
        """Mask (Q,): the coordinates x (Q,) at least δ (less ``tol``) from every other
        installed PA of PA (n, m)'s group — paper 002's relaxed candidate set (eq. 27)."""
        others = self._others(n, m)
        x = np.asarray(x, float)
        if others.size == 0:
            return np.ones(x.shape, bool)
        gap = np.min(np.abs(x[:, None] - np.asarray(s, float)[n, others][None]), axis=1)
        return gap >= self.spacing[n] - tol

    def clear_of_sorted(self, s, n: int, m: int, x, tol: float = 1e-12) -> np.ndarray:
        """:meth:`clear_of` for sorted coordinates x (Q,) — the same mask, bit for bit —
        testing only the points within 2δ of another PA: |x − s_k| is monotone on either
        side of s_k (rounding is monotone), so every point farther than 2δ passes that PA's
        test, and the few near ones get the very comparison :meth:`clear_of` makes."""
        others = self._others(n, m)
        x = np.asarray(x, float)
        keep = np.ones(x.shape, bool)
        d = float(self.spacing[n])
        row = np.asarray(s, float)[n]
        for k in others:
            a, b = np.searchsorted(x, [row[k] - 2.0 * d, row[k] + 2.0 * d])
            if b > a:
                keep[a:b] &= np.abs(x[a:b] - row[k]) >= self.spacing[n] - tol
        return keep

    def near_sorted(self, n: int, at: float, x, tol: float = 1e-12) -> list[int]:
        """The positions of the sorted sequence x (a list of floats is fastest) that a PA of
        guide n at coordinate ``at`` excludes from its group's relaxed candidate sets:
        closer than δ less ``tol`` — :meth:`clear_of_sorted`'s comparison (the same near
        points by a left bisection at ±2δ, the same float64 test) for one PA, over the whole
        sequence, without a (Q,) mask: there are a handful at most."""
        d = float(self.spacing[n])
        thr = float(self.spacing[n] - tol)
        at = float(at)
        return [j for j in range(bisect_left(x, at - 2.0 * d), bisect_left(x, at + 2.0 * d))
                if not abs(x[j] - at) >= thr]

    def others(self, n: int, m: int) -> list[int]:
        """The other installed PAs of PA (n, m)'s group, in order (cached per set)."""
        cache = self.__dict__.setdefault("_others_list_cache", {})
        if (n, m) not in cache:
            cache[n, m] = self._others(n, m).tolist()
        return cache[n, m]

    def _others(self, n: int, m: int) -> np.ndarray:
        """The other installed PAs of PA (n, m)'s group (cached per set)."""
        cache = self.__dict__.setdefault("_others_cache", {})
        if (n, m) not in cache:
            same = self.members(n, m)
            cache[n, m] = same[same != m]
        return cache[n, m]

    def relabel(self, s) -> np.ndarray:
        """The same PA set in order: coordinates sorted within each group. PAs of a group
        are interchangeable (equal power split, each term its own link, MODEL §2.3), so a
        configuration whose PAs are pairwise ≥ δ apart but out of order (paper 002's
        relaxed search) is this legal one; sorting moves no coordinate by more than the
        largest per-PA displacement from an ordered start (sorting is non-expansive in the
        max norm), so a target within one frame's reach of each PA stays within it."""
        s = np.array(s, float)
        for n in range(self.n_guides):
            for idx in self._groups(n):
                s[n, idx] = np.sort(s[n, idx])
        return s

    def within(self, centre, reach) -> "LegalSet":
        """This set with every PA also confined to ``[c − r_n, c + r_n]`` around its
        coordinate c in ``centre`` (N,M) (legal), r_n = ``reach`` (N,) or scalar (inf: no
        limit): the coordinates one frame of travel can reach (MODEL §5). Per-slot bounds;
        :meth:`interval` and :meth:`clear_of` use them, :meth:`legalize` does not (it
        assumes one segment per group). Clipping a legal configuration into these windows
        keeps it legal (clip is monotone)."""
        c = np.asarray(centre, float)
        r = np.broadcast_to(np.asarray(reach, float).reshape(-1, 1) if np.ndim(reach) else float(reach),
                            c.shape)
        lo = np.where(np.isfinite(r), np.maximum(self.lo, c - r), self.lo)
        hi = np.where(np.isfinite(r), np.minimum(self.hi, c + r), self.hi)
        return replace(self, lo=lo, hi=hi)

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
