"""Beam maps peak where the optimiser aimed (MODEL §0 convention) and ZF beams null the
other users."""

import numpy as np

from twin.beammap import beam_map, radiated_power
from twin.optim import linear_precoder
from twin.scene import load_scene
from twin.world import World

USERS = np.array([[9.0, 2.0, 0.0], [14.0, -3.0, 0.0], [16.0, 5.0, 0.0]])


def _setup():
    world = World(load_scene("paper000"))
    dep = world.deployment
    s = dep.uniform_positions()
    H = dep.channel(s, USERS, dep.installed, world.floor)
    return world, dep, s, H


def test_mrt_beam_map_peaks_within_one_grid_cell_of_its_user():
    # The twin pinches each guide's PA at the user's projection (policy `follow`): the
    # nearest PA is right above the user, so the stream's power map is maximal there
    # (largest gain, and Cauchy-Schwarz for the coherent sum over the guides).
    from twin.controller.stages.position import follow_targets

    world = World(load_scene("paper000", {f"waveguides.{n}.pas": 1 for n in range(4)}))
    dep = world.deployment
    u = np.array([[9.0, 1.875, 0.0]])              # under the second guide
    s = follow_targets(world.tx, u)
    assert np.allclose(s, 4.0)                     # x = 5 + 4 = 9: above the user
    H = dep.channel(s, u, dep.installed, world.floor)
    W = linear_precoder(H, world.power_w, "mrt")
    half = 0.05                                    # resolved on a 2.5 mm local grid
    local = beam_map(world, s, dep.installed, W, stream=0, nx=41, ny=41,
                     bounds=(u[0, 0] - half, u[0, 1] - half, u[0, 0] + half, u[0, 1] + half))
    assert np.all(np.abs(local.peak_xy() - u[0, :2]) <= local.x[1] - local.x[0] + 1e-12)
    # floor-wide (7.5 cm cells, 4×4 sub-samples averaged): the user's cell is on the peak
    # plateau; a 7.5 cm grid cannot place a centimetre-wide 28 GHz focus any closer
    bm = beam_map(world, s, dep.installed, W, stream=0, nx=200, oversample=4)
    assert bm.value_at(u[0]) > -1.0
    assert np.nanmedian(bm.db) < -10.0             # and most of the floor is far below it


def test_zf_beam_has_deep_nulls_at_the_other_users():
    world, dep, s, H = _setup()
    W = linear_precoder(H, world.power_w, "zf")
    for k in range(len(USERS)):
        Hq = dep.channel(s, USERS, dep.installed, world.floor)
        p = radiated_power(Hq, W, stream=k)
        others = np.delete(p, k)
        assert np.all(10 * np.log10(others / p[k]) <= -20.0)


def test_total_power_map_is_normalised_to_its_peak_inside_the_floor():
    world, dep, s, H = _setup()
    W = linear_precoder(H, world.power_w, "zf")
    bm = beam_map(world, s, dep.installed, W, nx=60)
    assert np.nanmax(bm.db) == 0.0
    assert bm.db.shape == (len(bm.y), len(bm.x))
