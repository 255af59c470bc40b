"""Issue 15 item 9: the comparison plot shows paired differences to the reference; sweep
plots have titles and axis labels with units."""

import numpy as np
import pandas as pd

from twin.experiments.compare import axis_label, plot_comparison, plot_sweep


def _df():
    rng = np.random.default_rng(0)
    rows = []
    for s in range(4):
        base = rng.uniform(5, 6)
        for pol, shift in (("ref", 0.0), ("better", 0.5)):
            rows.append({"policy": pol, "seed": s, "frames": 9, "mean_rate_bps_hz": base + shift + 0.01 * s,
                         "p5_rate_bps_hz": 1.0, "outage_fraction": 0.1, "mean_rcrb_mm": 0.2,
                         "mean_sensing_outage": np.nan, "pa_travel_m": 1.0, "mean_solve_time_s": 0.01,
                         "p95_solve_time_s": 0.02, "user_samples": 100, "status_ok": 9})
    return pd.DataFrame(rows)


def test_comparison_plot_draws_the_per_seed_paired_differences(tmp_path):
    df = _df()
    fig = plot_comparison(df, "ref", tmp_path / "c.png", "office")
    ax = fig.axes[0]
    assert "mean user rate" in ax.get_title() and "difference to ref [bit/s/Hz]" == ax.get_ylabel()
    wide = df.pivot(index="seed", columns="policy", values="mean_rate_bps_hz")
    dots = ax.lines[0].get_ydata()
    np.testing.assert_allclose(dots, (wide["better"] - wide["ref"]).to_numpy())   # not the raw values
    assert any(np.all(np.asarray(l.get_ydata()) == 0) for l in ax.lines)                       # the zero line
    assert [t.get_text() for t in ax.get_xticklabels()] == ["better"]
    assert "paired differences to ref" in fig._suptitle.get_text() and (tmp_path / "c.png").stat().st_size > 20_000


def test_sweep_plot_has_titles_and_axis_labels_with_units(tmp_path):
    df = pd.concat([_df().assign(**{"radio.tx_power_dbm": p}) for p in (10, 20)], ignore_index=True)
    fig = plot_sweep(df, ["radio.tx_power_dbm"], tmp_path / "s.png", "office")
    titles = [a.get_title() for a in fig.axes if a.get_visible()]
    assert all(titles) and "mean RCRB (lower better)" in titles
    rcrb = next(a for a in fig.axes if a.get_title().startswith("mean RCRB"))
    assert rcrb.get_ylabel() == "mean RCRB [mm]"
    assert rcrb.get_xlabel() == "Transmit power [dBm] (radio.tx_power_dbm)"
    assert "sweep over radio.tx_power_dbm" in fig._suptitle.get_text()


def test_axis_labels_read_units_from_the_field_suffix():
    assert axis_label("users.sinr_target_db") == "SINR target [dB] (users.sinr_target_db)"
    assert axis_label("simulation.frame_s") == "Frame [s] (simulation.frame_s)"
    assert axis_label("targets.rcs_m2") == "RCS [m²] (targets.rcs_m2)"
    assert axis_label("users.count") == "Count (users.count)"
