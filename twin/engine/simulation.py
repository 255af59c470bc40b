"""The SimPy engine (MODEL §5): mobility, controller, PA actuator and evaluator as
processes on one simulated clock, writing traces as it goes.

Per frame: the controller observes (positions with observation noise), runs the policy,
commands the actuator; the evaluator samples the *actual* state ``samples_per_slot``
times per slot, at the centres of equal sub-intervals (actual user/target positions, PA positions actually reached, beamformers decided at the
frame start), so slow control and slow PAs show up as lost rate and outage.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simpy

from twin import __version__
from twin.engine.actuator import SlidingActuator
from twin.engine.streams import stream
from twin.geometry.mobility import make_mobility
from twin.physics.sensing import crb_from_channel, root_crb, target_channel_and_gradient
from twin.physics.sinr import rate_bps_hz, sinr_downlink
from twin.policies.base import Decision, Observation, SlotPlan
from twin.policies.registry import make_policy
from twin.traces.reader import summarize
from twin.traces.writer import TraceWriter
from twin.units import lin_to_db
from twin.world import World


@dataclass
class Entity:
    mobility: object

    def position(self, t: float) -> np.ndarray:
        return self.mobility.traj.position(t)


class Simulation:
    """One run of a scene under a policy.

    scene: validated Scene; policy / policy_params override the scene's controller;
    frames, seed override the scene's simulation section; out_dir: run directory
    (None: no traces, for tests and experiments that only want the summary).
    """

    def __init__(self, scene, out_dir=None, *, policy: str | None = None,
                 policy_params: dict | None = None, frames: int | None = None,
                 seed: int | None = None, progress: bool = False):
        self.scene = scene
        self.world = World(scene)
        sim = scene.simulation
        self.seed = sim.seed if seed is None else int(seed)
        self.n_frames = sim.n_frames if frames is None else int(frames)
        self.frame_s = sim.frame_s
        self.slots = sim.slots_per_frame
        self.policy_name = policy or scene.controller.policy
        params = dict(scene.controller.params) if policy is None else {}
        params.update(policy_params or {})
        self.policy_params = params
        self.policy = make_policy(self.policy_name, self.world, params,
                                  source="controller" if policy is None else "--policy")
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.progress = progress
        self._init_entities()
        dep = self.world.deployment
        self.actuator = SlidingActuator(self.world.initial_pa_positions(), dep.speed)
        self.rng_obs = stream(self.seed, "observation")
        self.rng_rcs = stream(self.seed, "rcs")
        self.rng_policy = stream(self.seed, "policy")
        self.decision: Decision | None = None
        self.frame = 0
        self.frame_start = 0.0
        self._frame_slots: list = []

    # --- set-up -----------------------------------------------------------------
    def _init_entities(self):
        sc, fp = self.scene, self.world.floor
        self.users, self.targets = [], []
        for kind, spec, out in (("users", sc.users, self.users), ("targets", sc.targets, self.targets)):
            if spec is None:
                continue
            for i in range(spec.n):
                rng = stream(self.seed, kind, i)
                mob = spec.mobility_of(i)
                if spec.positions is not None:
                    start = np.asarray(spec.positions[i], float)
                elif mob.model == "waypoints":
                    start = np.asarray(mob.waypoints[0], float)
                else:
                    start = fp.sample_free(rng, 1)[0]
                out.append(Entity(make_mobility(mob, fp, start, rng)))

    def _xyz(self, entities, t):
        if not entities:
            return np.zeros((0, 3))
        xy = np.array([e.position(t) for e in entities])
        return np.column_stack([xy, np.full(len(xy), self.world.ue_height)])

    # --- processes ----------------------------------------------------------------
    def _mobility(self, env, ent):
        while True:
            end = ent.mobility.next_leg()
            if end is None:
                return
            yield env.timeout(max(end - env.now, 0.0))

    def _controller(self, env, writer, bar):
        dep = self.world.deployment
        for f in range(self.n_frames):
            self.frame, self.frame_start = f, env.now
            t = env.now
            noise = self.scene.controller.observation_noise_m
            users, targets = self._xyz(self.users, t), self._xyz(self.targets, t)
            # fixed-size draws every frame, whatever the policy: common random numbers
            eu = self.rng_obs.normal(0.0, 1.0, users.shape)
            et = self.rng_obs.normal(0.0, 1.0, targets.shape)
            eu[:, 2] = et[:, 2] = 0.0
            obs = Observation(self.world, t, f, self.actuator.position(t), dep.installed.copy(),
                              users + noise * eu, targets + noise * et, self.decision, self.rng_policy)
            t0 = time.perf_counter()
            decision = self._decide(obs)
            solve = time.perf_counter() - t0
            self.decision = decision
            self.actuator.command(t, np.where(dep.installed, decision.pa_target, 0.0))
            self._frame_slots = []
            self._frame_rate = np.zeros(self.world.n_users)
            if writer is not None:
                self._write_frame(writer, f, t, decision, solve)
            # evaluate this frame's slots, then close the frame
            n = self.scene.simulation.samples_per_slot
            for j, plan in enumerate(self._slot_plans(decision)):
                slot_start = env.now
                self._frame_slots.append((plan.duration_s, self.actuator.position(slot_start + plan.duration_s / 2),
                                          np.asarray(plan.active, bool) & dep.installed, plan))
                if hasattr(self.policy, "set_slot"):
                    self.policy.set_slot(j)
                for i in range(n):   # samples at (i + 1/2)/n of the slot
                    yield env.timeout(slot_start + (i + 0.5) * plan.duration_s / n - env.now)
                    self._evaluate(writer, f, j, plan, env.now)
                yield env.timeout(slot_start + plan.duration_s - env.now)
            self._end_frame(writer, f)
            if bar is not None:
                bar.update(1)

    def _decide(self, obs) -> Decision:
        """Run the policy; a policy that raises never kills the run: hold the previous
        decision (or the current PAs with ZF) and record why."""
        try:
            d = self.policy.decide(obs)
            self._check_decision(d)
            return d
        except Exception as exc:  # noqa: BLE001 - the trace records it
            reason = f"fallback: {type(exc).__name__}: {exc}"[:300]
            from twin.policies.basic import hold_decision
            return hold_decision(obs, reason)

    def _check_decision(self, d: Decision):
        N, M = self.world.deployment.installed.shape
        K = self.world.n_users
        if np.shape(d.pa_target) != (N, M) or np.shape(d.W) != (N, K):
            raise ValueError(f"policy returned pa_target {np.shape(d.pa_target)} / W {np.shape(d.W)}, "
                             f"expected {(N, M)} / {(N, K)}")
        if not np.all(np.isfinite(d.W)):
            raise ValueError("policy returned a non-finite beamformer")

    def _slot_plans(self, d: Decision):
        if d.slots:
            return list(d.slots)
        dur = self.frame_s / self.slots
        return [SlotPlan(dur, d.active, d.W, d.Rs)] * self.slots

    # --- evaluation ---------------------------------------------------------------
    def _channel(self, s, active, points):
        if getattr(self.policy, "fixed_array", False):
            return self.policy.channel(points)
        return self.world.deployment.channel(s, points, active, self.world.floor)

    def _target_channel(self, s, active, q):
        """h_t (N,) and ∂h_t/∂(x_t,y_t) (2,N) with the in-force geometry."""
        if getattr(self.policy, "fixed_array", False):
            eps = 1e-5
            h = self.policy.channel(q[None])[:, 0]
            dh = np.stack([(self.policy.channel((q + eps * e)[None])[:, 0]
                            - self.policy.channel((q - eps * e)[None])[:, 0]) / (2 * eps)
                           for e in (np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))])
            return h, dh
        dep, fp = self.world.deployment, self.world.floor
        blk = None
        if fp.seg_a.shape[0]:
            blk = fp.blockage_amplitude(dep.positions(np.where(active, s, 0.0)), q[None, None, :])
        return target_channel_and_gradient(dep.feed, dep.direction, s, q, dep.fc, n_eff=dep.n_eff,
                                           attenuation_db_per_m=dep.attenuation, active=active,
                                           blockage=blk)

    def _evaluate(self, writer, f, j, plan: SlotPlan, t):
        w, dep = self.world, self.world.deployment
        s = self.actuator.position(t)
        active = np.asarray(plan.active, bool) & dep.installed
        users = self._xyz(self.users, t)
        H = self._channel(s, active, users)
        sinr = sinr_downlink(H, plan.W, w.noise_w, plan.Rs)
        rate = rate_bps_hz(sinr)
        outage = sinr < w.sinr_target
        self._frame_rate += rate * plan.duration_s / self.scene.simulation.samples_per_slot
        if writer is None:
            self._accumulate(rate, outage)
            return
        pos = dep.positions(s)
        if getattr(self.policy, "fixed_array", False):
            los = np.zeros(len(users), int)
            loss = np.zeros(len(users))
        else:
            loss_db = w.floor.loss_db(pos[active][:, None, :], users[None, :, :])  # (P,K)
            los = (loss_db == 0).sum(axis=0)
            loss = loss_db.min(axis=0) if loss_db.size else np.full(len(users), np.inf)
        K = len(users)
        writer.add("users", time_s=t, frame=f, slot=j, user=np.arange(K), x=users[:, 0], y=users[:, 1],
                   sinr_db=lin_to_db(sinr), sinr_target_db=lin_to_db(w.sinr_target),
                   rate_bps_hz=rate, outage=outage, los_pas=los, link_loss_db=loss)
        if self.targets:
            R = plan.W @ plan.W.conj().T + (plan.Rs if plan.Rs is not None else 0)
            targets = self._xyz(self.targets, t)
            rcrb = []
            for q in targets:
                h, dh = self._target_channel(s, active, q)
                crb = crb_from_channel(R, h, dh, q, w.sensing.position, w.sensing.elements, w.fc,
                                       rx_axis=w.sensing.axis, rx_spacing=w.sensing.spacing,
                                       rcs_m2=self.scene.targets.rcs_m2,
                                       snapshots=w.sensing.snapshots, noise_w=w.sensing_noise_w)
                rcrb.append(root_crb(crb) if np.all(np.isfinite(crb)) else np.inf)
            writer.add("targets", time_s=t, frame=f, slot=j, target=np.arange(len(targets)),
                       x=targets[:, 0], y=targets[:, 1], rcrb_m=np.asarray(rcrb))
        n_idx, m_idx = np.nonzero(dep.installed)
        tgt = self.actuator.target
        writer.add("pas", time_s=t, frame=f, slot=j, waveguide=n_idx, pa=m_idx, s_m=s[n_idx, m_idx],
                   target_s_m=tgt[n_idx, m_idx], x=pos[n_idx, m_idx, 0], y=pos[n_idx, m_idx, 1],
                   z=pos[n_idx, m_idx, 2], active=active[n_idx, m_idx], cluster=dep.cluster[n_idx, m_idx])
        for kind, mat in (("W", plan.W), ("Rs", plan.Rs)):
            if mat is None:
                continue
            r, c = np.indices(mat.shape)
            writer.add("beams", frame=f, slot=j, kind=kind, row=r.ravel(), col=c.ravel(),
                       re=mat.real.ravel(), im=mat.imag.ravel())

    def _accumulate(self, rate, outage):
        self._acc_rate.append(rate)
        self._acc_out.append(outage)

    def _write_frame(self, writer, f, t, d: Decision, solve):
        info = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in (d.info or {}).items()
                if isinstance(v, (int, float, str, bool, np.generic))}
        self._pending_frame = dict(frame=f, time_s=t, policy=self.policy_name, status=d.status,
                                   solve_time_s=solve, info=json.dumps(info, sort_keys=True))

    def _end_frame(self, writer, f):
        if writer is None:
            return
        sens = self._sensing_metrics()
        # users' average rates over the frame (paper 001 eq. 8), against R_min if the policy has one
        total = sum(p[0] for p in self._frame_slots)
        avg = self._frame_rate / total if total > 0 else self._frame_rate
        info = json.loads(self._pending_frame["info"])
        info.update({f"avg_rate_u{k}_bps_hz": float(r) for k, r in enumerate(avg)})
        r_min = getattr(self.policy, "p", {}).get("R_min")
        if r_min is not None:
            info["avg_rate_margin_min_bps_hz"] = float(avg.min() - float(r_min))
        self._pending_frame["info"] = json.dumps(info, sort_keys=True)
        durations = "-".join(f"{p[0]:.4g}" for p in self._frame_slots)
        clusters = self._active_clusters()
        writer.add("frames", **self._pending_frame,
                   sensing_outage_exact=sens.get("sensing_outage_exact", np.nan),
                   sensing_outage_chernoff=sens.get("sensing_outage_chernoff", np.nan),
                   sensing_outage_mc=sens.get("sensing_outage_mc", np.nan),
                   active_clusters=clusters, slot_durations_s=durations)
        writer.end_frame()

    def _active_clusters(self) -> str:
        dep = self.world.deployment
        if not any(dep.cluster_bounds):
            return ""
        seq = []
        for _, _, active, _ in self._frame_slots:
            c = np.unique(dep.cluster[active & (dep.cluster >= 0)])
            seq.append("+".join(str(x) for x in c) if c.size else "none")
        return "-".join(seq)

    def _sensing_metrics(self) -> dict:
        """Clustered deployments (MODEL §3.4): sensing outage of the frame's slots."""
        from twin.physics.clusters import frame_sensing_metrics

        dep = self.world.deployment
        if not any(dep.cluster_bounds) or not self.targets:
            return {}
        slots = [(dur, s, active) for dur, s, active, _ in self._frame_slots]
        q = self._xyz(self.targets, self.frame_start)[0]
        thr = getattr(self.policy, "sensing_threshold", None)
        if hasattr(self.policy, "frame_sensing_metrics"):      # fixed arrays know their own gains
            from twin.physics.clusters import DEFAULT_THRESHOLD_DB
            from twin.units import db_to_lin
            return self.policy.frame_sensing_metrics(slots, q, self.rng_rcs,
                                                     thr if thr is not None else db_to_lin(DEFAULT_THRESHOLD_DB))
        return frame_sensing_metrics(self.world, slots, q, self.rng_rcs, threshold=thr)

    # --- run ----------------------------------------------------------------------
    def run(self) -> dict:
        """Run all frames; returns the summary (and writes the run directory)."""
        env = simpy.Environment()
        for ent in self.users + self.targets:
            env.process(self._mobility(env, ent))
        writer = None
        self._acc_rate, self._acc_out = [], []
        if self.out_dir is not None:
            writer = TraceWriter(self.out_dir, flush_frames=self.scene.simulation.flush_frames)
            writer.write_json("scene.json", self.scene.model_dump(mode="json"))
            self._meta = {"policy": self.policy_name, "params": self.policy_params, "seed": self.seed,
                          "frames": self.n_frames, "frame_s": self.frame_s, "slots_per_frame": self.slots,
                          "scene": self.scene.name, "version": __version__,
                          "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "completed": False}
            from twin import provenance
            self._meta["provenance"] = provenance.start_run(self.out_dir, scene=self.scene, seed=self.seed,
                                                            policy=self.policy_name, frames=self.n_frames)
            writer.write_json("meta.json", self._meta)
        bar = None
        if self.progress:
            from tqdm import tqdm
            bar = tqdm(total=self.n_frames, unit="frame", desc=f"{self.scene.name}/{self.policy_name}")
        proc = env.process(self._controller(env, writer, bar))
        try:
            env.run(until=proc)
        finally:
            if bar is not None:
                bar.close()
            if writer is not None:
                writer.flush()
        if writer is None:
            r = np.concatenate(self._acc_rate) if self._acc_rate else np.array([])
            o = np.concatenate(self._acc_out) if self._acc_out else np.array([])
            return {"frames": self.n_frames, "mean_rate_bps_hz": float(r.mean()) if r.size else np.nan,
                    "outage_fraction": float(o.mean()) if o.size else np.nan}
        self._meta["completed"] = True
        writer.write_json("meta.json", self._meta)
        summary = summarize(self.out_dir)
        writer.write_json("summary.json", summary)
        from twin import provenance
        provenance.finish_run(summary)
        return summary


def run_scene(scene, out_dir=None, **kwargs) -> dict:
    """Convenience: ``Simulation(scene, out_dir, **kwargs).run()``."""
    return Simulation(scene, out_dir, **kwargs).run()
