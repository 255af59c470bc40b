"""The two geometric policies of the foundation: ``uniform`` (PAs evenly spread, fixed)
and ``follow`` (PAs slide to the users' along-guide projections), each with a linear
beamformer (MODEL §4.1). Also the fallback decision every policy can use."""

from __future__ import annotations

import numpy as np

from twin.engine.actuator import slide
from twin.optim.linear import linear_precoder
from twin.policies.base import Decision, Observation, Policy, SlotPlan
from twin.policies.registry import register


def beamformer_for(world, s, active, users, kind: str):
    """Linear beamformer (MODEL §4.1) for PA coordinates s (N,M) and user positions (K,3),
    with the floor plan's blockage; ZF falls back to MMSE when K > N."""
    H = world.deployment.channel(s, users, active, world.floor)
    K, N = H.shape[1], H.shape[0]
    if kind == "zf" and K > N:
        kind = "mmse"
    return linear_precoder(H, world.power_w, kind, world.noise_w)


def hold_decision(obs: Observation, reason: str) -> Decision:
    """Safe fallback: keep the PAs where they are, ZF/MMSE for the current geometry."""
    w = obs.world
    s = obs.pa_s
    active = obs.pa_active
    W = beamformer_for(w, s, active, obs.users, "zf") if obs.previous is None or not hasattr(obs.previous, "W") \
        else obs.previous.W
    if np.shape(W) != (w.deployment.n_guides, w.n_users) or not np.all(np.isfinite(W)):
        W = beamformer_for(w, s, active, obs.users, "zf")
    return Decision(pa_target=s.copy(), active=active.copy(), W=W, status=reason)


class MotionPredictor:
    """Constant-velocity estimate from the last two observations, so beamformers can be
    computed for where users will be later in the frame (exact on the straight legs of a
    walk, wrong only at turns)."""

    def __init__(self):
        self.last_t, self.last = None, None

    def velocity(self, t: float, points) -> np.ndarray:
        points = np.asarray(points, float)
        v = np.zeros_like(points)
        if self.last is not None and self.last.shape == points.shape and t > self.last_t:
            v = (points - self.last) / (t - self.last_t)
        self.last_t, self.last = t, points.copy()
        return v


def slot_plans(world, obs, pa_target, active, kind: str, velocity=None, predict: bool = True):
    """Per-slot plans (MODEL §5) with a linear beamformer recomputed for each slot's
    predicted state: PAs where the actuator will have slid them at the slot midpoint,
    users extrapolated at ``velocity`` (K,3). With ``predict=False``, one beamformer for
    the commanded PAs and the observed users serves every slot (pure channel ageing)."""
    dep = world.deployment
    sim = world.scene.simulation
    dur = sim.frame_s / sim.slots_per_frame
    plans = []
    for j in range(sim.slots_per_frame):
        if predict:
            t = (j + 0.5) * dur
            s = slide(obs.pa_s, pa_target, dep.speed, t)
            users = obs.users + (0.0 if velocity is None else velocity * t)
        else:
            s, users = pa_target, obs.users
        if j == 0 or predict:
            W = beamformer_for(world, s, active, users, kind)
        plans.append(SlotPlan(dur, active, W))
    return tuple(plans)


class GeometricPolicy(Policy):
    """A policy that places PAs by a rule (``pa_targets``) and beamforms linearly per slot
    for the predicted state (:func:`slot_plans`)."""

    params = {"beamformer": "zf", "predict": True}

    def __init__(self, world, **params):
        super().__init__(world, **params)
        self.predictor = MotionPredictor()

    def pa_targets(self, obs) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def decide(self, obs):
        dep = self.world.deployment
        target = self.pa_targets(obs)
        v = self.predictor.velocity(obs.time_s, obs.users)
        plans = slot_plans(self.world, obs, target, dep.installed, self.p["beamformer"], v, self.p["predict"])
        travel = float(np.abs(target - obs.pa_s)[dep.installed].max(initial=0.0))
        return Decision(pa_target=target, active=dep.installed.copy(), W=plans[0].W, slots=plans,
                        info={"max_travel_m": travel})


@register
class Uniform(GeometricPolicy):
    """PAs evenly spread over each guide and never moved; linear beamformer per slot for
    the users' predicted positions (``predict``) or once per frame for the observed ones."""

    name = "uniform"
    description = "PAs evenly spread and fixed; linear beamformer (mrt|zf|mmse)"

    def pa_targets(self, obs):
        return self.world.deployment.uniform_positions()


def follow_targets(world, users) -> np.ndarray:
    """Commanded coordinates: PA m of guide n goes to the along-guide projection of the
    (m mod K)-th user nearest that guide, then the set is made legal (order, spacing δ,
    [0, L]; MODEL §1)."""
    dep = world.deployment
    rel = users[None, :, :] - dep.feed[:, None, :]                       # (N,K,3)
    proj = np.einsum("nkd,nd->nk", rel, dep.direction)                    # (N,K)
    proj = np.clip(proj, 0.0, dep.length[:, None])
    perp = np.linalg.norm(rel - proj[..., None] * dep.direction[:, None, :], axis=-1)
    order = np.argsort(perp, axis=1)                                      # nearest first
    N, M = dep.installed.shape
    K = users.shape[0]
    m = np.arange(M)
    chosen = order[:, m % K]                                              # (N,M) user index
    s = np.take_along_axis(proj, chosen, axis=1)
    # PAs sharing a user fan out around it by δ so they land next to it after legalising
    rank = m // K
    s = s + (rank - rank.max() / 2.0) * dep.spacing[:, None] * (K < M)
    return dep.legalize(np.where(dep.installed, s, 0.0))


@register
class Follow(GeometricPolicy):
    """Geometric heuristic: each guide's PAs slide to the projections of the users nearest
    that guide. With ``predict`` the beamformer is recomputed per slot for where the PAs
    will have slid (the controller knows its actuator) and where the users will have
    walked (constant-velocity extrapolation)."""

    name = "follow"
    description = "PAs slide to the along-guide projections of the nearest users; linear beamformer"

    def pa_targets(self, obs):
        return follow_targets(self.world, obs.users)
