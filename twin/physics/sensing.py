"""Sensing receiver geometry and the position CRB (MODEL §2.4, §3.3; paper 000 §II-C/D,
Appendix A, with the steering-vector typo fixed: phase ``2π d_r m sinθ / λ``)."""

from __future__ import annotations

import numpy as np

from twin.physics.channel import free_space_gain, guide_response, pa_positions, power_split_factor
from twin.units import wavelength, wavenumber


def _rows_dot(x, y):
    """Row-wise dot products of x (...,n) and y (n,) or (...,n), each equal bit for bit to
    the 1-D ``x_i @ y_i`` (a stacked matmul: the same kernel as the vector dot, unlike a
    sum of products), so a batch reproduces the one-at-a-time values exactly."""
    y = np.asarray(y)
    col = y[..., :, None] if y.ndim == x.ndim else y[:, None]
    return (x[..., None, :] @ col)[..., 0, 0]


def look_sin(target, rx_position, rx_axis=(0.0, 1.0, 0.0)):
    """``sinθ = a_r·v/‖v‖`` with ``v = (q_t − p_r)_xy`` and its gradient w.r.t. (x_t, y_t)
    (MODEL §2.4). Returns (sinθ, (2,) gradient); targets (...,3) give (...), (...,2)."""
    v = (np.asarray(target, float) - np.asarray(rx_position, float))[..., :2]
    axis = np.asarray(rx_axis, float)[:2]
    axis = axis / np.linalg.norm(axis)
    if v.ndim == 1:
        rho = np.linalg.norm(v)
        sin = axis @ v / rho
        grad = axis / rho - (axis @ v) * v / rho**3
        return sin, grad
    rho = np.sqrt(_rows_dot(v, v))
    av = _rows_dot(v, axis)
    rho3 = np.reshape([r ** 3 for r in rho.ravel().tolist()], rho.shape)   # libm pow, as for a scalar
    return av / rho, axis / rho[..., None] - av[..., None] * v / rho3[..., None]


def ula_steering(sin_theta, elements, spacing, fc):
    """ULA response ``a(θ)_m = exp(−j 2π d_r m sinθ/λ)``, m = 0..M_r−1 (MODEL §2.4).

    sin_theta scalar or (...)  ->  (..., M_r) complex.
    """
    m = np.arange(int(elements))
    phase = 2.0 * np.pi * spacing / wavelength(fc)
    return np.exp(-1j * phase * np.multiply.outer(np.asarray(sin_theta, float), m))


def reflection_coefficient(target, rx_position, rcs_m2=1.0):
    """``β = ξ/(√(4π) d_r)`` with deterministic ``ξ = √σ_RCS`` (MODEL §2.4); targets
    (...,3) give (...)."""
    d = np.asarray(target, float) - np.asarray(rx_position, float)
    d_r = np.linalg.norm(d) if d.ndim == 1 else np.sqrt(_rows_dot(d, d))
    return np.sqrt(rcs_m2) / (np.sqrt(4.0 * np.pi) * d_r)


def radar_gain(h2, target, rx_position, rx_elements, power_w, noise_w):
    """Matched-filter echo SNR per unit ``|ξ|²`` over a full frame,
    ``g = P M_r |h_t|² / (4π d_r² σ_s²)`` (MODEL §3.4; paper 001 eq. 11), with ``h2`` the
    transmit array gain ``|h_t|²`` towards the target (scalar or array) and ``d_r`` the
    target-receiver distance. The one place this formula lives."""
    d_r = np.linalg.norm(np.asarray(target, float) - np.asarray(rx_position, float))
    return power_w * rx_elements * h2 / (4.0 * np.pi * d_r ** 2 * noise_w)


def target_channel_and_gradient(feed, direction, s, target, fc, *, n_eff=1.4,
                                attenuation_db_per_m=0.0, active=None, blockage=None):
    """Target channel ``h_t`` (N,) and its derivatives w.r.t. x_t, y_t (2,N) of a PASS
    (MODEL §3.3; paper 000 A.11-A.12, with §2.2's ``f(s)``; blockage held constant).

    blockage: (N,M) amplitudes of the PA→target links, or None.
    """
    s = np.asarray(s, float)
    act = np.ones(s.shape, bool) if active is None else np.asarray(active, bool)
    s0 = np.where(act, s, 0.0)
    pos = pa_positions(feed, direction, s0)                  # (N,M,3)
    f = guide_response(s0, fc, n_eff, attenuation_db_per_m) * power_split_factor(act)
    f = np.where(act, f, 0.0)
    return element_target_channel(pos, f, target, fc, blockage)


def element_target_channel(positions, weights, target, fc, blockage=None):
    """``h_t = Σ_m w_{n,m} g(p_{n,m}, q_t) b`` (N,) and its analytic derivatives w.r.t.
    (x_t, y_t) (2,N) for any transmitter (MODEL §2.6, §3.3; paper 000 A.11-A.12):
    ``∂g/∂q = g (−j k0 − 1/r) (q − p)/r``, blockage held constant.

    positions (N,M,3), weights (N,M) complex, target (3,), blockage (N,M) or None;
    leading dimensions (a batch of states, each with its own target: positions
    (...,N,M,3), target (...,3)) give h (...,N), ∂h (...,2,N).
    """
    f = np.asarray(weights)
    if blockage is not None:
        f = f * blockage
    pos = np.asarray(positions, float)
    q = np.asarray(target, float)[..., None, None, :]       # leading dimensions: one target per state
    diff = q - pos                                            # (...,N,M,3)
    r = np.linalg.norm(diff, axis=-1)
    g = free_space_gain(pos, q, fc)
    h = np.sum(f * g, axis=-1)
    dg_dr = g * (-1j * wavenumber(fc) - 1.0 / r)              # d/dr [e^{-jkr}/r]·√η
    dh = np.stack([np.sum(f * dg_dr * diff[..., i] / r, axis=-1) for i in (0, 1)], axis=-2)
    return h, dh


def fisher_blocks(R, h, dh, a, da, beta, snapshots, noise_w):
    """Fisher information of η = [x_t, y_t, Re β, Im β] (MODEL §3.3; paper 000 A.14-A.17).

    With ``A = a h^H`` and ``Ȧ_i = ȧ_i h^H + a ḣ_i^H``:
    ``J11_ij = (2T|β|²/σ²) Re tr(Ȧ_j R Ȧ_i^H)``, ``J12_i = (2T/σ²) Re(β* tr(A R Ȧ_i^H)[1, j])``,
    ``J22 = (2T/σ²) tr(A R A^H) I``.

    R (...,N,N), h (...,N), dh (...,2,N), a (Mr,), da (2,Mr)  ->  J11, J12, J22 each
    (...,2,2); leading dimensions broadcast (a batch of covariances or of candidate
    channels, e.g. one PA at Q positions; or of targets: a (...,Mr), da (...,2,Mr),
    β and ``snapshots`` (...)). Each block is real-linear in R.
    """
    c = 2.0 * np.asarray(snapshots) / noise_w
    R, h, dh = np.asarray(R), np.asarray(h), np.asarray(dh)
    a, da = np.asarray(a), np.asarray(da)
    if np.ndim(c):
        c = c[..., None, None]
    b2 = abs(beta) ** 2
    if np.ndim(beta):                    # |β|² per target with libm pow, as for a scalar β
        beta = np.asarray(beta)[..., None, None]
        b2 = np.reshape([abs(x) ** 2 for x in beta.ravel().tolist()], beta.shape)
    A = a[..., :, None] * h.conj()[..., None, :]                              # (...,Mr,N)
    Ad = (da[..., :, :, None] * h.conj()[..., None, None, :]
          + a[..., None, :, None] * dh.conj()[..., :, None, :])               # (...,2,Mr,N)
    # tr(X R Y^H) = sum(conj(Y) * (X R))
    AdR = Ad @ R[..., None, :, :]                                            # (...,2,Mr,N)
    AR = A @ R                                                                # (...,Mr,N)
    J11 = c * b2 * np.real(np.einsum("...imn,...jmn->...ij", Ad.conj(), AdR))
    t = np.einsum("...imn,...mn->...i", Ad.conj(), AR)                       # tr(A R Ȧ_i^H)
    J12 = c * np.real(np.conj(beta) * t[..., :, None] * np.array([1.0, 1j]))
    J22 = c * np.real(np.sum(A.conj() * AR, axis=(-2, -1)))[..., None, None] * np.eye(2)
    return J11, J12, J22


def crb_from_fisher(J11, J12, J22):
    """``CRB = (J11 − J12 J22^{-1} J12^T)^{-1}`` (paper 000 eq. 21; MODEL §3.3), batched
    over leading dimensions: (...,2,2) blocks -> (...,2,2); all-``inf`` where the Fisher
    information is singular (J22 ≤ 0, non-finite or condition number > 1e14)."""
    J11, J12, J22 = np.asarray(J11, float), np.asarray(J12, float), np.asarray(J22, float)
    j22 = J22[..., 0, 0]
    ok = j22 > 0
    schur = J11 - (J12 @ np.swapaxes(J12, -1, -2)) / np.where(ok, j22, 1.0)[..., None, None]
    ok = ok & np.all(np.isfinite(schur), axis=(-2, -1))
    schur = np.where(ok[..., None, None], schur, np.eye(2))
    ok = ok & (np.linalg.cond(schur) <= 1e14)
    out = np.linalg.inv(np.where(ok[..., None, None], schur, np.eye(2)))
    return np.where(ok[..., None, None], out, np.inf)


def receiver_response(target, rx_position, rx_elements, fc, *, rx_axis=(0, 1, 0),
                      rx_spacing=None, rcs_m2=1.0):
    """Receive-side terms of the echo model (MODEL §2.4, §3.3; paper 000 eq. 16, A.6-A.7
    with the typo fixed): steering ``a`` (Mr,), its gradient w.r.t. (x_t, y_t) ``da``
    (2,Mr), and the reflection coefficient β; targets (...,3) give (...,Mr), (...,2,Mr),
    (...), each entry equal to the one-target values."""
    spacing = wavelength(fc) / 2.0 if rx_spacing is None else float(rx_spacing)
    sin, grad = look_sin(target, rx_position, rx_axis)
    a = ula_steering(sin, rx_elements, spacing, fc)
    m = np.arange(int(rx_elements))
    da_dsin = -1j * 2.0 * np.pi * spacing / wavelength(fc) * m * a
    da = np.stack([da_dsin * grad[..., i, None] for i in (0, 1)], axis=-2)
    beta = reflection_coefficient(target, rx_position, rcs_m2)
    return a, da, beta


def nuisance_gauge(h, dh):
    """``ḣ_i − κ_i h`` with ``κ_i = h^H ḣ_i/‖h‖²`` (MODEL §3.3): the gradient of
    ``h̄ = c(x, y) h`` for the complex gauge ``c = exp(−κ·(q − q_t))``, which the nuisance β
    absorbs (β' = β c^*, a bijection for fixed (x_t, y_t), |β'| = |β| at the point), so the
    position CRB (eq. 21) is unchanged. Numerically it matters: for a compact array the
    common phase slope of h (≈ k0 h) otherwise enters J11 and J12 only to cancel in the
    Schur complement, losing ~13 digits. h (...,N), dh (...,2,N) -> (...,2,N)."""
    h, dh = np.asarray(h), np.asarray(dh)
    nrm = np.real(np.sum(h.conj() * h, axis=-1))
    kappa = np.einsum("...in,...n->...i", dh, h.conj()) / np.where(nrm > 0, nrm, 1.0)[..., None]
    return dh - kappa[..., :, None] * h[..., None, :]


def crb_position(R, feed, direction, s, target, rx_position, rx_elements, fc, *,
                 n_eff=1.4, attenuation_db_per_m=0.0, rx_axis=(0, 1, 0), rx_spacing=None,
                 rcs_m2=1.0, snapshots=256, noise_w=1e-12, active=None, blockage=None):
    """CRB of the target position (x_t, y_t) (MODEL §3.3, §6; paper 000 eqs. 19-21, A.14-A.17).

    R (N,N) transmit covariance ``W W^H + R_s``, target (3,)  ->  (2,2) CRB in m².
    ``CRB = (J11 − J12 J22^{-1} J12^T)^{-1}``, β = √rcs/(√(4π) d_r) (phase 0).
    Returns an all-``inf`` matrix when the Fisher information is singular.
    """
    h, dh = target_channel_and_gradient(feed, direction, s, target, fc, n_eff=n_eff,
                                        attenuation_db_per_m=attenuation_db_per_m,
                                        active=active, blockage=blockage)
    return crb_from_channel(R, h, dh, target, rx_position, rx_elements, fc, rx_axis=rx_axis,
                            rx_spacing=rx_spacing, rcs_m2=rcs_m2, snapshots=snapshots,
                            noise_w=noise_w)


def crb_from_channel(R, h, dh, target, rx_position, rx_elements, fc, *, rx_axis=(0, 1, 0),
                     rx_spacing=None, rcs_m2=1.0, snapshots=256, noise_w=1e-12):
    """Position CRB from any transmitter's target channel ``h`` (N,) and its gradient
    ``dh`` (2,N) w.r.t. (x_t, y_t) (MODEL §3.3): PASS (via :func:`crb_position`) or fixed
    arrays (MODEL §2.6). Returns (2,2); all-``inf`` when the Fisher matrix is singular.
    The gradient is taken in the gauge of :func:`nuisance_gauge` (same CRB, far less
    cancellation).
    """
    a, da, beta = receiver_response(target, rx_position, rx_elements, fc, rx_axis=rx_axis,
                                    rx_spacing=rx_spacing, rcs_m2=rcs_m2)
    h = np.asarray(h)
    J11, J12, J22 = fisher_blocks(np.asarray(R), h, nuisance_gauge(h, dh), a, da, beta,
                                  snapshots, noise_w)
    return crb_from_fisher(J11, J12, J22)


def crb_over_slots(slots, target, rx_position, rx_elements, fc, *, rx_axis=(0, 1, 0),
                   rx_spacing=None, rcs_m2=1.0, snapshots=256, noise_w=1e-12):
    """Position CRB of a frame whose echoes come from several slots with different
    transmit states (MODEL §3.3 over the slots of a frame): ``slots`` is a list of
    ``(weight, R (N,N), h (N,), dh (2,N))``, weights summing to 1 (the slot's share of the
    frame's ``snapshots``). The reflection coefficient β is common to the frame (paper 000's
    deterministic ξ), so the Fisher information is the sum of the slots' and the nuisance
    is eliminated once: ``CRB = (ΣJ11 − ΣJ12 (ΣJ22)^{-1} ΣJ12ᵀ)^{-1}``. One gauge for all
    slots (:func:`nuisance_gauge` on the stacked channel) keeps it exact. With one slot it
    is :func:`crb_from_channel`. Returns (2,2), all-``inf`` when singular."""
    a, da, beta = receiver_response(target, rx_position, rx_elements, fc, rx_axis=rx_axis,
                                    rx_spacing=rx_spacing, rcs_m2=rcs_m2)
    H = np.concatenate([np.asarray(h) for _, _, h, _ in slots])
    dH = np.concatenate([np.asarray(dh) for _, _, _, dh in slots], axis=-1)
    nrm = np.real(np.vdot(H, H))
    kappa = (dH @ H.conj()) / (nrm if nrm > 0 else 1.0)                        # (2,)
    hs = np.stack([np.asarray(h) for _, _, h, _ in slots])                      # (S,N)
    dhs = np.stack([np.asarray(dh) for _, _, _, dh in slots])                   # (S,2,N)
    Rs = np.stack([np.broadcast_to(np.asarray(R), (hs.shape[1],) * 2) for _, R, _, _ in slots])
    j11, j12, j22 = fisher_blocks(Rs, hs, dhs - kappa[None, :, None] * hs[:, None, :], a, da, beta,
                                  np.array([snapshots * w for w, _, _, _ in slots]), noise_w)
    J11 = J12 = J22 = 0.0
    for i in range(len(slots)):          # the slots' information adds, in slot order
        J11, J12, J22 = J11 + j11[i], J12 + j12[i], J22 + j22[i]
    return crb_from_fisher(J11, J12, J22)


def crbs_of_frame(R, h, dh, targets, slots, target, rx_position, rx_elements, fc, **kw):
    """:func:`crb_from_channel` of S samples (R (S,N,N), h (S,N), dh (S,2,N), each with its
    target (S,3)) and :func:`crb_over_slots` of a frame's ``slots`` for ``target`` (MODEL
    §3.3), with one evaluation of the Fisher blocks and one of the CRB for all of them.
    Returns ((S,2,2), (2,2)), each entry equal to the separate calls' bit for bit."""
    crb, frames = crbs_of_frames(R, h, dh, targets, [(slots, target)], rx_position, rx_elements, fc, **kw)
    return crb, frames[0]


def crbs_of_frames(R, h, dh, targets, frames, rx_position, rx_elements, fc, *, rx_axis=(0, 1, 0),
                   rx_spacing=None, rcs_m2=1.0, snapshots=256, noise_w=1e-12):
    """:func:`crbs_of_frame` for several frames at once: the samples of all of them
    (R, h, dh, targets stacked) and ``frames`` = ``[(slots, target), …]`` (each frame's
    :func:`crb_over_slots` arguments). Returns ((S,2,2), (F,2,2)), equal to the separate
    calls' bit for bit."""
    S = len(h)
    q = np.concatenate([np.asarray(targets, float).reshape(S, 3)]
                       + [np.repeat(np.asarray(tg, float).reshape(1, 3), len(sl), axis=0) for sl, tg in frames])
    a, da, beta = receiver_response(q, rx_position, rx_elements, fc, rx_axis=rx_axis, rx_spacing=rx_spacing,
                                    rcs_m2=rcs_m2)
    h = np.asarray(h)
    Rall, hall, dall, snaps = [np.asarray(R)], [h], [nuisance_gauge(h, dh)], [snapshots] * S
    for slots, _ in frames:
        H = np.concatenate([np.asarray(hj) for _, _, hj, _ in slots])
        dH = np.concatenate([np.asarray(dj) for _, _, _, dj in slots], axis=-1)
        nrm = np.real(np.vdot(H, H))
        kappa = (dH @ H.conj()) / (nrm if nrm > 0 else 1.0)                    # the frame's gauge (2,)
        hs = np.stack([np.asarray(hj) for _, _, hj, _ in slots])
        dhs = np.stack([np.asarray(dj) for _, _, _, dj in slots])
        Rj = [np.asarray(Rj) for _, Rj, _, _ in slots]
        n = hs.shape[1]
        Rall.append(np.array(Rj) if all(r.shape == (n, n) for r in Rj) else     # (the common case: no broadcast)
                    np.stack([np.broadcast_to(r, (n, n)) for r in Rj]))
        hall.append(hs)
        dall.append(dhs - kappa[None, :, None] * hs[:, None, :])
        snaps += [snapshots * w for w, _, _, _ in slots]
    j11, j12, j22 = fisher_blocks(np.concatenate(Rall), np.concatenate(hall), np.concatenate(dall), a, da, beta,
                                  np.array(snaps), noise_w)
    # each frame's slots' information adds, in slot order, from 0.0: J = ((0 + J_1) + J_2) + …;
    # frames with equally many slots step together (the same additions, one per slot)
    n_sl = [len(slots) for slots, _ in frames]
    first = S + np.concatenate([[0], np.cumsum(n_sl)[:-1]]).astype(int)
    F11, F12, F22 = (np.empty((len(frames),) + j.shape[1:]) for j in (j11, j12, j22))
    for n in sorted(set(n_sl)):
        fr = np.flatnonzero(np.asarray(n_sl) == n)
        J11 = J12 = J22 = 0.0
        for k in range(n):
            rows = first[fr] + k
            J11, J12, J22 = J11 + j11[rows], J12 + j12[rows], J22 + j22[rows]
        if n:
            F11[fr], F12[fr], F22[fr] = J11, J12, J22
        else:
            F11[fr] = F12[fr] = F22[fr] = 0.0
    crb = crb_from_fisher(np.concatenate([j11[:S], F11]), np.concatenate([j12[:S], F12]),
                          np.concatenate([j22[:S], F22]))
    return crb[:S], crb[S:]


def root_crb(crb):
    """``RCRB = √tr(CRB)`` in metres (MODEL §3.3)."""
    return float(np.sqrt(np.trace(crb)))
