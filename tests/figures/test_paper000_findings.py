"""Paper 000 §IV findings, reproduced by the figure functions in quick mode (few seeded
drops, coarse sweeps). Orderings are on drop averages; trends in P, K, N, M and γ are
asserted at every step of the sweep for every scheme.

The P, K and γ sweeps are nested (paper000.sweep ``harder_first``): each point's PASS
layouts are warm-started from the harder point's, so the optimised schemes are monotone
drop by drop, as their global optima are. The N and M sweeps change the deployment and
rely on the optimiser alone (coarse-to-fine continuation from the uniform layout)."""

import numpy as np
import pytest

from twin.experiments.figures import available

def _table(name):
    df = available()[name].func(quick=True, seed=0)
    x = available()[name].x
    return df.pivot(index=x, columns="scheme", values="rcrb_m").sort_index()


def _trend(t, sign, schemes=None):
    for s in schemes or t.columns:
        d = np.diff(t[s].to_numpy())
        assert np.all(sign * d > 0), (s, t[s].to_numpy())
    _ordering(t)          # the orderings of the power sweep hold at every x of the other sweeps


def _ordering(t):
    tol = 1 + 1e-6
    assert np.all(t["Continuous-PASS"] <= t["Discrete-PASS-30"] * tol)
    assert np.all(t["Discrete-PASS-30"] <= t["Discrete-PASS-15"] * tol)
    assert np.all(t["Continuous-PASS"] < t["Uniform-PASS"])
    assert np.all(t["Uniform-PASS"] < t["mMIMO"])
    assert np.all(t["mMIMO"] < t["MIMO"])


@pytest.fixture(scope="module")
def power():
    return _table("paper000-power")


def test_ordering_at_every_power(power):
    _ordering(power)


def test_rcrb_falls_with_power_for_every_scheme(power):
    for s in power.columns:
        assert np.all(np.diff(power[s].to_numpy()) < 0), (s, power[s].to_numpy())


def test_convergence_history_never_increases():
    df = available()["paper000-convergence"].func(quick=True, seed=0)
    for _, g in df.groupby("scheme"):
        v = g.sort_values("iteration")["rcrb_m"].to_numpy()
        assert np.all(np.diff(v) <= 1e-15)
        assert v[-1] < v[0]
    p20, p30 = (df[df.scheme.str.contains(p)]["rcrb_m"].iloc[-1] for p in ("20 dBm", "30 dBm"))
    assert p30 < p20


@pytest.mark.slow
def test_rcrb_rises_with_sinr_target():
    _trend(_table("paper000-sinr"), +1)


@pytest.mark.slow
def test_rcrb_rises_with_users():
    _trend(_table("paper000-users"), +1)


@pytest.mark.slow
def test_rcrb_falls_with_waveguides():
    _trend(_table("paper000-waveguides"), -1)


@pytest.mark.slow
def test_rcrb_falls_with_pas():
    t = _table("paper000-pas")
    _trend(t, -1, [s for s in t.columns if s != "MIMO"])
    assert np.ptp(t["MIMO"].to_numpy()) == 0          # MIMO has no PAs: M does not enter
