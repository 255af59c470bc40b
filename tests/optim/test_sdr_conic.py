"""MODEL §4.3: the CRB SDR written directly in Clarabel's conic form (twin/optim/sdr_conic.py)
is the same relaxation as the cvxpy model: its rows evaluate the real-form PSD blocks, the
whitened Schur LMI (25), the SINR rows (28) and the budget (29) of a point exactly, and it
reaches the same optimum and status as cvxpy's ``problem.solve`` on random instances."""

import numpy as np
import pytest

from twin.optim.crb_positioning import PassLayout
from twin.optim.result import Status
from twin.optim.sdr import CrbSdr, _failed
from twin.optim.sdr_conic import ConicCrbSdr, _svec_index, hermitian_lift, hermitian_of
from twin.problems import crb_setup
from twin.scene.loader import load_scene
from twin.world import World

from paper000_drops import paper000_drop


@pytest.fixture(scope="module")
def world():
    return World(load_scene("paper000"))


@pytest.fixture(scope="module")
def reference():
    """cvxpy models (compiling one takes seconds), shared by the tests of this module."""
    cache = {}

    def get(N, K, **kw):
        key = (N, K, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = CrbSdr(N, K, backend="cvxpy", **kw)
        return cache[key]
    return get


def _hermitian(rng, N):
    X = rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))
    return X + X.conj().T


def _vec(M):
    return np.concatenate([M.real.ravel(order="F"), M.imag.ravel(order="F")])


def _unsvec(s, d):
    """Symmetric (d,d) matrix of Clarabel's scaled upper triangle (column by column)."""
    idx, w = _svec_index(d)
    return s[idx] / w


def test_hermitian_parametrisation_round_trips():
    rng = np.random.default_rng(0)
    for N in (1, 2, 4):
        W = _hermitian(rng, N)
        V = hermitian_lift(N).toarray()
        params = np.linalg.lstsq(V, _vec(W), rcond=None)[0]
        assert np.allclose(V @ params, _vec(W))                 # W lies in the range of V
        assert np.allclose(hermitian_of(params, N), W)


def test_rows_evaluate_the_relaxation_at_a_point():
    """s = b − A x at a random point x equals the slack of every constraint written out
    from the model: real-form PSD blocks, LMI (25) with J = F r, [[Z, Tᵀ], [T, U]], the
    budget, the SINR rows and the worst-case epigraph rows."""
    rng = np.random.default_rng(1)
    N, K, L = 3, 2, 2
    c = ConicCrbSdr(N, K, L, "worst")
    F = rng.standard_normal((L, 8, 2 * N * N))
    T = rng.standard_normal((L, 2, 2))
    weights = rng.uniform(0.2, 1.0, L)
    g, h = rng.standard_normal((K, 2 * N * N)), rng.standard_normal((K, 2 * N * N))
    noise = rng.uniform(0.1, 1.0, K)
    A, b, q = c.matrices(F, T, weights, g, h, noise)
    A = A.toarray()
    x = rng.standard_normal(c.n)
    s = b - A @ x
    Ws = hermitian_of(x[:c.nx_blocks].reshape(K + 1, N * N), N)
    R = Ws.sum(axis=0)
    U = [x[c.u0 + 6 * l:c.u0 + 6 * l + 3] for l in range(L)]
    Z = [x[c.u0 + 6 * l + 3:c.u0 + 6 * l + 6] for l in range(L)]
    t = x[c.it]
    assert s[0] == pytest.approx(1 - np.trace(R).real)
    for k in range(K):
        assert s[1 + k] == pytest.approx(g[k] @ _vec(Ws[k]) - h[k] @ _vec(R) - noise[k])
    for l in range(L):
        assert s[1 + K + l] == pytest.approx(t - weights[l] * (Z[l][0] + Z[l][2]))
    for blk in range(K + 1):
        r = c.r_psd + blk * c.len_psd
        Wb = Ws[blk]
        real_form = np.block([[Wb.real, -Wb.imag], [Wb.imag, Wb.real]])
        assert np.allclose(_unsvec(s[r:r + c.len_psd], 2 * N), real_form)
    for l in range(L):
        j = F[l] @ _vec(R)
        M = np.array([[j[0] - U[l][0], j[1] - U[l][1], j[3], j[4]],
                      [j[1] - U[l][1], j[2] - U[l][2], j[5], j[6]],
                      [j[3], j[5], j[7], 0.0],
                      [j[4], j[6], 0.0, j[7]]])
        Um = np.array([[U[l][0], U[l][1]], [U[l][1], U[l][2]]])
        Zm = np.array([[Z[l][0], Z[l][1]], [Z[l][1], Z[l][2]]])
        E = np.block([[Zm, T[l].T], [T[l], Um]])
        r = c.r_lmi + 20 * l
        assert np.allclose(_unsvec(s[r:r + 10], 4), M)
        assert np.allclose(_unsvec(s[r + 10:r + 20], 4), E)
    assert q @ x == pytest.approx(t)                       # worst case: minimise t
    assert A.shape == (c.m, c.n) == (len(b), len(q))


def _case(world, seed, N=None, K=None):
    dep = world.deployment
    lay = PassLayout(dep, world.floor)
    users, q = paper000_drop(seed)
    s = dep.uniform_positions()
    H = lay.terms(s, users).sum(axis=1)
    h, dh = lay.target(s, q)
    N = N or H.shape[0]
    K = K or H.shape[1]
    return H[:N, :K], h[:N], dh[:, :N], q


@pytest.mark.parametrize("seed,N,K", [(10, None, None), (11, None, None), (12, 3, 2), (13, 2, 1)])
def test_conic_backend_matches_cvxpy(world, reference, seed, N, K):
    """Same optimum (SDR objective and recovered tr CRB), both within the SINR targets and
    the budget, on paper000 drops with all or a subset of the guides and users."""
    H, h, dh, q = _case(world, seed, N, K)
    N, K = H.shape
    setup = crb_setup(world)
    gamma = np.broadcast_to(world.sinr_target, (3,))[:K]
    args = (setup, gamma, world.power_w, world.noise_w)
    a = CrbSdr(N, K).solve(H, h, dh, q, *args)
    b = reference(N, K).solve(H, h, dh, q, *args)
    assert a.ok and b.ok, (a.status, b.status)
    assert a.sdr_objective == pytest.approx(b.sdr_objective, rel=1e-5)
    assert a.objective == pytest.approx(b.objective, rel=1e-5)
    assert np.all(a.sinr >= gamma * (1 - 2e-3)) and a.power_w <= world.power_w * (1 + 2e-3)
    assert a.info["solver_status"] == "optimal" and a.iterations > 0
    assert np.allclose(a.R, b.R, atol=1e-3 * world.power_w)


def test_infeasible_status_matches_cvxpy(world, reference):
    H, h, dh, q = _case(world, 14)
    setup = crb_setup(world)
    args = (setup, np.full(3, 1e9), world.power_w, world.noise_w)
    a = CrbSdr(4, 3).solve(H, h, dh, q, *args)
    b = reference(4, 3).solve(H, h, dh, q, *args)
    assert a.status is Status.INFEASIBLE and b.status is Status.INFEASIBLE
    assert a.info["detail"] == b.info["detail"]            # "solver: infeasible"
    assert a.W is None and a.objective == np.inf


@pytest.mark.parametrize("objective", ["sum", "worst"])
def test_multitarget_conic_matches_cvxpy(world, reference, objective):
    H, *_ = _case(world, 15)
    dep = world.deployment
    lay = PassLayout(dep, world.floor)
    s = dep.uniform_positions()
    targets = np.array([[7.0, -5.0, 0.0], [16.0, 4.0, 0.0]])
    hd = [lay.target(s, t) for t in targets]
    h, dh = np.array([x[0] for x in hd]), np.array([x[1] for x in hd])
    args = (crb_setup(world), world.sinr_target, world.power_w, world.noise_w)
    a = CrbSdr(4, 3, n_targets=2, objective=objective).solve(H, h, dh, targets, *args)
    b = reference(4, 3, n_targets=2, objective=objective).solve(H, h, dh, targets, *args)
    assert a.ok and b.ok
    assert a.sdr_objective == pytest.approx(b.sdr_objective, rel=1e-5)
    assert a.objective == pytest.approx(b.objective, rel=1e-5)
    assert np.allclose(a.info["crb_traces_m2"], b.info["crb_traces_m2"], rtol=1e-3)


def test_answer_does_not_depend_on_earlier_solves(world):
    """With the default settings each solve builds its own Clarabel instance: bit-identical
    results whatever the object solved before (Clarabel's in-place update would keep the
    first equilibration; the fast settings, without it, update one solver: the next test)."""
    setup = crb_setup(world)
    args = (setup, world.sinr_target, world.power_w, world.noise_w)
    c1, c2 = _case(world, 16), _case(world, 17)
    sdr = CrbSdr(4, 3)
    first = sdr.solve(*c1, *args)
    sdr.solve(*c2, *args)
    again = sdr.solve(*c1, *args)
    fresh = CrbSdr(4, 3).solve(*c1, *args)
    assert first.objective == again.objective == fresh.objective
    assert np.array_equal(first.W, fresh.W)


@pytest.mark.parametrize("restrict", [False, True])
def test_fast_solver_updated_in_place_answers_as_a_fresh_one(world, restrict, monkeypatch):
    """Without equilibration (FAST_SETTINGS) one Clarabel solver per problem is updated in
    place instead of set up per solve: its answers are a fresh solver's bit for bit,
    whatever it solved before, on the full and on the restricted (R_s = 0) problem."""
    from twin.optim.sdr_conic import fast_solver_opts

    setup = crb_setup(world)
    args = (setup, world.sinr_target, world.power_w, world.noise_w)
    opts = fast_solver_opts()
    assert opts["equilibrate_enable"] is False
    cases = [_case(world, s) for s in (16, 17, 18, 16)]
    sdr = CrbSdr(4, 3, solver_opts=opts, restrict_rs=restrict)
    if restrict:     # this object also solves each instance's full problem before the restricted one
        conic_r = sdr._conic_r
        only_restricted = conic_r.solve_restricted

        def both(*a):
            conic_r.solve(*a)
            return only_restricted(*a)
        monkeypatch.setattr(conic_r, "solve_restricted", both)
    kept = [sdr.solve(*c, *args) for c in cases]
    conic = sdr._conic
    assert {k[0] for k in conic._solvers} == ({"full", "restricted"} if restrict else {"full"})
    for c, r in zip(cases, kept):
        fresh = CrbSdr(4, 3, solver_opts=opts, restrict_rs=restrict).solve(*c, *args)
        assert r.status == fresh.status and r.objective == fresh.objective
        assert np.array_equal(r.W, fresh.W) and np.array_equal(r.Rs, fresh.Rs)


def test_backend_is_checked():
    with pytest.raises(ValueError):
        CrbSdr(4, 3, backend="mosek")
    with pytest.raises(ValueError):
        CrbSdr(4, 3, solver="SCS", backend="conic")
    assert CrbSdr(4, 3, solver="SCS").backend == "cvxpy"


def test_failed_conic_solve_falls_back_to_cvxpy(world, monkeypatch):
    """When every conic attempt fails, the answer is the cvxpy model's (what CrbSdr returned
    before the conic backend), marked in info["fallback"]; if that fails too, the conic
    failure is reported."""
    H, h, dh, q = _case(world, 18)
    args = (H, h, dh, q, crb_setup(world), world.sinr_target, world.power_w, world.noise_w)
    sdr = CrbSdr(4, 3)
    calls = []

    def stalls(*a):
        calls.append(a[-1])
        return "InsufficientProgress", 0.0, 7, None, 0.0
    monkeypatch.setattr(sdr._conic, "solve", stalls)
    res = sdr.solve(*args)
    assert len(calls) == 3                                   # every retry setting was tried
    ref = CrbSdr(4, 3, backend="cvxpy").solve(*args)
    assert res.ok and "InsufficientProgress" in res.info["fallback"]
    assert res.objective == pytest.approx(ref.objective, rel=1e-9)
    monkeypatch.setattr(sdr._fallback, "_attempt",
                        lambda *a: _failed(Status.SOLVER_FAILED, 0.0, "solver status NumericalError"))
    res = sdr.solve(*args)
    assert res.status is Status.SOLVER_FAILED and "InsufficientProgress" in res.info["detail"]
    assert "fallback" not in res.info


def test_conic_backend_matches_cvxpy_at_eight_guides(reference):
    """The size of paper 000's K and N sweeps (N = 8, the users figure's costliest SDRs):
    same optimum and covariance as the cvxpy reference on a seeded drop."""
    from twin.experiments.figures.paper000 import draw, paper000_world
    from twin.problems import pass_layout

    w = paper000_world(users=2, guides=8)
    lay, setup = pass_layout(w), crb_setup(w)
    users, q = draw(w, np.random.default_rng([0, 1]))
    s = w.deployment.uniform_positions()
    H = lay.terms(s, users).sum(axis=1)
    h, dh = lay.target(s, q)
    args = (H, h, dh, q, setup, w.sinr_target, w.power_w, w.noise_w)
    a, b = CrbSdr(8, 2).solve(*args), reference(8, 2).solve(*args)
    assert a.ok and b.ok, (a.status, b.status)
    assert a.objective == pytest.approx(b.objective, rel=1e-5)
    assert a.sdr_objective == pytest.approx(b.sdr_objective, rel=1e-5)
    assert np.allclose(a.R, b.R, atol=1e-3 * w.power_w)
