"""MODEL §2.5: 3D blockage by walls of finite height, per-wall loss, opaque walls."""

import numpy as np
import pytest

from twin.geometry.floorplan import FloorPlan
from twin.scene.schema import Wall

OUTLINE = [(0, 0), (10, 0), (10, 10), (0, 10)]


def _fp():
    walls = [Wall(points=((5, 0), (5, 4)), height_m=1.5, loss_db=6.0),     # low partition
             Wall(points=((5, 6), (5, 10)), height_m=3.0, loss_db=9.0),    # tall wall
             Wall(points=((2, 4.5), (2, 5.5)), height_m=3.0, opaque=True)]
    return FloorPlan(OUTLINE, walls)


def test_link_over_low_partition_is_clear_but_through_tall_wall_pays_its_loss():
    fp = _fp()
    pa = np.array([4.8, 2.0, 3.0])        # ceiling PA right next to the partition
    ue = np.array([8.0, 2.0, 0.0])
    assert fp.loss_db(pa, ue) == 0.0       # crosses x=5 at height ≈ 2.8 m > 1.5 m
    low_pa = np.array([1.0, 2.0, 1.0])     # link crosses the partition below 1.5 m
    assert fp.loss_db(low_pa, ue) == pytest.approx(6.0)
    pa2, ue2 = np.array([4.0, 8.0, 3.0]), np.array([8.0, 8.0, 0.0])
    assert fp.loss_db(pa2, ue2) == pytest.approx(9.0)
    assert fp.blockage_amplitude(pa2, ue2) == pytest.approx(10 ** (-9 / 20))


def test_opaque_wall_zeroes_the_link_and_shapes_broadcast():
    fp = _fp()
    pas = np.array([[1.0, 5.0, 3.0], [1.0, 8.0, 3.0]])[:, None, :]
    ues = np.array([[3.0, 5.0, 0.0], [8.0, 8.0, 0.0], [1.0, 1.0, 0.0]])[None, :, :]
    b = fp.blockage_amplitude(pas, ues)
    assert b.shape == (2, 3)
    assert b[0, 0] == 0.0                       # through the opaque wall (crossing below 3 m)
    assert b[1, 1] == pytest.approx(10 ** (-9 / 20))
    assert b[1, 2] == 1.0


def test_no_walls_is_an_open_room():
    fp = FloorPlan(OUTLINE, [])
    assert np.all(fp.blockage_amplitude(np.array([[1, 1, 3.0]]), np.array([[9, 9, 0.0]])) == 1.0)
