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

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simpy

from twin.controller import Controller, Decision, Observation, hold_decision, resolve
from twin.controller.decision import ChannelKnowledge
from twin.engine.evaluator import Evaluator
from twin.engine.recorder import Recorder
from twin.engine.streams import stream
from twin.geometry.mobility import make_mobility
from twin.hardware import HardwareState, SlidingActuator
from twin.hardware.base import BatchGeometry
from twin.physics.body import Bodies
from twin.physics.csi import estimate_channels, pilot_error_variance
from twin.physics.estimation import AlphaBeta
from twin.world import World


logger = logging.getLogger("twin.engine")


@dataclass
class Entity:
    mobility: object
    done: bool = False          # the mobility model has no further leg

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
        self.actuator = SlidingActuator(init.s, self.tx.speed, self.tx.switched, self.tx.switching_delay)
        self.analog = init.analog
        self.rng_obs = stream(self.seed, "observation")
        self.rng_rcs = stream(self.seed, "rcs")
        self.rng_policy = stream(self.seed, "policy")
        self.rng_csi = stream(self.seed, "csi")
        self.decision: Decision | None = None       # the controller's latest decision
        self.in_force: Decision | None = None       # the decision whose beams radiate now
        self.pending: tuple | None = None           # (decision, time it takes effect)
        self.busy_until = 0.0
        csi = scene.csi
        self.csi_model = csi.model
        self.csi: ChannelKnowledge | None = None
        self.pilot_period = csi.period_s or self.frame_s / self.slots
        self.pilot_symbols = csi.pilot_symbols or max(self.world.n_users, 1)
        if self.csi_model == "pilot" and self.pilot_symbols < self.world.n_users:
            from twin.errors import ConfigError
            raise ConfigError("csi", "pilot_symbols", f"{self.pilot_symbols} pilot symbols cannot be orthogonal "
                              f"for {self.world.n_users} users", f"give pilot_symbols ≥ {self.world.n_users}")
        self._slot_active = self.base_active.copy()
        self._deferred: list = []                   # frames whose metrics wait (_evaluate_frames)
        self._init_estimation()

    def _init_estimation(self):
        """Target estimation from echoes (MODEL §5.1): one echo stream and one alpha-beta
        tracker per target; on when ``[csi] target = "estimated"`` or ``estimate_targets``."""
        csi = self.scene.csi
        self.target_source = csi.target
        self.estimating = bool(self.targets) and (csi.target == "estimated" or csi.estimate_targets)
        self.rng_echo = [stream(self.seed, "echo", i) for i in range(len(self.targets))]
        self.trackers = [AlphaBeta() for _ in self.targets]
        self.rng_target_outage = [stream(self.seed, "rcs", i) for i in range(len(self.targets))]
        # frames whose metrics are computed together; one when the echo estimates feed the trackers
        self._eval_frames = 1 if self.estimating else 10

    @property
    def policy(self) -> Controller:
        return self.controller

    # --- set-up -----------------------------------------------------------------
    def _init_entities(self):
        sc, fp = self.scene, self.world.floor
        self.users, self.targets, self.blockers = [], [], []
        self._xyz_memo: dict = {}
        for kind, spec, out in (("users", sc.users, self.users), ("targets", sc.targets, self.targets),
                                ("blockers", sc.blockers, self.blockers)):
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
        """Positions (E,3) of ``entities`` at time t, remembered per (entities, t): a frame
        start's users and targets are asked for by the observation, the frame's channels,
        the metrics and the frame row. Read-only arrays. Asked only after :meth:`_advance`
        past t, so the legs that fix them exist and the value never changes."""
        if not entities:
            return np.zeros((0, 3))
        key = (id(entities), t)
        out = self._xyz_memo.get(key)
        if out is None:
            if len(self._xyz_memo) > 256:
                self._xyz_memo.clear()
            xy = np.array([e.position(t) for e in entities])
            out = np.column_stack([xy, np.full(len(xy), self.world.ue_height)])
            out.flags.writeable = False
            self._xyz_memo[key] = out
        return out

    def _remember(self, entities, t: float, xyz) -> None:
        """Keep positions (E,3) computed elsewhere (:meth:`_xyz_many`: the same
        interpolation) as :meth:`_xyz`'s answer at t."""
        if entities and (id(entities), t) not in self._xyz_memo:
            out = np.array(xyz, float)
            out.flags.writeable = False
            self._xyz_memo[(id(entities), t)] = out

    def _advance(self, t: float) -> None:
        """Extend every trajectory past time t (MODEL §5): the legs a mobility process would
        have added by then, drawn from each entity's own stream in the same order, so a
        frame's positions can be read at once."""
        for ent in self.users + self.targets + self.blockers:
            mob = ent.mobility
            while not ent.done and mob.traj.end_time <= t:
                if mob.next_leg() is None:
                    ent.done = True

    def _xyz_many(self, entities, times) -> np.ndarray:
        """Positions (T,E,3) of ``entities`` at ``times`` (T,): :meth:`_xyz` for many instants
        (one interpolation per entity)."""
        times = np.asarray(times, float)
        if not entities:
            return np.zeros((len(times), 0, 3))
        out = np.empty((len(times), len(entities), 3))
        out[..., 2] = self.world.ue_height
        for k, e in enumerate(entities):              # Trajectory.position's interpolation
            ts, xs, ys = e.mobility.traj.legs()
            out[:, k, 0] = np.interp(times, ts, xs)
            out[:, k, 1] = np.interp(times, ts, ys)
        return out

    def _bodies_many(self, times) -> list | None:
        """The people at each of ``times`` (:meth:`_bodies`), or None when the scene has
        none (no blockers, no self-blocking users)."""
        sc = self.scene
        if not (self.blockers or sc.users.self_blocking):
            return None
        bl = self._xyz_many(self.blockers, times) if self.blockers else None
        us = self._xyz_many(self.users, times) if sc.users.self_blocking and self.users else None
        out = []
        for i in range(len(times)):
            parts = []
            if bl is not None:
                parts.append(Bodies.of(bl[i, :, :2], sc.blockers.radius_m, sc.blockers.height_m))
            if us is not None:
                parts.append(Bodies.of(us[i, :, :2], sc.users.body_radius_m, sc.users.body_height_m, True))
            out.append(Bodies.join(*parts))
        return out

    def _bodies(self, t: float) -> Bodies | None:
        """The people who block links at time t (MODEL §5.1): the ``[blockers]`` and, with
        ``users.self_blocking``, the users' own bodies."""
        sc = self.scene
        out = []
        if self.blockers:
            b = sc.blockers
            out.append(Bodies.of([e.position(t) for e in self.blockers], b.radius_m, b.height_m))
        if sc.users.self_blocking and self.users:
            u = sc.users
            out.append(Bodies.of([e.position(t) for e in self.users], u.body_radius_m, u.body_height_m, True))
        return Bodies.join(*out)

    def _people_at(self, t: float) -> None:
        """Put the people of time t in the transmitter's links (no-op without people)."""
        if self.blockers or self.scene.users.self_blocking:
            self.tx.set_bodies(self._bodies(t))

    # --- processes ----------------------------------------------------------------
    def _observe(self, f: int, t: float) -> Observation:
        noise = self.scene.observation_noise_m
        self._people_at(t)
        users, targets = self._xyz(self.users, t), self._xyz(self.targets, t)
        # fixed-size draws every frame, whatever the controller: common random numbers
        eu = self.rng_obs.normal(0.0, 1.0, users.shape)
        et = self.rng_obs.normal(0.0, 1.0, targets.shape)
        eu[:, 2] = et[:, 2] = 0.0
        state = HardwareState(self.actuator.position(t), self.base_active.copy(), self.analog)
        return Observation(t, f, state, users + noise * eu, self._tracked(targets + noise * et, t), self.decision,
                           self.rng_policy, self.csi)

    def _tracked(self, observed: np.ndarray, t: float) -> np.ndarray:
        """With ``[csi] target = "estimated"`` each target's position is its tracker's
        prediction at t from the previous frames' echo estimates (MODEL §5.1); before the
        first estimate, the observed one (the cue that put the target on the map)."""
        if self.target_source != "estimated":
            return observed
        out = observed.copy()
        for i, trk in enumerate(self.trackers):
            pred = trk.predict(t)
            if pred is not None:
                out[i, :2] = pred
        return out

    # --- channel knowledge (MODEL §5.1) ----------------------------------------------
    def _pilot_plan(self, times):
        """Which pilots the knowledge update at each of ``times`` needs (MODEL §5.1): pilots
        go out every ``period_s`` from t = 0 and an estimate is available one period later;
        at each time the knowledge becomes the latest available estimate and the one before
        it (only those two are ever used, so only they are drawn). Returns, per time, None
        (no newer estimate) or ``(k, reuse_prev)``; the pilot before k is drawn unless the
        previous update's estimate is it."""
        T = self.pilot_period
        last = self.csi.time_s if self.csi is not None else None
        out = []
        for t in times:
            k = int(np.floor(t / T + 1e-9)) - 1
            if k < 0 or (last is not None and k * T <= last + 1e-12):
                out.append(None)
                continue
            reuse = last is not None and abs(last - (k - 1) * T) < 1e-12
            out.append((k, reuse))
            last = k * T
        return out

    def _pilot_requests(self, times, actives, analogs):
        """The pilots the knowledge updates at ``times`` need (:meth:`_pilot_plan`), in the
        order one-at-a-time updates drew them (previous pilot, then latest): (plan, pilot
        instants, their states — the elements where they were, the slot's active set and
        analog weights at each update)."""
        if self.csi_model != "pilot":
            return [None] * len(times), [], []
        plan = self._pilot_plan(times)
        T = self.pilot_period
        tp, of = [], []
        for i, p in enumerate(plan):
            if p is None:
                continue
            k, reuse = p
            for tq in ([(k - 1) * T] if not reuse and k >= 1 else []) + [k * T]:
                tp.append(tq)
                of.append(i)
        s = self.actuator.positions(tp) if tp else []
        return plan, tp, [HardwareState(s[e], actives[i].copy(), analogs[i]) for e, i in enumerate(of)]

    def _pilot_knowledge(self, plan, tp, states, H, bodies) -> list:
        """The knowledge after each update of ``plan`` (None: unchanged) from the pilots'
        true channels H (P,N,K): the estimation errors drawn in one call in the order
        one-at-a-time estimates drew them, so every estimate equals theirs bit for bit
        (MODEL §5.1). An update is (knowledge, people on the floor?, the people then)."""
        out = [None] * len(plan)
        if not tp:
            return out
        w = self.world
        est = estimate_channels(H, w.noise_w, w.user_power_w, self.pilot_symbols, self.rng_csi,
                                self.scene.csi.estimator)
        var = np.array(np.broadcast_to(pilot_error_variance(w.noise_w, w.user_power_w, self.pilot_symbols),
                                       (w.n_users,)), float)
        prev, e = self.csi, 0
        for i, p in enumerate(plan):
            if p is None:
                continue
            k, reuse = p
            if reuse:
                H_prev, t_prev = prev.H, prev.time_s
            elif k >= 1:
                H_prev, t_prev = est[e], tp[e]
                e += 1
            else:
                H_prev = t_prev = None
            prev = ChannelKnowledge("pilot", est[e], float(tp[e]), states[e], H_prev, t_prev, err_var=var.copy())
            out[i] = (prev, bodies is not None, None if bodies is None else bodies[e])
            e += 1
        return out

    def _pilot_updates(self, times, actives, analogs) -> list:
        """The channel knowledge after each of ``times`` (None: unchanged), with the slot's
        active elements and analog weights in force at each (MODEL §5.1), the pilots'
        channels computed in one call."""
        plan, tp, states = self._pilot_requests(times, actives, analogs)
        if not tp:
            return [None] * len(times)
        bodies = self._bodies_many(np.asarray(tp))
        H, _ = self.tx.batch_channels(self.tx.batch_geometry(states), self._xyz_many(self.users, tp), bodies)
        return self._pilot_knowledge(plan, tp, states, H, bodies)

    def _pilots_until(self, t: float) -> bool:
        """Update the controller's knowledge to the latest estimate available at t (MODEL
        §5.1); returns whether it changed."""
        upd = self._pilot_updates([t], [self._slot_active], [self.analog])[0]
        if upd is None:
            return False
        self._take_knowledge(upd)
        return True

    def _take_knowledge(self, upd) -> None:
        """Adopt a knowledge update; with people on the floor, the transmitter's links keep
        the people of the latest pilot, as when each pilot set them (MODEL §5.1)."""
        self.csi = upd[0]
        if upd[1]:
            self.tx.set_bodies(upd[2])

    def _latency(self, solve_s: float) -> float:
        """Compute latency τ_c (MODEL §5.1): fixed, or the measured wall time over the
        scene's compute speed-up."""
        lat = self.scene.controller.latency_s
        if lat == "measured":
            return float(solve_s) / self.scene.controller.compute_speedup
        return float(lat)

    def _controller(self, env, rec: Recorder, bar):
        """The frame loop (MODEL §5). The clock advances by the same float additions the
        per-sample SimPy timeouts made (``now + (target − now)``), so every sample time is
        the one a timeout per sample gave; SimPy steps once per frame. What radiates at
        each instant of a frame is known once the frame's decision is commanded (a
        re-beamforming changes only the beams), so every channel of the frame — pilots,
        samples, slot centres — is computed in one call before the samples run."""
        tx = self.tx
        n = self.scene.simulation.samples_per_slot
        now = env.now
        start_update = None                      # (time, update) of the next frame start's pilots
        for f in range(self.n_frames):
            t = now
            self._advance(t)
            if start_update is not None and start_update[0] == t:
                if start_update[1] is not None:
                    self._take_knowledge(start_update[1])
            else:
                self._pilots_until(t)
            decided = in_force_at = solve = np.nan
            if t + 1e-12 >= self.busy_until:
                obs = self._observe(f, t)
                t0 = time.perf_counter()
                decision = self._decide(obs, defer_beams=self.in_force is not None)
                solve = time.perf_counter() - t0
                tau = self._latency(solve)
                decided, in_force_at = t, t + tau
                self.busy_until = t + tau
                self.decision = decision
                self.pending = (decision, in_force_at)
                self.actuator.command(in_force_at, tx.realise(decision.pa_target))
                if self.in_force is None:
                    self.in_force = decision
            frame_plan = self.pending[0] if self.pending is not None else self.in_force
            times, slot_of, starts, durs = [], [], [], []
            for j in range(len(frame_plan.slots)):
                slot_start, dur = now, frame_plan.slots[j].duration_s
                starts.append(slot_start)
                durs.append(dur)
                for i in range(n):   # samples at (i + 1/2)/n of the slot
                    now = now + (slot_start + (i + 0.5) * dur / n - now)
                    times.append(now)
                    slot_of.append(j)
                now = now + (slot_start + dur - now)
            self._advance(now)
            fc = self._frame_channels(t, times, slot_of, starts, durs, now)
            updates = fc.updates
            start_update = (now, updates[-1])
            if self.controller.deferred_slots(self.decision):
                solve += self._complete_beams(slot_of, updates)
            self.controller.prepare_refresh([(j, u[0]) for j, u in zip(slot_of, updates) if u is not None])
            # the samples, in time order: new knowledge re-beamforms, then the plan in force
            slots_mid, plans = [], []
            k = 0
            for j in range(len(starts)):
                plan = self._plan_at(j, starts[j])
                self._slot_active = np.asarray(plan.active, bool) & tx.installed
                for i in range(n):
                    if updates[k] is not None:          # a newer estimate: re-beamform
                        self._take_knowledge(updates[k])
                        self._refresh(j)
                    plan = self._plan_at(j, times[k])
                    plans.append(plan)
                    k += 1
                slots_mid.append((durs[j], fc.mids[j], plan))          # the beams last in force
            self._deferred.append(_FrameRecord(f, t, decided, in_force_at, solve, fc, plans,
                                               [durs[j] / n for j in slot_of], slots_mid,
                                               [self.actuator.target_at(tk) for tk in times], self.decision,
                                               self.busy_until))
            if len(self._deferred) >= self._eval_frames or f == self.n_frames - 1:
                self._evaluate_frames(rec, bar)
            yield env.timeout(now - env.now)

    def _frame_channels(self, t, times, slot_of, starts, durs, t_next) -> "_FrameChannels":
        """Every channel a frame needs, in one call per kind (MODEL §2.3, §3.3, §5.1): the
        pilots of the knowledge updates at the samples and at the next frame start, the
        users at the samples (true channels and wall losses), the targets at the samples
        and, for the frame RCRB, at the slot centres. The states are what the per-sample
        loop puts in force: the decision radiating at each instant (:meth:`_decision_at`),
        the elements where the actuator has them."""
        tx = self.tx
        slot_act, slot_analog = [], []
        for j, t0 in enumerate(starts):
            d = self._decision_at(t0)
            slot_act.append(np.asarray(d.slots[min(j, len(d.slots) - 1)].active, bool) & tx.installed)
            slot_analog.append(d.analog)
        at = [self._decision_at(tk) for tk in times]
        # pilots: the slot's active set, the analog weights left by the previous plan lookup
        p_act = [slot_act[j] for j in slot_of] + [slot_act[-1]]
        p_an = [slot_analog[j] if k == 0 or slot_of[k - 1] != j else at[k - 1].analog
                for k, j in enumerate(slot_of)] + [at[-1].analog]
        plan, tp, p_states = self._pilot_requests(list(times) + [t_next], p_act, p_an)
        s_at = self.actuator.positions(list(times) + [t0 + dur / 2 for t0, dur in zip(starts, durs)])
        acts: dict = {}                 # each (decision, slot)'s active set, once
        for j, d in zip(slot_of, at):
            if (id(d), j) not in acts:
                acts[(id(d), j)] = np.asarray(d.slots[min(j, len(d.slots) - 1)].active, bool) & tx.installed
        s_states = [HardwareState(s_at[k], acts[(id(d), j)], d.analog) for k, (j, d) in enumerate(zip(slot_of, at))]
        mids = [HardwareState(s_at[len(times) + j], slot_act[j].copy(), slot_analog[j]) for j in range(len(starts))]
        P, S = len(tp), len(times)
        inst = np.concatenate([np.asarray(tp, float), np.asarray(times, float)])
        geo = tx.batch_geometry(p_states + s_states + mids)
        people = self._bodies_many(np.concatenate([inst, [t]]))
        bodies = people[:-1] if people is not None else None
        users = self._xyz_many(self.users, np.append(inst, t_next))
        self._remember(self.users, t_next, users[-1])                # the next frame's observation
        users = users[:-1]
        H, wall = tx.batch_channels(geo.take(slice(0, P + S)), users, bodies)
        updates = self._pilot_knowledge(plan, tp, p_states, H[:P], None if bodies is None else bodies[:P])
        out = _FrameChannels(updates, np.asarray(times, float), np.asarray(slot_of), s_states, geo.take(slice(P, P + S)),
                             None if bodies is None else bodies[P:], users[P:], H[P:],
                             None if wall is None else wall[P:], mids)
        if self.targets:
            tg = self._xyz_many(self.targets, np.append(times, t_next))
            self._remember(self.targets, t_next, tg[-1])
            out.targets = tg[:-1]                                                     # (S,J,3)
            q0 = self._xyz(self.targets, t)
            tgeo = geo.take(slice(P, P + S + len(mids)))
            tb = None if people is None else bodies[P:] + [people[-1]] * len(mids)
            out.sample_targets, out.mid_targets = [], []
            for jt in range(q0.shape[0]):
                q = np.concatenate([out.targets[:, jt], np.broadcast_to(q0[jt], (len(mids), 3))])
                h, dh = tx.batch_target_channels(tgeo, q, tb)
                out.sample_targets.append((h[:S], dh[:S]))
                out.mid_targets.append((h[S:], dh[S:]))
        return out

    def _decision_at(self, t: float) -> Decision:
        """The decision radiating at time t (:meth:`_plan_at` without taking effect)."""
        if self.pending is not None and t + 1e-12 >= self.pending[1]:
            return self.pending[0]
        return self.in_force

    def _plan_at(self, j: int, t: float):
        """The slot plan radiating at time t: the pending decision's slot j once it has
        taken effect, the previous decision's otherwise (MODEL §5.1 latency)."""
        if self.pending is not None and t + 1e-12 >= self.pending[1]:
            self.in_force = self.pending[0]
            self.pending = None
        d = self.in_force
        self.analog = d.analog
        return d.slots[min(j, len(d.slots) - 1)]

    def _refresh(self, j: int) -> None:
        """A new channel estimate at a slot start: the controller re-beamforms that slot
        of its latest decision (positions and selection stay)."""
        target = self.pending[0] if self.pending is not None else self.in_force
        try:
            new = self.controller.refresh(target, j, self.csi)
        except Exception:  # noqa: BLE001 - keep the planned beams (computed now if deferred)
            new = target
            if j in self.controller.deferred_slots(target):
                new = self.controller.complete_beams(target, set(self.controller.deferred) - {j})
        self._replace(target, new)

    def _replace(self, old: Decision, new: Decision) -> None:
        """The controller's re-beamformed ``new`` in place of ``old`` wherever the engine
        holds it (pending, in force, latest)."""
        if new is old:
            return
        if self.pending is not None and self.pending[0] is old:
            self.pending = (new, self.pending[1])
        else:
            self.in_force = new
        if self.decision is old:
            self.decision = new

    def _complete_beams(self, slot_of, updates) -> float:
        """The beamformers the latest decision deferred (:meth:`Controller.decide` with
        ``defer_beams``), computed for the slots whose first sample comes before any pilot
        re-beamforming of the slot; the others are replaced by their pilot's refresh at
        their first sample before they radiate, so they are never computed (MODEL §5.1;
        the traces are those of computing them all). Returns the wall time it took."""
        first: dict = {}
        for k, j in enumerate(slot_of):
            first.setdefault(j, k)
        skip = {j for j, k in first.items() if updates[k] is not None}
        t0 = time.perf_counter()
        old = self.decision
        try:
            new = self.controller.complete_beams(old, skip)
        except Exception as exc:  # noqa: BLE001 - never reached with finite knowledge (Controller.decide)
            logger.warning("deferred beamformers failed (%s: %s); ZF for the current elements",
                           type(exc).__name__, exc)
            safe = hold_decision(self.world, self._last_obs, "", self.slots, self.frame_s / self.slots).slots[0]
            slots = tuple(dataclasses.replace(p, W=safe.W, H=None, csi_time_s=None) if p.W is None else p
                          for p in old.slots)
            new = dataclasses.replace(old, slots=slots)
            self.controller.deferred = ()
        self._replace(old, new)
        return time.perf_counter() - t0

    def _decide(self, obs, defer_beams: bool = False) -> Decision:
        """Run the controller; a controller that raises never kills the run: hold the
        previous decision (or the current elements with ZF) and record why.
        ``defer_beams``: see :meth:`_complete_beams`."""
        self._last_obs = obs
        try:
            self.controller.defer_beams = defer_beams       # for this call only (decide's signature stays)
            try:
                d = self.controller.decide(obs)
            finally:
                self.controller.defer_beams = False
            self._check_decision(d)
            return d
        except Exception as exc:  # noqa: BLE001 - the trace records it
            detail = f"{type(exc).__name__}: {exc}"
            logger.warning("frame %d: the controller raised (%s); falling back", obs.frame, detail)
            try:
                return self.controller.fallback(obs, detail)
            except Exception:  # noqa: BLE001
                return hold_decision(self.world, obs, detail, self.slots, self.frame_s / self.slots)

    def _check_decision(self, d: Decision):
        N, M = self.tx.installed.shape
        K = self.world.n_users
        if np.shape(d.pa_target) != (N, M):
            raise ValueError(f"controller returned pa_target {np.shape(d.pa_target)}, expected {(N, M)}")
        deferred = self.controller.deferred_slots(d)     # W None until _complete_beams (finite, by construction)
        for j, p in enumerate(d.slots):
            if j in deferred:
                continue
            if np.shape(p.W) != (N, K) or not np.all(np.isfinite(p.W)):
                raise ValueError(f"controller returned a beamformer of shape {np.shape(p.W)} "
                                 f"(expected {(N, K)}) or with non-finite entries")

    # --- evaluation ---------------------------------------------------------------
    def _evaluate_frames(self, rec: Recorder, bar=None) -> None:
        """The evaluator's metrics at every sample of the frames waiting in ``_deferred``,
        computed at once (MODEL §3, §5.1), then each frame's trace rows and frame row in
        frame order. The metrics feed only the traces, never the controller, so they can
        wait a few frames (``_eval_frames``; one when the targets' echo estimates feed the
        controller's trackers)."""
        frames, self._deferred = self._deferred, []
        if not frames:
            return
        tx, w = self.tx, self.world
        K = w.n_users
        fcs = [r.fc for r in frames]
        geo = BatchGeometry(*(np.concatenate([getattr(fc.geo, k) for fc in fcs])
                              for k in ("active", "s", "positions", "weights")))
        plans = [p for r in frames for p in r.plans]
        served = np.zeros((len(plans), K), bool)
        for i, p in enumerate(plans):
            served[i, list(range(K)) if p.users is None else list(p.users)] = True
        W = np.stack([np.asarray(p.W) for p in plans])
        Rs = [p.Rs for p in plans]
        users = np.concatenate([fc.users for fc in fcs])
        bodies = None if fcs[0].bodies is None else [b for fc in fcs for b in fc.bodies]
        wall = None if fcs[0].wall is None else np.concatenate([fc.wall for fc in fcs])
        m = self.evaluator.users_batch(geo, W, Rs, users, served, bodies,
                                       channels=(np.concatenate([fc.H for fc in fcs]), wall))
        if self.targets:
            J = fcs[0].targets.shape[1]
            targets = np.concatenate([fc.targets for fc in fcs])
            channels = [(np.concatenate([fc.sample_targets[j][0] for fc in fcs]),
                         np.concatenate([fc.sample_targets[j][1] for fc in fcs])) for j in range(J)]
            rcrb, frame_rcrb = self.evaluator.sensing_batch(
                W, Rs, targets, channels,
                [([(dur, st, p.W, p.Rs) for dur, st, p in r.slots_mid], self._xyz(self.targets, r.t), r.fc.mid_targets)
                 for r in frames], beams=[p.W for p in plans])
        a = 0
        for i, r in enumerate(frames):
            fc, S = r.fc, len(r.plans)
            sl = slice(a, a + S)
            a += S
            mi = {k: v[sl] for k, v in m.items()}
            ts, slots = fc.times, fc.slot_of
            rec.users_batch(ts, r.f, slots, fc.users, mi, w.sinr_target, served[sl])
            if self.blockers:
                rec.blockers_batch(ts, r.f, slots, self._xyz_many(self.blockers, ts))
            acc = _FrameAccumulator(K)
            acc.add_batch(mi, served[sl], r.plans, ts, r.weights)
            if self.targets:
                rec.targets_batch(ts, r.f, slots, fc.targets, rcrb[sl])
            rec.elements_batch(ts, r.f, slots, tx, fc.geo, fc.states, r.target_s)
            rec.beams_batch(r.f, slots, [(p.W, p.Rs, st.analog) for p, st in zip(r.plans, fc.states)])
            self._end_frame(rec, r.f, r.t, r.decided, r.in_force_at, r.solve, r.slots_mid, acc,
                            frame_rcrb[i] if self.targets else None, r.decision, r.busy_until)
            if bar is not None:
                bar.update(1)

    def _end_frame(self, rec: Recorder, f, t, decided, in_force_at, solve, slots_mid, acc, rcrb_given=None,
                   decision=None, busy_until=None):
        sens, frame_rcrb = {}, np.nan
        self._people_at(t)
        if self.targets:
            q = self._xyz(self.targets, t)[0]
            if self.tx.clustered:
                sens = self.evaluator.cluster_sensing([(dur, st) for dur, st, _ in slots_mid], q, self.rng_rcs)
            per_target = self._target_frame(t, slots_mid, sens, rcrb_given)
            frame_rcrb = float(per_target["frame_rcrb"][0])      # target 0 (every target's: targets table)
            rec.target_frame(**per_target)
        avg = acc.average_rates()
        margin = float(avg.min() - self.world.r_min) if avg.size else float("nan")
        if np.isfinite(decided):
            d = self.decision if decision is None else decision
            status, info = d.status, json.loads(Recorder.info_json(d.info))
            if status == "ok" and (acc.missed or margin < -1e-9):      # judged in the evaluated state
                status = "constraint-missed"
                info["detail"] = (f"{acc.missed} user-samples below their SINR target" if acc.missed else
                                  f"average rate {margin:+.3g} bit/s/Hz from R_min")
        else:
            status = "held-previous"
            info = {"detail": f"controller busy until t = {self.busy_until if busy_until is None else busy_until:.4g} s "
                              f"(compute latency)"}
        info.update({f"avg_rate_u{k}_bps_hz": float(r) for k, r in enumerate(avg)})
        info["avg_rate_margin_min_bps_hz"] = margin
        rec.frame(dict(frame=f, time_s=t, policy=self.policy_name, status=status, solve_time_s=solve,
                       info=json.dumps(info, sort_keys=True), decided_s=decided, in_force_s=in_force_at,
                       csi_nmse_db=acc.nmse_db(), csi_age_s=acc.mean_age(),
                       sensing_outage_exact=sens.get("sensing_outage_exact", np.nan),
                       sensing_outage_chernoff=sens.get("sensing_outage_chernoff", np.nan),
                       sensing_outage_mc=sens.get("sensing_outage_mc", np.nan),
                       frame_rcrb_m=frame_rcrb, active_clusters=self._active_clusters(slots_mid),
                       slot_durations_s="-".join(f"{dur:.4g}" for dur, _, _ in slots_mid)))

    def _target_frame(self, t, slots_mid, sens0, frame_rcrb=None) -> dict:
        """Per-target values of a frame (MODEL §3.3, §3.4, §5.1): the frame RCRB and the
        exact sensing outage of every target (target 0's outage is the frames table's),
        and, when estimating, each target's ML estimate from the frame's echoes (the
        target at the frame start, the slots' states at their centres), fed to its tracker.
        ``frame_rcrb``: the targets' frame RCRB if already computed (:meth:`_evaluate_frame`)."""
        q = self._xyz(self.targets, t)
        slots = [(dur, st, p.W, p.Rs) for dur, st, p in slots_mid]
        n = len(q)
        est = np.full((n, 2), np.nan)
        out = np.full(n, np.nan)
        rcrb = (np.array([self.evaluator.frame_rcrb(slots, q[i]) for i in range(n)]) if frame_rcrb is None
                else np.asarray(frame_rcrb, float))
        for i in range(n):
            if self.tx.clustered:
                s_i = sens0 if i == 0 else self.evaluator.cluster_sensing(
                    [(dur, st) for dur, st, _ in slots_mid], q[i], self.rng_target_outage[i])
                out[i] = s_i.get("sensing_outage_exact", np.nan)
            if self.estimating:
                e = self.evaluator.estimate_target(slots, q[i], self.rng_echo[i])
                est[i] = e.position[:2]
                self.trackers[i].update(t, est[i])
        return dict(true_xy=q[:, :2], est_xy=est, frame_rcrb=rcrb, outage=out)

    def _active_clusters(self, slots_mid) -> str:
        tx = self.tx
        if not tx.clustered:
            return ""
        seq = []
        for _, state, _ in slots_mid:
            c = np.unique(tx.cluster[state.active & (tx.cluster >= 0)])
            seq.append("+".join(str(x) for x in c) if c.size else "none")
        return "-".join(seq)

    # --- run ----------------------------------------------------------------------
    def run(self) -> dict:
        """Run all frames; returns the summary (and writes the run directory)."""
        env = simpy.Environment()
        rec = Recorder(self.out_dir, self.scene, self.scene.simulation.flush_frames)
        rec.start(self.seed, {"policy": self.policy_name, "params": self.policy_params, "seed": self.seed,
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
            if self._deferred:                     # a run that raised keeps the frames it simulated
                try:
                    self._evaluate_frames(rec, bar)
                except Exception:  # noqa: BLE001 - the original error is the one to report
                    logger.warning("could not record the last %d frames of a failed run", len(self._deferred))
            if bar is not None:
                bar.close()
            summary = rec.close(completed)
        return summary


@dataclass
class _FrameRecord:
    """A frame whose samples have run and whose metrics wait (:meth:`Simulation._evaluate_frames`):
    what the frame row and the trace rows need, as it was at the frame's end."""

    f: int
    t: float
    decided: float
    in_force_at: float
    solve: float
    fc: "_FrameChannels"
    plans: list
    weights: list
    slots_mid: list
    target_s: list
    decision: object
    busy_until: float


@dataclass
class _FrameChannels:
    """What :meth:`Simulation._frame_channels` computed for one frame: the knowledge
    updates (one per sample, and the next frame start's last), and per sample its time,
    slot, state, batch geometry, people, users (S,K,3), true channels H (S,N,K), wall
    losses (S,N,M,K) or None; the slots' centre states; with targets, their positions
    (S,J,3) and per target the channels (h, ∂h) at the samples and at the slot centres."""

    updates: list
    times: np.ndarray
    slot_of: np.ndarray
    states: list
    geo: object
    bodies: list | None
    users: np.ndarray
    H: np.ndarray
    wall: np.ndarray | None
    mids: list
    targets: np.ndarray | None = None
    sample_targets: list | None = None
    mid_targets: list | None = None


class _FrameAccumulator:
    """Per-frame sums of what the evaluator saw: users' rates (throughput counts the
    slots a user was not served), requirement misses of the served users, and the error
    and age of the channel knowledge each beamformer was designed with (MODEL §5.1)."""

    def __init__(self, n_users: int):
        self.rate = np.zeros(n_users)
        self.time = 0.0
        self.missed = 0
        self.err = self.pow = 0.0
        self.age = self.age_w = 0.0

    def add(self, m, served, plan, t, weight_s):
        self.rate += m["rate"] * weight_s
        self.time += weight_s
        self.missed += int(np.sum(m["outage"]))
        if plan.H is not None:
            H_true = m["H"][:, served]
            self.err += float(np.sum(np.abs(plan.H[:, served] - H_true) ** 2))
            self.pow += float(np.sum(np.abs(H_true) ** 2))
        if plan.csi_time_s is not None:
            self.age += (t - plan.csi_time_s) * weight_s
            self.age_w += weight_s

    def add_batch(self, m, served, plans, times, weights) -> None:
        """:meth:`add` for every sample of a frame (metrics (S,…)), in sample order, with
        the same floats: the rate sums accumulated sample after sample (``cumsum`` along
        the samples), the error and power sums of each sample over the same contiguous
        (N, served) block (``np.sum`` of the block, as :meth:`add`), added in sample order."""
        rate, outage, H = m["rate"], m["outage"], m["H"]
        S = len(plans)
        wts = [float(wt) for wt in weights]
        self.rate = np.cumsum(np.concatenate([self.rate[None], rate * np.array(wts)[:, None]]), axis=0)[-1]
        for wt in wts:
            self.time += wt
        self.missed += int(np.count_nonzero(outage))
        with_h = [i for i, p in enumerate(plans) if p.H is not None]
        if with_h:
            sel = served[with_h[0]]
            if len(with_h) == S and (served == sel).all():      # every sample the same users: at once
                cols = np.flatnonzero(sel)
                H_true = H[:, :, cols]
                sq_err = np.abs(np.stack([p.H for p in plans])[:, :, cols] - H_true) ** 2
                sq_pow = np.abs(H_true) ** 2
                add = np.add.reduce     # np.sum's own reduction of each sample's whole block (a
                for i in range(S):      # row-wise sum rounds differently), without its wrapper
                    self.err += float(add(sq_err[i], axis=None))
                    self.pow += float(add(sq_pow[i], axis=None))
            else:
                for i in with_h:
                    H_true = H[i][:, served[i]]
                    self.err += float(np.sum(np.abs(plans[i].H[:, served[i]] - H_true) ** 2))
                    self.pow += float(np.sum(np.abs(H_true) ** 2))
        for p, t, wt in zip(plans, times, wts):
            if p.csi_time_s is not None:
                self.age += (t - p.csi_time_s) * wt
                self.age_w += wt

    def average_rates(self) -> np.ndarray:
        return self.rate / self.time if self.time > 0 else self.rate

    def nmse_db(self) -> float:
        if self.pow <= 0:
            return float("nan")
        with np.errstate(divide="ignore"):
            return float(10 * np.log10(self.err / self.pow))

    def mean_age(self) -> float:
        return self.age / self.age_w if self.age_w > 0 else float("nan")


def run_scene(scene, out_dir=None, **kwargs) -> dict:
    """Convenience: ``Simulation(scene, out_dir, **kwargs).run()``."""
    return Simulation(scene, out_dir, **kwargs).run()
