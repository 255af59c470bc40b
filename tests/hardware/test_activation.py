"""Activation guides (MODEL §5): PAs pre-installed at fixed points, the controller
switches which radiate, the switch takes effect after the switching delay."""

import numpy as np
import pytest

from twin.engine import Simulation
from twin.errors import ConfigError
from twin.hardware import SlidingActuator
from twin.scene.loader import parse_scene, validate_geometry
from twin.traces import read_table
from twin.world import World

INSTALLED = [1.0, 2.5, 4.0, 5.5, 7.0, 8.5, 10.0]


def scene(delay=0.03, **guide):
    g = {"feed": [0.5, 3.0, 2.8], "length_m": 11.0, "pas": 2, "actuation": "activate",
         "installed_m": INSTALLED, "switching_delay_s": delay, **guide}
    if "installed_count" in guide:
        g.pop("installed_m")
    raw = {"name": "switched",
           "floor": {"outline": [[0, 0], [12, 0], [12, 6], [0, 6]], "ceiling_m": 2.8},
           "waveguides": [g, {"feed": [0.5, 5.0, 2.8], "length_m": 11.0, "pas": 2, "speed_m_s": 0.5}],
           "users": {"count": 2, "mobility": {"model": "random_waypoint", "speed_m_s": 1.5}},
           "controller": {"policy": "follow", "params": {"beamformer": "mrt"}},
           "csi": {"model": "perfect"},
           "simulation": {"frames": 30, "samples_per_slot": 4, "seed": 2}}
    sc = parse_scene(raw)
    validate_geometry(sc, "test")
    return sc


def test_realise_snaps_to_the_nearest_free_installed_positions():
    tx = World(scene()).tx
    assert list(tx.switched) == [True, False]
    got = tx.realise(np.array([[2.2, 2.3], [3.33, 7.77]]))
    assert list(got[0]) == [2.5, 4.0]               # both nearest 2.5: the second takes the next free
    assert list(got[1]) == [3.33, 7.77]             # the sliding guide is untouched
    assert set(tx.initial_positions()[0]) <= set(INSTALLED)
    assert tx.describe()["installed_m"][0] == INSTALLED


def test_installed_count_spreads_the_positions_along_the_guide():
    tx = World(scene(installed_count=4)).tx
    assert np.allclose(tx.stations[0], 11.0 * (np.arange(4) + 0.5) / 4)


def test_actuator_switches_after_the_delay_and_slides_the_other_guide():
    act = SlidingActuator(np.array([[1.0, 2.5], [0.0, 1.0]]), np.array([0.0, 0.5]), np.array([True, False]),
                          np.array([0.03, 0.0]))
    act.command(1.0, np.array([[7.0, 10.0], [1.0, 3.0]]))
    before, after = act.position(1.0 + 0.0299), act.position(1.0 + 0.0301)
    assert list(before[0]) == [1.0, 2.5] and list(after[0]) == [7.0, 10.0]
    assert after[1] == pytest.approx([0.5 * 0.0301, 1.0 + 0.5 * 0.0301])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("switched")
    Simulation(scene(), d).run()
    return d


def test_an_activation_guide_radiates_only_from_installed_positions(run):
    pas = read_table(run, "pas")
    g = pas[pas.waveguide == 0]
    assert np.isin(g.s_m.round(9), INSTALLED).all()
    assert np.isin(g.target_s_m.round(9), INSTALLED).all()
    assert g.s_m.nunique() > 2                       # the controller did switch
    slid = pas[pas.waveguide == 1]
    assert not np.isin(slid.s_m.round(9), INSTALLED).all()


def test_the_switch_takes_effect_after_the_delay(run):
    pas = read_table(run, "pas")
    frames = read_table(run, "frames")
    g = pas[pas.waveguide == 0].sort_values(["time_s", "pa"])
    switches = 0
    for f in range(1, int(frames.frame.max()) + 1):
        t0 = float(frames.time_s[f])
        prev = g[g.frame == f - 1]
        prev = prev[prev.time_s == prev.time_s.max()].s_m.to_numpy()
        cur = g[g.frame == f]
        new = cur.target_s_m.to_numpy()[:2]
        if np.array_equal(prev, new):
            continue
        switches += 1
        for t, row in cur.groupby("time_s"):
            want = prev if t - t0 < 0.03 else new
            assert list(row.s_m) == list(want), (f, t)
    assert switches >= 1


@pytest.mark.parametrize("change,field", [
    ({"installed_m": None}, "waveguides"),
    ({"installed_m": [1.0, 1.002, 3.0]}, "waveguides[0].installed_m"),
    ({"installed_m": [1.0]}, "waveguides"),
    ({"installed_m": [1.0, 12.0]}, "waveguides"),
])
def test_bad_activation_guides_are_refused(change, field):
    kw = {k: v for k, v in change.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        if "installed_m" in change and change["installed_m"] is None:
            from twin.scene.loader import parse_scene as ps
            ps({"name": "x", "floor": {"outline": [[0, 0], [12, 0], [12, 6], [0, 6]]},
                "waveguides": [{"feed": [0.5, 3.0, 2.8], "length_m": 11.0, "actuation": "activate"}],
                "users": {"count": 1}}, "test")
        else:
            scene(**kw)
    assert field in str(err.value)
