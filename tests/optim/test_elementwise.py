"""Paper 002 element-wise search (MODEL §4.2): rank-two candidate scoring equals the
explicit per-candidate evaluation, the search never lowers its objective, respects
the placement constraints, and refuses ZF with K > N."""

import numpy as np
import pytest

from twin.errors import ConfigError
from twin.optim.elementwise import (DOWNLINK, UPLINK, LinkSetup, brute_force_sum_rates,
                                    candidate_sum_rates, sum_rate_elementwise_positions,
                                    sum_rate)
from twin.problems import pass_layout
from twin.scene import load_scene
from twin.world import World

CASES = [(k, "downlink") for k in DOWNLINK] + [(k, "uplink") for k in UPLINK]


def _world(pas=3, users=3):
    world = World(load_scene("paper002", {**{f"waveguides.{n}.pas": pas for n in range(4)},
                                          "users.count": users}))
    rng = np.random.default_rng(5)
    u = np.column_stack([rng.uniform(0, 10, users), rng.uniform(-3, 3, users), np.zeros(users)])
    return world, u


def _setup(world, kind, link):
    return LinkSetup(kind, link, world.power_w, world.user_power_w, world.noise_w)


@pytest.mark.parametrize("kind,link", CASES)
def test_rank_two_candidate_rates_equal_brute_force(kind, link):
    world, users = _world()
    dep = world.deployment
    s = dep.uniform_positions()
    terms = dep.channel_terms(s, users, dep.installed, world.floor)
    H = terms.sum(axis=1)
    x = np.linspace(0.0, 10.0, 97)
    delta = pass_layout(world).guide_terms(2, x, users) - terms[2, 1][None]
    setup = _setup(world, kind, link)
    fast = candidate_sum_rates(H, 2, delta, setup)
    slow = brute_force_sum_rates(H, 2, delta, setup)
    assert np.allclose(fast, slow, rtol=1e-9, atol=0)
    assert np.ptp(slow) > 0.1                      # the candidates really differ


@pytest.mark.parametrize("kind,link", CASES)
def test_search_never_lowers_the_objective_and_matches_the_brute_force_search(kind, link):
    world, users = _world(pas=2, users=3)
    setup = _setup(world, kind, link)
    fast = sum_rate_elementwise_positions(pass_layout(world), users, setup, Q=60, rng=np.random.default_rng(1))
    slow = sum_rate_elementwise_positions(pass_layout(world), users, setup, Q=60, rng=np.random.default_rng(1),
                              evaluator=brute_force_sum_rates)
    assert fast.status.usable and fast.iterations >= 1 and fast.info["moves"] == len(fast.history) - 1
    assert np.all(np.diff(fast.history) >= -1e-9 * fast.history[0])
    assert fast.sum_rate >= fast.history[0]
    assert fast.sum_rate == pytest.approx(slow.sum_rate, rel=1e-9)
    assert np.allclose(fast.s, slow.s)
    H = world.deployment.channel(fast.s, users, world.deployment.installed, world.floor)
    assert fast.sum_rate == pytest.approx(sum_rate(H, setup), rel=1e-12)


def test_positions_respect_order_spacing_and_guide():
    world, users = _world(pas=4, users=3)
    dep = world.deployment
    res = sum_rate_elementwise_positions(pass_layout(world), users, _setup(world, "zf", "downlink"), Q=500,
                             rng=np.random.default_rng(2))
    assert np.all(res.s >= 0) and np.all(res.s <= dep.length[:, None] + 1e-12)
    assert np.all(np.diff(res.s, axis=1) >= dep.spacing[:, None] - 1e-9)
    assert np.linalg.norm(res.W) ** 2 == pytest.approx(world.power_w)


def test_discrete_mode_stays_on_the_grid():
    world, users = _world(pas=2, users=2)
    grid = np.linspace(0.0, 10.0, 31)
    res = sum_rate_elementwise_positions(pass_layout(world), users, _setup(world, "mmse", "downlink"), grid=grid,
                             rng=np.random.default_rng(3))
    assert np.all(np.min(np.abs(res.s[..., None] - grid), axis=-1) < 1e-12)


def test_zf_with_more_users_than_waveguides_is_refused_clearly():
    world, users = _world(pas=2, users=6)
    with pytest.raises(ValueError, match="K=6 > N=4"):
        sum_rate_elementwise_positions(pass_layout(world), users, _setup(world, "zf", "downlink"), Q=20)
    res = sum_rate_elementwise_positions(pass_layout(world), users, _setup(world, "mmse", "downlink"), Q=20)
    assert np.isfinite(res.sum_rate)
    from twin.controller import Controller, resolve
    with pytest.raises(ConfigError, match="K=6 users and N=4"):
        Controller(world, resolve("elementwise", {"beamformer": "zf"}))
