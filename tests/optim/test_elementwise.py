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


def test_relaxed_set_spans_the_guide_and_its_result_is_the_same_channel_in_order():
    """Paper 002 eq. 27: a PA's candidates are every sample ≥ δ from the guide's other PAs
    (not only those between its neighbours); the relaxed result is relabelled in order,
    and — the PAs of a guide being interchangeable — its channel is the one searched."""
    world, users = _world(pas=4, users=3)
    dep = world.deployment
    setup = _setup(world, "zf", "downlink")
    sizes = {"relaxed": [], "ordered": []}
    res = {}
    for c in sizes:
        def spy(H, n, delta, setup, c=c):
            sizes[c].append(len(delta))
            return candidate_sum_rates(H, n, delta, setup)
        res[c] = sum_rate_elementwise_positions(pass_layout(world), users, setup, Q=200, candidates=c,
                                                rng=np.random.default_rng(4), evaluator=spy)
    assert min(sizes["relaxed"]) > 200 - 4 * 2 * 2        # whole guide less ≤ 3 exclusion zones of ±δ
    assert max(sizes["ordered"]) < 200 - 10
    r = res["relaxed"]
    assert np.all(np.diff(r.s, axis=1) >= dep.spacing[:, None] - 1e-9)
    assert np.all(r.s >= 0) and np.all(r.s <= dep.length[:, None] + 1e-12)
    H = dep.channel(r.s, users, dep.installed, world.floor)
    assert r.sum_rate == pytest.approx(sum_rate(H, setup), rel=1e-12)
    assert np.all(np.diff(r.history) >= 0) and r.sum_rate > r.history[0]
    perm = r.s[:, ::-1].copy()                             # any labelling, same channel
    assert np.allclose(dep.channel(perm, users, dep.installed, world.floor), H, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="candidates must be one of"):
        sum_rate_elementwise_positions(pass_layout(world), users, setup, Q=20, candidates="any")


@pytest.mark.parametrize("cands", ["relaxed", "ordered"])
def test_reach_window_keeps_every_pa_within_one_frame_of_travel(cands):
    """reach r around centre c: every PA of the result lies in [c − r, c + r] (relabelled
    too: sorting is non-expansive), only the windows' samples are built, and an
    unlimited reach is the whole-guide search."""
    world, users = _world(pas=3, users=3)
    dep = world.deployment
    lay = pass_layout(world)
    setup = _setup(world, "mmse", "downlink")
    centre = dep.legalize(np.random.default_rng(8).uniform(*dep.bounds()))
    built = []

    class Counting(type(lay)):
        def guide_terms(self, n, x, points, rho=None):
            built.append(np.size(x))
            return super().guide_terms(n, x, points, rho)

    r = 0.06
    res = sum_rate_elementwise_positions(Counting(lay.deployment, lay.floor), users, setup, Q=1000, s0=centre + 0.5,
                                         centre=centre, reach=r, candidates=cands)
    assert np.all(np.abs(res.s - centre) <= r + 1e-12)
    assert np.any(np.abs(res.s - centre) > 1e-3)          # it did move
    assert sum(built) <= dep.n_guides * 3 * (2 * r / 0.01 + 2) + 3 * dep.n_guides * 3
    full = sum_rate_elementwise_positions(lay, users, setup, Q=200, s0=centre, candidates=cands)
    inf = sum_rate_elementwise_positions(lay, users, setup, Q=200, s0=centre, reach=np.full(4, np.inf),
                                         candidates=cands)
    assert np.array_equal(full.s, inf.s) and full.sum_rate == inf.sum_rate
    with pytest.raises(ValueError, match="reach limits sliding PAs"):
        sum_rate_elementwise_positions(lay, users, setup, grid=np.linspace(0, 10, 31), reach=r)


def test_elementwise_stage_targets_are_reachable_in_one_frame():
    """The stage's default window (reach_frames = 1): each PA's target is within speed ×
    frame of where it stands; reach_frames = 0 searches the whole guide."""
    from twin.controller import Controller, resolve
    from twin.experiments.snapshot import decide_once

    world, users = _world(pas=3, users=3)
    tx = world.tx
    start = tx.uniform_positions()
    ctrl = Controller(world, resolve("elementwise", {"beamformer": "zf"}))
    step = tx.speed[:, None] * ctrl.ctx.frame_s
    near = decide_once(ctrl, users, start=start)
    far = decide_once(Controller(world, resolve("elementwise", {"beamformer": "zf", "position.reach_frames": 0})),
                      users, start=start)
    assert np.all(np.abs(near.decision.pa_target - start) <= step + 1e-12)
    assert np.max(np.abs(far.decision.pa_target - start)) > 10 * step.max()
    assert near.decision.info["planned_sum_rate_bps_hz"] < far.decision.info["planned_sum_rate_bps_hz"]
