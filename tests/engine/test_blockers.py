"""People who block links in a run (MODEL §5.1): more outage with them than without on
one seed, the traced body loss is the model-B loss of the traced positions, and a user's
own body blocks the others' links only with ``users.self_blocking``."""

import numpy as np
import pytest

from twin.engine import Simulation
from twin.physics.body import Bodies, body_loss_db
from twin.scene.loader import parse_scene
from twin.traces import read_table
from twin.world import World


def corridor(blockers=None, **users):
    raw = {"name": "corridor",
           "floor": {"outline": [[0, 0], [12, 0], [12, 6], [0, 6]], "ceiling_m": 2.8, "ue_height_m": 1.0},
           "waveguides": [{"feed": [0.5, 2.0, 2.8], "length_m": 11.0, "pas": 2},
                          {"feed": [0.5, 4.0, 2.8], "length_m": 11.0, "pas": 2}],
           "users": {"positions": [[3.0, 1.0], [9.0, 5.0]], "sinr_target_db": 40.0,
                     "mobility": {"model": "static"}, **users},
           "controller": {"policy": "uniform", "params": {"beamformer": "zf"}},
           "csi": {"model": "perfect"},
           "simulation": {"frames": 40, "samples_per_slot": 4, "seed": 3}}
    if blockers:
        raw["blockers"] = {"count": blockers, "radius_m": 0.25,
                           "mobility": {"model": "random_waypoint", "speed_m_s": 1.2}}
    return parse_scene(raw)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for b in (None, 20):
        d = tmp_path_factory.mktemp(f"blk{b}")
        out[b] = (d, Simulation(corridor(b), d).run())
    return out


def test_blockers_raise_outage_on_the_same_seed(runs):
    clear, crowded = runs[None][1], runs[20][1]
    assert clear["outage_fraction"] < crowded["outage_fraction"]
    assert crowded["mean_rate_bps_hz"] < clear["mean_rate_bps_hz"]
    u = read_table(runs[None][0], "users")
    assert (u.body_loss_db == 0).all()
    assert read_table(runs[None][0], "blockers").empty


def test_traced_body_loss_is_model_b_of_the_traced_positions(runs):
    d, _ = runs[20]
    scene = corridor(20)
    tx = World(scene).tx
    u, pas, blk = read_table(d, "users"), read_table(d, "pas"), read_table(d, "blockers")
    assert len(blk) == 20 * len(u.time_s.unique())
    assert (u.body_loss_db > 1.0).any()                    # somebody stood in a link
    lam = scene.radio.wavelength_m
    for t in u.time_s.unique()[::7]:
        ut, pt, bt = u[u.time_s == t].sort_values("user"), pas[pas.time_s == t], blk[blk.time_s == t]
        pt = pt[pt.active]
        src = np.column_stack([pt.x, pt.y, pt.z])
        dst = np.column_stack([ut.x, ut.y, np.full(len(ut), 1.0)])
        people = Bodies.of(np.column_stack([bt.x, bt.y]), 0.25, 1.7)
        want = body_loss_db(src[:, None, :], dst[None, :, :], people, lam).min(axis=0)
        assert ut.body_loss_db.to_numpy() == pytest.approx(want, abs=1e-9)
    assert tx.bodies is None            # a fresh transmitter: nobody until the engine sets them


def test_self_blocking_blocks_other_users_links_only():
    def run(flag):
        raw = {"name": "line", "floor": {"outline": [[0, 0], [10, 0], [10, 6], [0, 6]], "ceiling_m": 2.8,
                                         "ue_height_m": 1.0},
               "waveguides": [{"feed": [0.5, 3.0, 2.8], "length_m": 3.0, "pas": 1}],     # the PA at x = 2
               "users": {"positions": [[7.0, 3.0], [8.0, 3.0]], "self_blocking": flag,
                         "mobility": {"model": "static"}},
               "controller": {"policy": "uniform", "params": {"beamformer": "mrt"}},
               "csi": {"model": "perfect"}, "simulation": {"frames": 2, "seed": 1}}
        sim = Simulation(parse_scene(raw), None)
        sim.run()
        return sim

    on, off = run(True), run(False)
    st = on.tx.initial_state()
    pts = np.array([[7.0, 3.0, 1.0], [8.0, 3.0, 1.0]])
    loss_on = on.tx.body_loss_db(st, pts)[0]
    assert loss_on[0] == 0.0 and loss_on[1] > 10.0           # user 0 stands in user 1's link
    lam = on.scene.radio.wavelength_m
    want = body_loss_db(on.tx.positions(st.s)[0, 0], pts[1], Bodies.of([[7.0, 3.0]], 0.2, 1.7), lam)
    assert loss_on[1] == pytest.approx(want)
    assert np.all(off.tx.body_loss_db(off.tx.initial_state(), pts) == 0.0)


def test_the_ward_runs_50_frames_with_its_preset(tmp_path):
    """The second built-in dynamic scene (issue 16 item 5): listed, and 50 frames of its
    own preset run without a fallback, with its people, two targets and switched PAs."""
    from twin.scene import builtin_scenes, load_scene

    assert "ward" in builtin_scenes()
    scene = load_scene("ward")
    assert scene.users.n > len(scene.waveguides) and scene.targets.n == 2 and scene.blockers is not None
    summary = Simulation(scene, tmp_path, frames=50).run()
    assert summary["completed"] and summary["frames"] == 50 and summary["fallback_frames"] == 0
    frames = read_table(tmp_path, "frames")
    assert set(frames.status) <= {"ok", "constraint-missed"}
    tg = read_table(tmp_path, "targets")
    assert set(tg.target) == {0, 1} and np.isfinite(tg.rcrb_m).all()
    blk = read_table(tmp_path, "blockers")
    assert blk.blocker.nunique() == scene.blockers.count
    pas = read_table(tmp_path, "pas")
    g = pas[pas.waveguide == 0]
    assert np.isin(g.s_m.round(9), scene.waveguides[0].installed_m).all()
    u = read_table(tmp_path, "users")
    assert (u.body_loss_db >= 0).all() and (u.body_loss_db > 0).any()
