"""Paper 002's findings (issue 3), reproduced by the figure functions.

Size (tests/figures/conftest.py): CI size by default, the paper's averaging with
PASS_TWIN_FULL=1 (400 drops, Q = 1000, 9 powers). CI size = quick mode (6 seeded drops,
Q = 200, P = 0, 20, 40 dBm; Q = 11, 51, 201): both figures take seconds. The uplink
per-drop check (5 drops, Q = 120) has one size."""

import numpy as np
import pytest

from twin.experiments.figures import available
from twin.experiments.figures.paper002 import drop_rates
from twin.scene import load_scene
from twin.world import World

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def power_df(size):
    return available()["paper002-power"].func(quick=size, seed=0)


def test_pass_beats_hmimo_for_every_beamformer_at_every_power(power_df):
    wide = power_df.pivot(index="tx_power_dbm", columns="scheme", values="sum_rate_bps_hz")
    for kind in ("MRT", "ZF", "MMSE"):
        assert (wide[f"PASS-{kind}"] > wide[f"hMIMO-{kind}"]).all(), kind


def test_zf_close_to_mmse_and_mrt_interference_limited_at_high_power(power_df):
    wide = power_df.pivot(index="tx_power_dbm", columns="scheme", values="sum_rate_bps_hz")
    hi = wide.loc[wide.index.max()]
    assert abs(hi["PASS-ZF"] - hi["PASS-MMSE"]) <= 0.05 * hi["PASS-MMSE"]
    assert hi["PASS-MRT"] < 0.6 * hi["PASS-ZF"]
    lo_p, hi_p = wide.index.min(), wide.index.max()
    assert wide.loc[hi_p, "PASS-MRT"] - wide.loc[lo_p, "PASS-MRT"] < wide.loc[hi_p, "PASS-ZF"] - wide.loc[lo_p, "PASS-ZF"]


def test_sum_rate_does_not_decrease_with_resolution(size):
    df = available()["paper002-resolution"].func(quick=size, seed=0)
    for scheme in ("PASS-MRT", "PASS-ZF", "PASS-MMSE"):
        r = df[df.scheme == scheme].sort_values("Q").sum_rate_bps_hz.to_numpy()
        assert np.all(np.diff(r) >= -0.01 * r[:-1]), (scheme, r)


def test_uplink_mmse_dominates_zf_and_mrc_on_every_drop():
    world = World(load_scene("paper002"))
    for d in range(5):
        rng = np.random.default_rng([7, d])
        users = np.column_stack([world.floor.sample_free(rng, world.n_users, 0.0), np.zeros(world.n_users)])
        r = drop_rates(world, users, "uplink", 120, rng)
        assert r["PASS-MMSE"] >= r["PASS-ZF"] - 1e-9 and r["PASS-MMSE"] >= r["PASS-MRC"] - 1e-9
