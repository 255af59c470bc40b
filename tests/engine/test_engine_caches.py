"""What the engine now skips or remembers (issue 13, third round) changes no value:
deferred slot beamformers (computed only where no pilot re-beamforming replaces them
before they radiate), a frame start's positions remembered, per-run trace columns, the
floor plan's wall terms per point, the frame accumulator's whole-frame sums."""

import numpy as np
import pandas as pd
import pytest

from twin.controller.controller import Controller
from twin.controller.decision import ChannelKnowledge
from twin.engine import Simulation
from twin.engine.recorder import Recorder
from twin.engine.simulation import _FrameAccumulator
from twin.hardware import HardwareState
from twin.scene import load_scene
from twin.traces import TIMING_COLUMNS, read_table
from twin.world import World


class Eager(Simulation):
    """The engine as before deferral: every decision's slot beamformers computed at once."""

    def _decide(self, obs, defer_beams=False):
        return super()._decide(obs, defer_beams=False)


def _tables(out):
    tabs = {n: read_table(out, n) for n in ("users", "targets", "pas", "beams", "frames")}
    tabs["frames"] = tabs["frames"].drop(columns=[*TIMING_COLUMNS["frames"], "info"])
    return tabs


@pytest.mark.parametrize("overrides, completed", [
    ({}, 0),                                                            # a pilot before every slot's sample
    ({"simulation.samples_per_slot": 3, "csi.period_s": 0.004}, None),  # some slots radiate before their refresh
    ({"controller.latency_s": 0.0237}, 0),                              # the decision in force mid-frame
])
def test_deferred_beamformers_write_the_traces_of_computing_them_all(tmp_path, monkeypatch, overrides, completed):
    sc = load_scene("office", overrides)
    counts = {"deferred": 0, "computed": 0}
    orig = Controller.complete_beams

    def spy(self, decision, skip=()):
        counts["deferred"] += len(self.deferred)
        counts["computed"] += len([j for j in self.deferred if j not in skip])
        return orig(self, decision, skip)

    monkeypatch.setattr(Controller, "complete_beams", spy)
    Simulation(sc, tmp_path / "deferred", policy="follow", frames=4).run()
    monkeypatch.setattr(Controller, "complete_beams", orig)
    Eager(sc, tmp_path / "eager", policy="follow", frames=4).run()
    assert counts["deferred"] == 30                       # frames 1-3 (the first decides eagerly) × 10 slots
    if completed is None:
        assert 0 < counts["computed"] < counts["deferred"]
    else:
        assert counts["computed"] == completed
    ta, tb = _tables(tmp_path / "deferred"), _tables(tmp_path / "eager")
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True, obj=name)


def test_completed_beams_equal_the_eager_decision():
    sim = Simulation(load_scene("office"), None, policy="uniform", frames=2)
    sim.run()                                   # a run leaves knowledge and a motion predictor behind
    obs = sim._observe(2, 0.2)
    ctl = sim.controller
    bf = ctl.ctx.stages["beamform"]
    v0 = None if bf.predictor.last is None else bf.predictor.last.copy()
    assert ctl.defer_beams is False                      # the engine defers only its own calls
    eager = ctl.decide(obs)
    bf.predictor.last, bf.predictor.last_t = v0, 0.1     # the same predictor state for the second call
    lazy = ctl.decide(obs, defer_beams=True)
    assert ctl.deferred_slots(lazy) == tuple(range(10))
    assert all(p.W is None for p in lazy.slots)
    done = ctl.complete_beams(lazy, skip={3})
    assert ctl.deferred_slots(done) == (3,) and done.slots[3].W is None
    for j, (a, b) in enumerate(zip(eager.slots, done.slots)):
        if j != 3:
            assert np.array_equal(a.W, b.W) and np.array_equal(a.H, b.H) and a.csi_time_s == b.csi_time_s
    # knowledge that is not finite is never deferred: its beamformers are computed at once,
    # and fail there (the engine then falls back), as without deferral
    bad = obs.csi.H.copy()
    bad[0, 0] = np.nan
    obs_bad = type(obs)(**{**vars(obs), "csi": ChannelKnowledge(**{**vars(obs.csi), "H": bad})})
    with pytest.raises(np.linalg.LinAlgError):
        ctl.decide(obs_bad, defer_beams=True)
    assert ctl.deferred == ()


def test_frame_start_positions_are_remembered_and_follow_the_walk():
    sim = Simulation(load_scene("office"), None, policy="uniform", frames=3)
    sim.run()
    t1, t2 = 0.1, 0.2
    a, b = sim._xyz(sim.users, t1), sim._xyz(sim.users, t2)
    assert sim._xyz(sim.users, t1) is a                   # remembered
    assert not a.flags.writeable
    fresh = np.array([[*e.mobility.traj.position(t), sim.world.ue_height] for e in sim.users for t in [t2]])
    assert np.array_equal(b, fresh)                        # the frame's interpolation, the scalar one's values
    assert not np.array_equal(a, b)                        # the users walked: another time, other positions
    sim._xyz_memo.clear()
    assert np.array_equal(sim._xyz(sim.users, t2), b)


def test_wall_terms_per_point_give_the_flattened_links_losses():
    for name in ("office", "ward", "warehouse"):
        fp = World(load_scene(name)).floor
        rng = np.random.default_rng(2)
        lo, hi = fp.seg_a.min(axis=0) - 1, fp.seg_a.max(axis=0) + 1
        p = np.concatenate([rng.uniform(lo, hi, (5, 4, 3, 1, 2)), np.full((5, 4, 3, 1, 1), 2.8)], axis=-1)
        q = np.concatenate([rng.uniform(lo, hi, (5, 1, 1, 6, 2)), rng.uniform(0, 2.8, (5, 1, 1, 6, 1))], axis=-1)
        q[1, 0, 0, 2] = p[1, 2, 1, 0]                        # a link of length zero
        with np.errstate(invalid="ignore"):                   # the zero-length link: 0·inf, as before
            got = fp.loss_db(p, q)
            P = np.broadcast_to(p, got.shape + (3,)).reshape(-1, 3)
            Q = np.broadcast_to(q, got.shape + (3,)).reshape(-1, 3)
            ref = np.array([fp.loss_db(P[i], Q[i]) for i in range(len(P))]).reshape(got.shape)
        assert np.array_equal(got, ref)
        assert np.any(got > 0)                              # walls block some links


def test_accumulator_whole_frame_sums_equal_sample_by_sample():
    rng = np.random.default_rng(4)
    S, N, K = 10, 4, 4

    class P:
        def __init__(self, H, t):
            self.H, self.csi_time_s = H, t

    for same in (True, False):
        H = rng.standard_normal((S, N, K)) + 1j * rng.standard_normal((S, N, K))
        plans = [P(H[i] + 0.1 * rng.standard_normal((N, K)), 0.001 * i) for i in range(S)]
        served = np.ones((S, K), bool) if same else rng.random((S, K)) > 0.3
        m = {"rate": rng.uniform(0, 5, (S, K)), "outage": rng.random((S, K)) > 0.7, "H": H}
        times, weights = 0.01 + 0.01 * np.arange(S), [0.01] * S
        a, b = _FrameAccumulator(K), _FrameAccumulator(K)
        a.add_batch(m, served, plans, times, weights)
        for i in range(S):
            b.add({k: v[i] for k, v in m.items()}, served[i], plans[i], times[i], weights[i])
        assert np.array_equal(a.rate, b.rate) and a.time == b.time and a.missed == b.missed
        assert a.err == b.err and a.pow == b.pow and a.age == b.age and a.age_w == b.age_w


def test_element_rows_of_inactive_elements_and_beam_layouts(tmp_path):
    """The per-run element and beam columns: rows equal to the one-sample reporters', with
    elements switched off (their coordinates, not the geometry's s = 0) and two layouts."""
    world = World(load_scene("paper001"))
    tx = world.tx
    rng = np.random.default_rng(1)
    lo, hi = tx.bounds()
    states = [HardwareState(np.sort(rng.uniform(lo, hi), axis=1), rng.random(tx.installed.shape) > 0.5)
              for _ in range(3)]
    geo = tx.batch_geometry(states)
    targets = [rng.uniform(lo, hi) for _ in range(3)]
    ts, slots = np.array([0.001, 0.002, 0.003]), np.array([0, 1, 2])
    W = [rng.standard_normal((tx.n_rf, 2)) + 0j for _ in range(3)]
    a, b = Recorder(tmp_path / "a", world.scene, 10), Recorder(tmp_path / "b", world.scene, 10)
    for f in range(2):                                     # the cached columns serve a second frame
        a.elements_batch(ts, f, slots, tx, geo, states, targets)
        a.beams_batch(f, slots, [(w, None, None) for w in W])
        a.beams_batch(f, slots[:2], [(w, w @ w.conj().T, None) for w in W[:2]])       # another layout
        for i in range(3):
            b.elements(ts[i], f, slots[i], tx, states[i], targets[i])
            b.beams(f, slots[i], W[i], None)
        for i in range(2):
            b.beams(f, slots[i], W[i], W[i] @ W[i].conj().T)
    for r in (a, b):
        r.writer.flush()
    for name in ("pas", "beams"):
        ta, tb = read_table(tmp_path / "a", name), read_table(tmp_path / "b", name)
        assert len(ta) > 0
        if name == "beams":                                 # one add per layout vs per sample: same rows, sorted
            key = ["frame", "slot", "kind", "row", "col"]
            ta, tb = ta.sort_values(key, kind="stable").reset_index(drop=True), \
                tb.sort_values(key, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(ta, tb, check_exact=True)
    assert not read_table(tmp_path / "a", "pas")["active"].all()
