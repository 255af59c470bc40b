"""Paper 001 policies: the clustered sensing-outage optimiser and its baselines. Each
frame is split into T slots; in each slot one cluster radiates (with its PAs where the
schedule put them) and one user is served; the engine switches clusters at slot
boundaries and accumulates the sensing SNR over the frame (MODEL §3.4, §5)."""

from __future__ import annotations

import numpy as np

from twin.errors import ConfigError
from twin.optim.clustered import SCHEMES, solve_scheme
from twin.physics.outage import outage_probability
from twin.policies.base import Decision, Policy, SlotPlan
from twin.policies.registry import register
from twin.problems import cluster_setup, pass_layout
from twin.units import db_to_lin


class _Clustered(Policy):
    """Shared: parameters, schedule → decision. ``T = 0`` uses the scene's slots per
    frame; ``decay < 0`` the scene's RCS decay; ``objective`` "exact" or "chernoff" (the
    paper's surrogate: minimised over s, or over ``s_grid`` log-spaced values of s when
    ``s_grid > 0``)."""

    scheme = "proposed"
    params = {"T": 0, "R_min": 1.0, "threshold_db": 10.0, "decay": -1.0, "objective": "exact", "s_grid": 0}
    example_scene = "paper001"

    def __init__(self, world, **params):
        super().__init__(world, **params)
        dep = world.deployment
        if not any(dep.cluster_bounds) or world.n_targets == 0:
            raise ConfigError("controller", "policy", f"policy {self.name!r} needs a clustered waveguide and a target",
                              "use a scene with waveguides.clusters and [targets] (e.g. paper001)")
        self.T = int(self.p["T"]) or world.scene.simulation.slots_per_frame
        self.sensing_threshold = float(db_to_lin(self.p["threshold_db"]))
        self.decay = None if self.p["decay"] < 0 else float(self.p["decay"])

    def _objective(self) -> str:
        obj = str(self.p["objective"])
        if obj not in ("exact", "chernoff"):
            raise ConfigError("controller", "params.objective", f"unknown objective {obj!r}", "use 'exact' or 'chernoff'")
        return f"chernoff-grid{int(self.p['s_grid'])}" if obj == "chernoff" and int(self.p["s_grid"]) > 0 else obj

    def decide(self, obs):
        w, dep = self.world, self.world.deployment
        sch = solve_scheme(pass_layout(w), cluster_setup(w), obs.users, obs.targets[0], self.scheme, T=self.T,
                           r_min=float(self.p["R_min"]),
                               threshold_db=float(self.p["threshold_db"]), decay=self.decay,
                           objective=self._objective())
        pb = sch.problem
        self.problem, self.schedule = pb, sch
        target = np.array(obs.previous.pa_target if obs.previous is not None else obs.pa_s, float)
        cl_idx = [(n, c) for n, b in enumerate(dep.cluster_bounds) for c in range(len(b))]
        single = SCHEMES[self.scheme][0].get("pas_per_cluster") == 1
        for c_i, cfg in zip(sch.clusters, sch.configs):
            n, c = cl_idx[c_i]
            x = pb.positions[c_i, cfg]
            x = x[np.isfinite(x)]
            if x.size:
                members = np.flatnonzero(dep.cluster[n] == c)
                target[n, members[:x.size]] = x
        target = dep.legalize(target)
        K = w.n_users
        slots = []
        for t in range(self.T):
            n, c = cl_idx[sch.clusters[t]]
            active = np.zeros_like(dep.installed)
            members = np.flatnonzero(dep.cluster[n] == c)
            active[n, members[:1] if single else members] = True
            W = np.zeros((dep.n_guides, K), complex)
            W[n, sch.users[t]] = np.sqrt(w.power_w)
            slots.append(SlotPlan(float(sch.tau[t]) * w.scene.simulation.frame_s / pb.t_tot, active, W,
                                  scheduled_user=int(sch.users[t])))
        status = "ok" if sch.usable else f"fallback: rate targets infeasible ({sch.status})"
        return Decision(pa_target=target, active=slots[0].active, W=slots[0].W, slots=tuple(slots), status=status,
                        info={"planned_outage": sch.outage, "planned_chernoff": sch.chernoff,
                              "clusters": "-".join(map(str, sch.clusters)),
                              "durations_ms": "-".join(f"{x * 1e3:.3g}" for x in sch.tau),
                              "min_rate_margin_bps_hz": float(np.min(sch.rates) - self.p["R_min"]),
                              "optimiser_s": sch.wall_time_s})


@register
class ClusteredOutage(_Clustered):
    """Paper 001: cluster selection, intra-cluster PA positions, user scheduling and slot
    durations minimising the exact sensing outage under average-rate constraints."""

    name = "clustered-outage"
    description = "paper 001: clustered PAs, schedule minimising the sensing outage s.t. R_min"
    scheme = "proposed"


@register
class ClusteredSameCluster(_Clustered):
    name = "clustered-baseline2"
    description = "paper 001 baseline 2: the same cluster in every slot"
    scheme = "baseline-2"


@register
class ClusteredEqualSlots(_Clustered):
    name = "clustered-baseline3"
    description = "paper 001 baseline 3: equal slot durations"
    scheme = "baseline-3"


@register
class ClusteredSinglePA(_Clustered):
    name = "clustered-baseline4"
    description = "paper 001 baseline 4: one PA per cluster"
    scheme = "baseline-4"


@register
class ClusteredNoBeamforming(_Clustered):
    name = "clustered-nobf"
    description = "paper 001 Fig. 6 variant: PAs evenly spread in their cluster (no intra-cluster beamforming)"
    scheme = "no-beamforming"


@register
class ClusteredFixedUla(_Clustered):
    """Baseline 1: a fixed λ/2 ULA centred on the guide, split into C sub-arrays; the
    evaluator uses the sub-array of the current slot (``slot_channel``) and the frame's
    sensing outage comes from the sub-arrays' gains."""

    name = "clustered-baseline1"
    description = "paper 001 baseline 1: fixed ULA split into sub-arrays (no antenna motion)"
    scheme = "baseline-1"
    fixed_array = True

    def decide(self, obs):
        from twin.optim.clustered import fixed_ula_problem, solve_schedule
        w, dep = self.world, self.world.deployment
        self.target = np.asarray(obs.targets[0], float)
        pb = fixed_ula_problem(pass_layout(w), cluster_setup(w), obs.users, self.target, T=self.T, r_min=float(self.p["R_min"]),
                               threshold_db=float(self.p["threshold_db"]), decay=self.decay)
        sch = solve_schedule(pb)
        self.problem, self.schedule = pb, sch
        K = w.n_users
        slots = []
        for t in range(self.T):
            W = np.zeros((dep.n_guides, K), complex)
            W[0, sch.users[t]] = np.sqrt(w.power_w)
            slots.append(SlotPlan(float(sch.tau[t]) * w.scene.simulation.frame_s / pb.t_tot,
                                  dep.installed.copy(), W, scheduled_user=int(sch.users[t])))
        self._slot = 0
        status = "ok" if sch.usable else f"fallback: rate targets infeasible ({sch.status})"
        return Decision(pa_target=obs.pa_s.copy(), active=dep.installed.copy(), W=slots[0].W, slots=tuple(slots),
                        status=status, info={"planned_outage": sch.outage, "planned_chernoff": sch.chernoff,
                                             "clusters": "-".join(map(str, sch.clusters))})

    def _subarray(self, c):
        from twin.physics.channel import free_space_gain
        dep, w = self.world.deployment, self.world
        C = len(dep.cluster_bounds[0])
        nc = int(np.sum(dep.cluster[0] == 0))
        lam = 299_792_458.0 / w.fc
        centre = dep.feed[0] + 0.5 * dep.length[0] * dep.direction[0]
        offs = (np.arange(C * nc) - (C * nc - 1) / 2.0) * lam / 2.0
        return (centre[None] + offs[:, None] * dep.direction[0][None]).reshape(C, nc, 3)[c], free_space_gain

    def set_slot(self, j: int) -> None:
        self._slot = int(j)

    def channel(self, points):
        pos, gain = self._subarray(int(self.schedule.clusters[self._slot]))
        g = gain(pos[:, None, :], np.atleast_2d(points)[None], self.world.fc) / np.sqrt(len(pos))
        return g.sum(axis=0)[None, :]

    def frame_sensing_metrics(self, slots, target, rng, threshold):
        """Sensing outage of the frame from the sub-arrays used (MODEL §3.4)."""
        pb, sch = self.problem, self.schedule
        tau = np.array([d for d, _, _ in slots])
        wts = np.zeros(pb.gains.shape[0])
        np.add.at(wts, sch.clusters[:len(tau)], tau / tau.sum() * pb.gains[sch.clusters[:len(tau)], 0])
        evals, evecs = np.linalg.eigh(pb.cov)
        z = (rng.standard_normal(len(wts)) + 1j * rng.standard_normal(len(wts))) / np.sqrt(2)
        gamma = float(np.sum(wts * np.abs((evecs * np.sqrt(np.clip(evals, 0, None))) @ z) ** 2))
        return {"sensing_outage_exact": outage_probability(wts, pb.cov, threshold),
                "sensing_outage_chernoff": outage_probability(wts, pb.cov, threshold, method="chernoff"),
                "sensing_outage_mc": float(gamma < threshold)}
