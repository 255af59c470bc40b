"""Paper 002 policies: ``elementwise`` (element-wise pinching beamforming with a linear
beamformer) and ``hmimo`` (the fixed-antenna hybrid baseline)."""

from __future__ import annotations

import numpy as np

from twin.errors import ConfigError
from twin.optim.elementwise import LinkSetup, sum_rate_elementwise_positions
from twin.optim.hybrid import hmimo_solution
from twin.policies.base import Decision, Policy
from twin.policies.basic import MotionPredictor, slot_plans
from twin.policies.registry import register
from twin.problems import array_site, pass_layout

_DL_KIND = {"mrt": "mrt", "mrc": "mrt", "zf": "zf", "mmse": "mmse"}


def _setup(world, beamformer: str, link: str) -> LinkSetup:
    kind = beamformer.lower()
    if link == "uplink" and kind == "mrt":
        kind = "mrc"
    if link == "downlink" and kind == "mrc":
        kind = "mrt"
    try:
        setup = LinkSetup(kind, link, world.power_w, world.user_power_w, world.noise_w)
    except ValueError as e:
        raise ConfigError("controller", "params", str(e), "beamformer = mrt|zf|mmse, link = downlink|uplink") from None
    N, K = world.deployment.n_guides, world.n_users
    if setup.kind == "zf" and K > N:
        raise ConfigError("controller", "params.beamformer",
                          f"ZF needs K ≤ N, but the scene has K={K} users and N={N} waveguides",
                          "use beamformer = 'mmse' (works for any K) or add waveguides")
    return setup


@register
class Elementwise(Policy):
    """Element-wise pinching beamforming (paper 002): each frame, PA positions by the
    element-wise search for the observed users (warm-started from the previous target),
    then the linear beamformer per slot for the predicted PA/user positions. With
    ``link = "uplink"`` the positions maximise the uplink sum rate (MRC/ZF/MMSE) and
    the downlink is served with the matching precoder; the uplink sum rate is traced."""

    name = "elementwise"
    description = "paper 002: element-wise PA positions (rank-one updates) + linear beamformer"
    params = {"beamformer": "zf", "link": "downlink", "Q": 400, "eps": 1e-3, "warm_start": True}
    example_scene = "paper002"

    def __init__(self, world, **params):
        super().__init__(world, **params)
        self.setup = _setup(world, self.p["beamformer"], self.p["link"])
        self.predictor = MotionPredictor()

    def decide(self, obs):
        dep = self.world.deployment
        # warm start from the configuration the PAs are heading to (a stable target while
        # they slide), or where they are if there is none yet
        s0 = None
        if self.p["warm_start"]:
            s0 = obs.previous.pa_target if obs.previous is not None else obs.pa_s
        res = sum_rate_elementwise_positions(pass_layout(self.world), obs.users, self.setup, Q=int(self.p["Q"]),
                                             eps=float(self.p["eps"]),
                                 s0=s0, rng=obs.rng if s0 is None else None)
        v = self.predictor.velocity(obs.time_s, obs.users)
        plans = slot_plans(self.world, obs, res.s, dep.installed, _DL_KIND[self.setup.kind], v)
        return Decision(pa_target=res.s, active=dep.installed.copy(), W=plans[0].W, slots=plans,
                        info={"planned_sum_rate_bps_hz": res.sum_rate, "link": self.setup.link,
                              "sweeps": res.sweeps, "moves": len(res.history) - 1,
                              "optimiser_s": res.wall_time_s})


@register
class HybridMimo(Policy):
    """Fixed-antenna hMIMO baseline (paper 002 §V-A): N RF chains × M-element sub-arrays
    at the BS, analog phases steered at the observed users each frame, the same digital
    beamformer. No PA moves; the evaluator uses this policy's array channel."""

    name = "hmimo"
    description = "paper 002 baseline: hybrid MIMO (N RF chains × M antennas) at the BS"
    params = {"beamformer": "zf", "link": "downlink"}
    example_scene = "paper002"
    fixed_array = True

    def __init__(self, world, **params):
        super().__init__(world, **params)
        self.setup = _setup(world, self.p["beamformer"], self.p["link"])
        self.array = None

    def channel(self, points):
        return self.array.channel(points)

    def decide(self, obs):
        dep = self.world.deployment
        hm = hmimo_solution(array_site(self.world), obs.users, self.setup)
        rate, W, self.array = hm.sum_rate, hm.W, hm.array
        if self.setup.link == "uplink":
            from twin.optim.linear import linear_precoder
            W = linear_precoder(self.array.channel(obs.users), self.world.power_w,
                                _DL_KIND[self.setup.kind], self.world.noise_w)
        return Decision(pa_target=obs.pa_s.copy(), active=dep.installed.copy(), W=W,
                        info={"planned_sum_rate_bps_hz": rate, "link": self.setup.link})
