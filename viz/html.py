"""Self-contained interactive HTML of a run (``pass-twin render RUN --html OUT.html``):
a plotly 3D scene (WebGL) with a time slider over the run's frames.

Static layers: the floor outline, walls extruded to their heights and coloured by loss
(grey ramp, its own colour bar), waveguides in their guide colours with a cube at the
feed, the sensing ULA. Per frame: the received power over the floor in dBm
(:func:`twin.radiomap.radio_map`, viridis, its own colour bar on one fixed scale for the
whole run), PAs (active red, inactive grey), users in their colours with labels and 3 s
trails, targets, line-of-sight links coloured by blockage (legend), and the corner text.
Metre axes with true proportions. The page has a proper title; plotly.js is inlined, so
the file opens offline."""

from __future__ import annotations

import html as html_lib
from pathlib import Path

import numpy as np

from twin.radiomap import radio_map
from viz.colors import (LINK_LABELS, PA_ACTIVE, PA_INACTIVE, TARGET, guide_color, user_color)

MAX_FRAMES = 120          # slider steps; longer runs are subsampled evenly
MAP_NX = 64               # power-map cells across the floor per frame
SPAN_DB = 40.0
WALL_CLIM = (0.0, 40.0)


def _rgb(c) -> str:
    r, g, b = (int(round(255 * float(v))) for v in c[:3])
    return f"rgb({r},{g},{b})"


def _wall_colorscale():
    import matplotlib
    cm = matplotlib.colormaps["Greys"]
    return [[t, _rgb(cm(0.3 + 0.7 * t))] for t in np.linspace(0.0, 1.0, 6)]


def _static_traces(world):
    import plotly.graph_objects as go

    fp, dep = world.floor, world.tx
    traces = []
    ring = np.asarray(fp.outline.exterior.coords)
    traces.append(go.Scatter3d(x=ring[:, 0], y=ring[:, 1], z=np.zeros(len(ring)), mode="lines",
                               line=dict(color="rgb(60,60,60)", width=4), name="floor outline",
                               hoverinfo="skip", showlegend=False))
    first = True
    for w, shape in zip(fp.walls, fp.wall_shapes):
        loss = min(w.loss_at(world.scene.radio.carrier_ghz), WALL_CLIM[1])
        for poly in getattr(shape, "geoms", [shape]):
            xy = np.asarray(poly.exterior.coords)[:-1]
            n = len(xy)
            # side quads as triangles, plus a top cap fan (walls are thin convex slabs)
            xs = np.r_[xy[:, 0], xy[:, 0]]
            ys = np.r_[xy[:, 1], xy[:, 1]]
            zs = np.r_[np.zeros(n), np.full(n, w.height_m)]
            i, j, k = [], [], []
            for a in range(n):
                b = (a + 1) % n
                i += [a, a]
                j += [b, n + b]
                k += [n + b, n + a]
            for a in range(1, n - 1):
                i.append(n)
                j.append(n + a)
                k.append(n + a + 1)
            traces.append(go.Mesh3d(
                x=xs, y=ys, z=zs, i=i, j=j, k=k, intensity=np.full(2 * n, loss), cmin=WALL_CLIM[0],
                cmax=WALL_CLIM[1], colorscale=_wall_colorscale(), opacity=0.55, name=w.name,
                hovertemplate=f"{html_lib.escape(w.name)}: {loss:.1f} dB<extra></extra>",
                showscale=first, flatshading=True,
                colorbar=dict(title=dict(text="wall loss [dB]", side="top"), x=1.0, y=0.78, len=0.4,
                              thickness=14, xanchor="left")))
            first = False
    for n in range(dep.n_guides):
        a = dep.feed[n]
        b = a + dep.length[n] * dep.direction[n]
        c = _rgb(guide_color(n))
        traces.append(go.Scatter3d(x=[a[0], b[0]], y=[a[1], b[1]], z=[a[2], b[2]], mode="lines",
                                   line=dict(color=c, width=6), name=f"guide {n}", legendgroup="guides"))
        traces.append(go.Scatter3d(x=[a[0]], y=[a[1]], z=[a[2]], mode="markers",
                                   marker=dict(symbol="square", size=5, color=c), showlegend=False,
                                   hovertemplate=f"guide {n} feed<extra></extra>"))
    sn = world.sensing
    elems = sn.position + np.outer(np.arange(sn.elements) - (sn.elements - 1) / 2, sn.axis) * max(sn.spacing, 0.05)
    traces.append(go.Scatter3d(x=elems[:, 0], y=elems[:, 1], z=elems[:, 2], mode="markers",
                               marker=dict(size=3, color="purple", symbol="square"), name="sensing ULA"))
    return traces


def _frame_traces(world, st, rm, clim, links=True, full=True):
    """The per-frame traces, always the same number and order (plotly frames update
    traces by index, merging into them: ``full=False`` sends only the power values of the
    floor layer, whose grid does not change)."""
    import plotly.graph_objects as go

    dep, fp = world.tx, world.floor
    out = [] if rm is None else _power_surface(rm, clim, full)
    return out + _marker_traces(world, st, links)


def _power_surface(rm, clim, full):
    import plotly.graph_objects as go

    X, Y = np.meshgrid(rm.x, rm.y)
    colour = np.round(np.clip(rm.value, *clim), 1)
    return [go.Surface(surfacecolor=colour) if not full else
           go.Surface(x=X, y=Y, z=np.full(X.shape, 0.01), surfacecolor=colour,
                      cmin=clim[0], cmax=clim[1], colorscale="Viridis", opacity=0.9, name="received power",
                      hovertemplate="x %{x:.2f} m, y %{y:.2f} m: %{surfacecolor:.1f} dBm<extra></extra>",
                      colorbar=dict(title=dict(text="received power [dBm]", side="top"), x=1.0, y=0.25,
                                    len=0.4, thickness=14, xanchor="left"))]


def _marker_traces(world, st, links=True):
    import plotly.graph_objects as go

    dep, fp = world.tx, world.floor
    out = []
    pos = dep.positions(st.s)
    inst = dep.installed
    act = st.active & inst
    for mask, colour, name in ((act, PA_ACTIVE, "PA (active)"), (inst & ~act, PA_INACTIVE, "PA (inactive)")):
        q = pos[mask] if mask.any() else np.full((1, 3), np.nan)
        out.append(go.Scatter3d(x=q[:, 0], y=q[:, 1], z=q[:, 2], mode="markers", name=name,
                                marker=dict(size=5, color=_rgb(colour))))
    u = st.users if len(st.users) else np.full((1, 3), np.nan)
    out.append(go.Scatter3d(x=u[:, 0], y=u[:, 1], z=u[:, 2] + 0.9, mode="markers+text", name="users",
                            text=[f"u{k}" for k in range(len(st.users))] or [""], textposition="top center",
                            marker=dict(size=7, color=[_rgb(user_color(k)) for k in range(len(u))],
                                        symbol="circle")))
    tx, ty, tz = [], [], []
    for tr in st.user_trails:
        if len(tr) > 1:
            tx += list(tr[:, 0]) + [None]
            ty += list(tr[:, 1]) + [None]
            tz += list(tr[:, 2]) + [None]
    out.append(go.Scatter3d(x=tx or [None], y=ty or [None], z=tz or [None], mode="lines", name="user trails (3 s)",
                            line=dict(color="rgb(90,90,90)", width=2), hoverinfo="skip"))
    t = st.targets if len(st.targets) else np.full((1, 3), np.nan)
    out.append(go.Scatter3d(x=t[:, 0], y=t[:, 1], z=t[:, 2] + 0.5, mode="markers", name="targets",
                            marker=dict(size=6, color=_rgb(TARGET), symbol="diamond")))
    loss = (fp.loss_db(pos[act][:, None, :], st.users[None, :, :])
            if links and act.any() and len(st.users) and st.channel is None else np.zeros((0, 0)))
    src = pos[act]
    for (label, colour), sel in zip(LINK_LABELS, (loss == 0, np.isfinite(loss) & (loss > 0), ~np.isfinite(loss))):
        i, k = np.nonzero(sel)
        xs, ys, zs = [], [], []
        for a, b in zip(i, k):
            xs += [src[a, 0], st.users[b, 0], None]
            ys += [src[a, 1], st.users[b, 1], None]
            zs += [src[a, 2], st.users[b, 2], None]
        out.append(go.Scatter3d(x=xs or [None], y=ys or [None], z=zs or [None], mode="lines", name=label,
                                line=dict(color=_rgb(colour), width=2), opacity=0.6, hoverinfo="skip",
                                legendgroup="links"))
    return out


def _corner(text: str) -> list:
    return [dict(text="<br>".join(html_lib.escape(line) for line in text.split("\n")), xref="paper",
                 yref="paper", x=0.0, y=1.0, xanchor="left", yanchor="top", showarrow=False, align="left",
                 font=dict(family="monospace", size=12), bgcolor="rgba(255,255,255,0.8)")]


def run_figure(data, frames=None, progress=False, map_nx=MAP_NX):
    """A plotly Figure of a loaded run (:class:`viz.render.RunData`) with one slider step
    per frame in ``frames`` (default: every frame, at most MAX_FRAMES, evenly spaced)."""
    import plotly.graph_objects as go

    from viz.progress import frames as frame_bar

    world = data.world
    n = data.n_frames
    if frames is None:
        frames = list(range(n)) if n <= MAX_FRAMES else [int(f) for f in np.linspace(0, n - 1, MAX_FRAMES)]
    frames = [int(f) for f in frames]
    static = _static_traces(world)
    states, maps = [], []
    for f in frame_bar(frames, "html", progress):
        st = data.state(f)
        states.append(st)
        maps.append(radio_map(world, st.s, st.active & world.tx.installed, st.W, st.Rs, "power",
                              nx=map_nx, channel=st.channel) if st.W is not None else None)
    finite = [m.value[np.isfinite(m.value)] for m in maps if m is not None]
    top = 5.0 * np.ceil(max(float(v.max()) for v in finite if v.size) / 5.0) if any(v.size for v in finite) else 0.0
    clim = (top - SPAN_DB, top)
    blank = None
    per_frame = []
    for st, m in zip(states, maps):
        if m is None:                       # no beams traced: an empty power layer
            x0, y0, x1, y1 = world.floor.outline.bounds
            from twin.radiomap import RadioMap
            blank = blank or RadioMap(np.linspace(x0, x1, 2), np.linspace(y0, y1, 2), np.full((2, 2), np.nan), "power")
            m = blank
        per_frame.append(_frame_traces(world, st, m, clim, full=False))
    n_static = len(static)
    idx = list(range(n_static, n_static + len(per_frame[0])))
    fig = go.Figure(data=static + _frame_traces(world, states[-1], maps[-1] or blank, clim, full=True))
    fig.frames = [go.Frame(data=tr, traces=idx, name=str(f), layout=dict(annotations=_corner(st.text)))
                  for f, st, tr in zip(frames, states, per_frame)]
    steps = [dict(method="animate", label=str(f),
                  args=[[str(f)], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                       transition=dict(duration=0))]) for f in frames]
    fig.update_layout(
        **_scene_layout(world, f"{data.meta.get('scene', '')} / {data.meta.get('policy', '')} (seed "
                               f"{data.meta.get('seed', '')}): 3D view, received power on the floor"),
        annotations=_corner(states[-1].text),
        sliders=[dict(active=len(frames) - 1, steps=steps, x=0.1, len=0.85, y=0.0,
                      currentvalue=dict(prefix="frame ", visible=True), pad=dict(t=10))],
        updatemenus=[dict(type="buttons", showactive=False, x=0.0, y=0.0, xanchor="left", yanchor="top",
                          buttons=[dict(label="▶ play", method="animate",
                                        args=[None, dict(frame=dict(duration=150, redraw=True), fromcurrent=True,
                                                         transition=dict(duration=0))]),
                                   dict(label="❚❚ pause", method="animate",
                                        args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))])])])
    return fig


def _scene_layout(world, title, zt=None):
    x0, y0, x1, y1 = world.floor.outline.bounds
    walls = max((w.height_m for w in world.floor.walls), default=0.0)
    zt = zt or max(float(np.max(world.tx.feed[:, 2])), walls)
    m = max(x1 - x0, y1 - y0)
    # true proportions in x and y; the height at least a quarter of the floor's size so a
    # low ceiling stays readable (the z axis carries its own metre ticks)
    ratio = dict(x=(x1 - x0) / m, y=(y1 - y0) / m, z=max(zt * 1.1 / m, 0.25))
    return dict(
        title=dict(text=title, x=0.5),
        scene=dict(xaxis=dict(title=dict(text="x [m]"), range=[x0, x1]),
                   yaxis=dict(title=dict(text="y [m]"), range=[y0, y1]),
                   zaxis=dict(title=dict(text="z [m]"), range=[0, zt * 1.1]),
                   aspectmode="manual", aspectratio=ratio, camera=dict(eye=dict(x=-0.68, y=-1.02, z=0.72)),
                   domain=dict(x=[0.14, 0.86], y=[0.1, 0.92])),
        legend=dict(x=0.0, y=0.12, xanchor="left", yanchor="bottom", bgcolor="rgba(255,255,255,0.8)",
                    font=dict(size=11)),
        margin=dict(l=0, r=0, t=50, b=0), height=760, paper_bgcolor="white")


def _write_page(fig, title, out_html) -> Path:
    import plotly.io as pio

    body = pio.to_html(fig, include_plotlyjs=True, full_html=False, div_id="pass-twin-scene",
                       auto_play=False, config={"displaylogo": False, "responsive": True})
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html_lib.escape(title)}</title>\n"
            "<style>body{margin:0;font-family:sans-serif;background:#fff}</style>\n</head>\n<body>\n"
            f"{body}\n</body>\n</html>\n")
    out = Path(out_html)
    out.write_text(page, encoding="utf-8")
    return out


def export_scene_html(world, out_html) -> Path:
    """A scene without a run: the deployment with its PAs at their uniform positions
    (all installed PAs active), users and targets where the scene lists explicit
    positions, their line-of-sight links; no power layer, no slider."""
    import plotly.graph_objects as go

    from viz.scene3d import FrameState

    dep = world.tx
    z = world.ue_height

    def _pts(entities):
        xy = getattr(entities, "positions", None) or ()
        return np.array([[q[0], q[1], z] for q in xy], float).reshape(-1, 3)

    sc = world.scene
    st = FrameState(dep.uniform_positions(), dep.installed.copy(), _pts(sc.users),
                    _pts(getattr(sc, "targets", None)), text=f"{sc.name}\n{sc.description}")
    fig = go.Figure(data=_static_traces(world) + _frame_traces(world, st, None, None))
    fig.update_layout(**_scene_layout(world, f"scene {sc.name}: PAs at their uniform positions"),
                      annotations=_corner(st.text))
    return _write_page(fig, f"pass-twin: scene {sc.name}", out_html)


def export_run_html(run_dir, out_html, frame=None, progress=False, max_frames=MAX_FRAMES,
                    map_nx=MAP_NX) -> Path:
    """Write the page of a run. ``frame`` given: the slider starts there; the run's
    frames are subsampled to ``max_frames`` slider steps (``frame`` always kept)."""
    from viz.render import RunData

    data = RunData.load(run_dir)
    n = data.n_frames
    if frame is not None:
        data.state(frame)                     # validates the frame (one line if outside the run)
    frames = list(range(n)) if n <= max_frames else sorted(
        set(int(f) for f in np.linspace(0, n - 1, max_frames)) | ({int(frame)} if frame is not None else set()))
    fig = run_figure(data, frames, progress=progress, map_nx=map_nx)
    if frame is not None:
        i = frames.index(int(frame))
        fig.layout.sliders[0].active = i
        fr = fig.frames[i]
        for k, tr in zip(fr.traces, fr.data):
            fig.data[k].update(tr.to_plotly_json())
        fig.layout.annotations = fr.layout.annotations
    title = (f"pass-twin: {data.meta.get('scene', '')} / {data.meta.get('policy', '')} "
             f"(seed {data.meta.get('seed', '')}, {n} frames)")
    return _write_page(fig, title, out_html)
