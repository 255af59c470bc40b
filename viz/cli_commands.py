"""What `pass-twin plot` and `pass-twin render` call (twin/cli.py)."""

from __future__ import annotations

from pathlib import Path

from twin.errors import ConfigError
from twin.traces import check_run_dir

CAMERAS = ("isometric", "top", "guide")


def cmd_plot(run_dirs, out=None) -> Path:
    """Dashboard PNG of one run, or an overlay of several (``viz.plots.plot_runs``)."""
    if not run_dirs:
        raise ConfigError("plot", "RUN_DIR", "no run directory given", "pass-twin plot RUN_DIR [RUN_DIR …]")
    for d in run_dirs:
        check_run_dir(d)
    from viz.plots import plot_runs
    return plot_runs(list(run_dirs), out)


def cmd_render(run_dir, frame=None, out=None, animate=None, html=None, camera="isometric",
               side_by_side_with=None, beam="total") -> Path:
    """PNG (default), animation (``animate``: .gif/.mp4) or HTML (``html``) of a run;
    ``side_by_side_with`` draws a second run beside it (PNG or animation). Bad input
    raises ConfigError naming the argument and the fix."""
    check_run_dir(run_dir)
    if side_by_side_with:
        check_run_dir(side_by_side_with)
    if camera not in CAMERAS:
        raise ConfigError("render", "--camera", f"unknown camera {camera!r}", f"use one of {', '.join(CAMERAS)}")
    if animate and html:
        raise ConfigError("render", "--animate/--html", "both given", "choose one output")
    if animate and frame is not None:
        raise ConfigError("render", "--frame", "an animation plays every frame", "drop --frame or --animate")
    if html and side_by_side_with:
        raise ConfigError("render", "--side-by-side", "an HTML export shows one run", "drop --side-by-side")
    from viz import render
    if animate:
        runs = [run_dir] + ([side_by_side_with] if side_by_side_with else [])
        return render.animate_runs(runs, animate, camera=camera, beam=beam)
    if html:
        return render.export_html(run_dir, html, frame=frame, beam=beam)
    return render.render_run(run_dir, out, frame=frame, camera=camera, beam=beam,
                             side_by_side_with=side_by_side_with)
