"""The ``outage-schedule`` stage with walking users (issue 13): ``mode = track`` continues
the previous frame's decision (fast, rate-feasible, close to the cold search) while
``mode = full`` searches every frame; a figure's solver call never tracks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twin.engine import Simulation
from twin.experiments.figures.paper001 import controller, proposed, schedule
from twin.optim.clustered_track import TrackSettings
from twin.scene import load_scene
from twin.traces.reader import read_table

WALK = {"model": "random_waypoint", "speed_m_s": [0.6, 1.4], "pause_s": 0.0}


def _run(tmp_path, mode, frames=5):
    scene = load_scene("paper001", {"users.mobility": WALK, "radio.tx_power_dbm": 15,
                                    "requirements.r_min_bps_hz": 2.0})
    out = tmp_path / mode
    Simulation(scene, out, policy="clustered-outage", frames=frames, seed=1,
               policy_params={"select.mode": mode}).run()
    frames_t = read_table(out, "frames")
    return frames_t, [json.loads(x) for x in frames_t["info"]]


def test_walking_users_are_tracked_and_close_to_the_cold_search(tmp_path):
    tr, tr_info = _run(tmp_path, "track")
    full, full_info = _run(tmp_path, "full")
    assert [i["tracked"] for i in tr_info] == [False] + [True] * (len(tr_info) - 1)
    assert not any(i["tracked"] for i in full_info)
    # the first frame is the same cold search; later ones are much cheaper
    assert tr_info[0]["planned_outage"] == full_info[0]["planned_outage"]
    assert max(i["optimiser_s"] for i in tr_info[1:]) < min(i["optimiser_s"] for i in full_info[1:])
    for a, b in zip(tr_info[1:], full_info[1:]):
        assert a["min_rate_margin_bps_hz"] >= -1e-8            # every tracked plan meets R_min
        assert a["planned_outage"] == pytest.approx(b["planned_outage"], rel=0.05)
    assert np.all(np.isfinite(tr["sensing_outage_exact"]))


def test_a_figure_call_never_tracks_even_after_a_tracked_frame():
    ctrl, ref = controller(proposed(4), 2.0, {"radio.tx_power_dbm": 15}), controller(proposed(4), 2.0,
                                                                                     {"radio.tx_power_dbm": 15})
    rng = np.random.default_rng(7)
    pts = ctrl.world.floor.sample_free(rng, 3, 0.5)
    pts = np.column_stack([pts, np.full(3, ctrl.world.ue_height)])
    sol = ctrl.ctx.solvers
    kw = dict(T=4, rule="proposed", pas_per_cluster=0, focus=True, fixed_ula=False, objective="exact", decay=None,
              points_per_cluster=0, method="search")
    track = TrackSettings(np.array([0.004]))
    sol.outage_schedule(pts[1:3], pts[0], track=track, **kw)
    sol.outage_schedule(pts[1:3] + 0.01, pts[0], track=track, **kw)          # a tracked frame
    drop = schedule(ctrl, pts[1:3] + 0.02, pts[0])                          # a drop 2 cm away: within reach
    cold = schedule(ref, pts[1:3] + 0.02, pts[0])
    assert not drop.info.get("tracked")
    np.testing.assert_array_equal(drop.tau, cold.tau)
    assert drop.outage == cold.outage
