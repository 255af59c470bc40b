"""The element-wise CRB search's fast scorer (issue 13: speed from doing less, not worse)
chooses what the previous scorer chose: candidates on the last axis of one (3,N,Q) batch
for the tr CRB Gram (MODEL §3.3; since the thirteenth round one compiled loop over the
candidates, the guide phase in a compiled loop of its own), candidate rows without the (Q,M) copies of the
guide (MODEL §2.3), and the geometry of a batch kept per drop when it comes again. The reference below is the previous scorer, written out: the (Q,3,N) Gram
einsum, ``PassLayout.candidates`` and repeated channel copies. Same formulas, another
summation order, so scores agree to rounding and the chosen positions are the same (bit
for bit, or, where a zoomed grid holds one point twice a few ulp apart, within 1e-12 m)."""

import numpy as np
import pytest

from twin.optim import crb_positioning as cp
from twin.optim.crb_positioning import ReachGrid, SearchGrid, crb_ao, crb_elementwise_positions, reach_window, sdr_at
from twin.optim.layout import PassLayout
from twin.optim.sdr import CrbSdr
from twin.physics.sensing import nuisance_gauge
from twin.physics.sinr import sinr_downlink
from twin.problems import crb_setup


def ref_trace(setup, R, h, dh, q):
    """The previous ``_crb_trace_gram``: Gram ``Xᴴ R X`` per candidate by einsum over
    (…,3,N), the Schur complement entry by entry."""
    a, da, beta = setup.receiver(q)
    c = 2.0 * setup.snapshots / setup.noise_w
    e0 = np.real(np.vdot(a, a))
    e1 = da @ a.conj()
    e2 = da.conj() @ da.T
    X = np.concatenate([h[..., None, :], nuisance_gauge(h, dh)], axis=-2)
    RX = (X.reshape(-1, X.shape[-1]) @ R.T).reshape(X.shape)
    G = np.einsum("...an,...bn->...ab", X.conj(), RX)
    q0, q1, q1b = G[..., 0, 0], G[..., 0, 1:], G[..., 1:, 0]
    k1 = c * abs(beta) ** 2

    def j11(i, j):
        return k1 * np.real(e2[i, j] * q0 + q1[..., i] * e1[j] + np.conj(e1[i]) * q1b[..., j] + e0 * G[..., 1 + j, 1 + i])

    u = np.conj(beta) * (np.conj(e1) * q0[..., None] + e0 * q1)
    j22 = c * np.real(e0 * q0)
    ok = j22 > 0
    den = np.where(ok, j22, 1.0)
    cc = c * c
    ur, ui = np.real(u), np.imag(u)
    a_ = j11(0, 0) - cc * (ur[..., 0] * ur[..., 0] + ui[..., 0] * ui[..., 0]) / den
    d_ = j11(1, 1) - cc * (ur[..., 1] * ur[..., 1] + ui[..., 1] * ui[..., 1]) / den
    off = cc * (ur[..., 0] * ur[..., 1] + ui[..., 0] * ui[..., 1]) / den
    b_ = 0.5 * ((j11(0, 1) - off) + (j11(1, 0) - off))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        ok = ok & np.isfinite(a_) & np.isfinite(b_) & np.isfinite(d_)
        m, r = 0.5 * (a_ + d_), np.hypot(0.5 * (a_ - d_), b_)
        big = np.abs(m) + r
        det = a_ * d_ - b_ * b_
        small = np.abs(det) / np.where(big > 0, big, 1.0)
        ok = ok & (big > 0) & (small * 1e14 >= big)
        return np.where(ok, (a_ + d_) / np.where(ok, det, 1.0), np.inf)


def ref_score(layout, s, n, m, cand, users, q, R, setup, st, Qm, weight, crb_ref, pen_ref, guard,
              rephase=False, lines=True):
    """The previous ``_score_candidates``: (Q,M,K) candidate terms, Q copies of h and ḣ
    (``lines``: how the new scorer reaches the layout; the reference always evaluates
    the whole guide directly)."""
    h, dh, H = st["h"], st["dh"], st["H"]
    T, hc, dhc = layout.candidates(s, n, m, cand, users, q)
    psi = np.angle(hc) - np.angle(h[n]) if rephase and abs(h[n]) > 0 else np.full(len(cand), st["rot"][n])
    e = np.exp(-1j * psi)
    hc, dhc = hc * e, dhc * e[None, :]
    hb = np.repeat(h[None], len(cand), axis=0)
    hb[:, n] = hc
    dhb = np.repeat(dh[None], len(cand), axis=0)
    dhb[:, :, n] = dhc.T
    val = ref_trace(setup, np.asarray(R), hb, dhb, q) / crb_ref
    val = np.where(np.isfinite(val), val, np.inf)
    if Qm is not None and weight > 0:
        val = val + weight * np.sum(np.abs(Qm[m, n][None, :] - T[:, m, :]) ** 2, axis=1) / pen_ref
    Hrow = T.sum(axis=1) * e[:, None]
    if guard is not None:
        W, Rs, gamma, noise = guard
        Hb = np.repeat(H[None], len(cand), axis=0)
        Hb[:, n] = Hrow
        sinr = sinr_downlink(Hb, W, noise, Rs)
        val = np.where(np.all(sinr >= gamma * (1 - 1e-9), axis=1), val, np.inf)
    return val, (hc, dhc, Hrow, psi)


@pytest.fixture(scope="module")
def worlds():
    from twin.experiments.figures.paper000 import draw, paper000_world
    out = []
    for kw in ({}, {"guides": 8, "users": 8}, {"pas": 1}):
        w = paper000_world(**kw)
        out.append((w, crb_setup(w), CrbSdr(w.deployment.n_guides, w.n_users), draw))
    return out


@pytest.fixture(scope="module")
def office():
    """The office scene (walls: every link carries its blockage, MODEL §2.5)."""
    from twin.scene import load_scene
    from twin.world import World
    w = World(load_scene("office"))

    def draw(w, rng):
        xy = np.array(w.scene.floor.outline)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        users = np.column_stack([rng.uniform(lo, hi, size=(w.n_users, 2)), np.full(w.n_users, w.ue_height)])
        return users, np.r_[rng.uniform(lo, hi), w.ue_height]

    return w, crb_setup(w), CrbSdr(w.deployment.n_guides, w.n_users), draw


def _start(w, rng):
    """A legal start: the uniform layout jittered by up to a quarter of the PA spacing."""
    dep = w.deployment
    s = dep.uniform_positions()
    lay = PassLayout(dep, w.floor)
    return lay.legal.legalize(s + rng.uniform(-0.25, 0.25, s.shape) * dep.spacing[:, None])


def _search(kind, lay, s, users, q, R, setup, res, w, grid):
    if kind == "plain":
        return crb_elementwise_positions(lay, s, users, q, R, setup, grid, sweeps=2)
    if kind == "guarded":
        return crb_elementwise_positions(lay, s, users, q, R, setup, grid, sweeps=2, rephase=True,
                                         guard=(res.W, res.Rs, np.asarray(w.sinr_target), w.noise_w))
    if kind == "penalty":
        Hm = lay.terms(s, users).transpose(1, 0, 2)
        Qm = Hm * (1.0 + 0.3j)
        return crb_elementwise_positions(lay, s, users, q, R, setup, grid, Qm=Qm, weight=0.5,
                                         crb_ref=2.0, pen_ref=float(np.mean(np.abs(Hm) ** 2)))
    window = reach_window(lay, s, 0.05)
    return crb_elementwise_positions(lay, s, users, q, R, setup, ReachGrid(far=5), window=window,
                                     rephase=True, far_guides=[1])


@pytest.mark.parametrize("grid", [SearchGrid(grid=301), SearchGrid(lattice_z=30)], ids=["continuous", "lattice"])
def test_fast_search_chooses_what_the_previous_scorer_chose(worlds, grid, monkeypatch):
    """Seeded drops on three deployments (N = 4, K = 3; N = 8, K = 8; one PA per guide),
    every search mode (plain, guarded and rephased, penalty, reach window with far
    candidates): the fast search ends at the previous search's positions bit for bit, with
    its objective to 1e-12."""
    fast_search = cp._score_candidates
    checked = same = 0
    for wi, (w, setup, sdr, draw) in enumerate(worlds):
        for seed in range(2):
            rng = np.random.default_rng([wi, seed])
            users, q = draw(w, rng)
            s = _start(w, rng)
            lay_ref, lay_fast = PassLayout(w.deployment, w.floor), PassLayout(w.deployment, w.floor)
            res = sdr_at(lay_ref, sdr, s, users, q, setup, w.sinr_target, w.power_w, w.noise_w)
            if not res.ok:
                continue
            for kind in ("plain", "guarded", "penalty", "window"):
                monkeypatch.setattr(cp, "_score_candidates", ref_score)
                ref = _search(kind, lay_ref, s, users, q, res.R, setup, res, w, grid)
                monkeypatch.setattr(cp, "_score_candidates", fast_search)
                fast = _search(kind, lay_fast, s, users, q, res.R, setup, res, w, grid)
                # the same candidates; the refined grid may hold two copies of one point a few
                # ulp apart (zooms around two centres), whose scores tie to rounding
                assert np.max(np.abs(fast.solution - ref.solution)) <= 1e-12, (wi, seed, kind)
                assert fast.objective == pytest.approx(ref.objective, rel=1e-12, abs=0), (wi, seed, kind)
                checked += 1
                same += int(np.array_equal(fast.solution, ref.solution))
    assert checked >= 16 and same >= checked - 2


def test_fast_scores_equal_the_previous_scores(worlds, office):
    """Batch by batch (every PA, random R, random rotations, guard and penalty on; paper 000
    deployments and the walled office): the same values to 1e-12 relative, the same
    infeasible candidates, the same channel data for the move; a repeated batch (the kept
    tr CRB, the kept rows) returns the same."""
    for wi, (w, setup, sdr, draw) in enumerate(worlds + [office]):
        rng = np.random.default_rng([7, wi])
        users, q = draw(w, rng)
        dep = w.deployment
        lay = PassLayout(dep, w.floor)
        s = _start(w, rng)
        N = dep.n_guides
        A = rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))
        R = A @ A.conj().T * (w.power_w / N)
        h, dh = lay.target(s, q)
        H = lay.terms(s, users).sum(axis=1)
        res = sdr_at(lay, sdr, s, users, q, setup, w.sinr_target, w.power_w, w.noise_w)
        guard = (res.W, res.Rs, np.asarray(w.sinr_target), w.noise_w) if res.ok else None
        Hm = lay.terms(s, users).transpose(1, 0, 2)
        memo = cp._memo_setup(setup)
        for n in range(N):
            for m in np.flatnonzero(dep.installed[n]):
                lo, hi = lay.legal.interval(s, n, m)
                cand = np.unique(np.concatenate([np.linspace(lo, hi, 41), [s[n, m]]]))
                st = {"h": h, "dh": dh, "H": H, "rot": rng.uniform(-np.pi, np.pi, N)}
                for rephase in (False, True):
                    args = (users, q, R, memo, st, Hm * 1.1, 0.3, 1.7, 1e-3, guard, rephase)
                    want, (h0, dh0, H0, p0) = ref_score(lay, s, n, m, cand, *args)
                    for _ in range(2):                      # the second call: from the kept batches
                        got, (h1, dh1, H1, p1) = cp._score_candidates(lay, s, n, m, cand, *args)
                        assert np.array_equal(np.isinf(got), np.isinf(want))
                        fin = np.isfinite(want)
                        assert np.allclose(got[fin], want[fin], rtol=1e-12, atol=0)
                        for a, b in ((h1, h0), (dh1, dh0), (H1, H0)):
                            assert np.allclose(a, b, rtol=1e-12, atol=1e-300)
                        assert np.allclose(p1, p0, rtol=0, atol=1e-12)


def test_fast_ao_equals_the_previous_ao(worlds, monkeypatch):
    """Algorithm 4 (lattice Z = 15, short penalty loop) on seeded drops: the same positions,
    accepted steps and SDR objective with either scorer."""
    w, setup, sdr, draw = worlds[0]
    fast_search = cp._score_candidates
    for seed in range(3):
        users, q = draw(w, np.random.default_rng([11, seed]))
        out = []
        for scorer in (ref_score, fast_search):
            monkeypatch.setattr(cp, "_score_candidates", scorer)
            lay = PassLayout(w.deployment, w.floor)
            out.append(crb_ao(lay, w.deployment.uniform_positions(), users, q, setup, w.sinr_target,
                              w.power_w, w.noise_w, sdr=CrbSdr(w.deployment.n_guides, w.n_users),
                              grid=SearchGrid(lattice_z=15), max_iter=3,
                              penalty=dict(max_outer=2, max_inner=2)))
        ref, fast = out
        assert np.max(np.abs(fast.s - ref.s)) <= 1e-12 and fast.steps == ref.steps
        assert fast.objective == pytest.approx(ref.objective, rel=1e-12, abs=0)


def ref_sca(P, Q0, W, Rs, sinr_target, noise_w, max_iter=20, tol=1e-4):
    """The previous Algorithm 1: the constraint evaluated in the original basis with B,
    every one of the 90 bisection steps on log10 μ taken."""
    sig = np.sqrt(noise_w)
    p, q, W = np.asarray(P, complex) / sig, np.asarray(Q0, complex) / sig, np.asarray(W, complex)
    N, K = W.shape
    gamma = np.broadcast_to(np.asarray(sinr_target, float), (K,))
    WW = np.einsum("nk,mk->knm", W, W.conj())
    B = WW.sum(0)[None] - WW + np.asarray(Rs)[None]
    lam, V = np.linalg.eigh(B)
    lam = np.clip(lam, 0.0, None)
    pt = np.einsum("knm,mk->kn", V.conj().transpose(0, 2, 1), p)
    hist = [float(np.sum(np.abs(q - p) ** 2)) * noise_w]
    for _ in range(max_iter):
        c = np.einsum("nk,nk->k", W.conj(), q)
        b = W * (c / gamma)[None, :]
        d = 1.0 + np.abs(c) ** 2 / gamma
        bt = np.einsum("knm,mk->kn", V.conj().transpose(0, 2, 1), b)

        def q_of(mu):
            return np.einsum("knm,km->nk", V, (pt + mu[:, None] * bt) / (1.0 + mu[:, None] * lam))

        def g_of(x):
            return np.real(np.einsum("nk,knm,mk->k", x.conj(), B, x)) - 2.0 * np.real(
                np.einsum("nk,nk->k", b.conj(), x)) + d

        new = p.copy()
        viol = g_of(p) > 0
        if np.any(viol):
            lo, hi = np.full(K, -30.0), np.full(K, 30.0)
            feas_hi = g_of(q_of(10.0 ** hi)) <= 0
            for _ in range(90):
                mid = 0.5 * (lo + hi)
                ok = g_of(q_of(10.0 ** mid)) <= 0
                hi = np.where(ok, mid, hi)
                lo = np.where(ok, lo, mid)
            new = np.where(viol[None, :], np.where(feas_hi[None, :], q_of(10.0 ** hi), q), p)
        q = new
        hist.append(float(np.sum(np.abs(q - p) ** 2)) * noise_w)
        if abs(hist[-2] - hist[-1]) <= tol * max(hist[-2], 1e-300):
            break
    return q * sig, hist


def _sca_cases(worlds, spreads=(0.05, 0.5, 3.0)):
    """Algorithm 1's inputs on seeded drops at N = 4 and 8: the SDR's W, R_s at a jittered
    uniform layout, targets P = H perturbed by ``spread`` (near and far from feasible)."""
    for wi, (w, setup, sdr, draw) in enumerate(worlds):
        lay = PassLayout(w.deployment, w.floor)
        for seed in range(3):
            rng = np.random.default_rng([13, wi, seed])
            users, q = draw(w, rng)
            s = _start(w, rng)
            res = sdr_at(lay, sdr, s, users, q, setup, w.sinr_target, w.power_w, w.noise_w)
            if not res.ok:
                continue
            H = lay.terms(s, users).sum(axis=1)
            for spread in spreads:
                noise = rng.standard_normal(H.shape) + 1j * rng.standard_normal(H.shape)
                yield w, res, H, H * (1 + spread * noise)


def test_sca_multisection_finds_the_bisections_multiplier(worlds, monkeypatch):
    """The multiplier's multisection (31 trials a round) ends where bisection on the same
    constraint ends: the smallest feasible log10 μ, for every user the SCA step projects
    (the constraint is monotone along the KKT path). Where rounding makes the constraint's
    sign flicker over the last doubles the two may stop at different sign changes (seen:
    54 ulps apart, 1.5e-14 in log10 μ); each stops at one (feasible, the double below
    not): 9 of the 588 projected users here. The inputs are those of every SCA step of
    Algorithm 1 on the seeded cases; bisection here: one trial a round, the previous
    code's 90 steps."""
    seen = []
    multisection = cp._smallest_feasible_log_mu

    def record(pt, bt, lam, d):
        out = multisection(pt, bt, lam, d)
        seen.append(((pt, bt, lam, d), out))
        return out

    monkeypatch.setattr(cp, "_smallest_feasible_log_mu", record)
    for w, res, H, P in _sca_cases(worlds):
        cp.sca_sinr_projection(P, H, res.W, res.Rs, w.sinr_target, w.noise_w)
    compared = exact = 0
    for args, (hi, feas) in seen:
        K = hi.size
        lo, hi_b = np.full(K, -30.0), np.full(K, 30.0)
        for _ in range(90):
            mid = 0.5 * (lo + hi_b)
            ok = cp._convexified_g((10.0 ** mid)[:, None], *args)[:, 0] <= 0
            hi_b, lo = np.where(ok, mid, hi_b), np.where(ok, lo, mid)
        use = feas & (cp._convexified_g(np.zeros((K, 1)), *args)[:, 0] > 0)   # the users projected
        gap = np.abs(hi - hi_b)[use]
        assert np.all(gap <= 1e-12), gap                    # μ within 3e-12 relative
        at = cp._convexified_g(np.stack([10.0 ** hi, 10.0 ** np.nextafter(hi, -np.inf)], 1), *args)
        assert np.all(at[use, 0] <= 0) and np.all(at[use, 1] > 0)     # a boundary: the double below fails
        exact += int(np.sum(gap == 0))
        compared += int(use.sum())
    assert compared >= 100 and exact >= 0.9 * compared, (exact, compared)


def test_sca_in_the_eigenbasis_returns_the_previous_projection_to_rounding(worlds):
    """Algorithm 1 with the constraint evaluated in B's eigenbasis and the multiplier by
    multisection against the previous code (B's quadratic form, 90 bisection steps): the
    same projection Q to 1e-13 relative, the same number of SCA steps, feasible."""
    compared = 0
    for w, res, H, P in _sca_cases(worlds):
        want = ref_sca(P, H, res.W, res.Rs, w.sinr_target, w.noise_w)
        got = cp.sca_sinr_projection(P, H, res.W, res.Rs, w.sinr_target, w.noise_w)
        assert np.max(np.abs(got[0] - want[0])) <= 1e-13 * np.max(np.abs(want[0])), (w.n_users,)
        assert len(got[1]) == len(want[1]) and np.allclose(got[1], want[1], rtol=1e-9, atol=1e-12 * want[1][0])
        sinr = sinr_downlink(got[0], res.W, w.noise_w, res.Rs)
        assert np.all(sinr >= w.sinr_target * (1 - 1e-6))
        compared += 1
    assert compared >= 12


@pytest.mark.parametrize("grid", [SearchGrid(), SearchGrid(grid=301, zoom=33), SearchGrid(lattice_z=15),
                                  ReachGrid(points=21, zoom=9)], ids=["601", "301", "lattice", "reach"])
def test_kept_guide_points_give_the_candidate_sets_built_on_every_call(grid):
    """A search grid's candidates from the guide's kept points and one sort (``_sorted_set``)
    are the arrays ``np.linspace`` / ``np.arange`` and ``np.unique`` built on every call,
    bit for bit: intervals cut anywhere, the current point on a grid point, at an end or
    between, zooms overlapping each other and the interval's ends."""
    rng = np.random.default_rng(5)
    L = 11.37
    for _ in range(200):
        lo, hi = np.sort(rng.uniform(0, L, 2))
        x = rng.choice([lo, hi, rng.uniform(lo, hi), L * rng.integers(0, 16) / 15])
        if isinstance(grid, ReachGrid):
            want = np.unique(np.concatenate([np.linspace(lo, hi, grid.points), [lo, hi, x]]))
        elif grid.lattice_z is not None:
            pts = np.arange(grid.lattice_z + 1) * (L / grid.lattice_z)
            want = np.unique(np.concatenate([pts[(pts >= lo - 1e-9) & (pts <= hi + 1e-9)], [x]]))
        else:
            pts = np.linspace(0.0, L, grid.grid)
            want = np.unique(np.concatenate([pts[(pts >= lo) & (pts <= hi)], [lo, hi, x]]))
        got = grid.coarse(L, lo, hi, x)
        assert got.dtype == want.dtype and np.array_equal(got, want)
        centres = [got[rng.integers(got.size)], x]
        fine = 0.003
        if isinstance(grid, ReachGrid):
            half = max((hi - lo) / (grid.points - 1), fine * grid.zoom / 2)
            want2 = np.unique(np.clip((np.asarray(centres)[:, None] + np.linspace(-half, half, grid.zoom)).ravel(), lo, hi))
            got2 = grid.refine(centres, L, lo, hi, fine)
        elif grid.lattice_z is None:
            half = max(L / (grid.grid - 1), fine * grid.zoom / 2)
            want2 = np.unique(np.clip((np.asarray(centres)[:, None] + np.linspace(-half, half, grid.zoom)).ravel(), lo, hi))
            got2 = grid.refine(centres, L, lo, hi, fine)
        else:
            continue
        assert np.array_equal(got2, want2)
    if isinstance(grid, SearchGrid):                   # the kept points cannot be changed by a caller
        assert not cp._guide_points(L, grid.lattice_z, grid.grid).flags.writeable
