"""MODEL §4.1: linear precoders and combiners."""

import numpy as np
import pytest

from twin.optim import linear_combiner, linear_precoder
from twin.physics import sinr_downlink, sinr_uplink


def _H(rng, N=6, K=4):
    return (rng.standard_normal((N, K)) + 1j * rng.standard_normal((N, K))) * 1e-4


@pytest.mark.parametrize("kind", ["mrt", "zf", "mmse"])
def test_power_constraint_met_with_equality(kind):
    H = _H(np.random.default_rng(0))
    W = linear_precoder(H, 2.5, kind, noise_w=1e-12)
    assert np.linalg.norm(W) ** 2 == pytest.approx(2.5, rel=1e-12)


def test_zf_nulls_inter_user_interference():
    H = _H(np.random.default_rng(1))
    G = H.conj().T @ linear_precoder(H, 1.0, "zf")
    off = G - np.diag(np.diag(G))
    assert np.max(np.abs(off)) < 1e-9 * np.min(np.abs(np.diag(G)))


def _cos(a, b):
    return abs(np.vdot(a.ravel(), b.ravel())) / (np.linalg.norm(a) * np.linalg.norm(b))


def test_mmse_tends_to_zf_at_vanishing_noise_and_mrt_at_high_noise():
    H = _H(np.random.default_rng(2))
    zf, mrt = linear_precoder(H, 1.0, "zf"), linear_precoder(H, 1.0, "mrt")
    low = linear_precoder(H, 1.0, "mmse", noise_w=1e-30)
    high = linear_precoder(H, 1.0, "mmse", noise_w=1e3)
    assert _cos(low, zf) > 1 - 1e-9
    assert _cos(high, mrt) > 1 - 1e-6
    assert _cos(high, zf) < 0.99  # the two limits are genuinely different here


def test_zf_refused_when_users_exceed_rf_chains():
    H = _H(np.random.default_rng(3), N=2, K=3)
    with pytest.raises(ValueError, match="K=3 > N=2"):
        linear_precoder(H, 1.0, "zf")
    W = linear_precoder(H, 1.0, "mmse", noise_w=1e-12)   # MMSE works for any K
    assert np.all(np.isfinite(W))


def test_mmse_maximises_downlink_sinr_sum_better_than_mrt_at_high_snr():
    H = _H(np.random.default_rng(4))
    s_mmse = sinr_downlink(H, linear_precoder(H, 1.0, "mmse", noise_w=1e-12), 1e-12)
    s_mrt = sinr_downlink(H, linear_precoder(H, 1.0, "mrt"), 1e-12)
    assert np.sum(np.log2(1 + s_mmse)) > np.sum(np.log2(1 + s_mrt))


def test_uplink_mmse_combiner_is_sinr_optimal():
    rng = np.random.default_rng(5)
    H = _H(rng)
    p, noise = np.full(4, 0.1), 1e-12
    s = {k: sinr_uplink(H, linear_combiner(H, k, p, noise), p, noise) for k in ("mrc", "zf", "mmse")}
    assert np.all(s["mmse"] >= s["zf"] * (1 - 1e-9))
    assert np.all(s["mmse"] >= s["mrc"] * (1 - 1e-9))
