"""The PASS geometry seen by the optimisers (MODEL §2.2-§2.5): a deployment (duck-typed:
``feed``, ``direction``, ``length``, ``n_eff``, ``attenuation``, ``spacing``,
``installed``, ``cluster``, ``cluster_bounds``, ``fc``, ``bounds()``, ``positions()``,
``channel_terms()``, ``uniform_positions()``; e.g. ``twin.hardware.PassDeployment``) and an
optional floor plan for blockage (``seg_a``, ``blockage_amplitude``). Channel terms of
one PA over a batch of candidate coordinates are built here once for every search."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.optim.legal import LegalSet
from twin.physics.channel import free_space_gain, guide_response, pa_channel_terms, power_split_factor
from twin.physics.sensing import target_channel_and_gradient


@dataclass(frozen=True)
class PassLayout:
    """Deployment and optional floor plan (blockage, MODEL §2.5): per-PA user channels,
    the target channel and its gradient, and the same for one PA moved over a batch of
    candidate positions."""

    deployment: object
    floor: object = None

    @property
    def fc(self) -> float:
        return float(self.deployment.fc)

    @property
    def legal(self) -> LegalSet:
        """The feasible set of the PA coordinates (MODEL §1)."""
        return LegalSet.of(self.deployment)

    def without_blockage(self) -> "PassLayout":
        return PassLayout(self.deployment, None)

    def _blockage(self, pos, points):
        fp = self.floor
        if fp is None or not fp.seg_a.shape[0]:
            return None
        return fp.blockage_amplitude(pos, points)

    def terms(self, s, users) -> np.ndarray:
        """Per-PA user channel contributions (N,M,K) (MODEL §2.3)."""
        dep = self.deployment
        return dep.channel_terms(s, users, dep.installed, self.floor)

    def target(self, s, q):
        """Target channel h_t (N,) and gradient (2,N) (MODEL §3.3, A.11-A.12)."""
        dep = self.deployment
        pos = dep.positions(np.where(dep.installed, s, 0.0))
        blk = self._blockage(pos, np.asarray(q)[None, None, :])
        return target_channel_and_gradient(dep.feed, dep.direction, s, q, dep.fc, n_eff=dep.n_eff,
                                           attenuation_db_per_m=dep.attenuation,
                                           active=dep.installed, blockage=blk)

    def guide_terms(self, n: int, x, points, rho: float | None = None) -> np.ndarray:
        """Terms (Q,P) of one PA of guide n at each along-guide coordinate x (Q,) to points
        (P,3): ``ρ f(x) g(p(x), q) b`` (MODEL §2.2-§2.3, §2.5). ρ: the power split (default
        that of guide n's installed PAs, ``1/√M_n``)."""
        dep = self.deployment
        x = np.asarray(x, float)
        points = np.atleast_2d(points)
        if rho is None:
            rho = power_split_factor(dep.installed)[n, 0]
        pos = dep.feed[n][None] + x[:, None] * dep.direction[n][None]            # (Q,3)
        f = guide_response(x[None], dep.fc, dep.n_eff[n], dep.attenuation[n])[0] * rho
        t = f[:, None] * free_space_gain(pos[:, None, :], points[None, :, :], dep.fc)
        blk = self._blockage(pos[:, None, :], points[None, :, :])
        return t if blk is None else t * blk

    def _moved_blockage(self, pos, m, points):
        """Blockage (Q,M,P) of the links from PA positions ``pos`` (Q,M,3) — Q copies of
        one guide that differ only in PA m — to ``points`` (P,3). Each link's loss is its
        own (MODEL §2.5), so the PAs that stay are evaluated once and only PA m per copy:
        the same numbers as the full (Q,M,P) evaluation for 1/M of the links."""
        fp = self.floor
        if fp is None or not fp.seg_a.shape[0]:
            return None
        stay = fp.blockage_amplitude(pos[0][:, None, :], points[None, :, :])        # (M,P)
        out = np.repeat(stay[None], pos.shape[0], axis=0)
        out[:, m] = fp.blockage_amplitude(pos[:, m][:, None, :], points[None, :, :])  # (Q,P)
        return out

    def candidates(self, s, n, m, cand, users, q):
        """Guide n with PA m at each of Q candidate coordinates: per-PA user terms (Q,M,K),
        target channel entry (Q,) and its gradient (2,Q) — the same functions as
        :meth:`terms` / :meth:`target`, applied to Q copies of the guide."""
        dep = self.deployment
        Qn = len(cand)
        S = np.repeat(np.asarray(s, float)[n:n + 1], Qn, axis=0)
        S[:, m] = cand
        act = np.repeat(dep.installed[n:n + 1], Qn, axis=0)
        feed = np.repeat(dep.feed[n:n + 1], Qn, axis=0)
        u = np.repeat(dep.direction[n:n + 1], Qn, axis=0)
        pos = feed[:, None, :] + np.where(act, S, 0.0)[..., None] * u[:, None, :]
        users = np.atleast_2d(users)
        blk_u = self._moved_blockage(pos, m, users)
        T = pa_channel_terms(feed, u, S, users, dep.fc, n_eff=dep.n_eff[n],
                             attenuation_db_per_m=dep.attenuation[n], active=act, blockage=blk_u)
        blk_t = self._moved_blockage(pos, m, np.asarray(q)[None, :])
        blk_t = None if blk_t is None else blk_t[..., 0]
        h, dh = target_channel_and_gradient(feed, u, S, q, dep.fc, n_eff=dep.n_eff[n],
                                            attenuation_db_per_m=dep.attenuation[n],
                                            active=act, blockage=blk_t)
        return T, h, dh
