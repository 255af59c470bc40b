"""``position`` stages: where movable elements go (and the analog phases of a hybrid
array). Each writes ``plan.pa_target`` (N,M), legal for the hardware (MODEL §1)."""

from __future__ import annotations

import numpy as np

from twin.controller.params import Param
from twin.controller.stage import Stage, stage
from twin.hardware import analog_weights


class _Movable(Stage):
    """A stage that needs sliding PAs (a PASS)."""

    def check(self):
        if not self.ctx.tx.movable:
            self.refuse("", f"moves PAs, but the hardware is a fixed {self.ctx.tx.kind!r} array",
                        "use position = 'hold' (or 'analog-steer' for a hybrid array), or hardware.kind = 'pass'")


@stage
class Hold(Stage):
    """Elements stay where they are (fixed arrays: always)."""

    role, name = "position", "hold"
    description = "elements stay where they are"

    def run(self, obs, plan):
        plan.pa_target = np.array(obs.state.s, float)


@stage
class UniformPositions(_Movable):
    """PAs evenly spread over each guide (or each cluster segment) and never moved
    (paper 000 Uniform-PASS; paper 001 "no intra-cluster beamforming")."""

    role, name = "position", "uniform"
    description = "PAs evenly spread over each guide / cluster, fixed"

    def run(self, obs, plan):
        plan.pa_target = self.ctx.tx.uniform_positions()


def follow_targets(tx, users) -> np.ndarray:
    """PA m of guide n goes to the along-guide projection of the (m mod K)-th user nearest
    that guide, then the set is made legal (order, spacing δ, [0, L]; MODEL §1)."""
    rel = users[None, :, :] - tx.feed[:, None, :]                         # (N,K,3)
    proj = np.einsum("nkd,nd->nk", rel, tx.direction)                     # (N,K)
    proj = np.clip(proj, 0.0, tx.length[:, None])
    perp = np.linalg.norm(rel - proj[..., None] * tx.direction[:, None, :], axis=-1)
    order = np.argsort(perp, axis=1)                                      # nearest first
    N, M = tx.installed.shape
    K = users.shape[0]
    m = np.arange(M)
    chosen = order[:, m % K]                                              # (N,M) user index
    s = np.take_along_axis(proj, chosen, axis=1)
    # PAs sharing a user fan out around it by δ so they land next to it after legalising
    rank = m // K
    s = s + (rank - rank.max() / 2.0) * tx.spacing[:, None] * (K < M)
    return tx.legalize(np.where(tx.installed, s, 0.0))


@stage
class Follow(_Movable):
    """Geometric heuristic: each guide's PAs slide to the along-guide projections of the
    users nearest that guide."""

    role, name = "position", "follow"
    description = "PAs slide to the along-guide projections of the nearest users"

    def run(self, obs, plan):
        plan.pa_target = follow_targets(self.ctx.tx, np.asarray(obs.users, float))


@stage
class ElementwisePositions(_Movable):
    """Paper 002 (MODEL §4.2): element-wise search over Q candidate positions per PA,
    maximising the sum rate of the linear beamformer ``kind`` (``auto``: the beamform
    stage's) on ``link``; warm-started from the previous target. ``candidates``: the
    paper's relaxed set (a PA may take any sample ≥ δ from its guide's other PAs; the
    target is relabelled in order, so no PA has to pass another) or the ordered one
    (between its neighbours). ``reach_frames`` > 0: each sliding PA searches only the
    samples it can reach in that many frames at its guide's speed (MODEL §5), around
    where it is now."""

    role, name = "position", "elementwise"
    description = "paper 002: element-wise PA positions maximising the sum rate (rank-one updates)"
    params = {
        "kind": Param("auto", "beamformer the sum rate is computed for (auto: the beamform stage's)",
                      choices=("auto", "mrt", "mrc", "zf", "mmse")),
        "link": Param("downlink", "link whose sum rate is maximised", choices=("downlink", "uplink")),
        "Q": Param(400, "candidate positions per guide", "samples", lo=2, hi=100_000),
        "eps": Param(1e-3, "stop when a sweep gains less than this fraction", lo=1e-12, hi=1.0),
        "warm_start": Param(True, "start from the previous target (else random legal positions)"),
        "candidates": Param("relaxed", "a PA's candidates: relaxed (paper 002: any sample ≥ δ from the guide's "
                            "other PAs) or ordered (between its neighbours)", choices=("relaxed", "ordered")),
        "reach_frames": Param(1.0, "search only the samples a PA reaches in this many frames of travel "
                              "(0: the whole guide)", "frames", lo=0.0, hi=1e6),
    }

    def _kind(self) -> str:
        kind = self.p["kind"]
        if kind == "auto":
            bf = self.ctx.stage_name("beamform")
            kind = bf if bf in ("mrt", "zf", "mmse") else "zf"
        if self.p["link"] == "uplink" and kind == "mrt":
            kind = "mrc"
        if self.p["link"] == "downlink" and kind == "mrc":
            kind = "mrt"
        return kind

    def check(self):
        super().check()
        N, K = self.ctx.tx.n_rf, self.ctx.world.n_users
        if self._kind() == "zf" and K > N:
            self.refuse("kind", f"ZF needs K ≤ N, but the scene has K={K} users and N={N} waveguides",
                        "use kind = 'mmse' (beamform = 'mmse') or add waveguides")
        self.setup = self.ctx.solvers.link_setup(self._kind(), self.p["link"])

    def reach(self) -> np.ndarray | None:
        """(N,) m each PA can travel in ``reach_frames`` frames (inf on switched guides,
        which jump between preinstalled points), or None for the whole guide."""
        if self.p["reach_frames"] <= 0:
            return None
        tx = self.ctx.tx
        r = np.asarray(tx.speed, float) * self.ctx.frame_s * self.p["reach_frames"]
        return np.where(np.asarray(tx.switched, bool), np.inf, r)

    def run(self, obs, plan):
        s0 = None
        if self.p["warm_start"]:
            s0 = obs.previous.pa_target if obs.previous is not None else obs.state.s
        res = self.ctx.solvers.sum_rate_positions(obs.users, self.setup, Q=self.p["Q"], eps=self.p["eps"],
                                                  s0=s0, rng=obs.rng if s0 is None else None,
                                                  candidates=self.p["candidates"], reach=self.reach(),
                                                  centre=obs.state.s)
        plan.pa_target = res.s
        plan.info.update({"planned_sum_rate_bps_hz": res.sum_rate, "link": self.setup.link,
                          "sweeps": res.sweeps, "moves": len(res.history) - 1, "optimiser_s": res.wall_time_s})


@stage
class CrbAo(_Movable):
    """Paper 000 Algorithm 4 (MODEL §4.4): alternate the CRB SDR and the penalty / SCA /
    element-wise PA positioning, minimising the target's CRB under the SINR targets.
    Warm-started from the previous frame's optimum; a cold start in continuous mode runs
    the coarse-to-fine continuation (Z = 15 → 30 → continuous). ``Z > 0``: PAs on the
    Z+1 lattice of each guide (Discrete-PASS-Z). ``variant = "paper"``: the plain
    Algorithm 4 of the paper (SDR ↔ penalty positioning only, no continuation, no extra
    element-wise steps when the penalty step is rejected or stalls); ``"extended"``: with
    them (the twin's default).

    ``mode = "track"`` (default; issue 13): after the first successful frame each frame
    runs one incremental step (:func:`twin.optim.crb_positioning.crb_track`) from the
    previous frame's positions instead of ``max_iter`` AO iterations: the SDR re-solved
    for the frame's users, then the ``track_steps`` element-wise steps with every PA
    searched over what it can reach, ``speed × frame × reach_frames`` (MODEL §5; on a
    lattice at least one lattice step), plus ``track_far`` candidates over its whole
    interval, each step kept only if feasible beamforming at its positions lowers tr CRB.
    When no user and no target moved more than ``skip_m`` since the last optimisation,
    the previous positions and SDR are kept without solving. After a failed frame, or
    when the SDR is infeasible at the previous positions, the frame runs the cold-start AO
    instead (the previous behaviour after a failure). ``mode = "full"``: the
    previous behaviour (``max_iter`` Algorithm 4 iterations per warm frame).
    An optional shortcut of the tracking step (issue 13; off by default, docs/performance.md
    "isac-crb: less per frame"): ``track_far_every = k`` gives the far candidates to the
    guides n with ``(frame + n) mod k = 0`` only (a round robin). ``fast_sdr`` (default on
    since the seventh round of issue 13): the tracking step's SDRs with Clarabel's fast
    settings, a solve that is not ``ok`` repeated with the defaults (10 seeds × 200
    ``office`` frames, pilot and perfect CSI: every quality metric equal within its paired
    95 % interval, the decision's mean CPU 12-14 % lower; docs/performance.md "Where issue
    13 stands after the seventh round"). ``restrict_rs`` (default on; issue 13): the tracking step's SDRs are solved
    first without R_s and kept when certified optimal (the same optimum, MODEL §4.3;
    docs/performance.md "isac-crb, fifth round", "second pass")."""

    role, name = "position", "crb-ao"
    description = "paper 000: CRB-minimising PA positions (SDR + penalty/SCA/element-wise AO)"
    params = {
        "Z": Param(0, "lattice intervals per guide (0: continuous positions)", lo=0, hi=100_000),
        "grid": Param(601, "candidate points per guide of the 1-D search", "points", lo=11, hi=1_000_001),
        "max_iter": Param(3, "AO iterations per frame when warm-started", lo=1, hi=1000),
        "first_max_iter": Param(10, "AO iterations on a cold start", lo=1, hi=1000),
        "sinr_margin_db": Param(0.05, "design margin added to the SINR targets", "dB", lo=0.0, hi=30.0),
        "variant": Param("extended", "paper: plain Algorithm 4; extended: plus coarse-to-fine continuation on a "
                         "cold start and element-wise CRB steps when the penalty step stalls",
                         choices=("extended", "paper")),
        "mode": Param("track", "warm frames: track = one incremental step within the PAs' reach (real time); "
                               "full = max_iter Algorithm 4 iterations over the whole guides",
                      choices=("track", "full")),
        "reach_frames": Param(3.0, "track: each PA searched within its guide's speed × frame length × this "
                                   "of its previous target", "frames", lo=0.01, hi=1000.0),
        "track_points": Param(41, "track: uniform candidates per PA over its reachable window (then a "
                                  "λ/32 zoom around the best)", "points", lo=3, hi=100_001),
        "track_steps": Param("guarded,free", "track: the element-wise steps tried per frame, in order (each "
                                             "costs one SDR re-solve when it moves a PA)",
                             choices=("guarded,free", "guarded", "free", "penalty,guarded,free", "penalty")),
        "track_far": Param(101, "track: also this many candidates spread over each PA's whole feasible interval "
                              "(0: strictly within reach; > 1: a PA may be sent further, sliding there over "
                              "several frames)", "points", lo=0, hi=100_001),
        "skip_m": Param(1e-4, "track: keep the previous positions and SDR when no user or target moved more "
                              "than this since the last optimisation", "m", lo=0.0, hi=100.0),
        "track_far_every": Param(1, "track: give the far candidates to one guide in this many per frame, in a "
                                    "round robin over the guides (1: every guide every frame)", "frames",
                                 lo=1, hi=1000),
        "fast_sdr": Param(True, "track: solve the SDRs with Clarabel's fast settings (no iterative refinement, "
                                "tolerances 1e-6, no equilibration; repeated with the defaults unless ok)"),
        "restrict_rs": Param(True, "track: solve each SDR first without a sensing covariance (R_s = 0, one PSD cone "
                                   "fewer; the same optimum) and keep that answer only when its dual certificate "
                                   "proves it the full SDR's optimum (else the full SDR); tracking runs only in a "
                                   "continuing run, never in a one-off decision such as a figure's"),
    }

    def check(self):
        super().check()
        if self.ctx.world.n_targets == 0:
            self.refuse("", "minimises a target's CRB, but the scene has no [targets]",
                        "add a [targets] section or use another position stage")

    def run(self, obs, plan):
        ctx = self.ctx
        q = obs.target
        if q is None:
            plan.fail("fallback", "no target observed")
            return
        prev = obs.previous
        warm = prev is not None and prev.status == "ok"
        s0 = prev.pa_target if warm else obs.state.s
        gamma = ctx.gamma(self.p["sinr_margin_db"])
        users = np.asarray(obs.users, float)
        last = getattr(self, "_last", None)
        track = self.p["mode"] == "track" and last is not None and prev is not None   # a continuing run
        if track and warm and self._unmoved(last, users, q, prev.pa_target):
            s, res = last[2], last[3]
            plan.pa_target = np.array(s, float)
            plan.hints["sdr_at_target"] = (plan.pa_target, res)
            plan.hints["iterations"] = 0
            plan.info.update({"rcrb_target_m": float(np.sqrt(res.objective)), "ao_wall_s": 0.0, "ao_skipped": True})
            return
        if track and warm:
            every = int(self.p["track_far_every"])
            ao = ctx.solvers.crb_track(s0, users, q, gamma, reach_m=self._reach(), z=self.p["Z"],
                                       points=self.p["track_points"], steps=self.p["track_steps"].split(","),
                                       far=self.p["track_far"], fast=self.p["fast_sdr"],
                                       restrict=self.p["restrict_rs"],
                                       far_guides=None if every <= 1 else
                                       [n for n in range(ctx.tx.n_rf) if (obs.frame + n) % every == 0])
            if not ao.sdr.ok:           # no feasible beams where the PAs are headed: a full AO, as cold
                warm, s0 = False, obs.state.s
        if not (track and warm and ao.sdr.ok):
            ao = ctx.solvers.crb_positions(s0, users, q, gamma, z=self.p["Z"], grid=self.p["grid"],
                                           max_iter=self.p["max_iter" if warm else "first_max_iter"],
                                           continuation=not warm and self.p["Z"] == 0 and self.p["variant"] == "extended",
                                           plain=self.p["variant"] == "paper")
        if not ao.sdr.ok:
            plan.fail(str(ao.sdr.status) if str(ao.sdr.status) in ("infeasible", "solver-failed") else "solver-failed",
                      f"SDR {ao.sdr.status}: {ao.sdr.info.get('detail', '')}")
            return
        plan.pa_target = ao.s
        plan.hints["sdr_at_target"] = (ao.s, ao.sdr)
        plan.hints["iterations"] = ao.iterations
        plan.info.update({"rcrb_target_m": float(ao.rcrb_m), "ao_wall_s": float(ao.wall_time_s)})
        self._last = (users.copy(), np.array(q, float), np.array(ao.s, float), ao.sdr)

    def _reach(self) -> np.ndarray:
        """Half-width (N,) of each guide's search window in tracking mode: what a PA slides
        in ``reach_frames`` frames (MODEL §5), and on a lattice at least one lattice step
        (a coarser window would hold no other lattice point)."""
        tx = self.ctx.tx
        r = np.asarray(tx.speed, float) * self.ctx.frame_s * self.p["reach_frames"]
        if self.p["Z"] > 0:
            r = np.maximum(r, np.asarray(tx.length, float) / self.p["Z"] * (1 + 1e-9))
        return r

    def _unmoved(self, last, users, q, target) -> bool:
        """No user and no target moved more than ``skip_m`` since the last optimisation,
        whose positions are still the decided ones."""
        lu, lq, ls, _ = last
        tol = self.p["skip_m"]
        return (lu.shape == users.shape and np.array_equal(ls, np.asarray(target, float))
                and float(np.max(np.linalg.norm(users - lu, axis=-1), initial=0.0)) <= tol
                and float(np.linalg.norm(np.asarray(q, float) - lq)) <= tol)


@stage
class ClusterFocus(_Movable):
    """Paper 001: each cluster's PAs at the configuration the ``select`` stage chose for it
    (element-wise focused on the target, a user, or both; MODEL §4.5); without such a
    selection, every cluster is focused on the target."""

    role, name = "position", "cluster-focus"
    description = "paper 001: PAs of each cluster focused (element-wise) as the schedule chose"
    params = {"Q": Param(0, "candidate positions per cluster segment of the focusing search (0: a λ/16 grid)",
                         "points", lo=0, hi=100_000)}

    def check(self):
        super().check()
        if not self.ctx.tx.clustered:
            self.refuse("", "positions PAs inside clusters, but the scene's waveguides have no clusters",
                        "declare [[waveguides.clusters]] (e.g. the paper001 scene) or use position = 'follow'")

    def run(self, obs, plan):
        tx = self.ctx.tx
        prev = obs.previous
        target = np.array(prev.pa_target if prev is not None else obs.state.s, float)
        chosen = plan.hints.get("cluster_positions")
        if chosen is None:
            q = obs.target
            pts = (q[None] if q is not None else np.atleast_2d(obs.users))
            chosen = {}
            for n, bounds in enumerate(tx.cluster_bounds):
                for c, (lo, hi) in enumerate(bounds):
                    npas = int(np.sum(tx.cluster[n] == c))
                    chosen[(n, c)] = self.ctx.solvers.focus_cluster(n, lo, hi, npas, pts, np.ones(len(pts)),
                                                                    self.p["Q"])
        for (n, c), x in chosen.items():
            members = np.flatnonzero(tx.cluster[n] == c)
            target[n, members[:x.size]] = x
        plan.pa_target = tx.legalize(target)


@stage
class AnalogSteer(Stage):
    """Hybrid array (MODEL §2.6): the analog phases of each RF chain's sub-array,
    conjugate-matched to aim points by ``rule``: ``target`` (every sub-array on the
    target), ``users`` (sub-arrays cycle over target, user 1, …, user K), ``sum`` (all
    of them), ``user-cycle`` (sub-array n on user n mod K, paper 002 hMIMO), ``best``
    (each of target / users / sum scored by the beamform stage, lowest kept)."""

    role, name = "position", "analog-steer"
    description = "hybrid arrays: analog phases steered at the target / users by a rule"
    params = {"rule": Param("best", "aim points of the sub-arrays",
                            choices=("target", "users", "sum", "user-cycle", "best"))}

    def check(self):
        if not self.ctx.tx.steerable:
            self.refuse("", f"steers analog phases, but the hardware is {self.ctx.tx.kind!r}",
                        "use hardware.kind = 'hybrid' or another position stage")
        if self.p["rule"] in ("target", "users", "sum", "best") and self.ctx.world.n_targets == 0:
            self.refuse("rule", f"rule {self.p['rule']!r} aims at a target, but the scene has none",
                        "use rule = 'user-cycle' or add [targets]")

    def weights(self, rule, users, q) -> np.ndarray:
        tx = self.ctx.tx
        N = tx.n_rf
        users = np.atleast_2d(np.asarray(users, float))
        if rule == "user-cycle":
            aims = [users[n % len(users)] for n in range(N)]
        else:
            pts = [np.asarray(q, float)] + list(users)
            aims = ([pts[0]] * N if rule == "target" else [pts[n % len(pts)] for n in range(N)]
                    if rule == "users" else [np.array(pts)] * N)
        return analog_weights(tx.positions(), aims, tx.fc)

    def run(self, obs, plan):
        plan.pa_target = np.array(obs.state.s, float)
        rule, q = self.p["rule"], obs.target
        if rule != "user-cycle" and q is None:
            plan.fail("fallback", "no target observed")
            return
        if rule != "best":
            plan.analog = self.weights(rule, obs.users, q)
            return
        scorer = self.ctx.stages["beamform"]
        best = None
        for r in ("target", "users", "sum"):
            plan.analog = self.weights(r, obs.users, q)
            score = scorer.score(obs, plan)
            if best is None or score < best[0]:
                best = (score, r, plan.analog)
        plan.analog = best[2]
        plan.info["analog_rule"] = best[1]


def los_candidates(s0, reach, lo, hi, Q: int) -> np.ndarray:
    """Q candidate coordinates (N,M,Q) per PA, evenly spaced over its reachable interval
    ``[s0 − reach, s0 + reach] ∩ [lo, hi]`` (MODEL §5); the current coordinate is always
    the first candidate, so holding is always on offer."""
    a = np.maximum(s0 - reach[:, None], lo)
    b = np.minimum(s0 + reach[:, None], hi)
    frac = np.linspace(0.0, 1.0, max(int(Q) - 1, 1))
    grid = a[..., None] + (b - a)[..., None] * frac
    return np.concatenate([s0[..., None], grid], axis=-1)


def los_link_db(tx, s, users) -> np.ndarray:
    """Received power in dB (up to a common constant) of each PA at coordinates s
    (N,M,Q) → each user (K,3): free-space spreading −20 log10 d, in-guide attenuation
    α s, and the floor plan's wall loss (MODEL §2.1, §2.2, §2.5; opaque walls give −inf).
    Vectorised over guides × PAs × candidates × users → (N,M,Q,K)."""
    pos = tx.feed[:, None, None, :] + s[..., None] * tx.direction[:, None, None, :]     # (N,M,Q,3)
    users = np.atleast_2d(np.asarray(users, float))
    d = np.linalg.norm(pos[..., None, :] - users, axis=-1)                             # (N,M,Q,K)
    att = getattr(tx, "attenuation", np.zeros(tx.n_rf))[:, None, None, None] * s[..., None]
    db = -20.0 * np.log10(np.maximum(d, 1e-3)) - att
    if tx.floor is not None and tx.floor.seg_a.shape[0]:
        db = db - tx.floor.loss_db(pos[..., None, :], users[None, None, None, :, :])
    return db


def _power_sum_db(db, axis):
    """10 log10 Σ 10^(db/10) along ``axis`` (−inf stays −inf)."""
    with np.errstate(divide="ignore"):
        m = np.max(db, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        return np.squeeze(m, axis) + 10.0 * np.log10(np.sum(10.0 ** ((db - m) / 10.0), axis=axis))


@stage
class LosFollow(_Movable):
    """PAs go after line of sight to the users they serve, within reach (MODEL §2.5, §5).

    Users are predicted ``lead`` frames ahead at the velocity of their last two
    observations (PAs should lead the walk, not trail it). Each guide serves one user
    (users assigned to guides by a linear assignment on the best reachable received power,
    every user served by some guide while there are guides to spare); every PA of a guide
    picks, among ``Q`` candidates of its reachable interval ``s0 ± v T`` (v the guide's
    speed capped by ``max_speed_m_s``, T the frame), the coordinate maximising its
    received power at its user — free-space spreading, in-guide attenuation and the walls'
    penetration loss — minus ``travel_penalty_db_per_m`` per metre of travel. The guide
    moves only if that raises its incoherent received power by more than
    ``hysteresis_db`` (or restores a blocked line of sight): PAs that stay still keep the
    pilot-based channel prediction of MODEL §5.1 exact, moving ones age it. The set is
    made legal (order, spacing, bounds) and clipped to the reachable set again; since both
    the start and the legalised target are legal and the clip is monotone, so is the
    result (MODEL §5)."""

    role, name = "position", "los-follow"
    description = "PAs slide (within reach) to where they see their user past the walls; travel penalised"
    params = {
        "Q": Param(41, "candidate coordinates per PA in its reachable interval", "points", lo=2, hi=100_000),
        "travel_penalty_db_per_m": Param(0.0, "score deducted per metre a PA travels", "dB/m", lo=0.0, hi=1e6),
        "hysteresis_db": Param(3.0, "a guide moves only if its received power gains more than this "
                                    "(or a blocked line of sight is restored)", "dB", lo=0.0, hi=200.0),
        "max_speed_m_s": Param(0.0, "cap on the commanded PA speed (0: the guide's speed)", "m/s",
                               lo=0.0, hi=1e3),
        "horizon": Param(10.0, "frames of travel the candidate interval spans (the commanded target is "
                               "always clipped to one frame's reach)", "frames", lo=1.0, hi=1e4),
        "lead": Param(1.0, "frames ahead the users' positions are predicted to", "frames", lo=0.0, hi=100.0),
    }

    def __init__(self, ctx, p):
        super().__init__(ctx, p)
        self._last_t, self._last_users = None, None
        self._moving = None

    def velocity(self, t, users) -> np.ndarray:
        """Finite difference of the last two observations (zero on the first frame)."""
        v = np.zeros_like(users)
        if self._last_users is not None and self._last_users.shape == users.shape and t > self._last_t:
            v = (users - self._last_users) / (t - self._last_t)
        self._last_t, self._last_users = t, users.copy()
        return v

    def reach(self) -> np.ndarray:
        tx = self.ctx.tx
        v = np.asarray(tx.speed, float)
        if self.p["max_speed_m_s"] > 0:
            v = np.minimum(v, self.p["max_speed_m_s"])
        return v * self.ctx.frame_s

    def decide(self, s0, users) -> tuple[np.ndarray, dict]:
        """Targets (N,M) for PAs at s0 and (predicted) user positions (K,3)."""
        from scipy.optimize import linear_sum_assignment

        from twin.hardware import slide

        tx, p = self.ctx.tx, self.p
        s0 = np.asarray(s0, float)
        if users.shape[0] == 0:
            return s0.copy(), {"guides_moved": 0}
        reach = self.reach()
        lo, hi = tx.bounds()
        cand = los_candidates(s0, reach * p["horizon"], lo, hi, p["Q"])       # (N,M,Q)
        db = los_link_db(tx, cand, users)                                     # (N,M,Q,K)
        inst = tx.installed[:, :, None, None]
        db = np.where(inst, db, -np.inf)
        travel = np.abs(cand - s0[..., None])[..., None]
        score = db - p["travel_penalty_db_per_m"] * travel                    # (N,M,Q,K)
        N, K = tx.n_rf, users.shape[0]
        # guide n's value for user k: the power sum of its PAs' best candidates
        best_q = np.argmax(score, axis=2)                                     # (N,M,K)
        best_db = np.take_along_axis(db, best_q[:, :, None, :], axis=2)[:, :, 0, :]
        value = _power_sum_db(np.where(tx.installed[..., None], best_db, -np.inf), axis=1)   # (N,K)
        reps = -(-N // K) if K else 1
        cost = -np.nan_to_num(np.tile(value, (1, reps)), neginf=-1e6)
        rows, cols = linear_sum_assignment(cost)
        assigned = np.full(N, -1)
        assigned[rows] = cols % K
        target = s0.copy()
        moved = 0
        if self._moving is None or self._moving.shape != (N,):
            self._moving = np.zeros(N, bool)
        for n in range(N):
            k = assigned[n]
            if k < 0:
                self._moving[n] = False
                continue
            m_inst = tx.installed[n]
            new = cand[n, np.arange(cand.shape[1]), best_q[n, :, k]]
            now_db = _power_sum_db(np.where(m_inst, db[n, :, 0, k], -np.inf), axis=0)
            new_db = value[n, k]
            now_los = np.any(m_inst & (self._wall_db(n, s0[n], users[k]) < 1e-9))
            new_los = np.any(m_inst & (self._wall_db(n, new, users[k]) < 1e-9))
            gain = new_db - now_db if np.isfinite(now_db) else np.inf
            # start moving on a gain above the hysteresis (or a restored line of sight), keep
            # moving while the destination still gains: a guide does not stop half way
            start = (new_los and not now_los) or gain > p["hysteresis_db"]
            self._moving[n] = start or (self._moving[n] and gain > 0.05)
            if self._moving[n]:
                target[n] = np.where(m_inst, new, s0[n])
                moved += 1
        target = tx.legalize(target)
        target = slide(s0, target, reach / self.ctx.frame_s, self.ctx.frame_s)
        return target, {"guides_moved": moved}

    def _wall_db(self, n, s, user) -> np.ndarray:
        """Wall loss (M,) from guide n's PAs at coordinates s to one user."""
        tx = self.ctx.tx
        if tx.floor is None or not tx.floor.seg_a.shape[0]:
            return np.zeros(np.shape(s))
        pos = tx.feed[n] + np.asarray(s, float)[:, None] * tx.direction[n]
        return tx.floor.loss_db(pos, np.asarray(user, float)[None, :])

    def run(self, obs, plan):
        users = np.asarray(obs.users, float)
        v = self.velocity(obs.time_s, users)
        pred = users + v * (self.p["lead"] * self.ctx.frame_s)
        if self.ctx.tx.floor is not None:
            # a prediction inside a wall or past the outline is held at the observation
            ok = self.ctx.tx.floor.is_free(pred[:, :2])
            pred = np.where(np.asarray(ok, bool)[:, None], pred, users)
        plan.pa_target, info = self.decide(obs.state.s, pred)
        plan.info.update(info)
