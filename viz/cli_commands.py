"""What `pass-twin plot`, `render` and `map` call (twin/cli.py)."""

from __future__ import annotations

from pathlib import Path

from twin.errors import ConfigError
from viz.rundir import require_run

CAMERAS = ("isometric", "top", "guide")
METRICS = ("sinr", "power")


def check_out(path, command: str, flag: str) -> None:
    """An output file name the command can write: not a directory, in an existing,
    writable directory. One line naming the flag otherwise."""
    if path is None:
        return
    import os

    p = Path(path)
    if p.is_dir():
        raise ConfigError(command, flag, f"{path} is a directory", "give a file name, e.g. out.png")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        what = "is a file" if parent.exists() else "does not exist"
        raise ConfigError(command, flag, f"the folder {parent} {what}", "create it or choose another path")
    if not os.access(parent, os.W_OK):
        raise ConfigError(command, flag, f"cannot write into {parent}", "choose a writable folder")


def cmd_plot(run_dirs, out=None) -> Path:
    """Dashboard PNG of one run, or an overlay of several (``viz.plots.plot_runs``)."""
    if not run_dirs:
        raise ConfigError("plot", "RUN_DIR", "no run directory given", "pass-twin plot RUN_DIR [RUN_DIR …]")
    for d in run_dirs:
        require_run(d)
    check_out(out, "plot", "--out")
    from viz.plots import plot_runs
    return plot_runs(list(run_dirs), out)


def cmd_render(run_dir, frame=None, out=None, animate=None, html=None, camera="isometric",
               side_by_side_with=None, beam="total", progress=True) -> Path:
    """PNG (default), animation (``animate``: .gif/.mp4) or HTML (``html``) of a run;
    ``side_by_side_with`` draws a second run beside it (PNG or animation). Bad input
    raises ConfigError naming the argument and the fix. ``progress`` shows a bar on
    stderr."""
    require_run(run_dir)
    if side_by_side_with:
        require_run(side_by_side_with)
    if camera not in CAMERAS:
        raise ConfigError("render", "--camera", f"unknown camera {camera!r}", f"use one of {', '.join(CAMERAS)}")
    if animate and html:
        raise ConfigError("render", "--animate/--html", "both given", "choose one output")
    if animate and frame is not None:
        raise ConfigError("render", "--frame", "an animation plays every frame", "drop --frame or --animate")
    if html and side_by_side_with:
        raise ConfigError("render", "--side-by-side", "an HTML export shows one run", "drop --side-by-side")
    if html and Path(html).suffix.lower() not in (".html", ".htm"):
        raise ConfigError("render", "--html", f"{html!r} is not an .html file name", "e.g. --html office.html")
    for path, flag in ((out, "--out"), (animate, "--animate"), (html, "--html")):
        check_out(path, "render", flag)
    from viz import render
    if animate:
        runs = [run_dir] + ([side_by_side_with] if side_by_side_with else [])
        return render.animate_runs(runs, animate, camera=camera, beam=beam, progress=progress)
    if html:
        from viz.html import export_run_html
        return export_run_html(run_dir, html, frame=frame, progress=progress)
    return render.render_run(run_dir, out, frame=frame, camera=camera, beam=beam,
                             side_by_side_with=side_by_side_with, progress=progress)


def cmd_map(run_dir, frame=None, metric="sinr", user=None, out=None, nx=320) -> Path:
    """Top-down radio map PNG of one frame (``viz.radiomap.plot_radio_map``)."""
    d = require_run(run_dir)
    if metric not in METRICS:
        raise ConfigError("map", "--metric", f"unknown metric {metric!r}", f"use one of {', '.join(METRICS)}")
    if user is not None and metric != "sinr":
        raise ConfigError("map", "--user", "a power map sums every stream", "drop --user or use --metric sinr")
    if not 8 <= int(nx) <= 2000:
        raise ConfigError("map", "--cells", f"{nx} cells across is outside 8 … 2000", "e.g. --cells 320")
    check_out(out, "map", "--out")
    from viz.radiomap import plot_radio_map
    from viz.render import RunData

    data = RunData.load(d)
    if frame is not None and not 0 <= int(frame) < data.n_frames:
        raise ConfigError(str(d), "--frame", f"frame {frame} is outside the run", f"choose 0 … {data.n_frames - 1}")
    n_users = int(data.users.user.max()) + 1 if len(data.users) else 0
    if user is not None and not 0 <= int(user) < n_users:
        raise ConfigError("map", "--user", f"user {user} is not in the run", f"choose 0 … {n_users - 1}")
    return plot_radio_map(data, out, frame=frame, metric=metric, user=user, nx=int(nx))


def _run_map(args) -> int:
    path = cmd_map(args.run, frame=args.frame, metric=args.metric, user=args.user, out=args.out,
                   nx=args.cells)
    print(f"wrote {path}")
    return 0


def add_map_command(sub) -> None:
    """Register ``pass-twin map`` on the CLI's subparsers."""
    mp = sub.add_parser("map", help="top-down radio map (SINR or received power) of a run's frame",
                        description="Top-down radio map of one frame of a run: SINR or received power "
                                    "in dBm over the floor at user height, from the traced PA positions "
                                    "and beams, with walls, guides, PAs, users and targets drawn.")
    mp.add_argument("run", help="run directory (the --out of `pass-twin run`)")
    mp.add_argument("--frame", type=int, help="frame to map (default: the last)")
    mp.add_argument("--metric", default="sinr", choices=list(METRICS),
                    help="sinr: SINR in dB (best stream at each point, or --user's stream); "
                         "power: received power in dBm (default: sinr)")
    mp.add_argument("--user", type=int, help="SINR of this user's stream (default: best stream at each point)")
    mp.add_argument("--cells", type=int, default=320, help="map cells across the floor (default: 320)")
    mp.add_argument("--out", help="PNG path (default: RUN/map-<metric>.png)")
    mp.set_defaults(func=_run_map)
