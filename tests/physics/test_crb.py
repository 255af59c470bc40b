"""MODEL §3.3: the position CRB equals the inverse of a finite-difference Fisher matrix
built directly from u = vec(β A S) for an explicit S."""

import numpy as np

from twin.physics import crb_position, pass_channel

FC = 28e9
C = 299_792_458.0


def _u(eta, S, feed, u_dir, s, rx, Mr, z_t):
    x, y, br, bi = eta
    lam = C / FC
    q = np.array([x, y, z_t])
    h = pass_channel(feed, u_dir, s, q[None], FC, n_eff=1.4)[:, 0]
    v = (q - rx)[:2]
    sin = v[1] / np.linalg.norm(v)                     # axis +y
    a = np.exp(-1j * 2 * np.pi * (lam / 2) * np.arange(Mr) * sin / lam)
    beta = br + 1j * bi
    return (beta * np.outer(a, h.conj()) @ S).ravel(order="F")


def test_crb_matches_finite_difference_fisher():
    rng = np.random.default_rng(7)
    N, M, T, Mr = 3, 2, 12, 6
    feed = np.column_stack([np.full(N, 5.0), np.linspace(-3, 3, N), np.full(N, 3.0)])
    u_dir = np.tile([1.0, 0, 0], (N, 1))
    s = np.sort(rng.uniform(0, 10, (N, M)), axis=1)
    rx = np.zeros(3)
    target = np.array([11.0, 2.5, 0.0])
    S = (rng.standard_normal((N, T)) + 1j * rng.standard_normal((N, T))) / np.sqrt(2)
    R = S @ S.conj().T / T
    noise = 1e-12
    beta = 1.0 / (np.sqrt(4 * np.pi) * np.linalg.norm(target - rx))
    eta = np.array([target[0], target[1], beta, 0.0])
    steps = np.array([1e-7, 1e-7, beta * 1e-6, beta * 1e-6])
    D = []
    for i in range(4):
        e = np.zeros(4)
        e[i] = steps[i]
        D.append((_u(eta + e, S, feed, u_dir, s, rx, Mr, 0.0) - _u(eta - e, S, feed, u_dir, s, rx, Mr, 0.0))
                 / (2 * steps[i]))
    D = np.array(D)
    J = 2 / noise * np.real(D.conj() @ D.T)
    crb_fd = np.linalg.inv(J)[:2, :2]
    crb = crb_position(R, feed, u_dir, s, target, rx, Mr, FC, n_eff=1.4, rcs_m2=1.0,
                       snapshots=T, noise_w=noise)
    assert np.allclose(crb, crb_fd, rtol=1e-4, atol=0)
    assert np.trace(crb) > 0


def test_crb_shrinks_with_power():
    rng = np.random.default_rng(8)
    N = 2
    feed = np.column_stack([np.full(N, 5.0), [-2.0, 2.0], np.full(N, 3.0)])
    u_dir = np.tile([1.0, 0, 0], (N, 1))
    s = np.array([[3.0, 6.0], [4.0, 8.0]])
    R = np.eye(N) * 0.5
    args = (feed, u_dir, s, np.array([10.0, 1.0, 0.0]), np.zeros(3), 8, FC)
    c1 = np.trace(crb_position(R, *args))
    c2 = np.trace(crb_position(10 * R, *args))
    assert c2 == np.float64(c1 / 10) or abs(c2 - c1 / 10) < 1e-9 * c1
