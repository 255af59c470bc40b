"""Dashboards show every user, every PA and the outage spans."""

import numpy as np
import pytest

from twin.engine import Simulation
from twin.scene import load_scene
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


def test_dashboard_has_a_line_per_user_and_per_pa(runs):
    import matplotlib.pyplot as plt

    scene = load_scene("office")
    fig = dashboard_figure(runs[0])
    ax_sinr, ax_rate, ax_sense, ax_pa = fig.axes[:4]
    labels = [l.get_label() for l in ax_sinr.lines if l.get_label().startswith("user")]
    assert labels == [f"user {k}" for k in range(scene.users.n)]
    n_pas = sum(g.pas for g in scene.waveguides)
    assert len(ax_pa.lines) == 2 * n_pas            # actual + commanded per PA
    assert "[dB]" in ax_sinr.get_ylabel() and "[m]" in ax_pa.get_ylabel()
    plt.close(fig)


def test_outage_spans_are_shaded(runs):
    import matplotlib.pyplot as plt

    fig = dashboard_figure(runs[1])                 # frame-old ZF beams: outage happens
    assert len(fig.axes[0].patches) > 0
    plt.close(fig)


def test_overlay_of_several_runs(runs, tmp_path):
    out = plot_runs(runs, tmp_path / "cmp.png")
    assert out.exists() and out.stat().st_size > 20_000


def _every_policy():
    from twin.controller import PRESETS
    return sorted(PRESETS)


@pytest.mark.parametrize("policy", _every_policy())
def test_dashboard_for_every_policy(policy, tmp_path):
    """Issue 6: plots are produced for runs of every policy that exists, with one SINR
    line per user and an actual + commanded line per installed PA."""
    import matplotlib.pyplot as plt

    from twin.controller import PRESETS, resolve
    from twin.world import World

    scene = load_scene(PRESETS[policy].example_scene)
    Simulation(scene, tmp_path / "run", policy=policy, frames=3).run()
    fig = dashboard_figure(tmp_path / "run")
    ax_sinr, ax_rate, ax_sense, ax_pa = fig.axes[:4]
    users = [l for l in ax_sinr.lines if l.get_label().startswith("user")]
    assert len(users) == scene.users.n
    n_pas = int(World(scene, hardware=resolve(policy).hardware).tx.installed.sum())
    assert len(ax_pa.lines) == 2 * n_pas
    for line in users:                                  # finite SINRs were plotted
        assert np.isfinite(line.get_ydata()).any()
    plt.close(fig)
    out = plot_runs([tmp_path / "run"], tmp_path / "d.png")
    assert out.stat().st_size > 20_000
