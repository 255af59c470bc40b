"""Issue 7: paired comparison with common random numbers, sweeps, caching, Dask."""

import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from twin.errors import ConfigError
from twin.experiments.compare import METRICS, TIMING, compare, paired_summary, sweep
from twin.experiments.stats import mean_ci
from twin.traces import read_table

NON_TIMING = [m for m in METRICS if m not in TIMING]
FRAMES = 8


def _strip(df):
    return df.drop(columns=list(TIMING)).sort_values(["policy", "seed"]).reset_index(drop=True)


def test_common_random_numbers_same_trajectories_for_every_policy(tmp_path):
    compare("office", "follow,uniform", seeds=[3], out=tmp_path, frames=FRAMES, backend="serial",
            progress=False)
    runs = sorted((tmp_path / "runs").glob("*/*/seed-3-*"))
    assert len(runs) == 2
    a, b = (read_table(r, "users") for r in runs)
    pd.testing.assert_frame_equal(a[["time_s", "user", "x", "y"]], b[["time_s", "user", "x", "y"]])
    ta, tb = (read_table(r, "targets") for r in runs)
    pd.testing.assert_frame_equal(ta[["x", "y"]], tb[["x", "y"]])
    assert not a.sinr_db.equals(b.sinr_db)       # the policies do differ


def test_policy_against_itself_has_exactly_zero_paired_difference(tmp_path):
    df = compare("office", "uniform,uniform:predict=true", seeds=3, out=tmp_path, frames=FRAMES,
                 backend="serial", progress=False)
    for metric in ("mean_rate_bps_hz", "outage_fraction", "mean_rcrb_mm", "pa_travel_m"):
        t = paired_summary(df, metric, "uniform").set_index("policy")
        row = t.loc["uniform:predict=true"]
        assert row["diff"] == 0.0 and row["diff_ci_low"] == 0.0 and row["diff_ci_high"] == 0.0
    md = (tmp_path / "comparison.md").read_text()
    assert "| uniform:predict=true |" in md and (tmp_path / "comparison.png").stat().st_size > 10_000


def test_confidence_interval_is_right_on_a_known_variance_case():
    rng = np.random.default_rng(0)
    n, sigma, mu, reps = 8, 2.0, 1.5, 4000
    covered = 0
    for _ in range(reps):
        x = rng.normal(mu, sigma, n)
        m, lo, hi = mean_ci(x)
        covered += lo <= mu <= hi
    # 95% coverage; binomial sd ≈ 0.34%: allow 4 sd
    assert abs(covered / reps - 0.95) < 0.014
    # and the half-width is Student's t times the standard error
    x = np.array([1.0, 2.0, 3.0, 4.0])
    m, lo, hi = mean_ci(x)
    assert m == 2.5 and hi - m == pytest.approx(3.182446305284263 * np.std(x, ddof=1) / 2, rel=1e-9)


def test_interrupted_compare_resumes_and_matches_a_clean_run(tmp_path):
    frames = 60                                   # ~0.2 s a run: the kill lands mid-study
    clean = compare("office", "follow,uniform", seeds=3, out=tmp_path / "clean", frames=frames,
                    backend="serial", progress=False)
    out = tmp_path / "interrupted"
    code = ("from twin.experiments.compare import compare; "
            f"compare('office', 'follow,uniform', seeds=3, out=r'{out}', frames={frames}, "
            "backend='serial', progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("runs/*/*/seed-*/summary.json"))) < 2:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = len(list(out.glob("runs/*/*/seed-*/summary.json")))
    assert 2 <= done < 6
    resumed = compare("office", "follow,uniform", seeds=3, out=out, frames=frames, backend="serial",
                      progress=False)
    pd.testing.assert_frame_equal(_strip(resumed), _strip(clean))


def test_dask_backend_gives_the_same_tables_as_local(tmp_path):
    local = compare("paper000", "uniform,follow", seeds=2, out=tmp_path / "local", frames=4,
                    backend=None, progress=False)
    dask = compare("paper000", "uniform,follow", seeds=2, out=tmp_path / "dask", frames=4,
                   backend="dask-local", progress=False)
    pd.testing.assert_frame_equal(_strip(local), _strip(dask))


def test_sweep_over_two_keys_gives_the_full_grid_and_unknown_keys_are_clear(tmp_path):
    grid = {"radio.tx_power_dbm": [10, 30], "users.sinr_target_db": [0.0, 10.0]}
    df = sweep("paper000", grid, "uniform", seeds=2, out=tmp_path, frames=2, backend="serial",
               progress=False)
    assert len(df) == 2 * 2 * 2
    assert set(map(tuple, df[list(grid)].drop_duplicates().to_numpy())) == {(10, 0.0), (10, 10.0), (30, 0.0), (30, 10.0)}
    means = df.groupby("radio.tx_power_dbm").mean_rate_bps_hz.mean()
    assert means[30] > means[10]                       # more power, more rate
    assert (tmp_path / "sweep.parquet").exists() and (tmp_path / "sweep.png").exists()
    with pytest.raises(ConfigError, match="radio.tx_power_dBm: unknown key"):
        sweep("paper000", {"radio.tx_power_dBm": [10]}, "uniform", seeds=1, out=tmp_path / "x",
              frames=1, backend="serial", progress=False)
