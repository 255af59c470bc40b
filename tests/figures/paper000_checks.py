"""Checks shared by the paper 000 findings tests (test_paper000_findings.py: the nested
P, K and γ sweeps and the convergence figure; test_paper000_deployment.py: the N and M
sweeps). Two modules so that ``pytest -n 2 --dist loadfile`` spreads paper 000's sweeps
over both workers while each module computes its figures once."""

import numpy as np

from twin.experiments.figures import available


def table(name, size):
    """Figure ``name`` at ``size`` (the figures' ``quick`` argument) as x × scheme RCRB (m)."""
    df = available()[name].func(quick=size, seed=0)
    x = available()[name].x
    return df.pivot(index=x, columns="scheme", values="rcrb_m").sort_index()


def trend(t, sign, schemes=None):
    for s in schemes or t.columns:
        d = np.diff(t[s].to_numpy())
        assert np.all(sign * d > 0), (s, t[s].to_numpy())
    ordering(t)          # the orderings of the power sweep hold at every x of the other sweeps


def ordering(t):
    tol = 1 + 1e-6
    assert np.all(t["Continuous-PASS"] <= t["Discrete-PASS-30"] * tol)
    assert np.all(t["Discrete-PASS-30"] <= t["Discrete-PASS-15"] * tol)
    assert np.all(t["Continuous-PASS"] < t["Uniform-PASS"])
    assert np.all(t["Uniform-PASS"] < t["mMIMO"])
    assert np.all(t["mMIMO"] < t["MIMO"])
