"""The SimPy engine (MODEL §5): the clock and its processes — mobility, the controller,
the element actuator — and, at every sample, the evaluator's metrics of the in-force
state handed to the recorder. Knows no paper: the controller is a composition of
stages, the hardware a :class:`~twin.hardware.Transmitter`.

Per frame: the controller observes (positions with observation noise, the elements'
actual state), decides, commands the actuator; the evaluator samples the *actual*
state ``samples_per_slot`` times per slot at the centres of equal sub-intervals (actual
user/target positions, elements where they have really moved, the slot's beamformers),
so slow control and slow PAs show up as lost rate and outage.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simpy

from twin.controller import Controller, Decision, Observation, hold_decision, resolve
from twin.engine.evaluator import Evaluator
from twin.engine.recorder import Recorder
from twin.engine.streams import stream
from twin.geometry.mobility import make_mobility
from twin.hardware import HardwareState, SlidingActuator
from twin.world import World


@dataclass
class Entity:
    mobility: object

    def position(self, t: float) -> np.ndarray:
        return self.mobility.traj.position(t)


class Simulation:
    """One run of a scene under a controller.

    scene: validated Scene; policy / policy_params override the scene's controller
    (a preset name, and its parameters: ``role=stage``, ``role.param=value`` or the
    preset's own names); frames, seed override the scene's simulation section;
    out_dir: run directory (None: no traces kept, the summary is the same).
    """

    def __init__(self, scene, out_dir=None, *, policy: str | None = None,
                 policy_params: dict | None = None, frames: int | None = None,
                 seed: int | None = None, progress: bool = False):
        self.scene = scene
        sim = scene.simulation
        self.seed = sim.seed if seed is None else int(seed)
        self.n_frames = sim.n_frames if frames is None else int(frames)
        self.frame_s = sim.frame_s
        self.slots = sim.slots_per_frame
        ctl = scene.controller
        self.policy_name = policy or ctl.policy
        params = dict(ctl.params) if policy is None else {}
        params.update(policy_params or {})
        self.policy_params = params
        source = "controller" if policy is None and not policy_params else "--policy/--param"
        self.spec = resolve(self.policy_name, params, ctl.stage_overrides if policy is None else None, source)
        self.world = World(scene, hardware=self.spec.hardware)
        self.controller = Controller(self.world, self.spec, source)
        self.tx = self.world.tx
        self.evaluator = Evaluator(self.world)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.progress = progress
        self._init_entities()
        init = self.tx.initial_state()
        self.base_active = init.active
        self.actuator = SlidingActuator(init.s, self.tx.speed)
        self.analog = init.analog
        self.rng_obs = stream(self.seed, "observation")
        self.rng_rcs = stream(self.seed, "rcs")
        self.rng_policy = stream(self.seed, "policy")
        self.decision: Decision | None = None

    @property
    def policy(self) -> Controller:
        return self.controller

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

    def _observe(self, f: int, t: float) -> Observation:
        noise = self.scene.controller.observation_noise_m
        users, targets = self._xyz(self.users, t), self._xyz(self.targets, t)
        # fixed-size draws every frame, whatever the controller: common random numbers
        eu = self.rng_obs.normal(0.0, 1.0, users.shape)
        et = self.rng_obs.normal(0.0, 1.0, targets.shape)
        eu[:, 2] = et[:, 2] = 0.0
        state = HardwareState(self.actuator.position(t), self.base_active.copy(), self.analog)
        return Observation(t, f, state, users + noise * eu, targets + noise * et, self.decision, self.rng_policy)

    def _controller(self, env, rec: Recorder, bar):
        tx = self.tx
        n = self.scene.simulation.samples_per_slot
        for f in range(self.n_frames):
            t = env.now
            obs = self._observe(f, t)
            t0 = time.perf_counter()
            decision = self._decide(obs)
            solve = time.perf_counter() - t0
            self.decision = decision
            self.actuator.command(t, np.where(tx.installed, decision.pa_target, 0.0))
            self.analog = decision.analog
            frame_rate = np.zeros(self.world.n_users)
            slots_mid = []
            for j, plan in enumerate(decision.slots):
                slot_start = env.now
                mid = HardwareState(self.actuator.position(slot_start + plan.duration_s / 2),
                                    np.asarray(plan.active, bool) & tx.installed, decision.analog)
                slots_mid.append((plan.duration_s, mid))
                for i in range(n):   # samples at (i + 1/2)/n of the slot
                    yield env.timeout(slot_start + (i + 0.5) * plan.duration_s / n - env.now)
                    rate = self._evaluate(rec, f, j, plan, decision, env.now)
                    frame_rate += rate * plan.duration_s / n
                yield env.timeout(slot_start + plan.duration_s - env.now)
            self._end_frame(rec, f, t, decision, solve, slots_mid, frame_rate)
            if bar is not None:
                bar.update(1)

    def _decide(self, obs) -> Decision:
        """Run the controller; a controller that raises never kills the run: hold the
        previous decision (or the current elements with ZF) and record why."""
        try:
            d = self.controller.decide(obs)
            self._check_decision(d)
            return d
        except Exception as exc:  # noqa: BLE001 - the trace records it
            detail = f"{type(exc).__name__}: {exc}"
            try:
                return self.controller.fallback(obs, detail)
            except Exception:  # noqa: BLE001
                return hold_decision(self.world, obs, detail, self.slots, self.frame_s / self.slots)

    def _check_decision(self, d: Decision):
        N, M = self.tx.installed.shape
        K = self.world.n_users
        if np.shape(d.pa_target) != (N, M):
            raise ValueError(f"controller returned pa_target {np.shape(d.pa_target)}, expected {(N, M)}")
        for p in d.slots:
            if np.shape(p.W) != (N, K) or not np.all(np.isfinite(p.W)):
                raise ValueError(f"controller returned a beamformer of shape {np.shape(p.W)} "
                                 f"(expected {(N, K)}) or with non-finite entries")

    # --- evaluation ---------------------------------------------------------------
    def _evaluate(self, rec: Recorder, f, j, plan, decision: Decision, t) -> np.ndarray:
        tx, w = self.tx, self.world
        state = HardwareState(self.actuator.position(t), np.asarray(plan.active, bool) & tx.installed,
                              decision.analog)
        users = self._xyz(self.users, t)
        m = self.evaluator.users(state, plan.W, plan.Rs, users)
        rec.users(t, f, j, users, m, w.sinr_target, plan.users)
        if self.targets:
            targets = self._xyz(self.targets, t)
            rec.targets(t, f, j, targets, self.evaluator.rcrb(state, plan.W, plan.Rs, targets))
        rec.elements(t, f, j, tx, state, self.actuator.target)
        rec.beams(f, j, plan.W, plan.Rs, decision.analog)
        return m["rate"]

    def _end_frame(self, rec: Recorder, f, t, d: Decision, solve, slots_mid, frame_rate):
        sens, frame_rcrb = {}, np.nan
        if self.targets:
            q = self._xyz(self.targets, t)[0]
            if self.tx.clustered:
                sens = self.evaluator.cluster_sensing(slots_mid, q, self.rng_rcs)
            frame_rcrb = self.evaluator.frame_rcrb(
                [(dur, st, p.W, p.Rs) for (dur, st), p in zip(slots_mid, d.slots)], q)
        total = sum(dur for dur, _ in slots_mid)
        avg = frame_rate / total if total > 0 else frame_rate
        info = json.loads(Recorder.info_json(d.info))
        info.update({f"avg_rate_u{k}_bps_hz": float(r) for k, r in enumerate(avg)})
        info["avg_rate_margin_min_bps_hz"] = float(avg.min() - self.world.r_min) if avg.size else float("nan")
        rec.frame(dict(frame=f, time_s=t, policy=self.policy_name, status=d.status, solve_time_s=solve,
                       info=json.dumps(info, sort_keys=True),
                       sensing_outage_exact=sens.get("sensing_outage_exact", np.nan),
                       sensing_outage_chernoff=sens.get("sensing_outage_chernoff", np.nan),
                       sensing_outage_mc=sens.get("sensing_outage_mc", np.nan),
                       frame_rcrb_m=frame_rcrb, active_clusters=self._active_clusters(slots_mid),
                       slot_durations_s="-".join(f"{dur:.4g}" for dur, _ in slots_mid)))

    def _active_clusters(self, slots_mid) -> str:
        tx = self.tx
        if not tx.clustered:
            return ""
        seq = []
        for _, state in slots_mid:
            c = np.unique(tx.cluster[state.active & (tx.cluster >= 0)])
            seq.append("+".join(str(x) for x in c) if c.size else "none")
        return "-".join(seq)

    # --- run ----------------------------------------------------------------------
    def run(self) -> dict:
        """Run all frames; returns the summary (and writes the run directory)."""
        env = simpy.Environment()
        for ent in self.users + self.targets:
            env.process(self._mobility(env, ent))
        rec = Recorder(self.out_dir, self.scene, self.scene.simulation.flush_frames)
        rec.start({"policy": self.policy_name, "params": self.policy_params, "seed": self.seed,
                   "frames": self.n_frames, "frame_s": self.frame_s, "slots_per_frame": self.slots,
                   "scene": self.scene.name, "controller": self.controller.describe(),
                   "hardware_spec": self.spec.hardware},
                  self.tx.describe())
        bar = None
        if self.progress:
            from tqdm import tqdm
            bar = tqdm(total=self.n_frames, unit="frame", desc=f"{self.scene.name}/{self.policy_name}")
        proc = env.process(self._controller(env, rec, bar))
        completed = False
        try:
            env.run(until=proc)
            completed = True
        finally:
            if bar is not None:
                bar.close()
            summary = rec.close(completed)
        return summary


def run_scene(scene, out_dir=None, **kwargs) -> dict:
    """Convenience: ``Simulation(scene, out_dir, **kwargs).run()``."""
    return Simulation(scene, out_dir, **kwargs).run()
