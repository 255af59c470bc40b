"""Floor plan: outline, walls with height and penetration loss, free space, and the 3D
blockage of MODEL §2.5, vectorised over links (numpy segment-crossing kernel)."""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon


class FloorPlan:
    """Walls as centre-line segments with thickness, height and loss (dB, inf = opaque).

    A link p→q (3D) crosses a wall segment when their floor projections cross and the
    link's height at the crossing is below the wall height; each crossing of a wall's
    centre line costs that wall's loss. Closed walls (polygons) are drawn as their
    boundary, so a link through one pays its loss once per boundary crossing, halved.
    """

    #: calls with fewer (link, wall) pairs take the all-pairs kernel (:meth:`loss_db`)
    ALL_PAIRS_BELOW = 2048

    def __init__(self, outline, walls=(), fc_ghz: float = 28.0):
        self.outline = Polygon(np.asarray(outline, float))
        if not self.outline.is_valid:
            raise ValueError("floor outline polygon is self-intersecting")
        self.walls = tuple(walls)
        a, b, h, loss, owner = [], [], [], [], []
        shapes = []
        for i, w in enumerate(self.walls):
            pts = np.asarray(w.points, float)
            if w.closed:
                pts = np.vstack([pts, pts[:1]])
            wl = w.loss_at(fc_ghz)
            for j in range(len(pts) - 1):
                a.append(pts[j]); b.append(pts[j + 1]); h.append(w.height_m)
                loss.append(wl / 2 if (w.closed and np.isfinite(wl)) else wl)
                owner.append(i)
            line = LineString(pts)
            shapes.append(line.buffer(w.thickness_m / 2, cap_style="flat", join_style="mitre")
                          if not w.closed else Polygon(pts[:-1]).buffer(w.thickness_m / 2, join_style="mitre"))
        self.seg_a = np.asarray(a, float).reshape(-1, 2)
        self.seg_b = np.asarray(b, float).reshape(-1, 2)
        self.seg_height = np.asarray(h, float)
        self.seg_loss_db = np.asarray(loss, float)
        self.seg_wall = np.asarray(owner, int)
        self._seg_dir = tuple((self.seg_b - self.seg_a).T)       # (S,) x and y of each wall segment
        self._a0, self._a1 = self.seg_a[:, 0].copy(), self.seg_a[:, 1].copy()
        self.wall_shapes = tuple(shapes)
        obstacles = shapely.union_all(shapes) if shapes else Polygon()
        self.free = self.outline.difference(obstacles)
        shapely.prepare(self.free)
        shapely.prepare(self.outline)

    @classmethod
    def from_scene(cls, scene) -> "FloorPlan":
        return cls(scene.floor.outline, scene.floor.walls, scene.radio.carrier_ghz)

    # --- queries -----------------------------------------------------------------
    def wall_inside_outline(self, i: int) -> bool:
        """True if wall ``i``'s centre line (or polygon) lies inside the outline; its
        thickness may poke out (a closed wall flush with the outline is inside)."""
        w = self.walls[i]
        centre = Polygon(w.points) if w.closed else LineString(w.points)
        return bool(self.outline.buffer(1e-9).covers(centre))

    def in_outline(self, xy) -> np.ndarray:
        xy = np.asarray(xy, float)
        return shapely.contains_xy(self.outline, xy[..., 0], xy[..., 1])

    def is_free(self, xy) -> np.ndarray:
        """True where (x, y) lies in free space (inside the outline, outside every wall)."""
        xy = np.asarray(xy, float)
        return shapely.contains_xy(self.free, xy[..., 0], xy[..., 1])

    def segment_free(self, a, b, clearance: float = 0.0) -> bool:
        """True if the straight walk a→b stays in free space (with a clearance)."""
        line = LineString([tuple(a), tuple(b)])
        region = self.free if clearance == 0 else self._shrunk(clearance)
        return bool(region.covers(line))

    def _shrunk(self, clearance: float):
        """The free space shrunk by ``clearance`` (prepared), computed once per clearance:
        the mobility models ask for it at every waypoint they draw."""
        cache = self.__dict__.setdefault("_shrunk_cache", {})
        if clearance not in cache:
            region = self.free.buffer(-clearance)
            shapely.prepare(region)
            cache[clearance] = region
        return cache[clearance]

    def sample_free(self, rng: np.random.Generator, n: int = 1, clearance: float = 0.2) -> np.ndarray:
        """``n`` points uniform over the free space (at ``clearance`` from walls/outline)."""
        region = self._shrunk(clearance) if clearance > 0 else self.free
        if region.is_empty:
            region = self.free
        x0, y0, x1, y1 = region.bounds
        out = np.empty((0, 2))
        while len(out) < n:
            cand = rng.uniform((x0, y0), (x1, y1), size=(max(4 * n, 16), 2))
            out = np.vstack([out, cand[shapely.contains_xy(region, cand[:, 0], cand[:, 1])]])
        return out[:n]

    # --- blockage (MODEL §2.5) -----------------------------------------------------
    def loss_db(self, p, q) -> np.ndarray:
        """Total penetration loss in dB of links p→q (inf if an opaque wall is crossed).

        p (...,3), q (...,3) broadcast  ->  (...) float. Vectorised over links × wall
        segments: a 2D segment-crossing test plus the link height at the crossing.

        A link crosses wall segment a→b when, with d = q − p, e = b − a, w = a − p and
        den = d × e, both u = (w × d)/den (along the wall) and t = (w × e)/den (along the
        link) lie in [0, 1] and the link's height p_z + t (q_z − p_z) there is below the
        wall's. u is computed for every (wall, link) pair, wall-first with the link axes
        along which p is constant outermost (long contiguous kernel rows); t and the height
        only for the pairs with u in [0, 1] (about one in eight on ``office``). Each value
        is the same float operation on the same operands as in the all-pairs evaluation,
        so the losses are the same floats (``tests/geometry/test_blockage.py`` keeps the
        all-pairs form as the reference).
        """
        p = np.asarray(p, float)
        q = np.asarray(q, float)
        shape = np.broadcast_shapes(p.shape, q.shape)[:-1]
        S = self.seg_a.shape[0]
        nd, L = len(shape), math.prod(shape)
        if S == 0 or L == 0:
            return np.zeros(shape)
        if S * L < self.ALL_PAIRS_BELOW:            # few pairs: the call overhead dominates
            return self._loss_db_all_pairs(p, q)
        if p.ndim <= nd:
            p = p.reshape((1,) * (nd + 1 - p.ndim) + p.shape)
        if q.ndim <= nd:
            q = q.reshape((1,) * (nd + 1 - q.ndim) + q.shape)
        # the link axes along which only q varies go outermost: p's terms then broadcast
        # over leading axes only, and p's flat index of link l is l mod (p's size)
        outer = [i for i in range(nd) if p.shape[i] == 1 and shape[i] > 1]
        perm = outer + [i for i in range(nd) if i not in outer]
        if perm != list(range(nd)):
            p = p.transpose(perm + [nd])
            q = q.transpose(perm + [nd])
        p = np.ascontiguousarray(p)                 # C order: the kernels' outputs follow it
        q = np.ascontiguousarray(q)
        n_p = p.size // 3
        col = (S,) + (1,) * nd
        p0, p1, p2 = p[..., 0], p[..., 1], p[..., 2]
        d0, d1 = q[..., 0] - p0, q[..., 1] - p1                                 # link
        w0 = self._a0.reshape(col) - p0                                         # (S, p's shape)
        w1 = self._a1.reshape(col) - p1
        e0, e1 = self._seg_dir
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            den = d0 * e1.reshape(col)
            den -= d1 * e0.reshape(col)
            u = w0 * d1
            u -= w1 * d0
            u /= den                                    # along the wall, (S, links)
            cand = u >= 0                               # den = 0: u is ±inf or nan, never in [0, 1]
            cand &= u <= 1
            i = np.flatnonzero(cand)
            s, l = np.divmod(i, L)
            pc = p.reshape(-1, 3)[l % n_p if n_p != L else l]                   # p of each pair
            t = (self._a0[s] - pc[:, 0]) * e1[s]
            t -= (self._a1[s] - pc[:, 1]) * e0[s]
            t /= den.reshape(-1)[i]                     # along the link
            hit = t >= 0
            hit &= t <= 1
            z = t * (q[..., 2] - p2).reshape(-1)[l]
            z += pc[:, 2]
        hit &= z < self.seg_height[s]
        hs, hl = s[hit], l[hit]
        loss = self.seg_loss_db[hs]
        # the former all-pairs sum over the S walls of each link (zeros where no hit): with
        # at most two nonzero (and no −0) terms every order of that sum gives x + y, the
        # value bincount's running sum from 0 gives; otherwise the same contiguous rows
        if hl.size and (np.bincount(hl, minlength=L).max() > 2 or np.signbit(loss).any()):
            rows = np.zeros((L, S))
            rows[hl, hs] = loss
            with np.errstate(invalid="ignore"):
                total = rows.sum(axis=-1)
        else:
            total = np.bincount(hl, weights=loss, minlength=L)
        total = total.reshape(tuple(shape[i] for i in perm))
        return total if perm == list(range(nd)) else np.ascontiguousarray(total.transpose(np.argsort(perm)))

    def _loss_db_all_pairs(self, p, q) -> np.ndarray:
        """:meth:`loss_db` over every (link, wall) pair, walls innermost (the kernel
        before the fourth engine round): fewer numpy calls, for a few hundred pairs."""
        e0, e1 = self._seg_dir                                                  # wall (S,)
        p0, p1, p2 = p[..., 0, None], p[..., 1, None], p[..., 2, None]          # (...,1)
        d0, d1 = q[..., 0, None] - p0, q[..., 1, None] - p1                     # link (...,1)
        w0 = self.seg_a[:, 0] - p0                                              # (...,S) of p
        w1 = self.seg_a[:, 1] - p1
        den = d0 * e1 - d1 * e0
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (w0 * e1 - w1 * e0) / den               # along the link
            u = (w0 * d1 - w1 * d0) / den               # along the wall
            cross = den != 0
            cross &= t >= 0
            cross &= t <= 1
            cross &= u >= 0
            cross &= u <= 1
            z = p2 + t * (q[..., 2, None] - p2)
            hit = cross & (z < self.seg_height)
            return np.where(hit, self.seg_loss_db, 0.0).sum(axis=-1)

    def blockage_amplitude(self, p, q) -> np.ndarray:
        """``b(p,q) = 10^(−Σ L_w/20)``, 0 through an opaque wall (MODEL §2.5)."""
        loss = self.loss_db(p, q)
        return np.where(np.isfinite(loss), 10.0 ** (-loss / 20.0), 0.0)
