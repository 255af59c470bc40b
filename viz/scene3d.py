"""pyvista 3D scene of a deployment and its state at one instant: floor with the beam
map, walls extruded to their heights (coloured by loss), waveguides, PAs (active /
inactive; the idle installed positions of activation guides as small grey beads), the
sensing ULA, users, targets and blockers (grey cylinders) with labels and trails, LoS
links coloured by blockage, and a corner text."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyvista as pv

from viz.colors import (BLOCKER, LINK_ATTENUATED, LINK_BLOCKED, LINK_CLEAR, LINK_LABELS, PA_ACTIVE, PA_INACTIVE,
                        POWER_CMAP, TARGET, WALL_CMAP, guide_color, user_color)

BEAM_SPAN_DB = 40.0              # the beam layer spans 40 dB below its (rounded-up) peak
WALL_LOSS_CLIM = (0.0, 40.0)     # dB; opaque walls drawn at the top of the scale
# Scalar bars: the wall-loss bar upright at the right edge, the power bar flat along the
# bottom; titles above their bars, away from the tick labels.
WALL_BAR = {"title": "wall loss [dB]\n", "position_x": 0.87, "position_y": 0.56, "width": 0.05,
            "height": 0.32, "vertical": True, "n_labels": 5, "fmt": "%.0f", "title_font_size": 14,
            "label_font_size": 12}
POWER_BAR = {"title": "received power [dBm]\n", "position_x": 0.87, "position_y": 0.08, "width": 0.05,
             "height": 0.32, "vertical": True, "n_labels": 5, "fmt": "%.0f", "title_font_size": 14,
             "label_font_size": 12}


def _bar_args(p: pv.Plotter, base: dict) -> dict:
    """Scalar-bar arguments with fonts scaled to the panel width (14 px title at 1280 px),
    so a small window does not push the title past the edge."""
    width = p.window_size[0] / max(p.shape[1], 1)
    f = min(1.0, width / 1280.0)
    return {**base, "title_font_size": max(7, int(round(base["title_font_size"] * f))),
            "label_font_size": max(6, int(round(base["label_font_size"] * f)))}


def _wall_cmap():
    """The grey ramp from 30 % (lossless walls stay visible on the light floor) to black."""
    import matplotlib
    from matplotlib.colors import ListedColormap

    return ListedColormap(matplotlib.colormaps[WALL_CMAP](np.linspace(0.3, 1.0, 256)), name="wall-loss")


@dataclass
class FrameState:
    """What to draw at one instant. s, active (N,M); users/targets (K,3)/(T,3); trails:
    lists of (n,3) recent positions; W (N,K), Rs (N,N) or None for the beam map."""

    s: np.ndarray
    active: np.ndarray
    users: np.ndarray
    targets: np.ndarray
    user_trails: list = field(default_factory=list)
    target_trails: list = field(default_factory=list)
    W: np.ndarray | None = None
    Rs: np.ndarray | None = None
    text: str = ""
    channel: object = None      # fixed arrays: points -> (N,G) of the traced in-force state
    blockers: np.ndarray | None = None   # (B,2) people who block links (MODEL §5.1)


def _add(p: pv.Plotter, mesh, **kwargs):
    """add_mesh without the render pyvista triggers per actor (one render per frame)."""
    return p.add_mesh(mesh, render=False, **kwargs)


def _extruded(poly, height):
    xy = np.asarray(poly.exterior.coords)[:-1]
    pts = np.column_stack([xy, np.zeros(len(xy))])
    face = np.r_[len(xy), np.arange(len(xy))]
    return pv.PolyData(pts, faces=face).triangulate().extrude((0, 0, height), capping=True)


def _add_trail(p: pv.Plotter, pts, colour, width) -> None:
    """A trail that fades: the colour blends from the background (oldest point) to
    ``colour`` (now), one actor with per-point RGB."""
    pts = np.asarray(pts, float)
    a = np.linspace(0.0, 1.0, len(pts))[:, None] ** 0.7
    rgb = (1.0 - a) * np.array([0.97, 0.97, 0.97]) + a * np.asarray(colour)[None, :3]
    line = pv.lines_from_points(pts)
    line["rgb"] = (rgb * 255).astype(np.uint8)
    _add(p, line, scalars="rgb", rgb=True, line_width=width, lighting=False)


def add_static(p: pv.Plotter, world, floor_plane: bool = True) -> None:
    """Floor outline, walls, waveguides with feed points, sensing ULA."""
    fp, dep = world.floor, world.tx
    ring = np.asarray(fp.outline.exterior.coords)
    _add(p, pv.lines_from_points(np.column_stack([ring, np.zeros(len(ring))])), color=(0.3, 0.3, 0.3),
               line_width=2)
    if floor_plane:
        x0, y0, x1, y1 = fp.outline.bounds
        _add(p, pv.Plane(center=((x0 + x1) / 2, (y0 + y1) / 2, -0.01), i_size=x1 - x0,
                            j_size=y1 - y0), color=(0.93, 0.93, 0.93))
    for i, (w, shape) in enumerate(zip(fp.walls, fp.wall_shapes)):
        polys = getattr(shape, "geoms", [shape])
        loss = w.loss_at(world.scene.radio.carrier_ghz)
        for poly in polys:
            mesh = _extruded(poly, w.height_m)
            mesh["loss_db"] = np.full(mesh.n_points, min(loss, WALL_LOSS_CLIM[1]))
            _add(p, mesh, scalars="loss_db", cmap=_wall_cmap(), clim=WALL_LOSS_CLIM, opacity=0.5,
                 show_scalar_bar=(i == 0), scalar_bar_args=_bar_args(p, WALL_BAR))
    for n in range(dep.n_guides):          # waveguides, or the RF chains' sub-arrays of a BS array
        a = dep.feed[n] + (dep.positions(dep.uniform_positions())[n].min(axis=0) - dep.feed[n]) * (not dep.movable)
        b = a + dep.length[n] * dep.direction[n]
        if dep.length[n] > 1e-6:
            _add(p, pv.Tube(pointa=a, pointb=b, radius=0.03), color=guide_color(n), opacity=0.7)
        _add(p, pv.Cube(center=a, x_length=0.15, y_length=0.15, z_length=0.15), color=guide_color(n))
    sn = world.sensing
    elems = sn.position + np.outer(np.arange(sn.elements) - (sn.elements - 1) / 2, sn.axis) * max(sn.spacing, 0.05)
    _add(p, pv.PolyData(elems).glyph(geom=pv.Cube(x_length=0.06, y_length=0.06, z_length=0.06),
                                        scale=False, orient=False), color="purple")
    p.add_point_labels(sn.position[None] + [0, 0, 0.25], ["sensing ULA"], font_size=10,
                       shape_opacity=0.3, always_visible=True, render=False)


def add_state(p: pv.Plotter, world, st: FrameState, beam: str | int | None = "total",
              beam_nx: int = 120, links: bool = True, beam_oversample: int = 1, beam_clim=None,
              legend: bool = True):
    """PAs, users, targets, trails, LoS links, beam map, the corner text, a metre scale
    on the floor's bounds and a legend of the link and marker colours.

    beam: a user index, "sensing", "total" or None (no beam layer); the layer is the
    received power in dBm, ``beam_nx`` samples across the floor, each the mean of
    ``beam_oversample``² samples (:func:`twin.beammap.beam_map`), on ``beam_clim`` (dBm)
    or, if None, the 40 dB below its peak rounded up to 5 dB. Returns the limits used
    (pass them to the next frame of an animation for a fixed scale)."""
    dep, fp = world.tx, world.floor          # the hardware that ran (PASS or a fixed array)
    pos = dep.positions(st.s)
    inst = dep.installed
    act = st.active & inst
    if beam is not None and st.W is not None:
        from twin.beammap import beam_map
        bm = beam_map(world, st.s, act, st.W, st.Rs, beam, nx=beam_nx, channel=st.channel,
                      oversample=beam_oversample)
        X, Y = np.meshgrid(bm.x, bm.y)
        with np.errstate(divide="ignore"):
            dbm = 10 * np.log10(bm.power_w) + 30.0
        dbm = np.where(np.isfinite(bm.db), dbm, np.nan)
        if beam_clim is None:
            top = np.nanmax(dbm[np.isfinite(dbm)]) if np.isfinite(dbm).any() else 0.0
            top = 5.0 * np.ceil(top / 5.0)
            beam_clim = (top - BEAM_SPAN_DB, top)
        grid = pv.StructuredGrid(X, Y, np.full(X.shape, 0.01))
        grid["power_dbm"] = np.clip(dbm, *beam_clim).ravel(order="F")
        _add(p, grid, scalars="power_dbm", cmap=POWER_CMAP, clim=beam_clim, nan_opacity=0.0,
             opacity=0.9, scalar_bar_args=_bar_args(p, POWER_BAR))
    for mask, colour in ((act, PA_ACTIVE), (inst & ~act, PA_INACTIVE)):
        if mask.any():
            _add(p, pv.PolyData(pos[mask]).glyph(geom=pv.Sphere(radius=0.12), scale=False, orient=False),
                       color=colour, lighting=False)
    idle = _idle_stations(dep, st.s, act)
    if len(idle):
        _add(p, pv.PolyData(idle).glyph(geom=pv.Sphere(radius=0.06), scale=False, orient=False),
             color=PA_INACTIVE, opacity=0.6, lighting=False)
    if st.blockers is not None and len(st.blockers):
        b = getattr(world.scene, "blockers", None)
        r, h = (b.radius_m, b.height_m) if b is not None else (0.2, 1.7)
        for q in np.asarray(st.blockers, float):
            _add(p, pv.Cylinder(center=(q[0], q[1], h / 2), direction=(0, 0, 1), radius=r, height=h),
                 color=BLOCKER, opacity=0.85)
    for n, bounds in enumerate(dep.cluster_bounds):
        for lo, hi in bounds:
            a = dep.feed[n] + lo * dep.direction[n]
            b = dep.feed[n] + hi * dep.direction[n]
            _add(p, pv.Tube(pointa=a, pointb=b, radius=0.055), color=(0.2, 0.2, 0.2), opacity=0.35)
    for k, q in enumerate(st.users):
        c = user_color(k)
        _add(p, pv.Cylinder(center=q + [0, 0, 0.85], direction=(0, 0, 1), radius=0.18, height=1.7),
                   color=c)
        if k < len(st.user_trails) and len(st.user_trails[k]) > 1:
            _add_trail(p, st.user_trails[k], c, 4)
    if len(st.users):
        p.add_point_labels(st.users + [0, 0, 1.9], [f"u{k}" for k in range(len(st.users))], font_size=11,
                           shape_opacity=0.4, always_visible=True, render=False)
    for j, q in enumerate(st.targets):
        _add(p, pv.Cone(center=q + [0, 0, 0.5], direction=(0, 0, -1), height=1.0, radius=0.3), color=TARGET)
        if j < len(st.target_trails) and len(st.target_trails[j]) > 1:
            _add_trail(p, st.target_trails[j], TARGET, 3)
    if len(st.targets):
        p.add_point_labels(st.targets + [0, 0, 1.2], [f"target {j}" for j in range(len(st.targets))],
                           font_size=11, shape_opacity=0.4, always_visible=True, render=False)
    if links and act.any() and len(st.users):
        src = pos[act]
        loss = fp.loss_db(src[:, None, :], st.users[None, :, :])
        for sel, colour in ((loss == 0, LINK_CLEAR), (np.isfinite(loss) & (loss > 0), LINK_ATTENUATED),
                            (~np.isfinite(loss), LINK_BLOCKED)):
            i, k = np.nonzero(sel)
            if i.size:
                pts = np.empty((2 * i.size, 3))
                pts[0::2], pts[1::2] = src[i], st.users[k]
                cells = np.column_stack([np.full(i.size, 2), np.arange(0, 2 * i.size, 2),
                                         np.arange(1, 2 * i.size, 2)]).ravel()
                _add(p, pv.PolyData(pts, lines=cells), color=colour, line_width=1, opacity=0.5)
    if st.text:
        p.add_text(st.text, position="upper_left", font_size=10, color="black", render=False)
    x0, y0, x1, y1 = fp.outline.bounds
    top = max(float(np.max(dep.feed[:, 2])), max((w.height_m for w in fp.walls), default=0.0))
    p.show_bounds(bounds=(x0, x1, y0, y1, 0.0, top), xtitle="x [m]", ytitle="y [m]", ztitle="z [m]",
                  n_xlabels=5, n_ylabels=3, n_zlabels=2, fmt="%.0f", font_size=10, color="#404040",
                  location="outer", ticks="outside", grid=False, render=False)
    if legend:
        entries = [(label, colour) for label, colour in LINK_LABELS] if links and st.channel is None else []
        entries += [("PA (active)", PA_ACTIVE)]
        if (inst & ~act).any() or len(idle):
            entries.append(("PA (inactive / idle installed)", PA_INACTIVE))
        if st.blockers is not None and len(st.blockers):
            entries.append(("person (blocks links)", BLOCKER))
        entries += [(f"guide {n}", guide_color(n)) for n in range(dep.n_guides)]
        p.add_legend(labels=[[lab, col] for lab, col in entries], bcolor="white", border=True,
                     size=(0.2, 0.032 * len(entries)), loc="lower left", face="rectangle")
    return beam_clim


def _idle_stations(dep, s, act) -> np.ndarray:
    """(P,3) installed positions of activation guides where no PA radiates now (MODEL §5)."""
    stations = getattr(dep, "stations", ())
    out = []
    for n, pts in enumerate(stations or ()):
        if pts is None:
            continue
        pts = np.asarray(pts, float)
        on = np.asarray(s[n], float)[np.asarray(act[n], bool)]
        free = pts[~np.any(np.abs(pts[:, None] - on[None, :]) < 1e-9, axis=1)] if on.size else pts
        out.extend(dep.feed[n] + free[:, None] * dep.direction[n])
    return np.asarray(out, float).reshape(-1, 3)


def set_camera(p: pv.Plotter, world, preset: str = "isometric") -> None:
    """Camera presets: ``isometric``, ``top``, ``guide`` (along the first waveguide)."""
    if preset == "top":
        p.view_xy()
        p.camera.zoom(1.05)
    elif preset == "guide":
        dep = world.tx
        a, u = dep.feed[0], dep.direction[0]
        side = np.cross([0.0, 0.0, 1.0], u)
        side = side / (np.linalg.norm(side) or 1.0)
        # behind the feed, a little above and to the side, looking down the guide
        p.camera.position = tuple(a - 2.5 * u + 0.8 * side + np.array([0, 0, 1.0]))
        p.camera.focal_point = tuple(a + 0.55 * dep.length[0] * u - np.array([0, 0, 0.5 * a[2]]))
        p.camera.up = (0, 0, 1)
        p.camera.view_angle = 55
    elif preset == "isometric":
        p.view_isometric()
        p.camera.zoom(1.0)
    else:
        raise ValueError(f"unknown camera {preset!r}: isometric, top or guide")
