"""Paper 000 policies: CRB-minimising ISAC (MODEL §4.3-§4.4) re-run every frame on the
observed users and the first target, warm-started from the previous frame.

- ``isac-crb``: Algorithm 4 (SDR + penalty/SCA/element-wise positions), continuous PAs;
  the first frame runs the coarse-to-fine continuation (Z = 15 → 30 → continuous).
- ``isac-crb-discrete``: the same on the Z+1 lattice (parameter ``Z``).
- ``isac-crb-uniform``: PAs evenly spread and fixed, SDR beamforming.
- ``mimo-isac``, ``mmimo-isac``: fixed BS arrays (``fixed_array = True``; the evaluator
  takes their channel from :meth:`channel`), SDR beamforming.

PASS policies plan each slot for the PA coordinates the actuator will have reached at
its centre (PAs slide at finite speed), re-solving the SDR there while in transit.

``Decision.info``: ``rcrb_m`` (√tr CRB of the CRB-optimal covariance of the first slot,
for its predicted geometry; ``rcrb_target_m`` at the AO's target positions), ``min_sinr_margin_db`` (min over users of SINR/γ in dB), ``sensing_power_share``
(tr R_s / P), ``iterations``, ``objective`` (tr CRB, m²), ``sdr_wall_s``.
A failed solve never raises: the policy holds the previous decision (or the current PAs
with ZF) and says why in ``status``.
"""

from __future__ import annotations

import numpy as np

from twin.optim.crb_positioning import SearchGrid, coarse_to_fine, crb_ao, sdr_at
from twin.optim.isac_baselines import best_mmimo, fixed_array_sdr, mimo_array
from twin.optim.sdr import CrbSdr
from twin.problems import array_site, crb_setup, pass_layout
from twin.engine.actuator import slide
from twin.policies.base import Decision, Policy, SlotPlan
from twin.policies.basic import hold_decision
from twin.policies.registry import register
from twin.units import lin_to_db


def _info(world, res, iterations):
    gamma = world.sinr_target
    return {"rcrb_m": float(np.sqrt(res.objective)), "objective": float(res.objective),
            "min_sinr_margin_db": float(np.min(lin_to_db(res.sinr / gamma))),
            "sensing_power_share": float(np.real(np.trace(res.Rs)) / world.power_w),
            "iterations": int(iterations), "sdr_wall_s": float(res.wall_time_s)}


class _IsacBase(Policy):
    """Shared state: the compiled SDR (built once), the CRB set-up, the PASS layout."""

    example_scene = "paper000"

    def __init__(self, world, **params):
        super().__init__(world, **params)
        self.setup = crb_setup(world)
        self.layout = pass_layout(world)
        self.sdr = CrbSdr(world.deployment.n_guides, world.n_users)

    @property
    def gamma(self):
        """Design SINR targets: γ raised by ``sinr_margin_db`` (the SDR meets its SINR rows
        with equality, so without a margin round-off alone would count as outage)."""
        return self.world.sinr_target * 10.0 ** (float(self.p.get("sinr_margin_db", 0.0)) / 10.0)

    def _target(self, obs):
        if obs.targets is None or len(obs.targets) == 0:
            return None
        return np.asarray(obs.targets[0], float)

    def _fallback(self, obs, why):
        prev = obs.previous
        if prev is not None and np.shape(prev.W) == (self.world.deployment.n_guides, self.world.n_users) \
                and np.all(np.isfinite(prev.W)):
            return Decision(pa_target=prev.pa_target.copy(), active=prev.active.copy(), W=prev.W,
                            Rs=prev.Rs, status=f"held previous: {why}"[:300])
        return hold_decision(obs, f"fallback: {why}"[:300])


class _PassIsac(_IsacBase):
    params = {"max_iter": 3, "first_max_iter": 10, "grid": 601, "Z": 0, "sinr_margin_db": 0.05}

    def _grid(self):
        z = int(self.p["Z"])
        return SearchGrid(lattice_z=z if z > 0 else None, grid=int(self.p["grid"]))

    def decide(self, obs):
        w = self.world
        q = self._target(obs)
        if q is None:
            return self._fallback(obs, "no target observed")
        users = np.asarray(obs.users, float)
        prev = obs.previous
        warm = prev is not None and prev.status == "ok"
        s0 = prev.pa_target if warm else obs.pa_s
        args = (self.layout, s0, users, q, self.setup, self.gamma, w.power_w, w.noise_w)
        if not warm and self.p["Z"] == 0:
            ao = coarse_to_fine(*args, sdr=self.sdr, grid=int(self.p["grid"]),
                                max_iter=int(self.p["first_max_iter"]))[None]
        else:
            ao = crb_ao(*args, sdr=self.sdr, grid=self._grid(),
                        max_iter=int(self.p["max_iter" if warm else "first_max_iter"]))
        if not ao.sdr.ok:
            return self._fallback(obs, f"SDR {ao.sdr.status}")
        plans, res0, status = self._slot_plans(obs, ao, users, q)
        info = _info(w, res0, ao.iterations)
        info["rcrb_target_m"] = float(ao.rcrb_m)
        info["ao_wall_s"] = float(ao.wall_time_s)
        return Decision(pa_target=ao.s, active=w.deployment.installed.copy(), W=res0.W, Rs=res0.Rs,
                        slots=plans, status=status, info=info)

    def _slot_plans(self, obs, ao, users, q):
        """PAs slide at finite speed (MODEL §5): where they will not have reached the AO
        target by a slot's centre, that slot's beamformers are re-solved (SDR) for the
        coordinates the actuator will have reached then; the AO's own solution otherwise."""
        w = self.world
        dep = w.deployment
        sim = w.scene.simulation
        dur = sim.frame_s / sim.slots_per_frame
        plans, first, status = [], None, "ok"
        for j in range(sim.slots_per_frame):
            s_j = slide(obs.pa_s, ao.s, dep.speed, (j + 0.5) * dur)
            res = ao.sdr
            if np.max(np.abs(s_j - ao.s)[dep.installed], initial=0.0) > 1e-9:
                res = sdr_at(self.layout, self.sdr, s_j, users, q, self.setup, self.gamma,
                             w.power_w, w.noise_w)
                if not res.ok:
                    res, status = ao.sdr, f"ok; slot {j} in transit without feasible SDR ({res.status})"[:300]
            first = first or res
            plans.append(SlotPlan(dur, dep.installed.copy(), res.W, res.Rs))
        return tuple(plans), first, status

@register
class IsacCrb(_PassIsac):
    name = "isac-crb"
    description = "Paper 000: CRB-minimising ISAC, SDR + penalty/SCA/element-wise PA positions (continuous)"
    params = {"max_iter": 3, "first_max_iter": 10, "grid": 601, "sinr_margin_db": 0.05}

    def __init__(self, world, **params):
        super().__init__(world, **params)
        self.p["Z"] = 0


@register
class IsacCrbDiscrete(_PassIsac):
    name = "isac-crb-discrete"
    description = "Paper 000 Discrete-PASS-Z: PAs on the Z+1 lattice of each guide, same algorithm"
    params = {"max_iter": 3, "first_max_iter": 10, "grid": 601, "Z": 30, "sinr_margin_db": 0.05}

    def __init__(self, world, **params):
        super().__init__(world, **params)
        if int(self.p["Z"]) < 1:
            from twin.errors import ConfigError
            raise ConfigError("controller", "params.Z", f"Z must be ≥ 1, got {self.p['Z']}",
                              "give the number of lattice intervals per guide, e.g. Z = 30")


@register
class IsacCrbUniform(_IsacBase):
    name = "isac-crb-uniform"
    description = "Paper 000 Uniform-PASS: PAs evenly spread and fixed, CRB SDR beamforming"
    params = {"sinr_margin_db": 0.05}

    def decide(self, obs):
        w = self.world
        q = self._target(obs)
        if q is None:
            return self._fallback(obs, "no target observed")
        s = w.deployment.uniform_positions()
        res = sdr_at(self.layout, self.sdr, s, np.asarray(obs.users, float), q, self.setup,
                     self.gamma, w.power_w, w.noise_w)
        if not res.ok:
            return self._fallback(obs, f"SDR {res.status}")
        return Decision(pa_target=s, active=w.deployment.installed.copy(), W=res.W, Rs=res.Rs,
                        info=_info(w, res, 1))


class _FixedIsac(_IsacBase):
    """A BS-side array: no PAs to move; the evaluator uses :meth:`channel`."""

    fixed_array = True

    def __init__(self, world, **params):
        super().__init__(world, **params)
        self.array = None

    def channel(self, points) -> np.ndarray:
        """(N,K) channel of the array in force to points (K,3) (MODEL §2.6)."""
        return self.array.channel(points)

    def _array_and_solve(self, obs, q):  # pragma: no cover - interface
        raise NotImplementedError

    def decide(self, obs):
        w = self.world
        q = self._target(obs)
        if self.array is None:
            self.array = mimo_array(array_site(w))     # a channel is needed even before a good frame
        if q is None:
            return self._fallback(obs, "no target observed")
        arr, res = self._array_and_solve(obs, q)
        if not res.ok:
            return self._fallback(obs, f"SDR {res.status}")
        self.array = arr
        return Decision(pa_target=obs.pa_s.copy(), active=obs.pa_active.copy(), W=res.W, Rs=res.Rs,
                        info=_info(w, res, 1))


@register
class MimoIsac(_FixedIsac):
    name = "mimo-isac"
    description = "Paper 000 MIMO: N-antenna fully digital λ/2 ULA at the BS, CRB SDR beamforming"
    params = {"sinr_margin_db": 0.05}

    def __init__(self, world, **params):
        super().__init__(world, **params)
        self.array = mimo_array(array_site(world))

    def _array_and_solve(self, obs, q):
        w = self.world
        return self.array, fixed_array_sdr(self.array, self.sdr, np.asarray(obs.users, float), q,
                                           self.setup, self.gamma, w.power_w, w.noise_w)


@register
class MmimoIsac(_FixedIsac):
    name = "mmimo-isac"
    description = ("Paper 000 mMIMO: N RF chains × M antennas (partially connected hybrid), "
                   "analog phases by rule target|users|sum|best, CRB SDR beamforming")
    params = {"analog": "best", "sinr_margin_db": 0.05}

    def _array_and_solve(self, obs, q):
        w = self.world
        arr, res, _ = best_mmimo(array_site(w), self.sdr, np.asarray(obs.users, float), q, self.setup,
                                 self.gamma, w.power_w, w.noise_w, rule=str(self.p["analog"]))
        return arr, res
