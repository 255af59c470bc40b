"""Target position estimation from simulated echoes (MODEL §5.1 "Target estimation";
echo model of MODEL §2.4 / §3.3, paper 000 eqs. 14-18).

Pure arrays: the transmit side enters through a callable ``channels(points) -> [H_j]``
(one (N, G) channel matrix per slot of the frame, to G candidate points), so this module
knows no transmitter, floor or engine.

The echo of one frame: slot j radiates ``S_j = U_j Λ_j^{1/2} X_j`` (``R_j = U_j Λ_j U_jᴴ``
its transmit covariance, ``X_j`` unit-power CN(0, 1) symbols) over ``T_j`` of the
frame's ``T`` snapshots, and the receive ULA observes

    Y_j = β a(θ) h_{t,j}ᴴ S_j + N_j,        N_j entries CN(0, σ_s²).

Writing ``c(q) = [h_1(q)ᴴ S_1, …, h_J(q)ᴴ S_J]`` (1 × T), ``Y = β a c(q_t) + N``, and the
maximum-likelihood position with β concentrated out is

    q̂ = argmax_q |a(θ(q))ᴴ Y c(q)ᴴ|² / (‖a(θ(q))‖² ‖c(q)‖²).

The search (MODEL §5.1): (1) the angle from the receive array alone, ``max_s
‖a(s)ᴴ Y‖²`` over sinθ (a grid, then a bounded scalar refinement); (2) a polar grid over
the floor along that direction (both sides of the array, every range the floor
allows), ``±4`` standard deviations of the angle estimate wide (its standard deviation
from the echo SNR measured in step 1, the ULA frequency-estimation bound), at spacings
of λ/8 — the near-field PASS likelihood has lobes a few millimetres wide; (3) every
grid local maximum above 0.7 of the grid's best climbed at once by a stencil
Newton/pattern search, the three best polished by Nelder-Mead (scipy), the best kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from twin.physics.sensing import ula_steering
from twin.units import wavelength


def transmit_signal(R, snapshots: int, rng: np.random.Generator) -> np.ndarray:
    """``S = U Λ^{1/2} X`` (N, T) with ``S Sᴴ / T → R`` (MODEL §2.4, paper 000 eq. 11):
    ``X`` unit-power circular Gaussian symbols drawn from ``rng``."""
    R = np.asarray(R, complex)
    R = 0.5 * (R + R.conj().T)
    lam, U = np.linalg.eigh(R)
    root = U * np.sqrt(np.clip(lam, 0.0, None))
    n = R.shape[0]
    X = (rng.standard_normal((n, snapshots)) + 1j * rng.standard_normal((n, snapshots))) / np.sqrt(2.0)
    return root @ X


def simulate_echo(slots, a_true, beta, noise_w: float, rng: np.random.Generator):
    """One frame's echoes (MODEL §2.4): ``slots`` = ``[(T_j, R_j (N,N), h_t,j (N,)), …]``
    -> ``(Y (Mr, T), [S_j (N, T_j)])`` with ``Y = [Y_1 … Y_J]``, ``Y_j = β a h_jᴴ S_j + N_j``,
    noise entries CN(0, ``noise_w``). Draws: the symbols of every slot, then the noise."""
    S_list, clean = [], []
    for T_j, R, h in slots:
        S = transmit_signal(R, int(T_j), rng)
        S_list.append(S)
        clean.append(beta * np.outer(a_true, np.asarray(h).conj() @ S))
    Y = np.concatenate(clean, axis=1)
    Y = Y + np.sqrt(noise_w / 2.0) * (rng.standard_normal(Y.shape) + 1j * rng.standard_normal(Y.shape))
    return Y, S_list


def split_snapshots(weights, snapshots: int) -> np.ndarray:
    """The frame's ``snapshots`` shared among slots in proportion to ``weights`` (each
    slot at least one), summing to ``snapshots`` (largest remainders)."""
    w = np.asarray(weights, float)
    w = w / w.sum()
    raw = w * snapshots
    T = np.maximum(np.floor(raw).astype(int), 1)
    while T.sum() < snapshots:
        T[np.argmax(raw - T)] += 1
    while T.sum() > snapshots and T.max() > 1:
        T[np.argmax(T - raw)] -= 1
    return T


@dataclass(frozen=True)
class ReceiveArray:
    """The sensing ULA (MODEL §2.4): position (3,), unit axis (3,), elements, spacing (m),
    carrier frequency (Hz)."""

    position: np.ndarray
    axis: np.ndarray
    elements: int
    spacing: float
    fc: float

    @property
    def wavelength(self) -> float:
        return wavelength(self.fc)

    @property
    def phase(self) -> float:
        return 2.0 * np.pi * self.spacing / self.wavelength

    def sin_of(self, points) -> np.ndarray:
        v = np.atleast_2d(points)[:, :2] - self.position[:2]
        ax = self.axis[:2] / np.linalg.norm(self.axis[:2])
        return (v @ ax) / np.maximum(np.linalg.norm(v, axis=1), 1e-12)

    def steering(self, sin) -> np.ndarray:
        return ula_steering(sin, self.elements, self.spacing, self.fc)


def concentrated_likelihood(points, Y, S_list, channels, rx: ReceiveArray) -> np.ndarray:
    """``|a(θ(q))ᴴ Y c(q)ᴴ|² / (‖a‖² ‖c(q)‖²)`` (G,) at candidate points (G, 3) (MODEL §5.1),
    with ``c(q) = [h_j(q)ᴴ S_j]_j`` and ``channels(points) -> [H_j (N, G)]``."""
    points = np.atleast_2d(points)
    A = rx.steering(rx.sin_of(points))                                   # (G, Mr)
    num = np.zeros(len(points), complex)
    den = np.zeros(len(points))
    col = 0
    for H, S in zip(channels(points), S_list):
        T_j = S.shape[1]
        Z = Y[:, col:col + T_j] @ S.conj().T                               # (Mr, N)
        col += T_j
        num += np.einsum("gm,mn,ng->g", A.conj(), Z, H)
        G = S @ S.conj().T                                                 # (N, N)
        den += np.real(np.einsum("ng,nk,kg->g", H.conj(), G, H))
    return np.abs(num) ** 2 / (rx.elements * np.maximum(den, 1e-300))


@dataclass(frozen=True)
class Estimate:
    """A frame's estimate: ``position`` (3,), ``likelihood`` (the concentrated value),
    ``snr`` (the echo SNR measured by the angle stage, linear), ``grid_points``."""

    position: np.ndarray
    likelihood: float
    snr: float
    grid_points: int


def estimate_angle(Y, rx: ReceiveArray, noise_w: float) -> tuple[float, float]:
    """Receive-array angle estimate: ``ŝ = argmax_s ‖a(s)ᴴ Y‖²`` over sinθ ∈ [−1, 1] (a
    grid of 64 M_r points, then bounded refinement) and the coherent echo SNR
    ``ρ̂ = ‖a(ŝ)ᴴ Y‖² / (M_r σ_s²) − T`` (at least 1)."""
    def power(s):
        a = rx.steering(np.atleast_1d(s))
        return np.sum(np.abs(a.conj() @ Y) ** 2, axis=-1) / rx.elements

    grid = np.linspace(-1.0, 1.0, 64 * rx.elements + 1)
    p = power(grid)
    i = int(np.argmax(p))
    step = grid[1] - grid[0]
    res = minimize_scalar(lambda s: -float(power(s)[0]), bounds=(max(grid[i] - step, -1.0),
                          min(grid[i] + step, 1.0)), method="bounded", options={"xatol": 1e-10})
    s_hat = float(res.x) if -res.fun >= p[i] else float(grid[i])
    snr = max(float(power(s_hat)[0]) / noise_w - Y.shape[1], 1.0)
    return s_hat, snr


def polar_grid(rx: ReceiveArray, s_hat: float, snr: float, r_max: float, height: float, *,
               range_step: float, lateral_step: float, max_points: int = 200_000,
               half: float | None = None) -> np.ndarray:
    """Candidate points (2, n_s, n_r, 3) along the estimated direction, on both sides of
    the array (the ULA cannot tell them apart): ranges ``range_step`` apart up to
    ``r_max``, sinθ within ``ŝ ± 4σ_s`` (``σ_s² = 6 / (φ² ρ̂ (M_r² − 1))``, the ULA
    frequency-estimation bound, ``φ = 2π d_r/λ``), spaced so that the lateral step at
    ``r_max`` is ``lateral_step``. Coarser steps if the grid would exceed ``max_points``
    (MODEL §5.1). ``half`` overrides the window's half-width in sinθ."""
    M = rx.elements
    sig = np.sqrt(6.0 / (rx.phase ** 2 * snr * max(M * M - 1, 1)))
    half = min(4.0 * sig, 1.0) if half is None else float(half)
    cos = np.sqrt(max(1.0 - s_hat ** 2, 1e-6))
    ds = lateral_step * cos / r_max
    n_s = max(int(np.ceil(2 * half / ds)) + 1, 1)
    n_r = max(int(np.ceil(r_max / range_step)), 1)
    scale = np.sqrt(max(2 * n_s * n_r / max_points, 1.0))
    n_s = max(int(np.ceil(n_s / scale)), 1)
    n_r = max(int(np.ceil(n_r / scale)), 1)
    s = np.clip(s_hat + np.linspace(-half, half, n_s) if n_s > 1 else np.array([s_hat]), -1.0, 1.0)
    r = np.linspace(r_max / n_r, r_max, n_r)
    ax = rx.axis[:2] / np.linalg.norm(rx.axis[:2])
    broad = np.array([ax[1], -ax[0]])
    c = np.sqrt(np.clip(1.0 - s ** 2, 0.0, None))
    out = np.empty((2, n_s, n_r, 3))
    for k, side in enumerate((1.0, -1.0)):
        d = side * c[:, None] * broad + s[:, None] * ax                    # (n_s, 2)
        out[k, :, :, :2] = rx.position[:2] + r[None, :, None] * d[:, None, :]
    out[..., 2] = height
    return out


def _likelihood_batched(pts, Y, S_list, channels, rx, batch=20000) -> np.ndarray:
    flat = pts.reshape(-1, 3)
    L = np.concatenate([concentrated_likelihood(flat[i:i + batch], Y, S_list, channels, rx)
                        for i in range(0, len(flat), batch)]) if len(flat) else np.zeros(0)
    return L.reshape(pts.shape[:-1])


def _stencil_newton(centres, Y, S_list, channels, rx, height, step, iterations: int = 16):
    """Vectorised local ascent from C starting points (C, 3) (MODEL §5.1): a 3 × 3 stencil
    of half-width ``h`` in the local (range, cross-range) axes gives central-difference
    gradients and Hessians of the concentrated likelihood; the Newton point (where the
    Hessian is negative definite and the step stays within 2h) and the stencil points
    compete, the best becomes the new centre, and ``h`` shrinks threefold only where the
    centre was already the best (a pattern search with Newton acceleration, so narrow
    tilted lobes are climbed too). Returns points (C, 3), values (C,) and the final
    half-widths' largest value (m)."""
    x = centres[:, :2].copy()
    v = x - rx.position[:2]
    u_r = v / np.linalg.norm(v, axis=1, keepdims=True)
    u_l = np.column_stack([-u_r[:, 1], u_r[:, 0]])
    off = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], float)      # (9, 2)
    h = np.tile(np.asarray(step, float) / 2.0, (len(x), 1))                      # (C, 2)

    def at(local):                                                             # (C, P, 2) -> (C, P)
        pts = x[:, None, :] + local[..., :1] * u_r[:, None, :] + local[..., 1:] * u_l[:, None, :]
        pts = np.concatenate([pts, np.full(pts.shape[:-1] + (1,), height)], axis=-1)
        return _likelihood_batched(pts, Y, S_list, channels, rx)

    for _ in range(iterations):
        d = off[None, :, :] * h[:, None, :]                                    # (C, 9, 2)
        f = at(d).reshape(-1, 3, 3)
        hr, hl = h[:, 0], h[:, 1]
        g = np.stack([(f[:, 2, 1] - f[:, 0, 1]) / (2 * hr), (f[:, 1, 2] - f[:, 1, 0]) / (2 * hl)], axis=1)
        hrr = (f[:, 2, 1] - 2 * f[:, 1, 1] + f[:, 0, 1]) / hr ** 2
        hll = (f[:, 1, 2] - 2 * f[:, 1, 1] + f[:, 1, 0]) / hl ** 2
        hrl = (f[:, 2, 2] - f[:, 2, 0] - f[:, 0, 2] + f[:, 0, 0]) / (4 * hr * hl)
        det = hrr * hll - hrl ** 2
        ok = (hrr < 0) & (det > 0)
        safe = np.where(ok, det, 1.0)
        newton = np.stack([-(hll * g[:, 0] - hrl * g[:, 1]) / safe, -(-hrl * g[:, 0] + hrr * g[:, 1]) / safe], axis=1)
        ok &= np.all(np.abs(newton) <= 2 * h, axis=1)
        newton = np.where(ok[:, None], newton, 0.0)
        fn = np.where(ok, at(newton[:, None, :])[:, 0], -np.inf)
        flat = f.reshape(-1, 9)
        best = np.argmax(flat, axis=1)
        fb = flat[np.arange(len(x)), best]
        use_newton = fn > fb
        move = np.where(use_newton[:, None], newton, d[np.arange(len(x)), best])
        stay = (~use_newton) & (best == 4)
        x = x + move[:, :1] * u_r + move[:, 1:] * u_l
        h = np.where(stay[:, None], h / 3.0, h)
    pts = np.column_stack([x, np.full(len(x), height)])
    return pts, _likelihood_batched(pts, Y, S_list, channels, rx), float(h.max())


def estimate_position(Y, S_list, channels, rx: ReceiveArray, noise_w: float, *, height: float,
                      r_max: float, inside=None, range_step: float | None = None,
                      lateral_step: float | None = None, keep: float = 0.7, max_peaks: int = 3000,
                      candidates: int = 3, max_points: int = 200_000) -> Estimate:
    """Maximum-likelihood target position with β concentrated out (MODEL §5.1):

    1. angle stage (:func:`estimate_angle`); if its window holds no floor point (a wrong
       angle at low SNR), every direction is searched with the same point budget;
    2. the concentrated likelihood on the polar grid of :func:`polar_grid` (points where
       ``inside(xy)`` is false are dropped); steps default to λ/8 in range and across (at the
       farthest range);
    3. every local maximum of the grid above ``keep`` × the grid maximum (at most
       ``max_peaks``, the highest) is refined at once by :func:`_stencil_newton` — the
       PASS likelihood has many lobes within a fraction of a percent of the peak, and the
       grid sample nearest the true peak may be a lobe's shoulder;
    4. the ``candidates`` best are polished by Nelder-Mead; the best is kept.
    """
    from scipy.ndimage import maximum_filter

    lam = rx.wavelength
    range_step = lam / 8 if range_step is None else range_step
    lateral_step = lam / 8 if lateral_step is None else lateral_step
    s_hat, snr = estimate_angle(Y, rx, noise_w)
    for half in (None, 1.0):       # a direction that misses the floor: search all directions
        grid = polar_grid(rx, s_hat if half is None else 0.0, snr, r_max, height, range_step=range_step,
                          lateral_step=lateral_step, max_points=max_points, half=half)
        keep_pts = (np.ones(grid.shape[:-1], bool) if inside is None
                    else np.asarray(inside(grid[..., :2]), bool))
        if keep_pts.any():
            break
    L = np.zeros(grid.shape[:-1])
    L[keep_pts] = _likelihood_batched(grid[keep_pts], Y, S_list, channels, rx)
    n_grid = int(np.count_nonzero(L))
    if not n_grid:
        return Estimate(np.full(3, np.nan), float("nan"), snr, 0)
    peak = (L == maximum_filter(L, size=(1, 3, 3), mode="nearest")) & (L >= keep * L.max())
    idx = np.flatnonzero(peak)
    idx = idx[np.argsort(L.ravel()[idx])[::-1][:max_peaks]]
    centres = grid.reshape(-1, 3)[idx]                                   # (C, 3)
    x, val, step = _stencil_newton(centres, Y, S_list, channels, rx, height,
                                   np.array([range_step, lateral_step if grid.shape[1] > 1 else range_step]))
    order = np.argsort(val)[::-1][:candidates]
    best_val, best = -np.inf, None
    scale = max(step, 1e-9)
    for c in order:
        x0, ref = x[c, :2], float(val[c])

        def neg(u, x0=x0, ref=ref):
            q = np.array([[*(x0 + u * scale), height]])
            return -float(concentrated_likelihood(q, Y, S_list, channels, rx)[0]) / ref

        res = minimize(neg, np.zeros(2), method="Nelder-Mead",
                       options={"initial_simplex": np.array([[0, 0], [0.5, 0], [0, 0.5]]),
                                "xatol": 1e-4, "fatol": 1e-15, "maxiter": 300})
        v, q = (-res.fun * ref, x0 + res.x * scale) if -res.fun >= 1.0 else (ref, x0)
        if v > best_val:
            best_val, best = v, np.array([*q, height])
    return Estimate(best, float(best_val), snr, n_grid)


class AlphaBeta:
    """Alpha-beta tracker over position estimates (MODEL §5.1): predict
    ``x̂⁻ = x̂ + v̂ Δt``, correct ``x̂ = x̂⁻ + α r``, ``v̂ = v̂ + (β/Δt) r`` with the residual
    ``r = z − x̂⁻``. Non-finite estimates are skipped (prediction only). Innovation
    gating: an estimate farther than ``gate_m`` from the prediction is an outlier of the
    ML search (a side lobe won: the threshold effect) and is skipped, unless ``max_misses``
    estimates in a row are, when the track is restarted at the estimate (the target
    really is elsewhere)."""

    def __init__(self, alpha: float = 0.5, beta: float = 0.1, gate_m: float = 0.25, max_misses: int = 3):
        self.alpha, self.beta = float(alpha), float(beta)
        self.gate, self.max_misses = float(gate_m), int(max_misses)
        self.misses = 0
        self.x: np.ndarray | None = None
        self.v = None
        self.t = None

    def predict(self, t: float) -> np.ndarray | None:
        if self.x is None:
            return None
        return self.x + self.v * (t - self.t)

    def update(self, t: float, z) -> None:
        z = np.asarray(z, float)
        if not np.all(np.isfinite(z)):
            return
        if self.x is None:
            self.x, self.v, self.t = z.copy(), np.zeros_like(z), float(t)
            return
        dt = float(t) - self.t
        pred = self.x + self.v * dt
        r = z - pred
        if np.linalg.norm(r) > self.gate:
            self.misses += 1
            if self.misses < self.max_misses:
                return                          # an outlier: keep predicting
            self.x, self.v, self.t, self.misses = z.copy(), np.zeros_like(z), float(t), 0
            return
        self.misses = 0
        self.x = pred + self.alpha * r
        if dt > 0:
            self.v = self.v + (self.beta / dt) * r
        self.t = float(t)
