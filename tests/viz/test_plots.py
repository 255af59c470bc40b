"""Dashboards: one readable SINR panel per user (trace + moving average, target black and
dashed), CDFs, every PA on the timeline, guide tones never a user's colour, outage spans
shaded, figures closed after saving, and no backend forced on import (issue 15 items
6 and 9)."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from twin.engine import Simulation
from twin.scene import load_scene
from viz.colors import SINR_TARGET_LINE, guide_color, user_color
from viz.plots import dashboard_figure, plot_runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = []
    for policy in ("follow", "uniform"):
        d = tmp_path_factory.mktemp(policy)
        Simulation(load_scene("office"), d, policy=policy, frames=30,
                   policy_params={"predict": False} if policy == "uniform" else None).run()
        out.append(d)
    return out


def _axes(fig):
    return {ax.get_label(): ax for ax in fig.axes if ax.get_label()}


def _dist(a, b):
    return float(np.linalg.norm(np.subtract(to_rgb(a), to_rgb(b))))


def test_one_sinr_panel_per_user_with_its_trace_and_the_target(runs):
    import matplotlib.pyplot as plt

    from twin.traces import read_table

    scene = load_scene("office")
    users = read_table(runs[0], "users")
    fig = dashboard_figure(runs[0])
    ax = _axes(fig)
    for k in range(scene.users.n):
        panel = ax[f"sinr-u{k}"]
        raw = [l for l in panel.lines if l.get_label() == f"user {k}"]
        assert len(raw) == 1 and _dist(raw[0].get_color(), user_color(k)) < 1e-6
        g = users[users.user == k].sort_values("time_s")
        assert np.allclose(raw[0].get_ydata(), g.sinr_db.to_numpy())
        smooth = [l for l in panel.lines if "smoothed" in l.get_label()][0]
        y = np.asarray(smooth.get_ydata())
        assert np.abs(np.diff(y)).mean() < np.abs(np.diff(g.sinr_db.to_numpy())).mean()   # smoother
        target = [l for l in panel.lines if l.get_label() == "SINR target"][0]
        assert target.get_linestyle() == "--"
        assert min(_dist(target.get_color(), user_color(j)) for j in range(8)) > 0.5
    cdf = ax["sinr-cdf"]
    steps = [l for l in cdf.lines if l.get_label().startswith("u")]
    assert len(steps) == scene.users.n
    for l in steps:
        F = np.asarray(l.get_ydata())
        assert np.all(np.diff(F) >= 0) and F[-1] == pytest.approx(1.0)
    n_pas = sum(g.pas for g in scene.waveguides)
    assert len(ax["pas"].lines) == 2 * n_pas            # actual + commanded per PA
    assert "[dB]" in ax["sinr-u0"].get_ylabel() and "[m]" in ax["pas"].get_ylabel()
    plt.close(fig)


def test_guide_colours_are_never_user_colours_nor_the_target_line():
    for n in range(5):
        assert min(_dist(guide_color(n), user_color(k)) for k in range(7)) > 0.3
    assert to_rgb(SINR_TARGET_LINE) not in [to_rgb(user_color(k)) for k in range(7)]


def test_outage_spans_are_shaded(runs):
    import matplotlib.pyplot as plt

    fig = dashboard_figure(runs[1])                 # frame-old ZF beams: outage happens
    assert sum(len(a.patches) for n, a in _axes(fig).items() if n.startswith("sinr-u")) > 0
    plt.close(fig)


def test_saved_dashboards_are_closed_and_every_user_colour_is_visible(runs, tmp_path):
    import imageio.v2 as imageio
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    out = plot_runs([runs[0]], tmp_path / "d.png")
    assert set(plt.get_fignums()) == before
    img = imageio.imread(out)[..., :3].astype(int)
    for k in range(4):
        near = np.all(np.abs(img - np.array(to_rgb(user_color(k))) * 255) < 25, axis=-1)
        assert near.sum() > 500, k                  # each user's lines are on the picture
    out = plot_runs(runs, tmp_path / "cmp.png")
    assert set(plt.get_fignums()) == before and out.stat().st_size > 20_000


def test_importing_viz_does_not_select_a_backend():
    """A Jupyter kernel sets its inline backend through MPLBACKEND; importing viz must
    keep it (it used to force Agg, and a notebook then printed `<Figure size …>`)."""
    code = ("import matplotlib; import viz.plots, viz.radiomap, viz.render, viz.html; "
            "import matplotlib.pyplot as plt; print(matplotlib.get_backend())")
    env = {**os.environ, "MPLBACKEND": "svg", "PYTHONPATH": os.getcwd()}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().lower() == "svg"


def _every_policy():
    from twin.controller import PRESETS
    return sorted(PRESETS)


@pytest.mark.parametrize("policy", _every_policy())
def test_dashboard_for_every_policy(policy, tmp_path):
    """Issue 6: plots are produced for runs of every policy that exists, with one SINR
    panel per user and an actual + commanded line per installed PA."""
    import matplotlib.pyplot as plt

    from twin.controller import PRESETS, resolve
    from twin.world import World

    scene = load_scene(PRESETS[policy].example_scene)
    Simulation(scene, tmp_path / "run", policy=policy, frames=3).run()
    fig = dashboard_figure(tmp_path / "run")
    ax = _axes(fig)
    panels = [a for n, a in ax.items() if n.startswith("sinr-u")]
    assert len(panels) == scene.users.n
    n_pas = int(World(scene, hardware=resolve(policy).hardware).tx.installed.sum())
    assert len(ax["pas"].lines) == 2 * n_pas
    for panel in panels:                                  # finite SINRs were plotted
        assert np.isfinite(panel.lines[0].get_ydata()).any()
    png = io.BytesIO()                                    # drawn as plot_run saves it (its file: above)
    try:
        fig.savefig(png, dpi=100)
    finally:
        plt.close(fig)
    assert len(png.getvalue()) > 20_000


def test_dashboard_shows_the_schedule_and_the_channel_knowledge(tmp_path):
    """Issue 12 item 6: with more users than guides, each SINR panel tints the slots its
    user was not served in and draws no SINR there; the schedule raster is the traced
    `scheduled` column; the CSI panel plots each frame's NMSE (dB) and, on its twin axis,
    the CSI age (ms)."""
    import matplotlib.pyplot as plt

    from twin.traces import read_table
    from viz.plots import UNSCHEDULED_SHADE

    Simulation(load_scene("office", {"users.count": 8}), tmp_path, policy="uniform", frames=3, seed=1,
               policy_params={"schedule": "round-robin"}).run()
    users, frames = read_table(tmp_path, "users"), read_table(tmp_path, "frames")
    fig = dashboard_figure(tmp_path)
    ax = _axes(fig)
    for k in range(8):
        panel = ax[f"sinr-u{k}"]
        g = users[users.user == k].sort_values("time_s")
        idle = [c for c in panel.collections if c.get_label() == "not scheduled"]
        assert len(idle) == 1 and _dist(idle[0].get_facecolor()[0][:3], UNSCHEDULED_SHADE) < 1e-6
        # one tinted bar per run of unserved samples, covering exactly those samples
        bars = [p.vertices[:, 0] for p in idle[0].get_paths()]
        t = g.time_s.to_numpy()
        inside = np.zeros(len(t), bool)
        for xs in bars:
            inside |= (t > xs.min()) & (t < xs.max())
        assert np.array_equal(inside, ~g.scheduled.to_numpy())
        raw = [l for l in panel.lines if l.get_label() == f"user {k}"][0]
        y = np.asarray(raw.get_ydata(), float)
        assert np.isnan(y[~g.scheduled.to_numpy()]).all()
        assert np.allclose(y[g.scheduled.to_numpy()], g.sinr_db[g.scheduled].to_numpy())
    img = ax["schedule"].images[0].get_array()
    wide = users.pivot_table(index="user", columns="time_s", values="scheduled", aggfunc="max")
    assert np.array_equal(np.asarray(img) > 0, wide.to_numpy(bool))
    assert (np.asarray(img).sum(axis=0) > 0).all() and ((np.asarray(img) > 0).sum(axis=0) == 4).all()
    nmse = ax["csi"].patches[0].get_data()[0] if ax["csi"].patches else None
    assert nmse is not None and np.allclose(nmse, frames.csi_nmse_db.to_numpy())
    age = ax["csi-age"].patches[0].get_data()[0]
    assert np.allclose(age, frames.csi_age_s.to_numpy() * 1e3) and (age > 0).all()
    assert "NMSE" in ax["csi"].get_ylabel() and "[ms]" in ax["csi-age"].get_ylabel()
    plt.close(fig)
