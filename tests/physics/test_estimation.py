"""Target estimation from simulated echoes (MODEL §5.1): the ML estimator's RMSE meets
the position CRB at high SNR and breaks away from it below a threshold SNR."""

import numpy as np
import pytest

from twin.engine.evaluator import Evaluator
from twin.hardware import HardwareState
from twin.physics.estimation import AlphaBeta, split_snapshots, transmit_signal
from twin.scene.loader import load_scene
from twin.world import World


@pytest.fixture(scope="module")
def setup():
    scene = load_scene("paper000")
    world = World(scene)
    tx = world.tx
    state = HardwareState(tx.uniform_positions(), tx.installed.copy(), None)
    target = np.array([9.0, 2.0, 0.0])
    ev = Evaluator(world)
    # an isotropic transmit covariance (every RF chain an independent stream), full power
    N = tx.n_rf
    return ev, state, target, N, world.power_w


def _rmse_and_rcrb(ev, state, target, N, power_w, frames, seed):
    W = np.sqrt(power_w / N) * np.eye(N)
    slots = [(0.1, state, W, None)]
    rcrb = ev.frame_rcrb(slots, target)
    rng = np.random.default_rng(seed)
    err = [np.linalg.norm(ev.estimate_target(slots, target, rng).position[:2] - target[:2]) for _ in range(frames)]
    return float(np.sqrt(np.mean(np.square(err)))), rcrb, err


def test_high_snr_rmse_meets_the_crb(setup):
    ev, state, target, N, P = setup
    rmse, rcrb, err = _rmse_and_rcrb(ev, state, target, N, P, 6, 3)
    assert np.isfinite(rcrb) and rcrb < 1e-3
    assert rcrb / 2 < rmse < 2 * rcrb, (rmse, rcrb, err)


def test_low_snr_shows_the_threshold_effect(setup):
    ev, state, target, N, P = setup
    rmse, rcrb, err = _rmse_and_rcrb(ev, state, target, N, P * 1e-4, 4, 4)
    # the bound still predicts sub-millimetre errors, the estimator jumps to other lobes
    assert rcrb < 5e-3
    assert rmse > 100 * rcrb, (rmse, rcrb, err)


def test_transmit_signal_has_the_covariance():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    R = A @ A.conj().T
    S = transmit_signal(R, 20000, rng)
    assert np.allclose(S @ S.conj().T / 20000, R, atol=0.05 * np.abs(R).max())


def test_snapshots_split_by_duration():
    T = split_snapshots([0.03, 0.07], 256)
    assert T.sum() == 256 and abs(T[0] - 0.3 * 256) <= 1
    assert split_snapshots([1e-6, 1.0], 10).min() == 1


def test_alpha_beta_tracks_a_constant_velocity():
    trk = AlphaBeta(0.5, 0.1)
    v = np.array([1.0, -0.5])
    for k in range(60):
        trk.update(0.1 * k, np.array([2.0, 3.0]) + v * 0.1 * k)
    assert np.allclose(trk.predict(6.0), np.array([2.0, 3.0]) + v * 6.0, atol=1e-6)


def test_tracker_gates_a_side_lobe_outlier_and_restarts_on_a_real_jump():
    from twin.physics.estimation import AlphaBeta

    trk = AlphaBeta(gate_m=0.25, max_misses=3)
    for f in range(5):                                   # walking at 0.5 m/s along x
        trk.update(0.1 * f, np.array([0.05 * f, 0.0]))
    before = trk.predict(0.5)
    trk.update(0.5, np.array([3.0, 2.0]))                 # a side lobe 3.6 m away
    assert np.allclose(trk.predict(0.5), before)          # gated: prediction unchanged
    for f in (6, 7, 8):                                   # the target really is there now
        trk.update(0.1 * f, np.array([3.0, 2.0]))
    assert np.linalg.norm(trk.predict(0.8) - np.array([3.0, 2.0])) < 0.1
