"""The per-slot CRB SDR of the real-time controllers (issue 13, fifth round):

- The relaxation restricted to ``R_s = 0`` (:class:`ConicCrbSdrNoRs`) has the full
  relaxation's optimum: the same tr CRB and the same total covariance R, every SINR row
  and the budget verified, on drops with 1 to 4 users (with one user the full solve puts
  12 % of the power into R_s, which the restricted one carries in W_1).
- Its certificate reads the full relaxation's dual of the R_s cone (the reduced cost of
  sensing power), and the negated dual fails it.
- When the certificate fails, ``CrbSdr(restrict_rs=True)`` returns the full relaxation's
  answer, bit for bit the default path's.
- The ``crb-sdr`` stage restricts only in a continuing run (never a figure's one-off
  decision), so a figure's answers stay the default path's.
"""

import numpy as np
import pytest

from twin.optim import sdr_conic
from twin.optim.sdr import CrbSdr
from twin.physics.sinr import sinr_downlink

from paper000_drops import paper000_obs


@pytest.mark.parametrize("K", [1, 2, 4])
def test_the_restricted_relaxation_has_the_full_optimum(paper000_crb, sdr_args, K):
    full, restricted = CrbSdr(4, K), CrbSdr(4, K, restrict_rs=True)
    rs_share = []
    for seed in range(3):
        args = sdr_args(K, seed)
        H, gamma, P, noise = args[0], args[5], args[6], args[7]
        a, b = full.solve(*args), restricted.solve(*args)
        assert a.ok and b.ok and b.info["rs_restricted"]
        assert b.objective == pytest.approx(a.objective, rel=1e-6)
        assert np.max(np.abs(b.R - a.R)) <= 1e-3 * P        # the same optimal R (to the solver: test_sdr_conic)
        assert np.allclose(sinr_downlink(H, b.W, noise, b.Rs), b.sinr)    # the SINRs it reports are its beams'
        rs_share.append(np.real(np.trace(a.Rs)) / P)
    if K == 1:                  # the full solve radiates a sensing stream; the restricted one keeps it
        assert min(rs_share) > 0.05


def test_the_certificate_reads_the_full_relaxations_sensing_dual(paper000_crb, sdr_args, monkeypatch):
    """The reduced cost Y that certifies a restricted solve is the dual of the full
    relaxation's R_s cone, solved on its own: the same matrix (to the solver's accuracy,
    both default settings) and the same smallest eigenvalue, which is positive. So the
    certificate measures what a sensing covariance could gain; it is not positive by
    construction (the negated dual, an infeasible one, fails it)."""
    seen = {}
    restricted, certificate = sdr_conic.ConicCrbSdrNoRs.solve_restricted, sdr_conic.ConicCrbSdrNoRs.certificate

    def spy_solve(self, *data):
        seen["data"] = data[:-1]                       # the instance, without the settings
        return restricted(self, *data)

    def spy_certificate(self, A, z):
        seen["Y"], seen["neg"] = self.reduced_cost(A, z), certificate(self, A, -z)
        seen["cert"] = certificate(self, A, z)
        return seen["cert"]

    monkeypatch.setattr(sdr_conic.ConicCrbSdrNoRs, "solve_restricted", spy_solve)
    monkeypatch.setattr(sdr_conic.ConicCrbSdrNoRs, "certificate", spy_certificate)
    for K, seed in ((4, 1), (2, 3), (3, 0)):
        sdr = CrbSdr(4, K, restrict_rs=True)
        res = sdr.solve(*sdr_args(K, seed))
        assert res.ok and res.info["rs_restricted"]
        conic = sdr._conic_r
        A, b, q = conic.matrices(*seen["data"])
        st, sol, _ = conic._clarabel_run(conic.P, q, A, b, conic._cones(K + 1), sdr.solver_opts)
        assert st == "optimal"
        rows = conic.r_psd + K * conic.len_psd + np.arange(conic.len_psd)      # the R_s cone
        Y_full = np.asarray(sol.z)[rows][conic.idx8] / conic.w8
        Y = seen["Y"]
        assert np.linalg.norm(Y - Y_full) <= 1e-3 * np.linalg.norm(Y_full)
        lam_full = np.linalg.eigvalsh(Y_full)[0]
        assert seen["cert"] > 0                           # what decides: λ_min of the reduced cost
        assert seen["cert"] == pytest.approx(lam_full, rel=1e-3, abs=1e-6 * np.linalg.norm(Y_full))
        assert seen["neg"] < 0


def test_an_uncertified_restriction_returns_the_full_answer_bit_for_bit(paper000_crb, sdr_args, monkeypatch):
    args = sdr_args(3, 2)
    ref = CrbSdr(4, 3).solve(*args)
    monkeypatch.setattr(sdr_conic.ConicCrbSdrNoRs, "certificate", lambda self, A, z: -1.0)
    res = CrbSdr(4, 3, restrict_rs=True).solve(*args)
    assert res.ok and res.info["rs_restricted"] is False
    assert np.array_equal(res.W, ref.W) and np.array_equal(res.Rs, ref.Rs) and res.objective == ref.objective


def test_the_stage_restricts_only_in_a_continuing_run(crb_sdr_calls):
    """A one-off decision (a figure's drop: ``obs.previous`` None) solves the default SDR;
    the next frame of the same run (users moved, so nothing is reused) the restricted one,
    whose beams (``predict`` off: for the observed users) meet every SINR target within
    the budget."""
    from twin.controller import Controller, resolve
    from twin.physics import sinr_downlink
    from twin.scene import load_scene
    from twin.world import World

    spec = resolve("isac-crb-uniform", {"beamform": {"restrict_rs": True, "predict": False}})
    ctl = Controller(World(load_scene("paper000"), hardware=spec.hardware), spec)
    w = ctl.world

    o0 = paper000_obs(w, 0, None, 0)
    d0 = ctl.decide(o0)
    restricted = [bool(k.get("restrict")) for k in crb_sdr_calls]
    assert d0.status == "ok" and restricted and not any(restricted)
    crb_sdr_calls.clear()
    o1 = paper000_obs(w, 1, d0, 1)
    d1 = ctl.decide(o1)
    restricted = [bool(k.get("restrict")) for k in crb_sdr_calls]
    assert d1.status == "ok" and restricted and all(restricted)
    H = w.tx.channel_to(w.tx.initial_state(), o1.users)
    assert np.all(sinr_downlink(H, d1.W, w.noise_w, d1.Rs) >= w.sinr_target * (1 - 2e-3))
    assert np.real(np.trace(d1.W @ d1.W.conj().T + d1.Rs)) <= w.power_w * (1 + 2e-3)


def test_a_fast_solve_that_fails_numerically_is_retried_restricted_with_equilibration(paper000_crb, sdr_args,
                                                                                        monkeypatch):
    """Without equilibration (the fast settings) Clarabel ends about one pilot SDR in 200
    with ``NumericalError`` (6 of 1361 on ``office``). The first retry is then the same R_s-restricted
    problem with equilibration back on: one restricted solve, whose answer is the one a
    solver with those settings gives, instead of the full relaxation from a new solver."""
    from twin.optim.sdr import EQUILIBRATE_RETRY
    from twin.optim.sdr_conic import fast_solver_opts

    args = sdr_args(4, 2)
    real = sdr_conic.ConicCrbSdrNoRs.solve_restricted
    seen = []

    def flaky(self, *data):
        opts = data[-1]
        seen.append(opts.get("equilibrate_enable", True))
        if opts.get("equilibrate_enable", True) is False:          # the fast attempt fails
            return "NumericalError", 0.0, 0, None, 0.0, False
        return real(self, *data)

    full = []
    real_full = sdr_conic.ConicCrbSdr.solve
    monkeypatch.setattr(sdr_conic.ConicCrbSdrNoRs, "solve_restricted", flaky)
    monkeypatch.setattr(sdr_conic.ConicCrbSdr, "solve", lambda self, *data: full.append(1) or real_full(self, *data))
    res = CrbSdr(4, 4, solver_opts=fast_solver_opts(), restrict_rs=True).solve(*args)
    assert seen == [False, True] and not full                      # restricted twice, no full relaxation
    assert res.ok and res.info["attempts"] == 2 and res.info["rs_restricted"]
    monkeypatch.setattr(sdr_conic.ConicCrbSdrNoRs, "solve_restricted", real)
    ref = CrbSdr(4, 4, solver_opts={**fast_solver_opts(), **EQUILIBRATE_RETRY}, restrict_rs=True).solve(*args)
    assert np.array_equal(res.W, ref.W) and np.array_equal(res.Rs, ref.Rs) and res.objective == ref.objective


def test_an_infeasible_fast_restricted_solve_is_checked_on_the_full_relaxation_at_once(paper000_crb, sdr_args,
                                                                                         monkeypatch):
    """An infeasibility verdict is not a numerical failure: the same attempt solves the full
    relaxation (as before the equilibration retry), no second restricted solve."""
    from twin.optim.sdr_conic import fast_solver_opts

    args = sdr_args(4, 2)
    calls = []

    def infeasible(self, *data):
        calls.append("restricted")
        return "infeasible", 0.0, 0, None, 0.0, False

    real_full = sdr_conic.ConicCrbSdr.solve
    monkeypatch.setattr(sdr_conic.ConicCrbSdrNoRs, "solve_restricted", infeasible)
    monkeypatch.setattr(sdr_conic.ConicCrbSdr, "solve", lambda self, *data: calls.append("full") or real_full(self, *data))
    res = CrbSdr(4, 4, solver_opts=fast_solver_opts(), restrict_rs=True).solve(*args)
    assert calls == ["restricted", "full"]
    assert res.ok and res.info["attempts"] == 1 and res.info["rs_restricted"] is False
