"""The paper 002 policies inside the twin."""

import numpy as np

from twin.engine import Simulation
from twin.scene import load_scene
from twin.traces import read_table


def test_elementwise_policy_moves_pas_legally_and_beats_uniform(tmp_path):
    scene = load_scene("paper002", {"simulation.frames": 40})
    a = Simulation(scene, tmp_path / "ew", policy="elementwise", policy_params={"Q": 200}).run()
    b = Simulation(scene, tmp_path / "un", policy="uniform").run()
    frames = read_table(tmp_path / "ew", "frames")
    assert frames.status.isin(["ok", "constraint-missed"]).all()
    pas = read_table(tmp_path / "ew", "pas")
    last = pas[pas.time_s == pas.time_s.max()].sort_values(["waveguide", "pa"])
    s = last.s_m.to_numpy().reshape(4, 4)
    assert np.all(np.diff(s, axis=1) >= 0.5 * 299792458 / 28e9 - 1e-9)
    assert a["pa_travel_m"] > 0
    # once the PAs have arrived (static users), the optimised layout beats the uniform one
    ra, rb = (read_table(tmp_path / d, "users") for d in ("ew", "un"))
    late = ra.time_s > 3.0
    assert ra[late].rate_bps_hz.mean() > rb[rb.time_s > 3.0].rate_bps_hz.mean()
    assert (pas.groupby(["waveguide", "pa"]).target_s_m.nunique() <= 3).all()   # a stable target


def test_hmimo_policy_uses_its_own_array(tmp_path):
    scene = load_scene("paper002", {"simulation.frames": 3})
    summary = Simulation(scene, tmp_path, policy="hmimo").run()
    assert summary["pa_travel_m"] == 0.0 and np.isfinite(summary["mean_rate_bps_hz"])
