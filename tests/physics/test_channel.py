"""MODEL §2.1-§2.3: the PASS channel against closed forms and the papers' conventions."""

import numpy as np
import pytest

from twin.physics import guide_response, pass_channel
from twin.physics.channel import free_space_gain

C = 299_792_458.0
FC = 28e9


def test_one_pa_one_point_equals_closed_form():
    lam = C / FC
    feed, u = np.array([[1.0, 2.0, 3.0]]), np.array([[0.0, 1.0, 0.0]])
    s, q = 4.2, np.array([3.0, 5.0, 0.5])
    n_eff, alpha = 1.44, 0.3
    p = feed[0] + s * u[0]
    r = np.linalg.norm(p - q)
    expected = (10 ** (-alpha * s / 20) * np.exp(-2j * np.pi * n_eff * s / lam)
                * lam / (4 * np.pi) * np.exp(-2j * np.pi * r / lam) / r)
    H = pass_channel(feed, u, np.array([[s]]), q[None], FC, n_eff=n_eff, attenuation_db_per_m=alpha)
    assert H.shape == (1, 1)
    assert H[0, 0] == pytest.approx(expected, rel=1e-12)


def test_attenuation_and_guided_phase():
    lam = C / FC
    s = np.array([[0.0, 1.0, 2.5, 10.0]])
    f = guide_response(s, FC, n_eff=1.4, attenuation_db_per_m=0.18)[0]
    assert np.allclose(20 * np.log10(np.abs(f)), -0.18 * s[0])
    # the phase advances by k_g = 2π n_eff / λ per metre (modulo 2π)
    dphi = np.angle(f[1:] * np.conj(f[:-1]))
    expected = np.angle(np.exp(-2j * np.pi * 1.4 * np.diff(s[0]) / lam))
    assert np.allclose(dphi, expected, atol=1e-9)


def _random_setup(rng, N=3, M=4, K=2):
    feed = np.column_stack([np.zeros(N), np.linspace(-3, 3, N), np.full(N, 3.0)])
    u = np.tile([1.0, 0.0, 0.0], (N, 1))
    s = np.sort(rng.uniform(0, 10, (N, M)), axis=1)
    q = np.column_stack([rng.uniform(0, 10, K), rng.uniform(-4, 4, K), np.zeros(K)])
    return feed, u, s, q


def test_paper000_convention_alpha_zero():
    """Paper 000 eqs. 5-8: h = Σ_m ρ e^{-jκ_g d_m} e^{-jκ_c r_m} / (2 κ_c r_m), ρ = 1/√M."""
    rng = np.random.default_rng(1)
    feed, u, s, q = _random_setup(rng)
    kc = 2 * np.pi * FC / C
    kg = kc * 1.4
    N, M = s.shape
    ref = np.zeros((N, len(q)), complex)
    for n in range(N):
        for m in range(M):
            pos = feed[n] + s[n, m] * u[n]
            for k in range(len(q)):
                r = np.linalg.norm(pos - q[k])
                ref[n, k] += (1 / np.sqrt(M)) * np.exp(-1j * kg * s[n, m]) * np.exp(-1j * kc * r) / (2 * kc * r)
    H = pass_channel(feed, u, s, q, FC, n_eff=1.4)
    assert np.allclose(H, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())


def test_paper001_002_convention_with_loss():
    """Papers 001/002: √η = c/(4π f_c), amplitude loss 10^(-α d/20), same guided phase."""
    rng = np.random.default_rng(2)
    feed, u, s, q = _random_setup(rng, N=2, M=3, K=3)
    eta = C**2 / (16 * np.pi**2 * FC**2)
    alpha = 0.18
    lam = C / FC
    pos = feed[:, None, :] + s[..., None] * u[:, None, :]
    r = np.linalg.norm(pos[:, :, None, :] - q[None, None], axis=-1)
    ref = np.sum(np.sqrt(eta) * np.exp(-2j * np.pi * r / lam) / r
                 * (10 ** (-alpha * s / 20) * np.exp(-2j * np.pi * 1.4 * s / lam) / np.sqrt(3))[..., None], axis=1)
    H = pass_channel(feed, u, s, q, FC, n_eff=1.4, attenuation_db_per_m=alpha)
    assert np.allclose(H, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())


def test_power_split_counts_only_active_pas():
    rng = np.random.default_rng(3)
    feed, u, s, q = _random_setup(rng, N=1, M=4, K=1)
    active = np.array([[True, True, False, False]])
    H = pass_channel(feed, u, s, q, FC, active=active)
    H2 = pass_channel(feed, u, s[:, :2], q, FC)
    assert np.allclose(H, H2)


def test_free_space_distance_is_numpys_norm_bit_for_bit():
    """free_space_gain's r = ((x² + y²) + z²)^½ without a reduction: the same floats as
    np.linalg.norm(axis=-1), on broadcast shapes and coordinates spanning 16 decades."""
    from twin.physics.channel import amplitude_constant, wavenumber

    rng = np.random.default_rng(5)
    p = rng.normal(size=(40, 3, 1, 3)) * 10.0 ** rng.uniform(-8, 8, (40, 3, 1, 3))
    q = rng.normal(size=(1, 1, 25, 3)) * 10.0 ** rng.uniform(-8, 8, (1, 1, 25, 3))
    r = np.linalg.norm(p - q, axis=-1)
    want = amplitude_constant(28e9) * np.exp(-1j * wavenumber(28e9) * r) / r
    got = free_space_gain(p, q, 28e9)
    assert got.shape == (40, 3, 25)
    np.testing.assert_array_equal(got.view(float), want.view(float))
