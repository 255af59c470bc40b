"""Beam maps: radiated power over the floor plane (MODEL §0, §2.3).

In the papers' convention a receiver at q gets ``h_q^H x``, so the power it receives
from stream k is ``|h_q^H w_k|²``, from the sensing covariance ``h_q^H R_s h_q`` and in
total ``h_q^H R h_q`` with ``R = W W^H + R_s``: the map peaks where the optimiser aimed.
Pure and vectorised over grid points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.units import lin_to_db


@dataclass(frozen=True)
class BeamMap:
    """x (nx,), y (ny,) grid axes; power_w (ny,nx) received power; db (ny,nx) normalised
    to the peak (0 dB) inside the floor outline, NaN outside."""

    x: np.ndarray
    y: np.ndarray
    power_w: np.ndarray
    db: np.ndarray

    def peak_xy(self) -> np.ndarray:
        j, i = np.unravel_index(np.nanargmax(self.db), self.db.shape)
        return np.array([self.x[i], self.y[j]])

    def value_at(self, xy) -> float:
        """dB value of the grid cell containing ``xy``."""
        i = int(np.argmin(np.abs(self.x - xy[0])))
        j = int(np.argmin(np.abs(self.y - xy[1])))
        return float(self.db[j, i])


def grid_points(world, nx: int = 200, ny: int | None = None, margin: float = 0.0, bounds=None):
    """Axes and (ny*nx, 3) points at user height over ``bounds`` (x0, y0, x1, y1), by
    default the floor outline's bounding box."""
    x0, y0, x1, y1 = bounds if bounds is not None else world.floor.outline.bounds
    ny = ny or max(2, int(round(nx * (y1 - y0) / (x1 - x0))))
    x = np.linspace(x0 + margin, x1 - margin, nx)
    y = np.linspace(y0 + margin, y1 - margin, ny)
    X, Y = np.meshgrid(x, y)
    pts = np.column_stack([X.ravel(), Y.ravel(), np.full(X.size, world.ue_height)])
    return x, y, pts


def radiated_power(H_grid, W=None, Rs=None, stream: int | str = "total"):
    """Received power at each grid point (G,) from the grid channel ``H_grid`` (N,G).

    stream: a user index k (``|h^H w_k|²``), "sensing" (``h^H R_s h``) or "total"
    (``h^H (W W^H + R_s) h``)."""
    H = np.asarray(H_grid)
    if stream == "sensing":
        return np.real(np.einsum("ng,nm,mg->g", H.conj(), Rs, H)) if Rs is not None else np.zeros(H.shape[1])
    if stream == "total":
        p = np.sum(np.abs(H.conj().T @ W) ** 2, axis=1) if W is not None else np.zeros(H.shape[1])
        return p + (radiated_power(H, None, Rs, "sensing") if Rs is not None else 0.0)
    return np.abs(H.conj().T @ W[:, int(stream)]) ** 2


def beam_map(world, s, active, W=None, Rs=None, stream: int | str = "total", nx: int = 200,
             blockage: bool = True, channel=None, bounds=None, ny: int | None = None,
             oversample: int = 1) -> BeamMap:
    """Beam map over the floor for PA coordinates s (N,M) and beamformers W, Rs.

    ``channel``: optional callable points -> (N,G) for fixed arrays (a policy's
    ``channel``); otherwise the PASS channel of the deployment, with the floor plan's
    blockage if ``blockage``. ``bounds`` (x0, y0, x1, y1) zooms in. At 28 GHz the field
    varies within a centimetre, so a floor-wide grid aliases it: ``oversample = o``
    averages o×o samples per cell (the local mean power) for a faithful map.
    """
    x, y, pts = grid_points(world, nx, ny, bounds=bounds)
    o = int(oversample)
    if o > 1:
        dx = (x[1] - x[0]) if len(x) > 1 else 0.0
        dy = (y[1] - y[0]) if len(y) > 1 else 0.0
        off = (np.arange(o) + 0.5) / o - 0.5
        ox, oy = np.meshgrid(off * dx, off * dy)
        sub = pts[:, None, :] + np.stack([ox.ravel(), oy.ravel(), np.zeros(o * o)], axis=-1)[None]
        pts_eval = sub.reshape(-1, 3)
    else:
        pts_eval = pts
    if channel is not None:
        H = channel(pts_eval)
    else:
        H = world.deployment.channel(s, pts_eval, active, world.floor if blockage else None)
    p = radiated_power(H, W, Rs, stream).reshape(len(y), len(x), o * o).mean(axis=-1)
    inside = world.floor.in_outline(pts[:, :2]).reshape(p.shape)
    peak = np.max(np.where(inside, p, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        db = np.where(inside, lin_to_db(p / peak) if peak > 0 else -np.inf, np.nan)
    return BeamMap(x, y, p, db)
