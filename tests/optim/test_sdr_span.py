"""The CRB SDR on the span of the channels (``CrbSdr(reduce_span=True)``): the same optimum
as the full relaxation, a lifted solution that meets the same physics, no direction lost
however small; and :class:`FastFirstSdr`'s order of solves."""

from types import SimpleNamespace

import numpy as np
import pytest

from twin.experiments.figures.paper000 import draw, paper000_world
from twin.optim import isac_baselines as ib
from twin.optim.result import Status
from twin.optim.sdr import CrbSdr, FastFirstSdr, _span_basis
from twin.physics import sinr_downlink
from twin.problems import array_site, crb_setup, pass_layout


@pytest.fixture(scope="module")
def world():
    return paper000_world(users=2, guides=8)          # K + 3 = 5 < N = 8


def _pass_instance(world, seed):
    users, q = draw(world, np.random.default_rng([seed, 0]))
    lay, dep = pass_layout(world), world.deployment
    s = dep.uniform_positions()
    H = lay.terms(s, users).sum(axis=1)
    h, dh = lay.target(s, q)
    return (H, h, dh, q, crb_setup(world), world.sinr_target, world.power_w, world.noise_w)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reduced_relaxation_has_the_full_optimum_and_its_lift_meets_the_physics(world, seed):
    args = _pass_instance(world, seed)
    H, h, dh, q, setup, gamma, P, sigma2 = args
    full = CrbSdr(8, 2).solve(*args)
    red = CrbSdr(8, 2, reduce_span=True).solve(*args)
    assert full.ok and red.ok
    assert red.info["span_dim"] == 5 and "span_dim" not in full.info
    assert red.objective == pytest.approx(full.objective, rel=1e-4)
    assert red.W.shape == (8, 2) and red.Rs.shape == (8, 8)
    # the lifted beams, recomputed in the full space, are what the reduced solve reported
    assert sinr_downlink(H, red.W, sigma2, red.Rs) == pytest.approx(red.sinr, rel=1e-9)
    assert np.all(red.sinr >= gamma * (1 - 2e-3))
    R = red.R
    assert np.real(np.trace(R)) <= P * (1 + 1e-4)
    assert np.trace(setup.crb(R, h, dh, q)) == pytest.approx(red.objective, rel=1e-9)
    assert np.min(np.linalg.eigvalsh(red.Rs)) >= -1e-9 * P


def test_a_bs_side_array_keeps_its_tiny_range_directions(world):
    """A MIMO array at the BS: the target's gradient differs from the channels' span by
    components 1e-10 of their norm, and they carry the range information. Dropping them
    (a rank cut-off on the singular values) moved this RCRB by 8 %."""
    users, q = draw(world, np.random.default_rng([0, 0]))
    arr = ib.mimo_array(array_site(world))
    rec = []

    class Spy:
        def __init__(self, sdr):
            self.sdr = sdr

        def solve(self, *a):
            rec.append(a)
            return self.sdr.solve(*a)

    args = (users, q, crb_setup(world), world.sinr_target, world.power_w, world.noise_w)
    full = ib.fixed_array_sdr(arr, Spy(CrbSdr(8, 2)), *args)
    red = ib.fixed_array_sdr(arr, CrbSdr(8, 2, reduce_span=True), *args)
    assert full.ok and red.ok and red.info["span_dim"] == 5
    assert red.objective == pytest.approx(full.objective, rel=1e-4)
    H, h, dh = rec[0][:3]
    sv = np.linalg.svd(np.column_stack([H, h, dh.T]), compute_uv=False)
    assert sv[-1] < 1e-9 * sv[0]                    # the instance does have such a direction


def test_span_basis_spans_every_vector_exactly_and_only_below_n():
    rng = np.random.default_rng(3)
    N, K = 8, 3
    H = rng.standard_normal((N, K)) + 1j * rng.standard_normal((N, K))
    h = H[:, 0] + 1e-11 * (rng.standard_normal(N) + 1j * rng.standard_normal(N))   # nearly a user's
    dh = 1e3 * (rng.standard_normal((2, N)) + 1j * rng.standard_normal((2, N)))
    U = _span_basis(H, h, dh)
    assert U.shape == (N, K + 3)
    assert np.allclose(U.conj().T @ U, np.eye(K + 3), atol=1e-12)
    for b in np.column_stack([H, h, dh.T]).T:
        assert np.linalg.norm(b - U @ (U.conj().T @ b)) <= 1e-12 * np.linalg.norm(b)
    # the tiny independent part of h is inside the span too
    part = h - H[:, 0]
    assert np.linalg.norm(part - U @ (U.conj().T @ part)) <= 1e-3 * np.linalg.norm(part)
    assert _span_basis(H[:5], h[:5], dh[:, :5]) is None                     # K + 3 ≥ N: the full space
    # several targets: their channels and gradients join the span (d = K + 3L)
    c = lambda *shape: rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    U = _span_basis(c(10, 2), c(2, 10), c(2, 2, 10))
    assert U.shape == (10, 8)
    assert _span_basis(c(8, 2), c(2, 8), c(2, 2, 8)) is None


def _stub(status):
    calls = []

    def solve(*args):
        calls.append(args)
        return SimpleNamespace(ok=status is Status.OK, status=status)
    return SimpleNamespace(solve=solve), calls


@pytest.mark.parametrize("fast_status, retry_infeasible, default_called", [
    (Status.OK, False, False),
    (Status.SOLVER_FAILED, False, True),
    (Status.CONSTRAINT_MISSED, False, True),
    (Status.INFEASIBLE, False, False),
    (Status.INFEASIBLE, True, True),
])
def test_fast_first_repeats_with_the_defaults_only_when_the_fast_solve_is_not_ok(fast_status, retry_infeasible,
                                                                                default_called):
    fast, fast_calls = _stub(fast_status)
    default, default_calls = _stub(Status.OK)
    res = FastFirstSdr(fast, default, retry_infeasible).solve("a", "b")
    assert fast_calls == [("a", "b")]
    assert default_calls == ([("a", "b")] if default_called else [])
    assert res.status is (Status.OK if default_called else fast_status)


def test_fast_first_build_solves_paper000_at_n8_like_the_defaults(world):
    args = _pass_instance(world, 4)
    ref = CrbSdr(8, 2).solve(*args)
    res = FastFirstSdr.build(8, 2).solve(*args)
    assert ref.ok and res.ok and res.info["span_dim"] == 5
    assert res.objective == pytest.approx(ref.objective, rel=1e-4)


def test_fast_first_fast_solve_gives_up_early_and_leaves_hard_instances_to_the_defaults(world, monkeypatch):
    """The fast member tries only its own settings (restricted, then restricted with
    equilibration) within FAST_FIRST_MAX_ITER iterations and never the retry settings or
    the cvxpy model: a failing instance goes to the default member, which keeps them all."""
    from twin.optim import sdr as sdr_mod

    ff = FastFirstSdr.build(8, 2)
    assert ff.fast.solver_opts["max_iter"] == sdr_mod.FAST_FIRST_MAX_ITER < 200
    assert ff.fast._attempts() == [({}, True), (sdr_mod.EQUILIBRATE_RETRY, True)]
    assert len(ff.default._attempts()) == len(sdr_mod.RETRY_SETTINGS)
    calls = []
    real = sdr_mod.CrbSdr._attempt

    def failing(self, extra, restricted, *rest):          # every fast attempt fails numerically
        calls.append((self is ff.fast or self in ff.fast._subs.values(), extra))
        if self is ff.fast or self in ff.fast._subs.values():
            return sdr_mod._failed(Status.SOLVER_FAILED, 0.0, "forced")
        return real(self, extra, restricted, *rest)

    def no_cvxpy(self, res, args, t0):
        assert not (self is ff.fast or self in ff.fast._subs.values()), "the fast member fell back to cvxpy"
        return res

    monkeypatch.setattr(sdr_mod.CrbSdr, "_attempt", failing)
    monkeypatch.setattr(sdr_mod.CrbSdr, "_cvxpy_fallback", no_cvxpy)
    res = ff.solve(*_pass_instance(world, 5))
    assert res.ok
    fast_calls = [e for own, e in calls if own]
    assert fast_calls == [{}, sdr_mod.EQUILIBRATE_RETRY]             # then straight to the defaults
