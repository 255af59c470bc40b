"""Top-down radio map of a run's frame (``pass-twin map``): received power in dBm or SINR
over the floor (:func:`twin.radiomap.radio_map`), with metre axes, walls (shaded by
loss), waveguides, PAs, users and targets."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Polygon

from twin.radiomap import radio_map, values_at
from viz.colors import PA_ACTIVE, PA_INACTIVE, POWER_CMAP, TARGET, guide_color, user_color

WALL_CLIM = (0.0, 40.0)          # dB; opaque walls at the top of the grey ramp


def run_radio_map(data, frame=None, metric="sinr", user=None, nx=320, oversample=2):
    """(RadioMap, FrameState) of ``frame`` (default: the last) of a loaded run
    (:class:`viz.render.RunData`): the PA positions, activity and beams in force at the
    frame's last traced sample, the user and target positions then."""
    st = data.state(frame)
    if st.W is None:
        from twin.errors import ConfigError
        raise ConfigError(str(data.dir), "(beams table)", "no beamformers traced for this frame",
                          "re-run the scene; a radio map needs the traced W")
    rm = radio_map(data.world, st.s, st.active & data.world.tx.installed, st.W, st.Rs,
                   metric=metric, user=user, nx=nx, oversample=oversample, channel=st.channel)
    return rm, st


def radio_map_figure(data, frame=None, metric="sinr", user=None, nx=320, oversample=2):
    """Matplotlib Figure of the radio map (see :func:`run_radio_map`). Each user's label
    gives the map's quantity exactly at the user (no averaging): at 28 GHz the beams'
    focal spots and zero-forcing nulls are millimetre-sized, so a user's SINR (which the
    trace records) stands far above the cell-averaged map around it."""
    rm, st = run_radio_map(data, frame, metric, user, nx, oversample)
    world = data.world
    dep = world.tx
    x0, y0, x1, y1 = world.floor.outline.bounds
    width = 11.0
    fig, ax = plt.subplots(figsize=(width, width * (y1 - y0) / (x1 - x0) * 0.78 + 1.6),
                           constrained_layout=True)
    v = rm.value
    fin = v[np.isfinite(v)]
    vmax = float(fin.max()) if fin.size else 0.0
    if metric == "power":
        vmin = max(float(np.percentile(fin, 1)) if fin.size else vmax - 60.0, vmax - 60.0)
        label, unit = "received power [dBm]", "dBm"
    else:
        targets = np.atleast_1d(10 * np.log10(world.sinr_target))
        target = float(targets[int(user) % len(targets)] if user is not None else targets.min())
        vmin, vmax = target - 20.0, max(vmax, target + 20.0)
        label = (f"SINR of user {user}'s stream [dB]" if user is not None
                 else "SINR, best stream at each point [dB]")
        unit = "dB"
    mesh = ax.pcolormesh(rm.x, rm.y, np.clip(v, vmin, vmax), cmap=POWER_CMAP, vmin=vmin, vmax=vmax,
                         shading="nearest", rasterized=True)
    cb = fig.colorbar(mesh, ax=ax, shrink=0.9, pad=0.01)
    cb.set_label(label)
    if metric == "sinr":
        cb.ax.axhline(target, color="white", ls="--", lw=1.5)
        cb.ax.text(1.05, target, " target", transform=cb.ax.get_yaxis_transform(), fontsize=7,
                   va="center", ha="left", color="0.2")
    act = st.active & dep.installed
    if metric == "sinr" and user is None:       # each user's own stream at its position
        exact = np.array([values_at(world, st.s, act, st.W, st.Rs, st.users[k:k + 1], "sinr", k,
                                    channel=st.channel)[0] for k in range(len(st.users))])
    else:
        exact = values_at(world, st.s, act, st.W, st.Rs, st.users, metric, user, channel=st.channel) \
            if len(st.users) else np.array([])
    _draw_floor(ax, world, st, [f"{e:.1f} {unit}" for e in exact])
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.08), ncol=8, fontsize="small", frameon=False)
    head = st.text.split("\n")
    what = "received power" if metric == "power" else (
        f"SINR of user {user}'s stream" if user is not None else "SINR (best stream at each point)")
    cells = f"{(x1 - x0) / nx * 100:.0f} cm cells" + (
        f", {oversample}×{oversample} samples averaged" if oversample > 1 else "")
    users_note = ("; labels: each user's own SINR at its position" if metric == "sinr" and user is None
                  else "; labels: value at each user's position")
    fig.suptitle(f"{head[0]}, {' '.join(head[1].split())}: {what} ({cells}{users_note})", fontsize="medium")
    fig.radio_map = rm            # the numbers behind the picture
    fig.user_values = np.asarray(exact)
    return fig


def _draw_floor(ax, world, st, user_notes=()) -> None:
    """Outline, walls (grey by loss, labelled), guides with feeds, PAs, users, targets."""
    fp, dep = world.floor, world.tx
    ring = np.asarray(fp.outline.exterior.coords)
    ax.plot(ring[:, 0], ring[:, 1], color="0.2", lw=1.5)
    cmap = plt.get_cmap("Greys")
    for w, shape in zip(fp.walls, fp.wall_shapes):
        loss = min(w.loss_at(world.scene.radio.carrier_ghz), WALL_CLIM[1])
        shade = cmap(0.35 + 0.65 * loss / WALL_CLIM[1])
        for poly in getattr(shape, "geoms", [shape]):
            ax.add_patch(Polygon(np.asarray(poly.exterior.coords), closed=True, fc=shade, ec="k",
                                 lw=0.6, zorder=3))
        ax.annotate(f"{loss:.0f} dB" if loss < WALL_CLIM[1] else "opaque",
                    (shape.centroid.x, shape.centroid.y), fontsize=7, color="white", ha="center",
                    va="center", zorder=6, bbox=dict(boxstyle="round,pad=0.15", fc="0.25", ec="none", alpha=0.75))
    for n in range(dep.n_guides):
        a = dep.feed[n]
        b = a + dep.length[n] * dep.direction[n]
        c = guide_color(n)
        ax.plot([a[0], b[0]], [a[1], b[1]], color=c, lw=2.2, alpha=0.9, zorder=4, label=f"guide {n}")
        ax.plot(a[0], a[1], marker="s", ms=7, color=c, mec="white", zorder=5)
    pos = dep.positions(st.s)
    inst = dep.installed
    act = st.active & inst
    if act.any():
        ax.scatter(pos[act][:, 0], pos[act][:, 1], s=46, color=PA_ACTIVE, edgecolors="white", lw=0.8,
                   zorder=7, label="PA (active)")
    if (inst & ~act).any():
        ax.scatter(pos[inst & ~act][:, 0], pos[inst & ~act][:, 1], s=40, facecolors="none",
                   edgecolors=PA_INACTIVE, lw=1.2, zorder=7, label="PA (inactive)")
    for k, q in enumerate(st.users):
        ax.scatter(q[0], q[1], s=90, color=user_color(k), edgecolors="white", lw=1.2, zorder=8,
                   label="users" if k == 0 else None)
        note = f" {user_notes[k]}" if k < len(user_notes) else ""
        ax.annotate(f"u{k}{note}", (q[0], q[1]), xytext=(6, 5), textcoords="offset points", fontsize=9,
                    color="white", fontweight="bold", zorder=9,
                    bbox=dict(boxstyle="round,pad=0.15", fc=user_color(k), ec="none"))
    for j, q in enumerate(st.targets):
        ax.scatter(q[0], q[1], s=90, color=TARGET, marker="X", edgecolors="white", lw=0.8, zorder=8,
                   label="targets" if j == 0 else None)


def plot_radio_map(run_dir, out_png=None, frame=None, metric="sinr", user=None, nx=320,
                   oversample=2) -> Path:
    """Write the radio map PNG (default ``RUN/map-<metric>.png``) of a run directory or a
    loaded :class:`viz.render.RunData`; the figure is closed."""
    from viz.render import RunData

    data = run_dir if isinstance(run_dir, RunData) else RunData.load(run_dir)
    fig = radio_map_figure(data, frame, metric, user, nx, oversample)
    out = Path(out_png) if out_png else data.dir / f"map-{metric}.png"
    try:
        fig.savefig(out, dpi=110)
    finally:
        plt.close(fig)
    return out
