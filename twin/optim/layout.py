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
from twin.units import guided_wavenumber, wavenumber


@dataclass(frozen=True)
class PassLayout:
    """Deployment and optional floor plan (blockage, MODEL §2.5): per-PA user channels,
    the target channel and its gradient, and the same for one PA moved over a batch of
    candidate positions."""

    deployment: object
    floor: object = None

    #: per-drop caches on (free-space line terms here, SDR results in
    #: :func:`twin.optim.crb_positioning.sdr_at`); False: every query evaluated afresh
    memoise = True

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
        if self.memoise and dep.installed[n, m]:
            return self._candidates_free(s, n, m, cand, users, q)
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

    def candidate_rows(self, s, n, m, cand, users, q, *, lines: bool = True, need_users: bool = True):
        """What the element-wise search needs of :meth:`candidates`, without its (Q,M,·)
        arrays: PA m's own user terms (Q,K), row n of the user channel ``Σ_m T`` (Q,K), the
        target channel entry (Q,) and its gradient (2,Q). From the line cache the PAs that
        stay are summed once per call (``Σ_{m'≠m}``) and PA m's candidates added to that sum,
        so the values equal :meth:`candidates`' sums to rounding (the summation order
        differs; MODEL §2.3, §3.3).

        ``lines = False``: the batch's points evaluated directly (:meth:`_point_terms`, the
        same numbers the line cache would hold) instead of looked up and added to the line
        cache — cheaper where candidates rarely come again (a tracking frame, whose users
        moved: issue 13). ``need_users = False``: the user terms are not wanted (a search
        without guard or penalty); only the target's are evaluated and the user entries are
        None (the target entries are the same numbers)."""
        dep = self.deployment
        if not (self.memoise and dep.installed[n, m]):
            T, h, dh = self.candidates(s, n, m, cand, users, q)
            return T[:, m], T.sum(axis=1), h, dh
        act = dep.installed[n]
        users = np.atleast_2d(np.asarray(users, float))
        s_n = np.where(act, np.asarray(s, float)[n], 0.0)
        cand = np.asarray(cand, float)
        # the AO scores the same candidates of a PA with its guide unchanged again and again
        # (3 in 4 batches of a paper 000 drop): those rows are kept (read-only), per users/target
        tag = (users.tobytes(), np.asarray(q, float).tobytes())
        memo = self.__dict__.get("_rows_cache")
        if memo is None or memo[0] != tag or len(memo[1]) >= _ROWS_CAP:
            memo = self.__dict__["_rows_cache"] = (tag, {})
        key = (n, m, s_n.tobytes(), cand.tobytes())
        hit = memo[1].get(key)
        if hit is None and not need_users:
            return (None, None) + self._target_rows(n, m, act, s_n, cand, q)
        if hit is None:
            hit = memo[1][key] = self._rows(n, m, act, s_n, cand, users, q, lines)
        return hit

    def _target_rows(self, n, m, act, s_n, cand, q):
        """The target entries of :meth:`_rows` (h_t[n] (Q,), ∇h_t[n] (2,Q)) from
        :meth:`_point_target`, evaluated directly: the same operations on the same numbers."""
        M = s_n.size
        a_all = self._point_target(n, np.concatenate([s_n, cand]), q)
        stay = act.copy()
        stay[m] = False
        am = a_all[:, M:]
        a0 = a_all[:, :M][:, stay].sum(axis=1)                                # (3,)
        return am[0] + a0[0], am[1:] + a0[1:, None]

    def _rows(self, n, m, act, s_n, cand, users, q, lines: bool = True):
        """:meth:`candidate_rows` evaluated (through the line cache, or directly when not
        ``lines``), arrays read-only."""
        M = s_n.size
        x = np.concatenate([s_n, np.asarray(cand, float)])
        U_all, a_all = self._line(n, x, users, q) if lines else self._point_terms(n, x, users, q)
        stay = act.copy()
        stay[m] = False
        Um, am = U_all[M:], a_all[:, M:]
        H0 = U_all[:M][stay].sum(axis=0)                                      # (K,) Σ_{m'≠m}
        a0 = a_all[:, :M][:, stay].sum(axis=1)                                # (3,)
        out = (Um, Um + H0, am[0] + a0[0], am[1:] + a0[1:, None])
        for x in out:
            x.flags.writeable = False
        return out

    def _guide(self, n: int, x) -> np.ndarray:
        """``guide_response(x[None], fc, n_eff[n], α[n])[0] · ρ_n`` (MODEL §2.2, the split of
        §1) with guide n's constants (α, k_g as that function shapes them, ρ_n) kept: the
        same expression on the same operands, without its per-call broadcasting."""
        dep = self.deployment
        tag = (float(dep.fc), float(dep.n_eff[n]), float(dep.attenuation[n]))
        memo = self.__dict__.setdefault("_guide_consts", {})
        c = memo.get(n)
        if c is None or c[0] != tag:
            n_eff = np.broadcast_to(np.asarray(dep.n_eff[n], dtype=float), (1,))[:, None]
            alpha = np.broadcast_to(np.asarray(dep.attenuation[n], dtype=float), (1,))[:, None]
            c = memo[n] = (tag, alpha, guided_wavenumber(dep.fc, 1.0) * n_eff, self._split(n))
        _, alpha, kg, rho = c
        s = x[None]
        return (10.0 ** (-alpha * s / 20.0) * np.exp(-1j * kg * s))[0] * rho

    def _split(self, n: int) -> float:
        """Guide n's power split ρ = 1/√M_n (MODEL §1), :func:`power_split_factor` of the
        installed PAs, kept (a point evaluation asked for it every call)."""
        inst = self.deployment.installed
        memo = self.__dict__.get("_rho")
        if memo is None or memo[0] != inst.tobytes():
            memo = self.__dict__["_rho"] = (inst.tobytes(), power_split_factor(inst)[:, 0])
        return memo[1][n]

    # --- free-space line cache (issue 13: the same candidates are scored again and again) --
    def _point_terms(self, n: int, x, users, q):
        """Quantities of one active PA of guide n at each coordinate x (Q,):
        user terms (Q,K) and the target sums' summands ``f g`` (Q,) and ``f ∂g/∂x_t``,
        ``f ∂g/∂y_t`` (2,Q) — element by element the very operations of
        :func:`~twin.physics.channel.pa_channel_terms` and
        :func:`~twin.physics.sensing.element_target_channel` (MODEL §2.2-§2.3, §3.3), so
        sums of them equal those functions' sums bit for bit. With walls each link carries
        its blockage amplitude (MODEL §2.5; a function of the two end points only), applied
        where those functions apply it (``f b`` on the target side)."""
        dep = self.deployment
        x = np.asarray(x, float)
        users = np.atleast_2d(users)
        f = self._guide(n, x)
        pos = dep.feed[n][None] + x[:, None] * dep.direction[n][None]          # (Q,3)
        qq = np.asarray(q, float)
        U = f[:, None] * free_space_gain(pos[:, None, :], users[None, :, :], dep.fc)     # (Q,K): guide_terms
        # the users' and the target's links in one wall test (each link's loss is its own)
        blk = self._blockage(pos[:, None, :], np.concatenate([users, qq[None]])[None, :, :])
        if blk is not None:                                                    # walls: f b, as the target channel
            U = U * blk[:, :-1]
            f = f * blk[:, -1]
        return U, self._target_sums(f, pos, qq)

    def _target_sums(self, f, pos, qq):
        """The target sums' summands ``f g``, ``f ∂g/∂x_t``, ``f ∂g/∂y_t`` (3,Q) of points at
        ``pos`` (Q,3) with guide factors f (Q,) (blockage included): MODEL §3.3."""
        diff = qq[None, :] - pos
        r = np.linalg.norm(diff, axis=-1)
        g = free_space_gain(pos, qq[None, :], self.deployment.fc)
        dg_dr = g * (-1j * wavenumber(self.deployment.fc) - 1.0 / r)
        return np.stack([f * g] + [f * dg_dr * diff[:, i] / r for i in (0, 1)])  # (3,Q)

    def _point_target(self, n: int, x, q):
        """The target part of :meth:`_point_terms` alone (3,Q): the same operations, the
        target's link through its own wall test (a link's loss is a function of its two
        end points, MODEL §2.5), so the numbers are the same."""
        dep = self.deployment
        x = np.asarray(x, float)
        f = self._guide(n, x)
        pos = dep.feed[n][None] + x[:, None] * dep.direction[n][None]          # (Q,3)
        qq = np.asarray(q, float)
        blk = self._blockage(pos[:, None, :], qq[None, None, :])
        if blk is not None:
            f = f * blk[:, -1]
        return self._target_sums(f, pos, qq)

    def _line(self, n: int, x, users, q):
        """:meth:`_point_terms` through a per-guide cache of every coordinate evaluated
        for these users and this target (exact float match; the first ``_LINE_CAP``
        points per guide are kept, later ones evaluated on each call). The search's coarse grid and the zoom around a PA that does not
        move are evaluated once per drop instead of once per candidate batch."""
        key = (n, users.tobytes(), np.asarray(q, float).tobytes())
        cache = self.__dict__.setdefault("_line_cache", {})
        ent = cache.get(n)
        if ent is None or ent[0] != key:
            ent = cache[n] = [key, np.empty(0), np.empty((0, users.shape[0]), complex), np.empty((3, 0), complex)]
        _, xs, U, a = ent
        x = np.asarray(x, float)
        if xs.size:
            idx = np.minimum(np.searchsorted(xs, x), xs.size - 1)
            hit = xs[idx] == x
        else:
            idx, hit = np.zeros(x.size, int), np.zeros(x.size, bool)
        if hit.all():
            return U[idx], a[:, idx]
        miss = np.unique(x[~hit])
        Um, am = self._point_terms(n, miss, users, q)
        if xs.size + miss.size <= _LINE_CAP:
            xs2 = np.concatenate([xs, miss])
            order = np.argsort(xs2, kind="stable")
            ent[1], ent[2], ent[3] = xs2[order], np.concatenate([U, Um])[order], np.concatenate([a, am], axis=1)[:, order]
            return self._line(n, x, users, q)
        j = np.searchsorted(miss, x[~hit])
        Uo = np.empty((x.size, U.shape[1]), complex)
        ao = np.empty((3, x.size), complex)
        Uo[hit], ao[:, hit] = U[idx[hit]], a[:, idx[hit]]
        Uo[~hit], ao[:, ~hit] = Um[j], am[:, j]
        return Uo, ao

    def _candidates_free(self, s, n, m, cand, users, q):
        """:meth:`candidates` from the line cache (free space or walls): the PAs that stay and
        PA m's candidates are looked up (or evaluated once and kept); the
        per-PA arrays are assembled in the original (Q,M) layout and summed the same way,
        so the result equals the direct evaluation bit for bit."""
        dep = self.deployment
        act = dep.installed[n]
        users = np.atleast_2d(np.asarray(users, float))
        Qn = len(cand)
        s_n = np.where(act, np.asarray(s, float)[n], 0.0)
        M = s_n.size
        U_all, a_all = self._line(n, np.concatenate([s_n, np.asarray(cand, float)]), users, q)
        Us = np.where(act[:, None], U_all[:M], 0.0)                            # stay PAs (M,K), (3,M)
        a_s = np.where(act[None], a_all[:, :M], 0.0)
        Um, am = U_all[M:], a_all[:, M:]
        T = np.repeat(Us[None], Qn, axis=0)
        T[:, m] = Um
        A = np.repeat(a_s[:, None, :], Qn, axis=1)                              # (3,Q,M)
        A[:, :, m] = am
        h = np.sum(A[0], axis=1)
        dh = np.stack([np.sum(A[1], axis=1), np.sum(A[2], axis=1)])
        return T, h, dh


#: points kept per guide by the free-space line cache of :class:`PassLayout`
_LINE_CAP = 4096
#: candidate batches kept by :meth:`PassLayout.candidate_rows` (for one users/target pair)
_ROWS_CAP = 2048
