"""MODEL §5: mobility stays in the free space and never walks through a wall."""

import numpy as np

from twin.engine.streams import stream
from twin.geometry.mobility import make_mobility
from twin.scene import load_scene
from twin.scene.schema import Mobility
from twin.world import World


def test_random_waypoint_never_leaves_free_space_over_a_long_walk():
    world = World(load_scene("office"))
    fp = world.floor
    rng = stream(3, "users", 0)
    spec = Mobility(model="random_waypoint", speed_m_s=(0.5, 1.5), pause_s=(0.0, 1.0))
    mob = make_mobility(spec, fp, fp.sample_free(rng, 1)[0], rng)
    while mob.traj.end_time < 600.0:
        mob.next_leg()
    pts = np.asarray(mob.traj.p)
    for a, b in zip(pts[:-1], pts[1:]):            # every leg is a straight walk in free space
        assert fp.segment_free(a, b)
    t = np.linspace(0, 600, 60_001)
    assert np.all(fp.is_free(mob.traj.position(t)))
    # it really roams: visits both sides of the cubicle partition and the meeting room
    xy = mob.traj.position(t)
    assert (xy[:, 0] > 11).any() and (xy[:, 1] > 5).any() and (xy[:, 1] < 5).any()


def test_scripted_waypoints_loop_at_constant_speed():
    world = World(load_scene("office"))
    spec = Mobility(model="waypoints", waypoints=((2.0, 8.0), (8.0, 8.0)), speed_m_s=2.0, loop=True)
    mob = make_mobility(spec, world.floor, np.array([2.0, 8.0]), np.random.default_rng(0))
    while mob.traj.end_time < 20:
        mob.next_leg()
    p = mob.traj.position(np.array([1.5, 3.0, 4.5, 6.0]))
    assert np.allclose(p, [[5.0, 8.0], [8.0, 8.0], [5.0, 8.0], [2.0, 8.0]])
