"""Matplotlib dashboards of run traces (docs/traces.md)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from twin.traces import check_run_dir, read_meta, read_table, summarize  # noqa: E402
from viz.colors import guide_color, user_color  # noqa: E402


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


def plot_run(run_dir, out_png=None) -> Path:
    """One-run dashboard PNG (:func:`dashboard_figure`); default ``RUN/dashboard.png``."""
    d = check_run_dir(run_dir)
    fig = dashboard_figure(d)
    out = Path(out_png) if out_png else d / "dashboard.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def dashboard_figure(run_dir):
    """One-run dashboard: per-user SINR vs target with outage spans shaded, rates, RCRB
    and sensing outage, and the PA timeline (along-guide position of every PA)."""
    d = check_run_dir(run_dir)
    users, targets = read_table(d, "users"), read_table(d, "targets")
    pas, frames = read_table(d, "pas"), read_table(d, "frames")
    meta, summ = read_meta(d), summarize(d)
    fig, axes = plt.subplots(4, 1, figsize=(11, 12), sharex=True, constrained_layout=True)
    ax_sinr, ax_rate, ax_sense, ax_pa = axes
    n_users = users.user.nunique() if len(users) else 1
    for k, g in users.groupby("user"):
        c = user_color(k)
        lw = _nested_width(k, n_users)       # equal tracks (ZF gives equal SINRs) stay visible
        ax_sinr.plot(g.time_s, g.sinr_db, color=c, lw=lw, label=f"user {k}")
        ax_sinr.axhline(g.sinr_target_db.iloc[0], color=c, ls="--", lw=0.8)
        for a, b in _spans(g.time_s.to_numpy(), g.outage.to_numpy()):
            ax_sinr.axvspan(a, b, color=c, alpha=0.12, lw=0)
        ax_rate.plot(g.time_s, g.rate_bps_hz, color=c, lw=lw, label=f"user {k}")
    if len(users):
        mean = users.groupby("time_s").rate_bps_hz.mean()
        ax_rate.plot(mean.index, mean.to_numpy(), color="k", lw=1.6, label="mean")
    ax_sinr.set_ylabel("SINR [dB]\n(dashed: target; shaded: outage)")
    ax_sinr.legend(ncol=6, fontsize="small", loc="lower left")
    ax_rate.set_ylabel("rate [bit/s/Hz]")
    ax_rate.legend(ncol=7, fontsize="small", loc="lower left")
    has_rcrb = len(targets) and np.isfinite(targets.rcrb_m).any()
    if has_rcrb:
        for j, g in targets.groupby("target"):
            ax_sense.semilogy(g.time_s, g.rcrb_m * 1e3, color="k", lw=1, label=f"target {j} RCRB")
        ax_sense.set_ylabel("RCRB [mm]")
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
    n_guides = pas.waveguide.nunique() if len(pas) else 1
    for (n, m), g in pas.groupby(["waveguide", "pa"]):
        c = guide_color(n)
        ax_pa.plot(g.time_s, g.s_m, color=c, lw=_nested_width(n, n_guides),
                   label=f"guide {n}" if m == 0 else None)
        ax_pa.plot(g.time_s, g.target_s_m, color=c, lw=0.6, ls=":")
        inactive = ~g.active.to_numpy()
        if inactive.any():
            ax_pa.scatter(g.time_s[inactive], g.s_m[inactive], s=4, color="0.6", zorder=3)
    if "cluster" in pas and (pas.cluster >= 0).any() and "active_clusters" in frames:
        for t, (prev, cur) in zip(frames.time_s[1:], zip(frames.active_clusters[:-1], frames.active_clusters[1:])):
            if prev != cur:
                ax_pa.axvline(t, color="0.8", lw=0.6)
    ax_pa.set_ylabel("PA position along guide [m]\n(dotted: commanded)")
    ax_pa.set_xlabel("time [s]")
    ax_pa.legend(ncol=8, fontsize="small", loc="upper left")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"{meta.get('scene', '')} / {meta.get('policy', '')} (seed {meta.get('seed', '')}): "
                 f"mean rate {summ['mean_rate_bps_hz']:.2f} bit/s/Hz, outage {summ['outage_fraction']:.1%}"
                 + ("" if meta.get("completed", True) else "  [run did not complete]"))
    return fig


def plot_runs(run_dirs, out_png=None) -> Path:
    """One run: :func:`plot_run`. Several: overlay mean rate, outage (moving average over
    a frame), RCRB and cumulative PA travel vs time, one colour per run."""
    run_dirs = [check_run_dir(r) for r in run_dirs]
    if len(run_dirs) == 1:
        return plot_run(run_dirs[0], out_png)
    fig, axes = plt.subplots(2, 2, figsize=(13, 8), constrained_layout=True)
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
    out = Path(out_png) if out_png else run_dirs[0].parent / "comparison-dashboard.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
