"""What a controller knows and pays (MODEL §5.1): pilot-based channel estimates and their
error, compute latency in simulated time, perfect channel knowledge."""

import json

import numpy as np
import pytest

from twin.engine import Simulation
from twin.physics.csi import estimate_channel, nmse_db, pilot_error_variance
from twin.scene import load_scene
from twin.traces import read_table


def test_ls_pilot_error_has_the_variance_of_the_pilot_snr_and_lmmse_is_better():
    rng = np.random.default_rng(0)
    H = (rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))) * 1e-5
    noise, p, tau = 1e-12, 0.1, 4
    var = pilot_error_variance(noise, p, tau)
    errs = np.array([estimate_channel(H, noise, p, tau, rng, "ls") - H for _ in range(4000)])
    assert np.mean(np.abs(errs) ** 2) == pytest.approx(var, rel=0.05)      # σ²/(p τ) per entry
    low = H * 1e-3                                           # weak channel: the error dominates
    ls = np.mean([nmse_db(estimate_channel(low, noise, p, tau, rng, "ls"), low) for _ in range(200)])
    mm = np.mean([nmse_db(estimate_channel(low, noise, p, tau, rng, "lmmse"), low) for _ in range(200)])
    assert mm < ls


def test_pilot_csi_error_is_traced_and_falls_with_more_pilot_symbols(tmp_path):
    """Static users: the traced NMSE follows the pilot SNR (16x more symbols ≈ 12 dB less)."""
    out = {}
    for tau in (4, 64):
        sc = load_scene("paper002", {"simulation.frames": 4, "csi.model": "pilot", "csi.pilot_symbols": tau,
                                     "csi.period_s": 0.01, "csi.estimator": "ls",
                                     "radio.user_tx_power_dbm": -20.0})
        Simulation(sc, tmp_path / str(tau), policy="uniform").run()
        fr = read_table(tmp_path / str(tau), "frames").iloc[1:]         # frame 0: no pilot back yet
        assert np.isfinite(fr.csi_nmse_db).all() and (fr.csi_age_s > 0).all()
        out[tau] = fr.csi_nmse_db.mean()
    assert out[4] - out[64] == pytest.approx(12.0, abs=3.0)


def test_a_decision_takes_effect_after_its_latency(tmp_path):
    """latency 0.25 s with 0.1 s frames: a decision every third frame (the controller is
    busy in between, the previous decision stays in force), in force 0.25 s after it is
    made; the PAs' commanded targets change only then."""
    sc = load_scene("office", {"simulation.frames": 9, "controller.latency_s": 0.25})
    Simulation(sc, tmp_path, policy="follow").run()
    fr = read_table(tmp_path, "frames")
    decided = fr[np.isfinite(fr.decided_s)]
    assert list(decided.frame) == [0, 3, 6]
    assert np.allclose(decided.in_force_s - decided.decided_s, 0.25)
    busy = fr[~np.isfinite(fr.decided_s)]
    assert (busy.status == "held-previous").all()
    assert all("busy" in json.loads(i)["detail"] for i in busy["info"])
    pas = read_table(tmp_path, "pas")
    first = pas[(pas.waveguide == 0) & (pas.pa == 0)].sort_values("time_s")
    changes = first.time_s[first.target_s_m.diff().abs() > 1e-12]
    assert all(any(abs(t - f) < 0.1 + 1e-9 and t >= f for f in decided.in_force_s) for t in changes)


def test_zero_latency_decisions_are_in_force_at_once(tmp_path):
    Simulation(load_scene("office", {"simulation.frames": 3}), tmp_path, policy="uniform").run()
    fr = read_table(tmp_path, "frames")
    assert np.allclose(fr.decided_s, fr.time_s) and np.allclose(fr.in_force_s, fr.time_s)


def test_perfect_csi_ignores_the_observation_noise(tmp_path):
    base = {"simulation.frames": 4, "controller.observation_noise_m": 0.05}
    a = Simulation(load_scene("office", {**base, "csi.model": "perfect"}), None, policy="follow").run()
    b = Simulation(load_scene("office", {"simulation.frames": 4, "csi.model": "position"}), None,
                   policy="follow").run()
    c = Simulation(load_scene("office", {**base, "csi.model": "position"}), None, policy="follow").run()
    assert a["mean_rate_bps_hz"] == b["mean_rate_bps_hz"] != c["mean_rate_bps_hz"]
