"""Radio maps (issue 15 item 7): power peaks under a lone PA, a wall with finite loss
drops the power behind it by its loss, the SINR map at a user reproduces the traced
SINR, and `pass-twin map` draws the map with the scene on it."""

import imageio.v2 as imageio
import numpy as np
import pytest

from twin.cli import main
from twin.engine import Simulation
from twin.radiomap import radio_map, values_at
from twin.scene import load_scene
from twin.world import World
from viz.colors import PA_ACTIVE


@pytest.fixture(scope="module")
def run4(tmp_path_factory):
    out = tmp_path_factory.mktemp("run4")
    Simulation(load_scene("office"), out, frames=4).run()
    return out


def _one_pa(world, n, m, s_m):
    """Only PA (n, m) active at s_m; guide n (one RF chain per guide, MODEL §2.3) gets
    the full power: one stream, W = √P e_n."""
    dep = world.deployment
    s = dep.uniform_positions()
    s[n, m] = s_m
    active = np.zeros(dep.installed.shape, bool)
    active[n, m] = True
    W = np.zeros((dep.n_guides, 1), complex)
    W[n, 0] = np.sqrt(world.power_w)
    return s, active, W


def test_power_map_of_a_lone_pa_peaks_beneath_it_and_falls_off():
    world = World(load_scene("office"))
    dep = world.deployment
    s, active, W = _one_pa(world, 1, 0, 6.0)          # guide-2 (y = 4), x = 6.5: open floor
    pa = dep.positions(s)[1, 0]
    rm = radio_map(world, s, active, W, metric="power", nx=160, oversample=2)
    assert np.linalg.norm(rm.peak_xy() - pa[:2]) < 0.25
    # 4 m along the floor (no wall between) it falls by the free-space spreading
    h = pa[2] - world.ue_height
    spreading = 20 * np.log10(np.hypot(4.0, h) / h)
    assert rm.at(pa[:2]) - rm.at(pa[:2] + [4.0, 0.0]) == pytest.approx(spreading, abs=0.5)


def test_a_glass_wall_drops_the_power_behind_it_by_its_loss():
    """The meeting room's glass south wall (y = 5, x 11 … 16, 7.6 dB at 28 GHz): with one
    PA in front of it, the map just behind the wall sits its loss below the same map
    without walls, and the map in front of it does not."""
    world = World(load_scene("office"))
    s, active, W = _one_pa(world, 1, 2, 13.0)          # guide-2 (y = 4), x = 13.5
    loss = next(w for w in world.floor.walls if "south" in w.name).loss_at(28.0)
    bounds = (12.5, 4.2, 14.5, 5.8)
    on = radio_map(world, s, active, W, metric="power", nx=41, ny=33, bounds=bounds)
    off = radio_map(world, s, active, W, metric="power", nx=41, ny=33, bounds=bounds, blockage=False)
    behind = on.y > 5.2
    front = on.y < 4.8
    drop = off.value - on.value
    assert np.allclose(drop[behind], loss, atol=0.05)
    assert np.allclose(drop[front], 0.0, atol=1e-9)
    assert np.mean(on.value[behind]) < np.mean(on.value[front]) - loss + 1.0


def test_sinr_map_at_each_user_equals_the_traced_sinr(run4):
    from viz.render import RunData

    data = RunData.load(run4)
    frame = 2
    st = data.state(frame)
    u = data.users[data.users.frame == frame]
    u = u[u.time_s == u.time_s.max()].sort_values("user")
    act = st.active & data.world.deployment.installed
    for k, q in enumerate(st.users):
        b = (q[0] - 0.01, q[1] - 0.01, q[0] + 0.01, q[1] + 0.01)     # 3×3 grid, centre on the user
        rm = radio_map(data.world, st.s, act, st.W, st.Rs, metric="sinr", user=k, nx=3, ny=3, bounds=b)
        assert rm.value[1, 1] == pytest.approx(u.sinr_db.iloc[k], abs=0.01)
        best = radio_map(data.world, st.s, act, st.W, st.Rs, metric="sinr", nx=3, ny=3, bounds=b)
        assert best.value[1, 1] >= rm.value[1, 1] - 1e-9
    exact = values_at(data.world, st.s, act, st.W, st.Rs, st.users, "power")
    assert np.all(np.isfinite(exact))


def test_map_command_draws_the_map_with_pas_and_users(run4, tmp_path, capsys):
    out = tmp_path / "m.png"
    assert main(["map", str(run4), "--metric", "power", "--frame", "1", "--cells", "80", "--out", str(out)]) == 0
    img = imageio.imread(out)[..., :3].astype(int)
    assert img.shape[0] > 400 and img.shape[1] > 800
    red = np.all(np.abs(img - np.array(PA_ACTIVE) * 255) < 30, axis=-1).sum()
    assert red > 12 * 20                                   # 12 PA markers
    # viridis cells: plenty of green-blue map pixels (G > R, B > R)
    assert ((img[..., 1] > img[..., 0] + 30) & (img[..., 2] > img[..., 0])).mean() > 0.2
    assert main(["map", str(run4), "--metric", "power", "--user", "0"]) == 2
    assert main(["map", str(run4), "--frame", "7"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--user" in err[0] and "--frame" in err[1]


def test_viz_commands_refuse_an_out_they_cannot_write(run4, tmp_path, capsys):
    afile = tmp_path / "a.txt"
    afile.write_text("x")
    for cmd in (["plot", str(run4), "--out", str(tmp_path)],
                ["map", str(run4), "--out", str(afile / "m.png")],
                ["render", str(run4), "--out", str(tmp_path / "no" / "r.png")],
                ["render", str(run4), "--html", str(afile / "x.html")]):
        assert main(cmd) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and ("--out" in err[0] or "--html" in err[0]), err


def test_viz_commands_refuse_a_folder_with_a_stray_scene_json(run4, tmp_path, capsys):
    """A scene.json copied into a folder does not make it a run: one line, exit 2."""
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "scene.json").write_text((run4 / "scene.json").read_text())
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "scene.json").write_bytes(b"\xff\xfe\x00binary")
    for d in (stray, junk):
        for cmd in (["plot", str(d)], ["render", str(d)], ["map", str(d)]):
            assert main(cmd) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and str(d) in err[0] and "fix:" in err[0], err
