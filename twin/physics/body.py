"""Human-body blockage (MODEL §5.1 "Human blockers"): 3GPP TR 38.901 §7.6.4.2, blockage
model B, vectorised over links × blockers.

A person is a vertical cylinder (centre (x, y), radius R, height h) standing on the floor
z = 0. Model B replaces it by a rectangular screen of width w = 2R and height h, centred on
the cylinder's axis and turned to face the link, and diffracts over its four edges:

    L_dB = −20 log10( 1 − (F_h1 + F_h2)(F_w1 + F_w2) )
    F_e  = atan( ± (π/2) √( (π/λ)(D1_e + D2_e − r) ) ) / π

Side edges (w1, w2) in the top view, bottom/top edges (h1, h2) in the vertical plane
through the link (MODEL §5.1 has the definitions and signs). Reading chosen here (MODEL
§5.1 allows both): model B is evaluated for **every** blocker whose centre projects
strictly between the link's two ends (in the top view), not only for links that pass
through the cylinder: the formula is continuous across the shadow boundary (6 dB at
grazing) and decays to 0 dB far from the link, so a person crossing a link never makes a
step in the channel. A blocker beyond either end does not block. Losses of several
blockers add in dB.

Pure arrays: no scene, no time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Bodies:
    """People standing on the floor at one instant.

    xy (B,2) centres, radius (B,) m, height (B,) m; ``own`` (B,) bool marks a body that
    belongs to the end point it stands on (a user's own body, ``users.self_blocking``):
    such a body does not block the links that end at its own centre, only other links.
    """

    xy: np.ndarray
    radius: np.ndarray
    height: np.ndarray
    own: np.ndarray

    @classmethod
    def of(cls, xy, radius, height, own=None) -> "Bodies":
        xy = np.asarray(xy, float).reshape(-1, 2)
        B = xy.shape[0]
        return cls(xy, np.broadcast_to(np.asarray(radius, float), (B,)).copy(),
                   np.broadcast_to(np.asarray(height, float), (B,)).copy(),
                   np.zeros(B, bool) if own is None else np.broadcast_to(np.asarray(own, bool), (B,)).copy())

    @classmethod
    def join(cls, *parts: "Bodies | None") -> "Bodies | None":
        parts = [p for p in parts if p is not None and p.xy.shape[0]]
        if not parts:
            return None
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("xy", "radius", "height", "own")))

    def __len__(self) -> int:
        return int(self.xy.shape[0])


def _edge_f(excess, sign, wavelength):
    """F_e = atan(± (π/2) √((π/λ) Δ)) / π for excess path length Δ ≥ 0 (TR 38.901 7.6-30)."""
    return np.arctan(sign * (np.pi / 2) * np.sqrt(np.pi / wavelength * np.maximum(excess, 0.0))) / np.pi


def body_loss_db(p, q, bodies: Bodies | None, wavelength: float) -> np.ndarray:
    """Body loss in dB of links p → q, summed over ``bodies`` (TR 38.901 model B,
    MODEL §5.1). p (..., 3) and q (..., 3) broadcast against each other; the result has
    their broadcast shape (0 where no body lies between the ends, or with no bodies)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    shape = np.broadcast_shapes(p.shape, q.shape)[:-1]
    if bodies is None or not len(bodies):
        return np.zeros(shape)
    p, q = p[..., None, :], q[..., None, :]                     # (..., 1, 3) against B bodies
    c, R, H = bodies.xy, bodies.radius, bodies.height           # (B,2), (B,), (B,)
    d = q[..., :2] - p[..., :2]
    r_h = np.linalg.norm(d, axis=-1)                            # top-view link length (..., 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        u_hat = np.where(r_h[..., None] > 0, d / np.where(r_h > 0, r_h, 1.0)[..., None], 0.0)
    n_hat = np.stack([-u_hat[..., 1], u_hat[..., 0]], axis=-1)  # left normal in the top view
    rel = c - p[..., :2]                                        # (..., B, 2)
    u = np.sum(rel * u_hat, axis=-1)                            # along-link coordinate of the centre
    v = np.sum(rel * n_hat, axis=-1)                            # signed lateral offset of the centre
    between = (u > 0) & (u < r_h)
    # a user's own body does not block the links ending at its centre
    own_end = bodies.own & ((np.linalg.norm(c - q[..., :2], axis=-1) < 1e-9)
                            | (np.linalg.norm(c - p[..., :2], axis=-1) < 1e-9))
    # --- side edges (top view): edge k at lateral offset v ± R from the path
    lam = float(wavelength)
    f_w = 0.0
    for side in (+1.0, -1.0):
        off = v + side * R                                      # edge's signed offset from the path
        e1 = np.hypot(u, off)
        e2 = np.hypot(r_h - u, off)
        excess = e1 + e2 - r_h
        # the path lies on the screen's side of this edge when the edge is beyond it,
        # i.e. the edge offset has the sign of the edge's side (the path is within ±R)
        inside = side * off > 0
        f_w = f_w + _edge_f(excess, np.where(inside, 1.0, -1.0), lam)
    # --- bottom and top edges (vertical plane through the link)
    r3 = np.linalg.norm(q - p, axis=-1)
    z_at = p[..., 2] + (q[..., 2] - p[..., 2]) * np.where(r_h > 0, u / np.where(r_h > 0, r_h, 1.0), 0.0)
    f_h = 0.0
    for z_edge, above in ((np.zeros_like(H), True), (H, False)):
        e1 = np.hypot(u, z_edge - p[..., 2])
        e2 = np.hypot(r_h - u, q[..., 2] - z_edge)
        excess = e1 + e2 - r3
        inside = (z_at > z_edge) if above else (z_at < z_edge)
        f_h = f_h + _edge_f(excess, np.where(inside, 1.0, -1.0), lam)
    amp = 1.0 - f_h * f_w
    with np.errstate(divide="ignore"):
        loss = -20.0 * np.log10(np.maximum(amp, 1e-300))
    loss = np.where(between & ~own_end, np.maximum(loss, 0.0), 0.0)
    return loss.sum(axis=-1)


def body_amplitude(p, q, bodies: Bodies | None, wavelength: float) -> np.ndarray | None:
    """Amplitude factor ``10^(−L_dB/20)`` of links p → q (None with no bodies)."""
    if bodies is None or not len(bodies):
        return None
    return 10.0 ** (-body_loss_db(p, q, bodies, wavelength) / 20.0)
