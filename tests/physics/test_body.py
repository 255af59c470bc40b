"""Body loss of TR 38.901 blockage model B (MODEL §5.1), checked against an independent
computation of the formula and its limits."""

import numpy as np
import pytest

from twin.physics.body import Bodies, body_amplitude, body_loss_db

LAM = 299_792_458.0 / 28e9


def model_b_db(p, q, c, w, h, lam):
    """TR 38.901 eq. 7.6-29/30 written out for one screen between p and q (p, q at any
    height, screen centred at c (x, y) facing the link, bottom edge on the floor):
    explicit edge points, distances and signs."""
    p, q, c = (np.asarray(a, float) for a in (p, q, c))
    d = q[:2] - p[:2]
    r_top = np.linalg.norm(d)
    u_hat = d / r_top
    n_hat = np.array([-u_hat[1], u_hat[0]])
    u = (c - p[:2]) @ u_hat
    v = (c - p[:2]) @ n_hat
    F = lambda delta, sign: np.arctan(sign * np.pi / 2 * np.sqrt(np.pi / lam * delta)) / np.pi  # noqa: E731
    # side edges in the top view: points on the line through c across the link
    fw = 0.0
    for off in (v + w / 2, v - w / 2):
        edge = p[:2] + u * u_hat + off * n_hat
        delta = np.linalg.norm(edge - p[:2]) + np.linalg.norm(q[:2] - edge) - r_top
        on_screen = (v - w / 2) < 0 < (v + w / 2)
        sign = 1.0 if on_screen or abs(off) > abs(v) else -1.0     # far edge +, near edge −
        fw += F(delta, sign)
    # bottom (z = 0) and top (z = h) edges in the vertical plane of the link
    r3 = np.linalg.norm(q - p)
    z_link = p[2] + (q[2] - p[2]) * u / r_top
    fh = 0.0
    for z_e in (0.0, h):
        delta = np.hypot(u, z_e - p[2]) + np.hypot(r_top - u, q[2] - z_e) - r3
        on_screen = 0.0 < z_link < h
        sign = 1.0 if on_screen or abs(z_e - z_link) > abs(h / 2 - z_link) else -1.0
        fh += F(delta, sign)
    return -20 * np.log10(1 - fh * fw)


@pytest.mark.parametrize("p,q,c,w,h", [
    ((0, 0, 1.0), (5, 0, 1.0), (2.5, 0.0), 0.3, 1.7),       # through the middle
    ((0, 0, 2.8), (4, 0, 0.0), (3.0, 0.05), 0.4, 1.7),      # ceiling PA to a floor user
    ((1, 2, 2.7), (6, 5, 1.0), (4.0, 3.9), 0.5, 1.8),       # oblique link, offset body
    ((0, 0, 1.0), (5, 0, 1.0), (2.0, 0.45), 0.3, 1.7),      # passes beside the body
    ((0, 0, 2.7), (3, 1, 1.0), (1.5, 0.4), 0.4, 1.7),       # over the head
])
def test_loss_equals_model_b(p, q, c, w, h):
    got = body_loss_db(p, q, Bodies.of([c], w / 2, h), LAM)
    assert got == pytest.approx(model_b_db(p, q, c, w, h, LAM), rel=1e-9, abs=1e-12)


def test_worked_numbers_of_model_md():
    b = Bodies.of([[2.5, 0.0]], 0.15, 1.7)
    assert body_loss_db([0, 0, 1], [5, 0, 1], b, LAM) == pytest.approx(11.3, abs=0.1)
    assert body_loss_db([0, 0, 1], [5, 0, 1], Bodies.of([[2.5, 0.0]], 0.25, 1.7), LAM) == pytest.approx(14.6, abs=0.1)
    assert body_loss_db([0, 0, 1], [5, 0, 1], Bodies.of([[2.5, 0.45]], 0.15, 1.7), LAM) < 1.0


def test_limits_far_grazing_behind_and_additivity():
    p, q = np.array([0, 0, 1.0]), np.array([10, 0, 1.0])
    far = body_loss_db(p, q, Bodies.of([[5.0, 3.0]], 0.2, 1.7), LAM)
    assert 0 <= far < 0.05
    # a very wide, tall screen grazed on one side edge: the half-plane's 6 dB
    mid = np.array([0, 0, 500.0]), np.array([10, 0, 500.0])      # far from the top and bottom edges
    graze = body_loss_db(*mid, Bodies.of([[5.0, 50.0]], 50.0, 1000.0), LAM)
    assert graze == pytest.approx(20 * np.log10(2), abs=0.05)
    assert body_loss_db(p, q, Bodies.of([[11.0, 0.0]], 0.2, 1.7), LAM) == 0.0       # beyond the end
    two = Bodies.of([[3.0, 0.0], [7.0, 0.1]], 0.2, 1.7)
    one_each = sum(body_loss_db(p, q, Bodies.of([c], 0.2, 1.7), LAM) for c in two.xy)
    assert body_loss_db(p, q, two, LAM) == pytest.approx(one_each)
    # continuous as a person walks across the link (no step at the cylinder's edge)
    ys = np.linspace(-1, 1, 401)
    walk = np.array([body_loss_db(p, q, Bodies.of([[5.0, y]], 0.2, 1.7), LAM) for y in ys])
    assert np.max(np.abs(np.diff(walk))) < 0.5 and walk.max() > 10


def test_own_body_does_not_block_its_own_link_but_blocks_others():
    pa = np.array([[0.0, 0.0, 2.7]])
    users = np.array([[4.0, 0.0, 1.0], [6.0, 0.0, 1.0]])
    own = Bodies.of(users[:, :2], 0.2, 1.7, own=True)
    loss = body_loss_db(pa[:, None, :], users[None, :, :], own, LAM)
    assert loss[0, 0] == 0.0            # user 0: nobody in front of it but itself
    assert loss[0, 1] > 5.0             # user 1: user 0's body is in its link
    amp = body_amplitude(pa[:, None, :], users[None, :, :], own, LAM)
    assert amp[0, 1] == pytest.approx(10 ** (-loss[0, 1] / 20))
    assert body_amplitude(pa, users, None, LAM) is None
