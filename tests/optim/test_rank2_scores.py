"""Paper 002's default element-wise path (issue 13, fifth round) against the reference one:
the (K,Q) rank-two scorer (`twin.optim.rank2_scores`) equals `candidate_sum_rates` to
rounding, and the search that scores each PA's contiguous run of line samples with it
(exclusions masked, the start's own term reused) takes the reference search's path —
the same positions, the same exact sum rates after every move — on seeded drops."""

import numpy as np
import pytest

from twin.optim.elementwise import (DOWNLINK, UPLINK, LinkSetup, _alpha, candidate_sum_rates,
                                    sum_rate_elementwise_positions)
from twin.optim.legal import LegalSet
from twin.optim.rank2_scores import reduced_sum_rates
from twin.problems import pass_layout
from twin.scene import load_scene
from twin.world import World

CASES = [(k, "downlink") for k in DOWNLINK] + [(k, "uplink") for k in UPLINK]


def _channel(rng, N, K, scale=1e-4):
    return (rng.normal(size=(N, K)) + 1j * rng.normal(size=(N, K))) * scale


@pytest.mark.parametrize("kind,link,N,K", [(kind, link, N, K) for kind, link in CASES
                                            for N, K in [(4, 4), (4, 1), (4, 8), (8, 3)]
                                            if not (kind == "zf" and K > N)])     # ZF needs K ≤ N
def test_reduced_scorer_equals_the_reference_to_rounding(kind, link, N, K):
    rng = np.random.default_rng(N * 10 + K)
    H = _channel(rng, N, K)
    G = H.conj().T @ H
    for P in (1e-6, 0.1, 30.0):                      # low SNR to interference-limited
        setup = LinkSetup(kind, link, P, P / 10, 1e-12)
        alpha = _alpha(setup, K)
        A = np.linalg.inv(G + alpha * np.eye(K)) if setup.needs_inverse() else None
        delta = _channel(rng, 300, K)
        delta[7] = 0.0                               # staying put is a candidate
        ref = candidate_sum_rates(H, 1, delta, setup, A, G)
        new = reduced_sum_rates(H, 1, np.ascontiguousarray(np.conj(delta).T), kind, link, power_w=P,
                                user_power_w=P / 10, noise_w=1e-12, alpha=alpha, A=A, G=G,
                                fro2_h=float(np.sum(np.abs(H) ** 2)))
        assert new.shape == ref.shape
        # rounding only; K = 1 MRT/MRC's interference is a cancellation to ~1e-10 in both
        np.testing.assert_allclose(new, ref, rtol=1e-9 if K == 1 else 1e-11, atol=0)
        assert np.argmax(new) == np.argmax(ref)
        assert ref.std() > 1e-6 * abs(ref.mean())    # the candidates do differ


def test_excluded_points_are_exactly_those_the_clearance_mask_removes():
    rng = np.random.default_rng(3)
    M, L, d = 6, 3.0, 0.05
    legal = LegalSet(np.zeros((2, M)), np.full((2, M), L), np.array([d, d]), np.ones((2, M), bool),
                     np.zeros((2, M), int))
    removed = 0
    for _ in range(5):
        s = np.sort(rng.uniform(0, L, (2, M)), axis=1)
        line = np.linspace(0.0, L, 1001)
        edge = np.sort(np.concatenate([line, s[1] + d, s[1] - d, s[1] + d - 1e-12, s[1] + 2 * d]))
        for x in (line, edge):
            for start, stop in ((0, x.size), (200, 700)):
                for m in range(M):
                    mask = legal.clear_of_sorted(s, 1, m, x[start:stop])
                    near = [j - start for k in legal.others(1, m) for j in legal.near_sorted(1, s[1, k], x.tolist())
                            if start <= j < stop]     # per-PA lists, restricted to the run
                    np.testing.assert_array_equal(np.unique(near), np.flatnonzero(~mask))   # a point near two PAs: twice
                    removed += len(near)
    assert removed > 0


@pytest.mark.parametrize("scene", ["paper002", "office"])
def test_the_start_term_is_the_line_term_at_the_same_coordinate(scene):
    # the default path scores an off-line start with the PA's own term from layout.terms
    world = World(load_scene(scene))
    dep, lay = world.deployment, pass_layout(world)
    rng = np.random.default_rng(2)
    users = np.column_stack([world.floor.sample_free(rng, 4, clearance=0.0), np.full(4, 1.2)])
    s = dep.legalize(rng.uniform(*dep.bounds()))
    T = lay.terms(s, users)
    for n in range(dep.n_guides):
        for m in np.flatnonzero(dep.installed[n]):
            np.testing.assert_array_equal(T[n, m], lay.guide_terms(n, s[n, m:m + 1], users)[0])


def _drops(world, count, seed):
    dep = world.deployment
    for d in range(count):
        rng = np.random.default_rng([seed, d])
        users = np.column_stack([world.floor.sample_free(rng, world.n_users, clearance=0.0),
                                 np.full(world.n_users, world.ue_height)])
        yield users, dep.legalize(rng.uniform(*dep.bounds()))


@pytest.mark.parametrize("kind,link", CASES)
def test_default_search_takes_the_reference_path(kind, link):
    world = World(load_scene("paper002"))
    lay = pass_layout(world)
    moved = 0
    for P in (1e-4, 10.0):
        setup = LinkSetup(kind, link, P, P / 10, world.noise_w)
        for users, s0 in _drops(world, 2, 11):
            for cands in ("relaxed", "ordered"):
                ref = sum_rate_elementwise_positions(lay, users, setup, Q=150, s0=s0, candidates=cands,
                                                     evaluator=candidate_sum_rates)
                new = sum_rate_elementwise_positions(lay, users, setup, Q=150, s0=s0, candidates=cands)
                np.testing.assert_array_equal(new.s, ref.s)
                assert new.history == ref.history and new.sweeps == ref.sweeps
                np.testing.assert_array_equal(new.W, ref.W)
                moved += new.info["moves"]
    assert moved > 0


def test_default_search_takes_the_reference_path_in_a_window_and_on_a_grid():
    # the controller's reachable-set window (walled office: blockage in the line terms) and
    # the discrete mode (preinstalled positions)
    world = World(load_scene("office"))
    lay = pass_layout(world)
    moved = 0
    for kind in ("mrt", "zf", "mmse"):
        setup = LinkSetup(kind, "downlink", world.power_w, world.user_power_w, world.noise_w)
        for users, s0 in _drops(world, 3, 4):
            for kw in ({"reach": 0.1, "centre": s0}, {"reach": 0.4}):
                ref = sum_rate_elementwise_positions(lay, users, setup, Q=400, s0=s0, evaluator=candidate_sum_rates,
                                                     **kw)
                new = sum_rate_elementwise_positions(lay, users, setup, Q=400, s0=s0, **kw)
                np.testing.assert_array_equal(new.s, ref.s)
                assert new.history == ref.history
                moved += not np.array_equal(new.s, s0)
    world = World(load_scene("paper002"))
    grid = np.linspace(0.0, 10.0, 41)
    setup = LinkSetup("mmse", "downlink", world.power_w, world.user_power_w, world.noise_w)
    for users, s0 in _drops(world, 3, 5):
        ref = sum_rate_elementwise_positions(pass_layout(world), users, setup, grid=grid, s0=s0,
                                             evaluator=candidate_sum_rates)
        new = sum_rate_elementwise_positions(pass_layout(world), users, setup, grid=grid, s0=s0)
        np.testing.assert_array_equal(new.s, ref.s)
        assert new.history == ref.history
        moved += not np.array_equal(new.s, s0)
    assert moved > 0          # the searches moved PAs: the paths compared are not the start
