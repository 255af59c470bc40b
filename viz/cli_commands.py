"""What `pass-twin plot` and `pass-twin render` call."""

from __future__ import annotations

from pathlib import Path


def cmd_plot(run_dirs, out=None) -> Path:
    from viz.plots import plot_runs
    return plot_runs(run_dirs, out)


def cmd_render(run_dir, frame=None, out=None, animate=None, html=None, camera="isometric",
               side_by_side_with=None) -> Path:
    from viz import render
    if animate:
        runs = [run_dir] + ([side_by_side_with] if side_by_side_with else [])
        return render.animate_runs(runs, animate, camera=camera)
    if html:
        return render.export_html(run_dir, html, frame=frame)
    return render.render_run(run_dir, out, frame=frame, camera=camera)
