"""Matplotlib dashboards of run traces (docs/traces.md).

The module never selects a backend: in Jupyter figures show inline, in a script the
user's backend applies, and the files are written through ``Figure.savefig`` (which
needs none). Figures made only to be saved are closed afterwards."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from twin.errors import ConfigError
from twin.traces import load_run_scene, read_meta, read_table, summarize
from viz.colors import OUTAGE_SHADE, SINR_TARGET_LINE, TARGET, guide_color, user_color
from viz.rundir import require_run

#: slots in which a user was not scheduled (a pale violet tint, apart from the outage grey)
UNSCHEDULED_SHADE = (0.87, 0.85, 0.97)


def _spans(t, flag):
    """Contiguous [start, end) time spans where ``flag`` is true."""
    t, flag = np.asarray(t), np.asarray(flag, bool)
    if not flag.any():
        return []
    dt = np.median(np.diff(t)) if len(t) > 1 else 0.0
    edges = np.flatnonzero(np.diff(np.r_[0, flag.astype(int), 0]))
    return [(t[a] - dt / 2, t[b - 1] + dt / 2) for a, b in zip(edges[::2], edges[1::2])]


def _nested_width(i: int, n: int) -> float:
    """Line widths that shrink with the index, so identical tracks show as nested bands."""
    return 1.0 + 2.5 * (n - 1 - i) / max(n - 1, 1)


def smooth(values, window: int) -> np.ndarray:
    """Centred moving average over ``window`` samples (shorter at the ends)."""
    import pandas as pd
    return pd.Series(np.asarray(values, float)).rolling(max(int(window), 1), center=True,
                                                        min_periods=1).mean().to_numpy()


def ecdf(values):
    """Empirical CDF of the finite values: (sorted x, F(x)) with F rising to 1."""
    v = np.sort(np.asarray(values, float)[np.isfinite(values)])
    return v, np.arange(1, len(v) + 1) / max(len(v), 1)


def plot_run(run_dir, out_png=None) -> Path:
    """One-run dashboard PNG (:func:`dashboard_figure`); default ``RUN/dashboard.png``."""
    d = require_run(run_dir)
    fig = dashboard_figure(d)
    out = Path(out_png) if out_png else d / "dashboard.png"
    try:
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    return out


def dashboard_figure(run_dir):
    """One-run dashboard (a matplotlib Figure).

    Left column, sharing the time axis: one SINR panel per user (the trace thin, its
    moving average bold, in the user's colour, both only where the user was scheduled;
    the target black dashed; outage spans shaded grey, slots the user was not scheduled
    in tinted violet), the schedule (one row per user, in its colour where it was served),
    user rates (smoothed per user, mean in black), the channel knowledge (NMSE of the
    channel each beam was designed for against the true one, in dB, and its age, per
    frame; MODEL §5.1), RCRB of each target and, for clustered deployments, the exact
    sensing outage and its Chernoff bound, and the PA timeline (along-guide position,
    solid; commanded, dotted; one tone per guide, never a user's colour). Right column:
    the empirical CDF of each user's SINR (with the target, over its scheduled samples),
    each user's long-run throughput (unserved slots count 0) with the share of slots it
    was served, and the CDF of each user's rate. Axes carry labels ``sinr-u<k>``,
    ``sinr-cdf``, ``schedule``, ``throughput``, ``rate``, ``rate-cdf``, ``csi``
    (``csi-age`` its twin), ``sensing`` and ``pas``."""
    d = require_run(run_dir)
    users, targets = read_table(d, "users"), read_table(d, "targets")
    pas, frames = read_table(d, "pas"), read_table(d, "frames")
    meta, summ = read_meta(d), summarize(d)
    ks = sorted(users.user.unique()) if len(users) else []
    n_k = max(len(ks), 1)
    sched_h = 0.5 + 0.12 * n_k
    heights = [1.0] * n_k + [sched_h, 2.0, 1.5, 1.8, 2.4]
    fig = plt.figure(figsize=(13, 3.0 + 1.1 * n_k + 7.7 + sched_h), constrained_layout=True)
    gs = fig.add_gridspec(len(heights), 2, height_ratios=heights, width_ratios=[4.2, 1.3])
    ax_first = fig.add_subplot(gs[0, 0])
    sinr_axes = [ax_first] + [fig.add_subplot(gs[i, 0], sharex=ax_first, sharey=ax_first) for i in range(1, n_k)]
    ax_sched = fig.add_subplot(gs[n_k, 0], sharex=ax_first)
    ax_rate = fig.add_subplot(gs[n_k + 1, 0], sharex=ax_first)
    ax_csi = fig.add_subplot(gs[n_k + 2, 0], sharex=ax_first)
    ax_sense = fig.add_subplot(gs[n_k + 3, 0], sharex=ax_first)
    ax_pa = fig.add_subplot(gs[n_k + 4, 0], sharex=ax_first)
    ax_cdf = fig.add_subplot(gs[:n_k, 1])
    ax_thr = fig.add_subplot(gs[n_k, 1])
    ax_rcdf = fig.add_subplot(gs[n_k + 1, 1])
    for ax, lab in ((ax_sched, "schedule"), (ax_rate, "rate"), (ax_csi, "csi"), (ax_sense, "sensing"),
                    (ax_pa, "pas"), (ax_cdf, "sinr-cdf"), (ax_thr, "throughput"), (ax_rcdf, "rate-cdf")):
        ax.set_label(lab)
    n_samples = users.groupby("user").size().max() if len(users) else 1
    window = max(1, int(n_samples) // 30)
    target_db = float(users.sinr_target_db.iloc[0]) if len(users) else np.nan
    scheduled_all = bool(users.scheduled.all()) if len(users) else True
    for ax, k in zip(sinr_axes, ks):
        g = users[users.user == k].sort_values("time_s")
        c = user_color(k)
        t = g.time_s.to_numpy()
        served = g.scheduled.to_numpy(bool)
        sinr = np.where(served, g.sinr_db.to_numpy(float), np.nan)    # unserved: no SINR to show
        ax.set_label(f"sinr-u{k}")
        for a, b in _spans(t, g.outage.to_numpy()):
            ax.axvspan(a, b, color=OUTAGE_SHADE, lw=0, zorder=0)
        idle = _spans(t, ~served)
        if idle:
            ax.broken_barh([(a, b - a) for a, b in idle], (0, 1), transform=ax.get_xaxis_transform(),
                           facecolor=UNSCHEDULED_SHADE, lw=0, zorder=0, label="not scheduled")
        ax.plot(t, sinr, color=c, lw=0.7, alpha=0.55, label=f"user {k}")
        ax.plot(t, smooth(sinr, window), color=c, lw=2.0, label=f"user {k} (smoothed)")
        ax.axhline(g.sinr_target_db.iloc[0], color=SINR_TARGET_LINE, ls="--", lw=1.0, label="SINR target")
        ax.set_ylabel(f"u{k} SINR\n[dB]", color=c)
        ax.tick_params(labelbottom=False)
        v, F = ecdf(sinr)
        ax_cdf.step(v, F, where="post", color=c, lw=1.6, label=f"u{k}")
        r, Fr = ecdf(g.rate_bps_hz)
        ax_rcdf.step(r, Fr, where="post", color=c, lw=1.4, label=f"u{k}")
        ax_rate.plot(t, smooth(g.rate_bps_hz, window), color=c, lw=1.1, label=f"u{k} (smoothed)")
    if ks:
        sinr_axes[0].set_title("SINR per user (thin: trace, bold: moving average over "
                               f"{window} samples; dashed: target; grey: outage"
                               + ("" if scheduled_all else "; violet: not scheduled") + ")",
                               fontsize="medium", loc="left")
        mean = users.groupby("time_s").rate_bps_hz.mean()
        if scheduled_all:
            ax_rate.plot(mean.index, mean.to_numpy(), color="k", lw=1.8, label="mean over users")
        else:                   # who is served changes every slot: the raw mean only flickers
            ax_rate.plot(mean.index, smooth(mean.to_numpy(), window), color="k", lw=1.8,
                         label="mean over users (smoothed; unserved = 0)")
        ax_cdf.axvline(target_db, color=SINR_TARGET_LINE, ls="--", lw=1.0, label="target")
    _schedule_panels(ax_sched, ax_thr, users, ks)
    _csi_panel(ax_csi, frames, d)
    ax_cdf.set_xlabel("SINR [dB]")
    ax_cdf.set_ylabel("fraction of samples ≤ x")
    ax_cdf.set_title("SINR CDF per user", fontsize="medium")
    ax_cdf.legend(fontsize="small", loc="upper left")
    ax_rcdf.set_xlabel("rate [bit/s/Hz]")
    ax_rcdf.set_ylabel("fraction ≤ x")
    ax_rcdf.set_title("rate CDF per user", fontsize="medium")
    ax_rate.set_ylabel("rate [bit/s/Hz]")
    ax_rate.tick_params(labelbottom=False)
    has_rcrb = bool(len(targets) and np.isfinite(targets.rcrb_m).any())
    if has_rcrb:
        styles = ("-", "--", ":", "-.")
        for j, g in targets.groupby("target"):
            ax_sense.semilogy(g.time_s, g.rcrb_m * 1e3, color=TARGET, lw=1, ls=styles[int(j) % 4],
                              label=f"target {j} RCRB")
        ax_sense.set_ylabel("RCRB [mm]")
        ax_sense.legend(loc="upper left", fontsize="small")
    so = frames.sensing_outage_exact.to_numpy() if len(frames) else np.array([])
    if np.isfinite(so).any():
        # clustered deployments (MODEL §3.4): outage probabilities span many decades
        ax2 = ax_sense.twinx() if has_rcrb else ax_sense
        floor = 1e-300
        ax2.step(frames.time_s, np.maximum(frames.sensing_outage_exact.to_numpy(), floor), where="post",
                 color="tab:purple", label="sensing outage (exact)")
        if "sensing_outage_chernoff" in frames and np.isfinite(frames.sensing_outage_chernoff).any():
            ax2.step(frames.time_s, np.clip(frames.sensing_outage_chernoff.to_numpy(), floor, 1.0), where="post",
                     color="tab:purple", ls=":", label="Chernoff bound")
        ax2.set_yscale("log")
        ax2.set_ylabel("sensing outage probability", color="tab:purple")
        ax2.legend(loc="upper right", fontsize="small")
    if not has_rcrb and not np.isfinite(so).any():
        ax_sense.text(0.5, 0.5, "no sensing targets", transform=ax_sense.transAxes, ha="center",
                      va="center", color="0.5")
    ax_sense.tick_params(labelbottom=False)
    n_guides = pas.waveguide.nunique() if len(pas) else 1
    for (n, m), g in pas.groupby(["waveguide", "pa"]):
        c = guide_color(n)
        ax_pa.plot(g.time_s, g.s_m, color=c, lw=_nested_width(n, n_guides),
                   label=f"guide {n}" if m == 0 else None)
        ax_pa.plot(g.time_s, g.target_s_m, color=c, lw=0.8, ls=":")
        inactive = ~g.active.to_numpy()
        if inactive.any():
            ax_pa.scatter(g.time_s[inactive], g.s_m[inactive], s=4, color="0.75", zorder=3)
    if "cluster" in pas and (pas.cluster >= 0).any() and "active_clusters" in frames:
        for t, (prev, cur) in zip(frames.time_s[1:], zip(frames.active_clusters[:-1], frames.active_clusters[1:])):
            if prev != cur:
                ax_pa.axvline(t, color="0.8", lw=0.6)
    ax_pa.set_ylabel("PA position along\nguide [m]")
    ax_pa.set_title("PA timeline (solid: position, dotted: commanded; equal tracks nest, "
                    "the first guide widest)", fontsize="medium", loc="left")
    ax_pa.set_xlabel("time [s]")
    for ax in sinr_axes + [ax_rate, ax_csi, ax_sense, ax_pa, ax_cdf, ax_rcdf]:
        ax.grid(True, alpha=0.3)
    # the rate and PA legends sit beside their panels, off the data
    ax_leg = fig.add_subplot(gs[n_k + 2:, 1])
    ax_leg.axis("off")
    ax_leg.set_label("legends")
    h_rate, l_rate = ax_rate.get_legend_handles_labels()
    h_pa, l_pa = ax_pa.get_legend_handles_labels()
    if h_rate:
        leg = ax_leg.legend(h_rate, l_rate, title="rate panel", loc="upper left", fontsize="small",
                            frameon=False)
        ax_leg.add_artist(leg)
    if h_pa:
        ax_leg.legend(h_pa, l_pa, title="PA timeline", loc="lower left", fontsize="small", frameon=False)
    fig.suptitle(f"{meta.get('scene', '')} / {meta.get('policy', '')} (seed {meta.get('seed', '')}): "
                 f"mean rate {summ['mean_rate_bps_hz']:.2f} bit/s/Hz, outage {summ['outage_fraction']:.1%}"
                 + ("" if scheduled_all else
                    f" of scheduled samples ({summ['scheduled_fraction']:.0%} scheduled), 5th-pct user "
                    f"throughput {summ['p5_user_throughput_bps_hz']:.2f} bit/s/Hz")
                 + ("" if meta.get("completed", True) else "  [run did not complete]"))
    return fig


def _schedule_panels(ax, ax_thr, users, ks):
    """The schedule (a user × time raster, each user's colour where it was served, white
    where not) and, beside it, each user's long-run throughput: its rate averaged over the
    run with unserved samples counting 0 (MODEL §5.1), annotated with its served share."""
    from matplotlib.colors import ListedColormap

    ax.set_ylabel("scheduled\nuser")
    ax.tick_params(labelbottom=False)
    if not ks:
        return
    wide = users.pivot_table(index="user", columns="time_s", values="scheduled", aggfunc="max")
    wide = wide.reindex(ks).fillna(False).astype(bool)
    t = wide.columns.to_numpy(float)
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    code = np.where(wide.to_numpy(), np.arange(1, len(ks) + 1)[:, None], 0)
    cmap = ListedColormap([(1.0, 1.0, 1.0)] + [user_color(k) for k in ks])
    ax.imshow(code, cmap=cmap, vmin=-0.5, vmax=len(ks) + 0.5, aspect="auto", origin="upper",
              interpolation="antialiased", interpolation_stage="rgba",
              extent=(t[0] - dt / 2, t[-1] + dt / 2, len(ks) - 0.5, -0.5))
    ax.set_yticks(range(len(ks)), [f"u{k}" for k in ks], fontsize="small")
    share = wide.to_numpy().mean()
    ax.set_title(f"schedule (coloured: served; {share:.0%} of user-samples scheduled)",
                 fontsize="medium", loc="left")
    thr = users.groupby("user").rate_bps_hz.mean().reindex(ks).to_numpy(float)
    frac = wide.to_numpy().mean(axis=1)
    ax_thr.barh(range(len(ks)), thr, color=[user_color(k) for k in ks])
    for i, (v, fr) in enumerate(zip(thr, frac)):
        ax_thr.text(v, i, f" {fr:.0%}", va="center", fontsize="x-small")
    ax_thr.set_yticks(range(len(ks)), [f"u{k}" for k in ks], fontsize="small")
    ax_thr.set_ylim(len(ks) - 0.5, -0.5)
    ax_thr.set_xlim(0, max(float(np.nanmax(thr)) * 1.3, 1e-9) if np.isfinite(thr).any() else 1)
    ax_thr.set_xlabel("throughput [bit/s/Hz]", fontsize="small")
    ax_thr.set_title("long-run throughput\n(unserved = 0; % slots served)", fontsize="small")
    ax_thr.grid(True, axis="x", alpha=0.3)


def _csi_panel(ax, frames, run_dir):
    """Per frame, the NMSE (dB) of the channels the beams were designed for against the
    true channels at use time, and the mean age (ms) of that knowledge (MODEL §5.1),
    on a twin axis ``csi-age``."""
    ax.set_ylabel("CSI NMSE [dB]", color="tab:blue")
    ax.tick_params(labelbottom=False)
    nmse = frames.csi_nmse_db.to_numpy(float) if len(frames) else np.array([])
    age = frames.csi_age_s.to_numpy(float) if len(frames) else np.array([])
    try:
        model = load_run_scene(run_dir).csi.model
    except (ConfigError, ValueError, AttributeError, OSError):    # a label only
        model = ""
    head = f"channel knowledge{f' ({model} CSI)' if model else ''}: "
    if not np.isfinite(nmse).any() and not np.isfinite(age).any():
        ax.set_title(head + "no CSI error recorded", fontsize="medium", loc="left")
        ax.text(0.5, 0.5, "no beams designed from a channel (no CSI error to show)",
                transform=ax.transAxes, ha="center", va="center", color="0.5")
        return
    t = frames.time_s.to_numpy(float)
    frame_s = float(read_meta(run_dir).get("frame_s", np.median(np.diff(t)) if len(t) > 1 else 1.0))
    edges = np.r_[t, t[-1] + frame_s]                     # each frame's value held over the frame
    ax.stairs(np.where(np.isfinite(nmse), nmse, np.nan), edges, color="tab:blue", lw=1.4, label="NMSE [dB]", baseline=None)
    ax.tick_params(axis="y", colors="tab:blue")
    ax2 = ax.twinx()
    ax2.set_label("csi-age")
    ax2.stairs(age * 1e3, edges, color="tab:orange", lw=1.1, ls="--", label="age [ms]", baseline=None)
    ax2.set_ylabel("CSI age [ms]", color="tab:orange")
    ax2.tick_params(axis="y", colors="tab:orange")
    top = np.nanmax(age) * 1e3 if np.isfinite(age).any() else 1.0
    ax2.set_ylim(0, 1.3 * top if top > 0 else 1.0)
    fin = nmse[np.isfinite(nmse)]
    mean = f"mean {fin.mean():.1f} dB" if fin.size else "NMSE −∞ dB"
    ax.set_title(head + f"NMSE of the channel each beam was designed for vs the true one ({mean}, "
                 "blue) and its mean age (orange dashed), per frame", fontsize="medium", loc="left")


def plot_runs(run_dirs, out_png=None) -> Path:
    """One run: :func:`plot_run`. Several: overlay mean rate, outage (moving average over
    a frame), RCRB and cumulative PA travel vs time, one colour per run."""
    run_dirs = [require_run(r) for r in run_dirs]
    if len(run_dirs) == 1:
        return plot_run(run_dirs[0], out_png)
    fig, axes = plt.subplots(2, 2, figsize=(13, 8), constrained_layout=True)
    try:
        for i, d in enumerate(run_dirs):
            users, targets, pas = read_table(d, "users"), read_table(d, "targets"), read_table(d, "pas")
            meta = read_meta(d)
            label = f"{d.name}: {meta.get('policy', '')}"
            c = plt.rcParams["axes.prop_cycle"].by_key()["color"][i % 10]
            by_t = users.groupby("time_s")
            axes[0, 0].plot(by_t.rate_bps_hz.mean(), color=c, lw=1, label=label)
            axes[0, 1].plot(by_t.outage.mean().rolling(10, min_periods=1).mean(), color=c, lw=1, label=label)
            if len(targets) and np.isfinite(targets.rcrb_m).any():
                axes[1, 0].semilogy(targets.groupby("time_s").rcrb_m.mean() * 1e3, color=c, lw=1, label=label)
            if len(pas):
                p = pas.sort_values("time_s")
                step = p.groupby(["waveguide", "pa"]).s_m.diff().abs().fillna(0.0)
                axes[1, 1].plot(step.groupby(p.time_s).sum().cumsum(), color=c, lw=1.2, label=label)
        labels = [("mean user rate [bit/s/Hz]"), ("fraction of users in outage\n(moving average)"),
                  ("RCRB [mm]"), ("cumulative PA travel [m]")]
        for ax, lab in zip(axes.ravel(), labels):
            ax.set_ylabel(lab)
            ax.set_xlabel("time [s]")
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend(fontsize="small")
        scenes = sorted({read_meta(d).get("scene", "") for d in run_dirs})
        fig.suptitle(f"{len(run_dirs)} runs of {', '.join(scenes)}: "
                     + " vs ".join(f"{d.name} ({read_meta(d).get('policy', '')})" for d in run_dirs))
        out = Path(out_png) if out_png else run_dirs[0].parent / "comparison-dashboard.png"
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    return out
