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
    stage's) on ``link``; warm-started from the previous target."""

    role, name = "position", "elementwise"
    description = "paper 002: element-wise PA positions maximising the sum rate (rank-one updates)"
    params = {
        "kind": Param("auto", "beamformer the sum rate is computed for (auto: the beamform stage's)",
                      choices=("auto", "mrt", "mrc", "zf", "mmse")),
        "link": Param("downlink", "link whose sum rate is maximised", choices=("downlink", "uplink")),
        "Q": Param(400, "candidate positions per guide", "samples", lo=2, hi=100_000),
        "eps": Param(1e-3, "stop when a sweep gains less than this fraction", lo=1e-12, hi=1.0),
        "warm_start": Param(True, "start from the previous target (else random legal positions)"),
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

    def run(self, obs, plan):
        s0 = None
        if self.p["warm_start"]:
            s0 = obs.previous.pa_target if obs.previous is not None else obs.state.s
        res = self.ctx.solvers.sum_rate_positions(obs.users, self.setup, Q=self.p["Q"], eps=self.p["eps"],
                                                  s0=s0, rng=obs.rng if s0 is None else None)
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
    them (the twin's default)."""

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
        ao = ctx.solvers.crb_positions(s0, np.asarray(obs.users, float), q, gamma, z=self.p["Z"],
                                       grid=self.p["grid"],
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
