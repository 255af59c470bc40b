"""The engine evaluates a frame's samples at once (issue 13): pilots, channels, metrics
and trace rows batched over the frame, re-beamformings computed ahead. These tests keep
the former one-sample-at-a-time engine as a reference (SimPy timeout per sample, one
mobility process per entity, a channel call per pilot and per sample, one trace add per
sample) and require the batched engine to write the same traces, value for value."""

import numpy as np
import pandas as pd
import pytest

from twin.controller.decision import ChannelKnowledge
from twin.engine import Simulation
from twin.engine.simulation import _FrameAccumulator
from twin.hardware import HardwareState
from twin.hardware.kinematics import SlidingActuator
from twin.optim.linear import linear_precoder, linear_precoders
from twin.physics.body import Bodies
from twin.physics.csi import estimate_channel, estimate_channels
from twin.physics.sensing import crb_from_channel, crb_over_slots, crbs_of_frame, root_crb
from twin.scene import load_scene
from twin.traces import TIMING_COLUMNS, read_table
from twin.world import World


class PerSample(Simulation):
    """The engine as it was before the frame batching: every sample on its own."""

    def _mobility(self, env, ent):
        while True:
            end = ent.mobility.next_leg()
            if end is None:
                return
            yield env.timeout(max(end - env.now, 0.0))

    def _pilot_estimate(self, tp):
        w = self.world
        self._people_at(tp)
        state = HardwareState(self.actuator.position(tp), self._slot_active.copy(), self.analog)
        H = self.tx.channel_to(state, self._xyz(self.users, tp))
        return estimate_channel(H, w.noise_w, w.user_power_w, self.pilot_symbols, self.rng_csi,
                                self.scene.csi.estimator), state

    def _pilots_until(self, t):
        if self.csi_model != "pilot":
            return False
        T = self.pilot_period
        k = int(np.floor(t / T + 1e-9)) - 1
        if k < 0 or (self.csi is not None and k * T <= self.csi.time_s + 1e-12):
            return False
        tk, tprev = k * T, (k - 1) * T
        prev = None
        if self.csi is not None and abs(self.csi.time_s - tprev) < 1e-12:
            prev = (self.csi.H, self.csi.time_s)
        elif k >= 1:
            prev = (self._pilot_estimate(tprev)[0], tprev)
        H, state = self._pilot_estimate(tk)
        w = self.world
        var = np.broadcast_to(w.noise_w / (np.asarray(w.user_power_w, float) * self.pilot_symbols), (w.n_users,))
        self.csi = ChannelKnowledge("pilot", H, float(tk), state, *(prev if prev is not None else (None, None)),
                                    err_var=np.array(var, float))
        return True

    def _controller(self, env, rec, bar):
        for ent in self.users + self.targets + self.blockers:
            env.process(self._mobility(env, ent))
        tx, n = self.tx, self.scene.simulation.samples_per_slot
        for f in range(self.n_frames):
            t = env.now
            self._pilots_until(t)
            decided = in_force_at = solve = np.nan
            if t + 1e-12 >= self.busy_until:
                obs = self._observe(f, t)
                decision = self._decide(obs)
                solve, tau = 0.0, self._latency(0.0)
                decided, in_force_at = t, t + tau
                self.busy_until = t + tau
                self.decision = decision
                self.pending = (decision, in_force_at)
                self.actuator.command(in_force_at, tx.realise(decision.pa_target))
                if self.in_force is None:
                    self.in_force = decision
            frame_plan = self.pending[0] if self.pending is not None else self.in_force
            acc, slots_mid = _FrameAccumulator(self.world.n_users), []
            for j in range(len(frame_plan.slots)):
                slot_start = env.now
                plan = self._plan_at(j, slot_start)
                self._slot_active = np.asarray(plan.active, bool) & tx.installed
                dur = frame_plan.slots[j].duration_s
                mid = HardwareState(self.actuator.position(slot_start + dur / 2), self._slot_active.copy(),
                                    self.analog)
                for i in range(n):
                    yield env.timeout(slot_start + (i + 0.5) * dur / n - env.now)
                    if self._pilots_until(env.now):
                        self._refresh(j)
                    plan = self._plan_at(j, env.now)
                    self._evaluate(rec, f, j, plan, env.now, acc, dur / n)
                slots_mid.append((dur, mid, plan))
                yield env.timeout(slot_start + dur - env.now)
            self._end_frame(rec, f, t, decided, in_force_at, solve, slots_mid, acc, self._frame_rcrb(t, slots_mid))

    def _frame_rcrb(self, t, slots_mid):
        """Each target's frame RCRB: its channel from every slot centre, one state at a
        time, and :func:`crb_over_slots`."""
        if not self.targets:
            return None
        self._people_at(t)
        w, ev, out = self.world, self.evaluator, []
        total = sum(d for d, _, _ in slots_mid)
        for q in self._xyz(self.targets, t):
            parts = []
            for dur, st, p in slots_mid:
                h, dh = self.tx.target_channel(st, q)
                parts.append((dur / total, p.W @ p.W.conj().T + (p.Rs if p.Rs is not None else 0), h, dh))
            crb = crb_over_slots(parts, q, w.sensing.position, w.sensing.elements, w.fc, rx_axis=w.sensing.axis,
                                 rx_spacing=w.sensing.spacing, rcs_m2=ev.rcs_m2, snapshots=w.sensing.snapshots,
                                 noise_w=w.sensing_noise_w)
            out.append(root_crb(crb) if np.all(np.isfinite(crb)) else np.inf)
        return out

    def _evaluate(self, rec, f, j, plan, t, acc, weight_s):
        tx, w = self.tx, self.world
        self._people_at(t)
        state = HardwareState(self.actuator.position(t), np.asarray(plan.active, bool) & tx.installed, self.analog)
        users = self._xyz(self.users, t)
        served = np.zeros(w.n_users, bool)
        served[list(range(w.n_users)) if plan.users is None else list(plan.users)] = True
        m = self.evaluator.users(state, plan.W, plan.Rs, users, served)
        rec.users(t, f, j, users, m, w.sinr_target, served)
        if self.blockers:
            rec.blockers(t, f, j, self._xyz(self.blockers, t))
        acc.add(m, served, plan, t, weight_s)
        if self.targets:
            targets = self._xyz(self.targets, t)
            rec.targets(t, f, j, targets, self.evaluator.rcrb(state, plan.W, plan.Rs, targets))
        rec.elements(t, f, j, tx, state, self.actuator.target_at(t))
        rec.beams(f, j, plan.W, plan.Rs, self.analog)


def _tables(out):
    tabs = {}
    for name in ("users", "targets", "pas", "beams", "frames", "blockers"):
        try:
            tabs[name] = read_table(out, name)
        except FileNotFoundError:
            continue
    tabs["frames"] = tabs["frames"].drop(columns=[*TIMING_COLUMNS["frames"], "info"])
    return tabs


@pytest.mark.parametrize("scene, policy, frames", [("office", "uniform", 4), ("office", "follow", 4),
                                                   ("ward", "uniform", 3)])
def test_batched_frames_write_the_traces_of_the_per_sample_engine(tmp_path, scene, policy, frames):
    """office: pilot CSI every 0.5 ms, walls, a moving target; follow: PAs that slide;
    ward: people who block links (blockers and the users' own bodies), two targets."""
    sc = load_scene(scene)
    a, b = tmp_path / "batched", tmp_path / "reference"
    Simulation(sc, a, policy=policy, frames=frames).run()
    PerSample(sc, b, policy=policy, frames=frames).run()
    ta, tb = _tables(a), _tables(b)
    assert ta.keys() == tb.keys()
    assert all(len(ta[n]) > 0 for n in ("users", "pas", "beams", "frames", "targets"))
    assert (len(ta["blockers"]) > 0) == (scene == "ward")
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True, obj=name)


def test_batched_channels_equal_one_state_at_a_time():
    world = World(load_scene("ward"))
    tx = world.tx
    rng = np.random.default_rng(3)
    lo, hi = tx.bounds()
    states = [HardwareState(np.sort(rng.uniform(lo, hi), axis=1), rng.uniform(size=tx.installed.shape) > 0.3)
              for _ in range(6)]
    states.insert(3, states[2])                                    # a repeated state reuses its geometry
    pts = np.column_stack([world.floor.sample_free(rng, 6 * 7), np.full(42, world.ue_height)]).reshape(7, 6, 3)
    bodies = [Bodies.of(world.floor.sample_free(rng, 3), 0.3, 1.7) for _ in range(7)]
    bodies[1] = None
    geo = tx.batch_geometry(states)
    H, wall = tx.batch_channels(geo, pts, bodies)
    h, dh = tx.batch_target_channels(geo, pts[:, 0], bodies)
    for i, st in enumerate(states):
        tx.set_bodies(bodies[i])
        assert np.array_equal(H[i], tx.channel_to(st, pts[i]))
        assert np.array_equal(wall[i], tx.wall_loss_db(st, pts[i]))
        hi_, dhi = tx.target_channel(st, pts[i, 0])
        assert np.array_equal(h[i], hi_) and np.array_equal(dh[i], dhi)
    tx.set_bodies(None)
    assert np.any(H != 0) and np.any(np.isfinite(wall) & (wall > 0))      # walls do block some links


def test_batched_estimates_precoders_and_crbs_equal_one_at_a_time():
    rng = np.random.default_rng(7)
    H = (rng.standard_normal((12, 4, 3)) + 1j * rng.standard_normal((12, 4, 3))) * 1e-5
    g1, g2 = np.random.default_rng(11), np.random.default_rng(11)
    est = estimate_channels(H, 1e-12, 0.1, 4, g1)
    assert all(np.array_equal(est[i], estimate_channel(H[i], 1e-12, 0.1, 4, g2)) for i in range(12))
    assert not np.array_equal(est, H)
    for kind in ("zf", "mmse", "mrt"):
        W = linear_precoders(H, 1.0, kind, 1e-12)
        assert all(np.array_equal(W[i], linear_precoder(H[i], 1.0, kind, 1e-12)) for i in range(12))
    # positions CRB of many targets at once; frame CRB over slots
    R = np.einsum("tnk,tmk->tnm", H, H.conj()) * 1e8
    h = H[:, :, 0]
    dh = np.stack([H[:, :, 1], H[:, :, 2]], axis=1) * 1e2
    q = np.column_stack([rng.uniform(1, 15, 12), rng.uniform(1, 9, 12), np.full(12, 1.0)])
    rx = np.array([0.05, 5.0, 2.5])
    batch = crb_from_channel(R, h, dh, q, rx, 8, 28e9, noise_w=1e-12)
    for i in range(12):
        assert np.array_equal(batch[i], crb_from_channel(R[i], h[i], dh[i], q[i], rx, 8, 28e9, noise_w=1e-12))
    assert np.all(np.isfinite([root_crb(c) for c in batch]))
    slots = [(1 / 12, R[i], h[i], dh[i]) for i in range(12)]
    one = crb_over_slots(slots[:1], q[0], rx, 8, 28e9, noise_w=1e-12)
    assert np.allclose(one, crb_from_channel(R[0], h[0], dh[0], q[0], rx, 8, 28e9, noise_w=1e-12 * 12),
                       rtol=1e-9)
    frame = crb_over_slots(slots, q[0], rx, 8, 28e9, noise_w=1e-12)
    assert np.trace(frame) < np.trace(one)
    samples, frame2 = crbs_of_frame(R, h, dh, q, slots[:5], q[0], rx, 8, 28e9, noise_w=1e-12)
    assert np.array_equal(samples, batch)
    assert np.array_equal(frame2, crb_over_slots(slots[:5], q[0], rx, 8, 28e9, noise_w=1e-12))


def test_knowledge_predictions_and_actuator_positions_equal_one_at_a_time():
    rng = np.random.default_rng(5)
    ks = []
    for i in range(8):
        H0, H1 = ((rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))) for _ in range(2))
        ks.append(ChannelKnowledge("pilot", H1, 0.001 * (i + 2), None, H0, 0.001 * (i + 1),
                                   err_var=rng.uniform(0.01, 0.1, 3)))
    ts = [k.time_s + rng.uniform(0, 0.01) for k in ks]
    idx = np.array([0, 2])
    P = ChannelKnowledge.predict_many(ks, ts, idx)
    assert all(np.array_equal(P[i], k.predict(t, idx)) for i, (k, t) in enumerate(zip(ks, ts)))
    assert not np.array_equal(P[0], ks[0].H[:, idx])                   # it does extrapolate
    act = SlidingActuator(rng.uniform(0, 10, (4, 3)), np.full(4, 1.0), np.array([False, True, False, False]),
                          np.full(4, 0.02))
    for c in (0.05, 0.12):
        act.command(c, rng.uniform(0, 10, (4, 3)))
    times = np.sort(rng.uniform(0, 0.3, 50))
    S = act.positions(times)
    assert all(np.array_equal(S[i], act.position(t)) for i, t in enumerate(times))
    assert not np.array_equal(S[0], S[-1])
