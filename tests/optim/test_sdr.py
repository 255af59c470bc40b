"""MODEL §4.3: the CRB SDR (paper 000 §III-A) — physical feasibility, rank-one recovery,
the objective is the physics core's CRB, infeasibility as a status, DPP re-solve."""

import numpy as np
import pytest

from twin.optim.crb_positioning import PassLayout
from twin.optim.result import Status
from twin.optim.sdr import CrbSdr, CrbSetup, fisher_linear_map
from twin.physics.sensing import crb_from_channel, crb_from_fisher, nuisance_gauge
from twin.physics import crb_position
from twin.problems import crb_setup
from twin.scene.loader import load_scene
from twin.world import World

from paper000_drops import paper000_drop


@pytest.fixture(scope="module")
def world():
    return World(load_scene("paper000"))


@pytest.fixture(scope="module")
def sdr(world):
    return CrbSdr(world.deployment.n_guides, world.n_users)


def _solve(world, sdr, seed, gamma=None, power=None, s=None):
    dep = world.deployment
    lay = PassLayout(dep, world.floor)
    users, q = paper000_drop(seed)
    s = dep.uniform_positions() if s is None else s
    H = lay.terms(s, users).sum(axis=1)
    h, dh = lay.target(s, q)
    setup = crb_setup(world)
    res = sdr.solve(H, h, dh, q, setup, world.sinr_target if gamma is None else gamma,
                    world.power_w if power is None else power, world.noise_w)
    return res, H, h, dh, q, s, setup


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_solution_meets_every_sinr_and_the_budget(world, sdr, seed):
    res, H, *_ = _solve(world, sdr, seed)
    assert res.ok, res.status
    from twin.physics import sinr_downlink
    sinr = sinr_downlink(H, res.W, world.noise_w, res.Rs)
    assert np.all(sinr >= world.sinr_target * (1 - 2e-3))
    power = np.real(np.trace(res.W @ res.W.conj().T + res.Rs))
    assert power <= world.power_w * (1 + 1e-4)
    assert np.min(np.linalg.eigvalsh(res.Rs)) >= -1e-9 * world.power_w
    # the CRB is minimised with the whole budget (more power never hurts the CRB)
    assert power >= world.power_w * (1 - 1e-3)


def test_rank_one_recovery_keeps_the_sdr_objective(world, sdr):
    for seed in range(3):
        res, *_ = _solve(world, sdr, seed)
        assert res.ok
        assert res.objective == pytest.approx(res.sdr_objective, rel=2e-3)


def test_objective_is_the_physics_crb(world, sdr):
    """One CRB: the SDR's reported objective is crb_position (MODEL §6) of W W^H + R_s."""
    res, H, h, dh, q, s, setup = _solve(world, sdr, 5)
    dep, sn = world.deployment, world.sensing
    crb = crb_position(res.R, dep.feed, dep.direction, s, q, sn.position, sn.elements, world.fc,
                       n_eff=dep.n_eff, rx_axis=sn.axis, rx_spacing=sn.spacing,
                       rcs_m2=world.scene.targets.rcs_m2, snapshots=sn.snapshots,
                       noise_w=world.sensing_noise_w)
    assert np.trace(crb) == pytest.approx(res.objective, rel=1e-9)


def test_fisher_map_reproduces_fisher_blocks_and_gauge_keeps_crb(world):
    dep = world.deployment
    lay = PassLayout(dep, world.floor)
    users, q = paper000_drop(7)
    s = dep.uniform_positions()
    h, dh = lay.target(s, q)
    setup = crb_setup(world)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    R = X @ X.conj().T
    F = fisher_linear_map(setup, h, dh, q)          # the gauge is applied inside
    e = F @ np.concatenate([R.real.ravel(order="F"), R.imag.ravel(order="F")])
    J11, J12, J22 = setup.fisher(R, h, nuisance_gauge(h, dh), q)
    assert np.allclose(e, [J11[0, 0], J11[0, 1], J11[1, 1], J12[0, 0], J12[0, 1], J12[1, 0],
                           J12[1, 1], J22[0, 0]], rtol=1e-9)
    raw = crb_from_fisher(*setup.fisher(R, h, dh, q))          # no gauge
    gauged = crb_from_channel(R, h, dh, q, setup.rx_position, setup.rx_elements, setup.fc,
                              rx_axis=setup.rx_axis, rx_spacing=setup.rx_spacing)
    assert np.allclose(raw, gauged, rtol=1e-6)


def test_infeasible_sinr_is_a_status_not_an_exception(world, sdr):
    res, *_ = _solve(world, sdr, 0, gamma=np.full(3, 1e9))
    assert not res.ok
    assert res.status is Status.INFEASIBLE and res.info["detail"]      # the why is detail, not status
    assert res.W is None and res.objective == np.inf


def test_more_power_and_looser_sinr_give_lower_crb(world, sdr):
    base, *_ = _solve(world, sdr, 4)
    more, *_ = _solve(world, sdr, 4, power=2 * world.power_w)
    loose, *_ = _solve(world, sdr, 4, gamma=world.sinr_target / 4)
    assert more.objective < base.objective
    assert loose.objective <= base.objective * (1 + 1e-6)


def test_reused_problem_gives_same_answer_as_fresh_one(world, sdr):
    a, *_ = _solve(world, sdr, 6)
    _solve(world, sdr, 2)                           # parameters overwritten in between
    b, *_ = _solve(world, CrbSdr(4, 3), 6)
    c, *_ = _solve(world, sdr, 6)
    assert a.objective == pytest.approx(b.objective, rel=1e-5)
    assert a.objective == pytest.approx(c.objective, rel=1e-9)


class _OwnSetup(CrbSetup):
    """A CrbSetup subclass: CrbSdr leaves it alone (no receiver memo)."""


def test_setup_crb_is_crb_from_channel_bit_for_bit(world):
    """CrbSetup.crb (now through its receiver terms) returns the very numbers of the
    physics core's crb_from_channel, also for a second target after a first (memo)."""
    from twin.optim.sdr import _ReceiverMemo
    import dataclasses

    setup = crb_setup(world)
    memo = _ReceiverMemo(**{f.name: getattr(setup, f.name) for f in dataclasses.fields(setup)})
    lay = PassLayout(world.deployment, world.floor)
    s = world.deployment.uniform_positions()
    rng = np.random.default_rng(3)
    for seed in (1, 2, 1):
        _, q = paper000_drop(seed)
        h, dh = lay.target(s, q)
        X = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
        R = X @ X.conj().T * world.power_w
        ref = crb_from_channel(R, h, dh, q, setup.rx_position, setup.rx_elements, setup.fc,
                               rx_axis=setup.rx_axis, rx_spacing=setup.rx_spacing, rcs_m2=setup.rcs_m2,
                               snapshots=setup.snapshots, noise_w=setup.noise_w)
        assert np.array_equal(setup.crb(R, h, dh, q), ref)
        assert np.array_equal(memo.crb(R, h, dh, q), ref)


def test_receiver_memo_leaves_the_solve_bit_identical(world):
    """The solve with the plain setup (receiver memoised inside) and with a subclass (not
    memoised) give the same result to the last bit: W, R_s, objective, SDR objective."""
    setup = crb_setup(world)
    own = _OwnSetup(**{f: getattr(setup, f) for f in setup.__dataclass_fields__})
    dep = world.deployment
    lay = PassLayout(dep, world.floor)
    s = dep.uniform_positions()
    for seed in (4, 5):
        users, q = paper000_drop(seed)
        H = lay.terms(s, users).sum(axis=1)
        h, dh = lay.target(s, q)
        args = (world.sinr_target, world.power_w, world.noise_w)
        a = CrbSdr(4, 3).solve(H, h, dh, q, setup, *args)
        b = CrbSdr(4, 3).solve(H, h, dh, q, own, *args)
        assert a.ok and b.ok
        assert np.array_equal(a.W, b.W) and np.array_equal(a.Rs, b.Rs)
        assert a.objective == b.objective and a.sdr_objective == b.sdr_objective
