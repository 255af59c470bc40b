"""``beamform`` stages: the precoder W (N,K) and sensing covariance R_s of every slot,
computed for the state the controller expects in that slot (MODEL §4.1, §4.3, §5)."""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass

from twin.controller.params import Param
from twin.controller.stage import Stage, stage
from twin.controller.decision import ChannelKnowledge
from twin.optim.linear import linear_precoder, linear_precoders
from twin.units import lin_to_db


class MotionPredictor:
    """Velocity of the observed users, so beamformers can be computed for where they will
    be later in the frame. Exact observations: the finite difference of the last two (exact
    on the straight legs of a walk, wrong only at turns). Noisy observations (σ > 0): an
    alpha-beta tracker per coordinate (gains α, β), whose velocity averages the noise out
    over several frames instead of differencing it (a 5 mm error over a 0.1 s frame is a
    0.07 m/s velocity error, i.e. a wavelength of drift per slot at 28 GHz)."""

    def __init__(self, noise_m: float = 0.0, alpha: float = 0.5, beta: float = 0.1):
        self.noise = float(noise_m)
        self.alpha, self.beta = alpha, beta
        self.last_t, self.last, self.x, self.v = None, None, None, None

    def velocity(self, t: float, points) -> np.ndarray:
        points = np.asarray(points, float)
        if self.noise == 0.0:
            v = np.zeros_like(points)
            if self.last is not None and self.last.shape == points.shape and t > self.last_t:
                v = (points - self.last) / (t - self.last_t)
            self.last_t, self.last = t, points.copy()
            return v
        if self.x is None or self.x.shape != points.shape or t <= self.last_t:
            self.x, self.v, self.last_t = points.copy(), np.zeros_like(points), t
            return self.v.copy()
        dt = t - self.last_t
        pred = self.x + self.v * dt
        r = points - pred
        self.x = pred + self.alpha * r
        self.v = self.v + self.beta * r / dt
        self.last_t = t
        return self.v.copy()


def _served(users, K):
    return np.arange(K) if users is None else np.asarray(users, int)


def _full(Ws, idx, N, K):
    W = np.zeros((N, K), complex)
    W[:, idx] = Ws
    return W


class _Beamform(Stage):
    role = "beamform"

    def __init__(self, ctx, p):
        super().__init__(ctx, p)
        self.predictor = MotionPredictor(ctx.world.scene.observation_noise_m)
        self._v = None

    def _users_at(self, obs, v, t, predict):
        return obs.users + (v * t if predict else 0.0)

    def slot_channel(self, obs, plan, j, idx, predict_pas: bool, predict_users: bool):
        """(H (N,|idx|), time of the knowledge) the slot's beamformer is designed for
        (MODEL §5.1). Positions: the channel computed from the (observed or true)
        positions, predicted to the slot's centre when asked. Pilot: the last available
        estimate, extrapolated to the slot's centre from the last two pilots (no position
        is used)."""
        csi = obs.csi
        if csi is not None and csi.applies_to(plan.active[j]):
            return csi.predict(obs.time_s + plan.slot_mid(j), idx), float(csi.time_s)
        v = self._v if self._v is not None else np.zeros_like(np.asarray(obs.users, float))
        state = self.slot_state(obs, plan, j, predict_pas)
        users = self._users_at(obs, v, plan.slot_mid(j), predict_users)[idx]
        return self.ctx.tx.channel_to(state, users), obs.time_s

    def slot(self, obs, plan, j) -> tuple:
        """(W (N,K), R_s, H (N,K), csi time) of slot j for the knowledge in ``obs``: used
        at a slot start when a newer channel estimate has arrived."""
        raise NotImplementedError

    def _record(self, plan, j, W, Rs, H, t):
        for name, val in (("W", W), ("Rs", Rs), ("H", H), ("csi_time", t)):
            lst = getattr(plan, name)
            if len(lst) != plan.n_slots:
                lst[:] = [None] * plan.n_slots
            lst[j] = val


class _Linear(_Beamform):
    """Linear precoder ``kind`` (MODEL §4.1), ‖W‖²_F = P, for the served users of each
    slot; ZF falls back to MMSE when a slot serves more users than RF chains. With
    ``predict`` it is recomputed per slot for the predicted state (PAs where the actuator
    will have slid them, users extrapolated at constant velocity); otherwise for the
    decided PA targets and the observed users (channel ageing within the frame). With
    pilot CSI it uses the latest estimate (MODEL §5.1)."""

    kind = ""
    params = {"predict": Param(True, "recompute per slot for the predicted PA and user positions")}

    def _W(self, obs, plan, j):
        tx, w = self.ctx.tx, self.ctx.world
        idx = _served(plan.users[j], w.n_users)
        H, t = self.slot_channel(obs, plan, j, idx, self.p["predict"], self.p["predict"])
        kind = "mmse" if self.kind == "zf" and len(idx) > tx.n_rf else self.kind
        return _full(linear_precoder(H, w.power_w, kind, w.noise_w), idx, tx.n_rf, w.n_users), \
            _full(H, idx, tx.n_rf, w.n_users), t

    def _W_many(self, obs, plan, js, csis=None) -> list:
        """:meth:`_W` of slots ``js`` (slot ``js[i]`` with the knowledge ``csis[i]`` when
        given): the channels one by one, the precoders of slots serving the same users in
        one batched call (:func:`linear_precoders`), equal to :meth:`_W` bit for bit."""
        import dataclasses

        tx, w = self.ctx.tx, self.ctx.world
        own = type(self).slot_channel is _Beamform.slot_channel
        items, pilots = [], {}
        for i, j in enumerate(js):
            csi = obs.csi if csis is None else csis[i]
            idx = _served(plan.users[j], w.n_users)
            if own and csi is not None and csi.applies_to(plan.active[j]):      # slot_channel's pilot case
                pilots.setdefault(idx.tobytes(), []).append((i, csi, obs.time_s + plan.slot_mid(j)))
                items.append((idx, None, float(csi.time_s)))
                continue
            o = obs if csis is None else dataclasses.replace(obs, csi=csi)
            H, t = self.slot_channel(o, plan, j, idx, self.p["predict"], self.p["predict"])
            items.append((idx, np.asarray(H, complex), t))
        for group in pilots.values():                                   # extrapolated at once
            idx = items[group[0][0]][0]
            Hs = ChannelKnowledge.predict_many([c for _, c, _ in group], [t for _, _, t in group], idx)
            for (i, _, _), H in zip(group, Hs):
                items[i] = (idx, np.asarray(H, complex), items[i][2])
        groups: dict = {}
        for i, (idx, H, _) in enumerate(items):
            groups.setdefault((idx.tobytes(), H.shape), []).append(i)
        out = [None] * len(items)
        for members in groups.values():
            idx = items[members[0]][0]
            kind = "mmse" if self.kind == "zf" and len(idx) > tx.n_rf else self.kind
            Hs = np.stack([items[i][1] for i in members])
            Wf = np.zeros((len(members), tx.n_rf, w.n_users), complex)
            Hf = np.zeros((len(members), tx.n_rf, w.n_users), complex)
            Wf[:, :, idx] = linear_precoders(Hs, w.power_w, kind, w.noise_w)          # :func:`_full`, stacked
            Hf[:, :, idx] = Hs
            for g, i in enumerate(members):
                out[i] = (Wf[g], Hf[g], items[i][2])
        return out

    def run(self, obs, plan):
        self._v = self.predictor.velocity(obs.time_s, obs.users)
        if self.p["predict"] and type(self)._W is _Linear._W:     # every slot its own channel: at once
            for j, (W, H, t) in enumerate(self._W_many(obs, plan, range(plan.n_slots))):
                self._record(plan, j, W, None, H, t)
            return
        cache = {}
        for j in range(plan.n_slots):
            key = None if self.p["predict"] else (plan.active[j].tobytes(), plan.users[j])
            if key is None or key not in cache:
                out = self._W(obs, plan, j)
                if key is not None:
                    cache[key] = out
            W, H, t = cache[key] if key is not None else out
            self._record(plan, j, W, None, H, t)

    def slot(self, obs, plan, j):
        W, H, t = self._W(obs, plan, j)
        return W, None, H, t

    def defer(self, obs, plan) -> bool:
        """:meth:`run` without the slots' beamformers, for a caller that will replace most
        of them by pilot re-beamformings before they radiate (the engine, issue 13; MODEL
        §5.1): the motion predictor advances as in :meth:`run`, every slot's W, H and csi
        time stay None, and :meth:`complete` computes the ones still needed later (the
        values :meth:`run` computes now). Only the batched per-slot path defers, and only
        with finite channel knowledge: a finite channel gives a finite MRT/ZF/MMSE
        precoder, so a beamformer never computed could not have failed the engine's
        finiteness check. False (nothing done): call :meth:`run`."""
        if not (self.p["predict"] and type(self)._W is _Linear._W and type(self).run is _Linear.run
                and type(self).slot_channel is _Beamform.slot_channel):
            return False
        csi = obs.csi
        if csi is not None and csi.H is not None and not (
                np.isfinite(csi.H).all() and (csi.H_prev is None or np.isfinite(csi.H_prev).all())
                and (csi.err_var is None or np.isfinite(csi.err_var).all())):
            return False
        self._v = self.predictor.velocity(obs.time_s, obs.users)
        n = plan.n_slots                        # what _record(plan, j, None, …) for every j leaves
        for name in ("W", "Rs", "H", "csi_time"):
            getattr(plan, name)[:] = [None] * n
        return True

    def complete(self, obs, plan, js) -> list:
        """(W, H, csi time) of the deferred slots ``js`` (:meth:`defer`), as :meth:`run`
        would have computed them for ``obs`` and ``plan``."""
        out = self._W_many(obs, plan, list(js))
        for j, (W, H, t) in zip(js, out):
            self._record(plan, j, W, None, H, t)
        return out

    def slots_batch(self, obs, plan, items) -> list:
        """:meth:`slot` for many ``(j, knowledge)`` pairs at once (the re-beamformings of a
        frame's pilots, :meth:`Controller.prepare_refresh`)."""
        if type(self).slot is not _Linear.slot or type(self)._W is not _Linear._W:    # a subclass's own
            import dataclasses

            return [self.slot(dataclasses.replace(obs, csi=c), plan, j) for j, c in items]
        res = self._W_many(obs, plan, [j for j, _ in items], [c for _, c in items])
        return [(W, None, H, t) for W, H, t in res]

    def score(self, obs, plan) -> float:
        """Minus the sum rate of slot 0 as planned (lower is better)."""
        from twin.physics.sinr import rate_bps_hz, sinr_downlink

        W, H, _ = self._W(obs, plan, 0)
        idx = _served(plan.users[0], self.ctx.world.n_users)
        return -float(np.sum(rate_bps_hz(sinr_downlink(H[:, idx], W[:, idx], self.ctx.world.noise_w))))


@stage
class Mrt(_Linear):
    name, kind = "mrt", "mrt"
    description = "maximum-ratio transmission W ∝ H"


@stage
class Zf(_Linear):
    name, kind = "zf", "zf"
    description = "zero forcing W ∝ H(HᴴH)⁻¹ (MMSE when users outnumber RF chains)"


@stage
class Mmse(_Linear):
    name, kind = "mmse", "mmse"
    description = "regularised ZF W ∝ (HHᴴ + Kσ²/P I)⁻¹H"


@dataclass(frozen=True)
class SingleChainSolution:
    """The CRB-optimal beamformer of a slot that radiates from one RF chain and serves one
    user: the slot's Fisher information grows with its transmit power in the Loewner
    order and the SINR with the power on the user's beam, so all the power goes to the
    user's MRT beam and R_s = 0 (the SDR's optimum in closed form). The position is then
    identifiable only from the frame's slots together (:func:`crb_over_slots`)."""

    W: np.ndarray
    Rs: np.ndarray
    sinr: np.ndarray
    ok: bool
    status: str
    objective: float = float("nan")
    wall_time_s: float = 0.0


def sdr_info(world, res, gamma) -> dict:
    return {"rcrb_m": float(np.sqrt(res.objective)), "objective": float(res.objective),
            "min_sinr_margin_db": float(np.min(lin_to_db(res.sinr / gamma))),
            "sensing_power_share": float(np.real(np.trace(res.Rs)) / world.power_w),
            "sdr_wall_s": float(res.wall_time_s)}


@stage
class CrbSdr(_Beamform):
    """Paper 000 (MODEL §4.3): the CRB-minimising SDR — W and R_s minimising tr CRB of the
    first target (``targets = "first"``), the sum of every target's tr CRB (``"sum"``) or
    the worst target's (``"worst"``), subject to the served users' SINR targets (from ``[requirements]``,
    raised by ``sinr_margin_db``) and the power budget; rank-one recovery. Per slot, for
    the state the controller expects then (PAs in transit re-solved; the positioning
    stage's own solution where the PAs have arrived); users at their observed positions,
    or extrapolated to the slot's centre with ``predict`` (the default; the positioning
    stage's solution, designed for the frame-start users, is then reused only while the
    users stand still).

    With ``reuse`` (default; issue 13) a slot first tries the last beamformer solved for
    the same served users (this frame or an earlier one): it is kept, without a re-solve,
    when at this slot's channel it still meets every served user's SINR target (the
    constraint the re-solve would meet, with the SDR's own verification tolerance) and its
    tr CRB at this slot's target channel is within ``reuse_crb_tol`` of the value it was
    solved for — e.g. while the users and the target pause. ``reuse = false``: every slot
    re-solved (the previous behaviour).

    In a continuing run (``obs.previous`` set; never a one-off decision such as a figure's
    drop) the single-target SDRs — on ``office`` above all the pilot re-beamformings — are
    solved with Clarabel's fast settings (``fast_sdr``) and first without a sensing
    covariance (``restrict_rs``: the same optimum, certified per solve, one PSD cone
    fewer): together about 35-40 % less CPU per slot SDR, with the per-sample rates and
    RCRBs of 200 ``office`` frames within 0.01 % (docs/performance.md "isac-crb, fifth
    round"). ``fast_sdr = false``, ``restrict_rs = false``: the previous path."""

    name = "crb-sdr"
    description = "paper 000: CRB-minimising ISAC beamforming (SDR + rank-one recovery)"
    params = {
        "sinr_margin_db": Param(0.05, "design margin added to the SINR targets (the SDR meets them with "
                                      "equality)", "dB", lo=0.0, hi=30.0),
        "predict": Param(True, "solve for the users extrapolated to each slot's centre (issue 12: users "
                               "walking at 28 GHz leave a beam designed for their frame-start positions)"),
        "targets": Param("first", "objective over the scene's targets: tr CRB of the first, the sum of "
                                  "all targets' tr CRB, or the worst target's (one Schur LMI per target)",
                         choices=("first", "sum", "worst")),
        "reuse": Param(True, "keep the last solved beamformer for a slot while it still meets the SINR "
                             "targets and its CRB is within reuse_crb_tol (no SDR re-solve)"),
        "reuse_crb_tol": Param(0.01, "reuse: largest relative rise of tr CRB accepted against the value "
                                     "the beamformer was solved for", "", lo=0.0, hi=10.0),
        "defer": Param(True, "in the engine with pilot knowledge, leave the slots' SDRs to the pilot "
                             "re-beamformings that replace them before they radiate (the positioning "
                             "stage's SDR stands in for a slot without a feasible one, as in a full decision)"),
        "fast_sdr": Param(True, "in a continuing run (never a one-off decision such as a figure's drop), solve "
                                "the single-target SDRs with Clarabel's fast settings (no iterative refinement, "
                                "tolerances 1e-6, no equilibration, one solver updated in place; repeated with the "
                                "defaults unless ok)"),
        "restrict_rs": Param(True, "in a continuing run, solve each single-target SDR first without a sensing "
                                   "covariance (R_s = 0, one PSD cone fewer; the same optimum) and keep that answer "
                                   "only when its dual certificate proves it the full SDR's optimum (else the full SDR)"),
    }

    def check(self):
        if self.ctx.world.n_targets == 0:
            self.refuse("", "minimises a target's CRB, but the scene has no [targets]",
                        "add a [targets] section or use beamform = 'zf' / 'mmse' / 'mrt'")

    def _solve(self, obs, plan, j, cache):
        tx, w = self.ctx.tx, self.ctx.world
        state = self.slot_state(obs, plan, j, True)
        idx = _served(plan.users[j], w.n_users)
        H, t = self.slot_channel(obs, plan, j, idx, True, self.p["predict"])
        hint = plan.hints.get("sdr_at_target")
        moving = self.p["predict"] and self._v is not None and np.any(self._v != 0)
        at_target = (hint is not None and plan.users[j] is None and obs.csi is None and not moving
                     and (self.p["targets"] == "first" or len(obs.targets) == 1)   # hint: first target's SDR
                     and np.array_equal(plan.active[j], tx.installed)
                     and np.max(np.abs(state.s - hint[0])[tx.installed], initial=0.0) <= 1e-9)
        if at_target:
            return hint[1], idx, H, t
        key = (state.s.tobytes(), state.active.tobytes(),
               None if state.analog is None else state.analog.tobytes(), H.tobytes())
        single = self.p["targets"] == "first" or len(obs.targets) == 1
        if key not in cache and self.p["reuse"] and single:
            kept = self._reused(obs, state, idx, H)
            if kept is not None:
                cache[key] = kept
        if key not in cache:
            gamma = self.ctx.gamma(self.p["sinr_margin_db"])[idx]
            chains = np.flatnonzero((np.asarray(state.active, bool) & tx.installed).any(axis=1))
            if len(chains) == 1 and len(idx) == 1:
                g = float(np.linalg.norm(H))
                W = np.sqrt(w.power_w) * H / g if g > 0 else np.zeros_like(H)
                sinr = np.array([w.power_w * g ** 2 / w.noise_w])
                ok = bool(sinr[0] >= gamma[0])
                cache[key] = SingleChainSolution(W, np.zeros((tx.n_rf, tx.n_rf), complex), sinr, ok,
                                                 "optimal" if ok else "infeasible")
            elif self.p["targets"] != "first" and len(obs.targets) > 1:
                cache[key] = self.ctx.solvers.crb_sdr_targets(tx, state, H, obs.targets, gamma, self.p["targets"])
            else:
                cont = obs.previous is not None              # a continuing run: never a figure's drop
                cache[key] = self.ctx.solvers.crb_sdr(tx, state, H, obs.target, gamma,
                                                      fast=self.p["fast_sdr"] and cont,
                                                      hd=self._target_channel(obs, state),
                                                      restrict=self.p["restrict_rs"] and cont)
            if single and getattr(cache[key], "ok", False) and not isinstance(cache[key], SingleChainSolution):
                self._recent[idx.tobytes()] = (obs.frame, cache[key])
        return cache[key], idx, H, t

    @property
    def _recent(self) -> dict:
        """The last solved SDR result per served-user set, with its frame (kept across
        the frames of a run)."""
        if not hasattr(self, "_recent_store"):
            self._recent_store = {}
        return self._recent_store

    def _reused(self, obs, state, idx, H):
        """The last solution for these served users — of this frame, or of an earlier
        frame of the same run (``obs.previous`` set: never across independent decisions
        such as a figure's drops) — with its SINR and tr CRB at this slot's channel and
        target, if it still meets every SINR target (the SDR's own verification rule) and
        its tr CRB rose by at most ``reuse_crb_tol``; else None."""
        import dataclasses

        from twin.optim.sdr import VERIFY_RTOL
        from twin.physics.sinr import sinr_downlink

        entry = self._recent.get(idx.tobytes())
        if entry is None or not (entry[0] == obs.frame or (obs.previous is not None and obs.frame > entry[0])):
            return None
        res, q = entry[1], obs.target
        if np.shape(res.W) != np.shape(H):
            return None
        w = self.ctx.world
        gamma = self.ctx.gamma(self.p["sinr_margin_db"])[idx]
        sinr = sinr_downlink(H, res.W, w.noise_w, res.Rs)
        if not np.all(sinr >= gamma * (1.0 - VERIFY_RTOL)):
            return None
        h, dh = self._target_channel(obs, state)
        crb = float(np.real(np.trace(self.ctx.solvers.crb_setup.crb(res.R, h, dh, q))))
        if not (np.isfinite(crb) and crb <= res.objective * (1.0 + self.p["reuse_crb_tol"])):
            return None
        return dataclasses.replace(res, solution=dataclasses.replace(res.solution, sinr=sinr), objective=crb,
                                   wall_time_s=0.0, info={**res.info, "reused": True})

    def _target_channel(self, obs, state):
        """``tx.target_channel(state, obs.target)``, kept for the frame: the slots' SDRs and
        the planned frame RCRB ask for the same states (issue 13; the same arrays)."""
        if getattr(self, "_tc_frame", None) != (obs.frame, obs.time_s):
            self._tc, self._tc_frame = {}, (obs.frame, obs.time_s)
        q = np.asarray(obs.target, float)
        key = (state.s.tobytes(), np.asarray(state.active).tobytes(),
               None if state.analog is None else state.analog.tobytes(), q.tobytes())
        if key not in self._tc:
            self._tc[key] = self.ctx.tx.target_channel(state, q)
        return self._tc[key]

    def _frame_cache(self, obs) -> dict:
        """SDR solutions of this frame by (state, users): a slot, or a scored candidate,
        whose geometry was already solved is not solved again."""
        if getattr(self, "_frame", None) != obs.frame:
            self._cache, self._frame = {}, obs.frame
        return self._cache

    def score(self, obs, plan) -> float:
        """tr CRB of slot 0 (inf if infeasible)."""
        if obs.target is None:
            return np.inf
        res = self._solve(obs, plan, 0, self._frame_cache(obs))[0]
        return float(res.objective) if res.ok else np.inf

    def run(self, obs, plan):
        tx, w = self.ctx.tx, self.ctx.world
        self._v = self.predictor.velocity(obs.time_s, obs.users)
        if obs.target is None:
            plan.fail("fallback", "no target observed")
            return
        cache = self._frame_cache(obs)
        hint = plan.hints.get("sdr_at_target")
        first = None
        for j in range(plan.n_slots):
            res, idx, H, t = self._solve(obs, plan, j, cache)
            if not res.ok:
                if hint is None:
                    st = str(res.status)
                    plan.fail(st if st in ("infeasible", "solver-failed") else "solver-failed",
                              f"SDR {st}: {getattr(res, 'info', {}).get('detail', '')}")
                    return
                plan.note("ok", f"slot {j} in transit without feasible SDR ({res.status})")
                res, idx = hint[1], _served(None, w.n_users)
            first = first or (res, idx)
            self._record(plan, j, _full(res.W, idx, tx.n_rf, w.n_users), res.Rs, _full(H, _served(plan.users[j], w.n_users), tx.n_rf, w.n_users), t)
        res, idx = first
        plan.info.update(sdr_info(w, res, self.ctx.gamma()[idx]))     # margin to the requirement
        plan.info["iterations"] = int(plan.hints.get("iterations", 1))
        plan.info["planned_frame_rcrb_m"] = self._planned_rcrb(obs, plan)

    def defer(self, obs, plan) -> bool:
        """:meth:`run` without the slots' SDRs, for the engine, which re-beamforms every slot
        at its pilot before it radiates (issue 13, MODEL §5.1; :meth:`_Linear.defer`): with
        ``defer`` (default), pilot knowledge (``obs.csi``) and the positioning stage's SDR at
        the decided positions (the ``sdr_at_target`` hint, with which :meth:`run` never fails
        a frame: a slot without a feasible SDR takes the hint's beams), the motion predictor
        advances as in :meth:`run`, the frame's info comes from the hint's SDR
        (``deferred = True``; no ``planned_frame_rcrb_m``) and :meth:`complete` solves the
        slots still needed later. False (nothing done): call :meth:`run`."""
        hint = plan.hints.get("sdr_at_target")
        if not (self.p["defer"] and obs.csi is not None and obs.target is not None and hint is not None
                and getattr(hint[1], "ok", False) and obs.previous is not None):
            return False
        w = self.ctx.world
        self._v = self.predictor.velocity(obs.time_s, obs.users)
        self._deferred = (obs, plan)
        for j in range(plan.n_slots):
            self._record(plan, j, None, None, None, None)
        plan.info.update(sdr_info(w, hint[1], self.ctx.gamma()))
        plan.info["iterations"] = int(plan.hints.get("iterations", 1))
        plan.info["deferred"] = True
        return True

    def _planned(self, obs, plan, j, cache):
        """(W, Rs, H, t) :meth:`run` gives slot j when the frame has the positioning hint."""
        tx, w = self.ctx.tx, self.ctx.world
        res, idx, H, t = self._solve(obs, plan, j, cache)
        if not res.ok:
            res, idx = plan.hints["sdr_at_target"][1], _served(None, w.n_users)
        return (_full(res.W, idx, tx.n_rf, w.n_users), res.Rs,
                _full(H, _served(plan.users[j], w.n_users), tx.n_rf, w.n_users), t)

    def complete(self, obs, plan, js) -> list:
        """(W, H, csi time, Rs) of the deferred slots ``js`` (:meth:`defer`), as :meth:`run`
        would compute them for ``obs`` and ``plan``."""
        cache = self._frame_cache(obs)
        out = []
        for j in js:
            W, Rs, H, t = self._planned(obs, plan, j, cache)
            self._record(plan, j, W, Rs, H, t)
            out.append((W, H, t, Rs))
        return out

    def slot(self, obs, plan, j):
        tx, w = self.ctx.tx, self.ctx.world
        res, idx, H, t = self._solve(obs, plan, j, {})
        if not res.ok:
            if plan.W[j] is None and getattr(self, "_deferred", (None, None))[1] is plan:   # never planned
                d_obs = self._deferred[0]
                W, Rs, H0, t0 = self._planned(d_obs, plan, j, self._frame_cache(d_obs))
                self._record(plan, j, W, Rs, H0, t0)
            return plan.W[j], plan.Rs[j], plan.H[j], plan.csi_time[j]       # keep what was planned
        return (_full(res.W, idx, tx.n_rf, w.n_users), res.Rs,
                _full(H, _served(plan.users[j], w.n_users), tx.n_rf, w.n_users), t)

    def _planned_rcrb(self, obs, plan) -> float:
        """√tr CRB of the frame as planned (all slots' echoes, MODEL §3.3)."""
        from twin.physics.sensing import crb_over_slots, root_crb

        q = obs.target
        total = sum(plan.durations)
        parts = []
        for j in range(plan.n_slots):
            h, dh = self._target_channel(obs, self.slot_state(obs, plan, j, True))
            parts.append((plan.durations[j] / total, plan.W[j] @ plan.W[j].conj().T + plan.Rs[j], h, dh))
        st = self.ctx.solvers.crb_setup
        crb = crb_over_slots(parts, q, st.rx_position, st.rx_elements, st.fc, rx_axis=st.rx_axis,
                             rx_spacing=st.rx_spacing, rcs_m2=st.rcs_m2, snapshots=st.snapshots, noise_w=st.noise_w)
        return root_crb(crb) if np.all(np.isfinite(crb)) else float("inf")
