"""Paper 001's findings (issues 5, 14), reproduced by the figure functions.

Size (tests/figures/conftest.py): CI size by default, the paper's averaging with
PASS_TWIN_FULL=1 (100 drops, 7 powers 0-24 dBm). CI size = quick mode (4 seeded drops,
N_c = 1, 2, 4) at two of quick mode's four powers, 10 and 20 dBm: a drop's stream does not
depend on the power, so these are the quick figures' own numbers at those powers (the
power sweeps cost half). Scene reading (docs/paper001.md, "Lost parameter values"): the
attenuation as the paper's e^{-0.18 d}. Measured (seed 0), outage at 10 / 20 dBm:
Proposed-T4 0.7064 / 0.2047, Baseline-3 0.7098 / 0.2069 (the narrowest margin asserted),
Baseline-2 0.7224 / 0.2377, Baseline-4 0.8101 / 0.5538, Baseline-1 0.9744 / 0.7362;
Proposed-T2 0.7101 / 0.2120, T3 0.7069 / 0.2061. The per-drop check (12 drops) and the
heat map have one size. About 50 s CPU for the module (the four figures 42 s)."""

import numpy as np
import pytest

from twin.experiments.figures import available
from twin.experiments.figures.paper001 import _drop, controller, evaluate, heatmap_table, pas_values
from twin.experiments.snapshot import Scheme

pytestmark = pytest.mark.slow


def _wide(df, x):
    return df.pivot(index=x, columns="scheme", values="outage_probability")


@pytest.fixture(scope="module")
def power_df(size):
    return available()["paper001-power"].func(quick=size, seed=0)


def test_proposed_below_every_baseline_at_every_power(power_df):
    w = _wide(power_df, "tx_power_dbm")
    for b in ("Baseline-1", "Baseline-2", "Baseline-3", "Baseline-4"):
        assert (w["Proposed-T4"] < w[b]).all(), b


def test_baseline_4_stays_above_baseline_3_as_the_beamforming_gain_predicts(power_df):
    # Paper: baseline 4 (one PA, flexible durations) below baseline 3 (N_c PAs, equal
    # durations) at every power. Not reproduced under any reading studied (docs/paper001.md,
    # "Lost parameter values"): with N_c ≥ T, baseline 3 can serve baseline 4's clusters
    # with an N_c-fold focusing gain and 1/T of the frame each, weights at least baseline 4's
    # τ_c/T_tot share, so it is ahead unless rate targets bind; asserted as measured
    w = _wide(power_df, "tx_power_dbm")
    assert (w["Baseline-3"] < w["Baseline-4"]).all()


def test_outage_falls_with_power_for_every_scheme(power_df):
    w = _wide(power_df, "tx_power_dbm").sort_index().to_numpy()
    assert (np.diff(w, axis=0) <= 1e-12).all() and (w[-1] < w[0]).all(), w


def test_outage_falls_as_t_grows(power_df):
    w = _wide(power_df, "tx_power_dbm")
    assert (w["Proposed-T4"] <= w["Proposed-T3"]).all() and (w["Proposed-T3"] <= w["Proposed-T2"]).all()
    assert (w["Proposed-T4"] < w["Proposed-T2"]).any()


def test_exact_below_chernoff_and_monte_carlo_within_its_interval(power_df):
    assert (power_df.outage_probability <= power_df.chernoff + 1e-12).all()
    # the pooled MC estimate's 99% interval covers the exact mean (widen 95% → 99%)
    half = (power_df.mc_ci_high - power_df.mc_ci_low) / 2 * 2.576 / 1.960
    assert (np.abs(power_df.outage_mc - power_df.outage_probability) <= half + 1e-3).all()


def test_outage_rises_with_the_rate_requirement(size):
    w = _wide(available()["paper001-rate"].func(quick=size, seed=0), "tx_power_dbm")
    assert (w["Proposed-T4-Rmin1"] <= w["Proposed-T4-Rmin4"] + 1e-12).all()
    assert (w["Proposed-T4-Rmin4"] <= w["Proposed-T4-Rmin7"] + 1e-12).all()
    assert (w["Proposed-T4-Rmin1"] < w["Proposed-T4-Rmin7"]).all()


def test_less_correlation_less_outage_and_full_correlation_no_better_than_baseline_2(size):
    df = available()["paper001-correlation"].func(quick=size, seed=0)
    w = _wide(df, "tx_power_dbm")
    assert (w["Proposed-T4-uncorrelated"] < w["Proposed-T4-partial"]).all()
    assert (w["Proposed-T4-partial"] < w["Proposed-T4-fully-correlated"]).all()
    # fully correlated: no angular diversity left, so the proposed scheme is no better
    # than baseline 2 within Monte-Carlo error: their MC intervals overlap at every power
    full = df[df.scheme == "Proposed-T4-fully-correlated"].set_index("tx_power_dbm")
    b2 = df[df.scheme == "Baseline-2"].set_index("tx_power_dbm")
    assert (full.mc_ci_low <= b2.mc_ci_high).all() and (b2.mc_ci_low <= full.mc_ci_high).all()
    free_gain = 1 - w["Proposed-T4-uncorrelated"] / w["Baseline-2"]
    assert free_gain.iloc[-1] > 0.5                   # while without correlation it gains a lot


def test_more_pas_per_cluster_lower_outage_and_no_beamforming_can_lose_to_baseline_4(size):
    # the paper's axes: outage vs P, one curve per N_c; more PAs, less outage at every power
    w = _wide(available()["paper001-pas"].func(quick=size, seed=0), "tx_power_dbm")
    curves = [f"Proposed-T4-Nc{n}" for n in pas_values(size)]
    assert np.all(np.diff(w[curves].to_numpy(), axis=1) < 0), w[curves]
    # per drop: multi-PA clusters without phase alignment lose to single PAs somewhere
    at10 = {"radio.tx_power_dbm": 10}
    nobf_c = controller(Scheme("clustered-nobf", {"T": 4}), 2.0, at10)
    b4_c = controller(Scheme("clustered-baseline4", {"T": 4}), 2.0, at10)
    losses = 0
    for d in range(12):                   # measured: about one drop in ten (docs/paper001.md)
        target, users, rng = _drop(nobf_c.world, 0, d)
        nobf = evaluate(nobf_c, target, users, rng)[0]
        b4 = evaluate(b4_c, target, users, rng)[0]
        losses += nobf > b4
    assert losses >= 1


def test_heatmap_proposed_radiates_more_at_the_target_than_uniform():
    df, at_target, _ = heatmap_table(0, nx=30)
    assert np.mean(at_target["proposed"]) > np.mean(at_target["uniform"])
    assert np.mean(at_target["target-aligned"]) >= np.mean(at_target["proposed"]) * (1 - 1e-9)
    assert set(df.scheme) == {"proposed", "target-aligned", "uniform"} and (df.power_db <= 1e-9).all()
