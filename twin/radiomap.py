"""Radio maps: received power in dBm, or SINR, over the floor at user height, like
Sionna's radio maps but from the twin's own channel (MODEL §2.3, with the
floor plan's wall losses) and the beams in force (MODEL §3.1).

A receiver at q gets ``h_qᴴ x`` (MODEL §0), so with ``R = W Wᴴ + R_s``:

* received power ``P(q) = h_qᴴ R h_q`` (all streams and the sensing signal), in dBm;
* SINR of stream k at q, as if user k stood there (MODEL §3.1):
  ``|h_qᴴ w_k|² / (Σ_{j≠k} |h_qᴴ w_j|² + h_qᴴ R_s h_q + σ²)``; ``user=None`` gives the
  best stream at each point (max over k).

Pure and vectorised over grid points (processed in chunks to bound memory). At 28 GHz the
field varies within a centimetre; ``oversample = o`` averages the signal and interference
powers of o×o samples per cell (the local mean, as a radio map's cell average), and with
``o = 1`` the value is exact at the cell centre."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.beammap import grid_points
from twin.units import lin_to_db

METRICS = ("sinr", "power")
_CHUNK = 40_000          # grid points per channel evaluation (memory: N·M·chunk complex)


@dataclass(frozen=True)
class RadioMap:
    """x (nx,), y (ny,) cell centres [m]; value (ny,nx) in dBm (power) or dB (SINR), NaN
    outside the floor outline; metric "power" or "sinr"; user: the stream (None: max over
    streams; power maps: None)."""

    x: np.ndarray
    y: np.ndarray
    value: np.ndarray
    metric: str
    user: int | None = None

    def at(self, xy) -> float:
        """Value of the cell whose centre is nearest to ``xy``."""
        i = int(np.argmin(np.abs(self.x - xy[0])))
        j = int(np.argmin(np.abs(self.y - xy[1])))
        return float(self.value[j, i])

    def peak_xy(self) -> np.ndarray:
        j, i = np.unravel_index(np.nanargmax(self.value), self.value.shape)
        return np.array([self.x[i], self.y[j]])


def stream_powers(H, W, Rs=None):
    """Per point: ``|h_qᴴ w_k|²`` (G,K) and the sensing power ``h_qᴴ R_s h_q`` (G,), from the
    grid channel H (N,G)."""
    H = np.asarray(H)
    G = np.abs(H.conj().T @ W) ** 2 if W is not None else np.zeros((H.shape[1], 0))
    sens = (np.real(np.einsum("ng,nm,mg->g", H.conj(), Rs, H)) if Rs is not None
            else np.zeros(H.shape[1]))
    return G, sens


def _metric(sig, sens, noise_w, metric: str, user):
    """Map values from per-point stream powers sig (G,K) and sensing power sens (G,)."""
    if metric == "power":
        return lin_to_db(sig.sum(axis=1) + sens) + 30.0
    K = sig.shape[1]
    if K == 0:
        raise ValueError("an SINR map needs at least one stream (W has no columns)")
    sinr = sig / (sig.sum(axis=1, keepdims=True) - sig + sens[:, None] + noise_w)
    if user is None:
        return lin_to_db(sinr.max(axis=1))
    if not 0 <= int(user) < K:
        raise ValueError(f"user {user} is not a stream (0 … {K - 1})")
    return lin_to_db(sinr[:, int(user)])


def _powers(world, s, active, W, Rs, pts, sub, channel, blockage):
    """Stream and sensing powers at each point, averaged over the offsets ``sub`` (o²,3)."""
    K = 0 if W is None else W.shape[1]
    n_sub = len(sub)
    sig = np.zeros((len(pts), K))
    sens = np.zeros(len(pts))
    step = max(_CHUNK // n_sub, 1)
    for a in range(0, len(pts), step):
        p = (pts[a:a + step, None, :] + sub[None]).reshape(-1, 3)
        H = channel(p) if channel is not None else world.deployment.channel(
            s, p, active, world.floor if blockage else None)
        g, r = stream_powers(H, W, Rs)
        sig[a:a + step] = g.reshape(-1, n_sub, K).mean(axis=1)
        sens[a:a + step] = r.reshape(-1, n_sub).mean(axis=1)
    return sig, sens


def values_at(world, s, active, W, Rs, points, metric: str = "sinr", user: int | None = None,
              channel=None, blockage: bool = True) -> np.ndarray:
    """The map's quantity exactly at ``points`` (P,2) or (P,3) (z: user height), no averaging."""
    pts = np.asarray(points, float)
    if pts.shape[-1] == 2:
        pts = np.column_stack([pts, np.full(len(pts), world.ue_height)])
    sig, sens = _powers(world, s, active, W, Rs, pts, np.zeros((1, 3)), channel, blockage)
    return _metric(sig, sens, world.noise_w, metric, user)


def radio_map(world, s, active, W, Rs=None, metric: str = "power", user: int | None = None,
              nx: int = 320, ny: int | None = None, bounds=None, oversample: int = 1,
              channel=None, blockage: bool = True) -> RadioMap:
    """Radio map with cell centres spanning ``bounds`` (x0, y0, x1, y1; default: ``nx``
    cells tiling the floor's bounding box) for
    PA coordinates ``s`` (N,M), the active mask, beamformers W (N,K) and R_s (N,N).

    metric: "power" (dBm) or "sinr" (dB; ``user`` k or None for the max over streams).
    channel: callable points -> (N,G) for fixed arrays (a policy's ``channel``); otherwise
    the deployment's PASS channel with the walls' losses if ``blockage``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")
    if bounds is None:               # cell centres: half a cell inside the floor's bounding box
        x0, y0, x1, y1 = world.floor.outline.bounds
        ny = ny or max(2, int(round(nx * (y1 - y0) / (x1 - x0))))
        hx, hy = (x1 - x0) / nx / 2, (y1 - y0) / ny / 2
        bounds = (x0 + hx, y0 + hy, x1 - hx, y1 - hy)
    x, y, pts = grid_points(world, nx, ny, bounds=bounds)
    o = max(int(oversample), 1)
    off = (np.arange(o) + 0.5) / o - 0.5
    dx = (x[1] - x[0]) if len(x) > 1 else 0.0
    dy = (y[1] - y[0]) if len(y) > 1 else 0.0
    ox, oy = np.meshgrid(off * dx, off * dy)
    sub = np.stack([ox.ravel(), oy.ravel(), np.zeros(o * o)], axis=-1)      # (o², 3)
    sig, sens = _powers(world, s, active, W, Rs, pts, sub, channel, blockage)
    value = _metric(sig, sens, world.noise_w, metric, user).reshape(len(y), len(x))
    inside = world.floor.in_outline(pts[:, :2]).reshape(value.shape)
    user = None if metric == "power" or user is None else int(user)
    return RadioMap(x, y, np.where(inside, value, np.nan), metric, user)
