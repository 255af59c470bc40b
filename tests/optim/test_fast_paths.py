"""The optimisers' shortcuts compute what the direct evaluation computes (issue 13: speed
from doing less, not worse): a PA's candidate batch evaluates the blockage of the PAs that
stay once (MODEL §2.5), and the element-wise search builds each guide's candidate-line
terms once per search (MODEL §4.2)."""

import numpy as np

from twin.optim.elementwise import LinkSetup, candidate_sum_rates, sum_rate, sum_rate_elementwise_positions
from twin.optim.layout import PassLayout
from twin.optim.search1d import coordinate_search
from twin.scene import load_scene
from twin.world import World


def _office(seed=3, users=4):
    w = World(load_scene("office"))
    rng = np.random.default_rng(seed)
    u = np.column_stack([w.floor.sample_free(rng, users), np.full(users, w.ue_height)])
    q = np.r_[w.floor.sample_free(rng, 1)[0], w.ue_height]
    return w, PassLayout(w.deployment, w.floor), u, q


def test_candidate_batch_through_walls_equals_the_full_evaluation():
    w, lay, users, q = _office()
    dep = w.deployment
    s = dep.uniform_positions()
    blocked = 0
    for n in range(dep.n_guides):
        cand = np.linspace(0.0, dep.length[n], 41)
        T, hc, dhc = lay.candidates(s, n, 1, cand, users, q)
        for i, x in enumerate(cand):
            s2 = s.copy()
            s2[n, 1] = x
            full = lay.terms(s2, users)[n]
            assert np.allclose(T[i], full, rtol=1e-12, atol=0)
            h, dh = lay.target(s2, q)
            assert np.allclose(hc[i], h[n], rtol=1e-12, atol=0) and np.allclose(dhc[:, i], dh[:, n], rtol=1e-12, atol=0)
            pos = dep.positions(np.where(dep.installed, s2, 0.0))[n]
            blocked += int(np.sum(w.floor.blockage_amplitude(pos[:, None, :], users[None]) < 1))
    assert blocked > 0                      # walls really attenuate some of these links


def test_elementwise_line_cache_gives_the_per_pa_search():
    """The search with the cached line terms equals the search that evaluates every PA's
    candidates afresh (the pre-cache algorithm, written out here), and evaluates far
    fewer links."""
    w, lay, users, _ = _office(seed=7)
    dep = w.deployment
    setup = LinkSetup("zf", "downlink", w.power_w, w.user_power_w, w.noise_w)
    calls = []

    class Counting(PassLayout):
        def guide_terms(self, n, x, points, rho=None):
            calls.append(np.size(x))
            return super().guide_terms(n, x, points, rho)

    s0 = dep.uniform_positions() + 0.013 * dep.installed          # off the candidate line at first
    fast = sum_rate_elementwise_positions(Counting(dep, w.floor), users, setup, Q=120, s0=s0,
                                           candidates="ordered")

    # reference: every PA's candidates evaluated afresh
    legal = lay.legal
    s = legal.legalize(s0)
    terms = lay.terms(s, users)
    st = {"H": terms.sum(axis=1)}
    st["rate"] = sum_rate(st["H"], setup)
    K = users.shape[0]

    def candidates(n, m, lo, hi, x):
        line = np.linspace(0.0, dep.length[n], 120)
        return np.append(line[(line >= lo - 1e-12) & (line <= hi + 1e-12)], x)

    def score(n, m, cand):
        T = lay.guide_terms(n, cand, users)
        A = np.linalg.inv(st["H"].conj().T @ st["H"])
        return candidate_sum_rates(st["H"], n, T - terms[n, m][None], setup, A), T

    def on_move(n, m, x, T, j):
        old = terms[n, m].copy()
        terms[n, m] = T[j]
        new = sum_rate(terms.sum(axis=1), setup)
        if new < st["rate"]:
            terms[n, m] = old
            return False
        st["H"], st["rate"] = terms.sum(axis=1), new
        return True

    ref = coordinate_search(s, legal, score, candidates=candidates, on_move=on_move,
                            objective=lambda _s: st["rate"], start=st["rate"], sense="max",
                            move="improve", rtol=1e-12, eps=1e-3, max_sweeps=20)
    assert np.array_equal(fast.s, ref.solution)
    assert fast.sum_rate == st["rate"] and fast.sweeps == ref.iterations
    assert fast.history[-1] > fast.history[0]                     # it did move PAs
    scored = sum(c for c in calls if c > 1)
    assert scored == 120 * dep.n_guides                           # each guide's line once
    assert all(c in (1, 120) for c in calls)


def test_rank_two_fisher_equals_the_physics_core():
    """CrbSetup.fisher (factored through aᴴa, aᴴȧ, ȧᴴȧ and the transmit quadratic forms)
    equals fisher_blocks for batched candidates, batched covariances and the non-Hermitian
    basis the SDR's Fisher map is read from (MODEL §3.3)."""
    from twin.optim.sdr import CrbSetup
    from twin.physics.sensing import fisher_blocks

    rng = np.random.default_rng(2)
    st = CrbSetup(np.array([0.05, 5.0, 2.5]), 8, 28e9, snapshots=256, noise_w=1e-12)
    q = np.array([3.0, 4.0, 1.2])
    a, da, beta = st.receiver(q)
    N = 4

    def cn(*shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    G = cn(N, N)
    for R, h, dh in [(G @ G.conj().T, cn(N), cn(2, N)), (G @ G.conj().T, cn(60, N), cn(60, 2, N)),
                     (cn(2 * N * N, N, N), cn(N), cn(2, N)), (cn(5, N, N), cn(5, N), cn(5, 2, N))]:
        ref = fisher_blocks(R, 1e-4 * h, 1e-3 * dh, a, da, beta, st.snapshots, st.noise_w)
        new = st.fisher(R, 1e-4 * h, 1e-3 * dh, q)
        for x, y in zip(ref, new):
            assert x.shape == y.shape
            assert np.max(np.abs(x - y)) <= 1e-12 * np.max(np.abs(x))


def test_closed_form_crb_trace_equals_the_physics_core():
    """The 2×2 closed-form tr CRB of the positioning search equals the trace of
    crb_from_fisher, inf included (a target seen along a line: singular information)."""
    from twin.optim.crb_positioning import _crb_trace
    from twin.optim.sdr import CrbSetup
    from twin.physics.sensing import crb_from_fisher, nuisance_gauge

    rng = np.random.default_rng(8)
    st = CrbSetup(np.array([0.05, 5.0, 2.5]), 8, 28e9, snapshots=256, noise_w=1e-12)
    q = np.array([3.0, 4.0, 1.2])
    N = 4
    G = rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))
    R = G @ G.conj().T
    h = 1e-4 * (rng.standard_normal((40, N)) + 1j * rng.standard_normal((40, N)))
    dh = 1e-3 * (rng.standard_normal((40, 2, N)) + 1j * rng.standard_normal((40, 2, N)))
    h[5:8] = 0.0                                   # no echo from these: singular information
    ref = np.trace(crb_from_fisher(*st.fisher(R, h, nuisance_gauge(h, dh), q)), axis1=-2, axis2=-1)
    new = _crb_trace(st, R, h, dh, q)
    assert np.array_equal(np.isinf(ref), np.isinf(new)) and np.isinf(ref[5:8]).all()
    fin = np.isfinite(ref)
    assert fin.sum() == 37 and np.allclose(new[fin], ref[fin], rtol=1e-12, atol=0)
