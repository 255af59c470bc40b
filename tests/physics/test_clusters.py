"""MODEL §3.4 for clustered deployments: look angles, sensing gains, accumulated
weights, and the frame's sensing outage (exact vs Monte Carlo vs Chernoff)."""

import numpy as np
import pytest

from twin.engine.evaluator import Evaluator
from twin.hardware import HardwareState
from twin.physics import outage_monte_carlo, rcs_covariance
from twin.physics.clusters import frame_outage, look_angles
from twin.scene import load_scene
from twin.world import World

TARGET = np.array([4.0, 3.0, 0.0])


@pytest.fixture(scope="module")
def world():
    return World(load_scene("paper001"))


def sensing_gain(world, s, active, target):
    """g of the active PAs: the weight of one full-frame slot (MODEL §3.4)."""
    w, _ = Evaluator(world).cluster_weights([(1.0, HardwareState(s, active))], target)
    return float(w.sum())


def cluster_weights(world, slots, target):
    return Evaluator(world).cluster_weights([(d, HardwareState(s, a)) for d, s, a in slots], target)[0]


def frame_sensing_metrics(world, slots, target, rng, threshold):
    w = cluster_weights(world, slots, target)
    return frame_outage(w, look_angles(world.deployment, target), world.scene.targets.rcs_m2,
                        world.scene.targets.rcs_decay_per_rad, threshold, rng)


def test_look_angles_grow_along_the_guide(world):
    th = look_angles(world.deployment, TARGET)
    assert len(th) == 10 and np.all(np.diff(th) > 0)          # clusters pass the target
    # cluster 3 (centre x = 3.5, height 3) sees the target at atan2(|(0.5, 3, -3)|_⊥, 0.5)
    v = TARGET - np.array([3.5, 0.0, 3.0])
    assert th[3] == pytest.approx(np.arccos(v[0] / np.linalg.norm(v)))


def test_sensing_gain_is_the_radar_equation_for_one_pa(world):
    dep = world.deployment
    s = dep.uniform_positions()
    active = np.zeros_like(dep.installed)
    active[0, 5] = True
    p = dep.positions(s)[0, 5]
    lam = 299_792_458.0 / world.fc
    r = np.linalg.norm(p - TARGET)
    h2 = np.exp(-2 * 0.18 * s[0, 5]) * (lam / (4 * np.pi)) ** 2 / r ** 2      # ρ = 1: one PA; e^{-α s}, α = 0.18 Np/m
    d_r = np.linalg.norm(TARGET - world.sensing.position)
    expected = world.power_w * 8 * h2 / (4 * np.pi * d_r ** 2 * world.sensing_noise_w)
    assert sensing_gain(world, s, active, TARGET) == pytest.approx(expected, rel=1e-12)


def test_weights_accumulate_slot_shares_and_outage_is_consistent(world):
    dep = world.deployment
    s = dep.uniform_positions()
    slots = [(0.003, s, (dep.cluster == 2) & dep.installed), (0.001, s, (dep.cluster == 2) & dep.installed),
             (0.004, s, (dep.cluster == 7) & dep.installed)]
    w = cluster_weights(world, slots, TARGET)
    g2 = sensing_gain(world, s, (dep.cluster == 2) & dep.installed, TARGET)
    assert w[2] == pytest.approx(0.5 * g2) and np.count_nonzero(w) == 2
    # weak enough that the outage is not tiny: scale the threshold to the mean SNR
    thr = 0.3 * np.sum(w)
    m = frame_sensing_metrics(world, slots, TARGET, np.random.default_rng(0), threshold=thr)
    assert m["sensing_outage_exact"] <= m["sensing_outage_chernoff"]
    cov = rcs_covariance(look_angles(dep, TARGET), 1.0, 1.0)
    p, lo, hi = outage_monte_carlo(w, cov, thr, np.random.default_rng(1), 200_000, level=0.99)
    assert lo <= m["sensing_outage_exact"] <= hi
    assert m["sensing_outage_mc"] in (0.0, 1.0)


def test_monte_carlo_events_follow_the_exact_probability(world):
    dep = world.deployment
    s = dep.uniform_positions()
    slots = [(0.004, s, (dep.cluster == c) & dep.installed) for c in (1, 8)]
    w = cluster_weights(world, slots, TARGET)
    thr = 0.5 * np.sum(w)
    rng = np.random.default_rng(3)
    events = [frame_sensing_metrics(world, slots, TARGET, rng, thr)["sensing_outage_mc"] for _ in range(600)]
    exact = frame_sensing_metrics(world, slots, TARGET, rng, thr)["sensing_outage_exact"]
    sd = np.sqrt(exact * (1 - exact) / 600)
    assert abs(np.mean(events) - exact) < 4 * sd + 1e-3


def test_an_unserved_user_has_rate_zero_and_is_not_in_outage(world):
    """MODEL §5.1: a user not scheduled in a slot earns nothing then, which counts in its
    throughput, but is not in outage of its SINR target."""
    dep = world.deployment
    s = dep.uniform_positions()
    users = np.array([[2.0, 1.0, 0.0], [8.0, -2.0, 0.0]])
    act = (dep.cluster == 1) & dep.installed
    W = np.zeros((1, 2), complex)
    W[0, 0] = np.sqrt(world.power_w)
    m = Evaluator(world).users(HardwareState(s, act), W, None, users, served=np.array([True, False]))
    assert m["rate"][1] == 0.0 and not m["outage"][1] and m["rate"][0] > 0
    both = Evaluator(world).users(HardwareState(s, act), W, None, users)
    assert both["outage"][1]                          # served with no power: in outage
