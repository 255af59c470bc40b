"""``pass-twin`` command line: thin wrappers over the library (docs in README.md)."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from twin.errors import ConfigError
from twin.scene.values import parse_assignments, parse_value  # noqa: F401 - re-exported


def _fmt(value, fmt: str, scale: float = 1.0, unit: str = "") -> str:
    try:
        v = float(value) * scale
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if v != v else f"{v:{fmt}}{unit}"


def _summary_table(summary: dict, out: Path | None) -> str:
    g = summary.get
    rows = [
        ("policy", summary.get("policy", "")),
        ("frames", summary.get("frames")),
        ("simulated time", f"{summary.get('duration_s', 0):.2f} s"),
        ("mean rate", _fmt(g("mean_rate_bps_hz"), ".3f", unit=" bit/s/Hz")),
        ("5th-pct rate", _fmt(g("p5_rate_bps_hz"), ".3f", unit=" bit/s/Hz")),
        ("outage fraction", _fmt(g("outage_fraction"), ".2%")),
        ("mean RCRB", _fmt(g("mean_rcrb_m"), ".4g", 1e3, " mm")),
        ("sensing outage", _fmt(g("mean_sensing_outage"), ".4g")),
        ("PA travel", _fmt(g("pa_travel_m"), ".2f", unit=" m")),
        ("controller time", _fmt(g("mean_solve_time_s"), ".2f", 1e3, " ms/frame")
         + " (p95 " + _fmt(g("p95_solve_time_s"), ".2f", 1e3, " ms)")),
        ("fallback frames", summary.get("fallback_frames", 0)),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"  {k:<{width}}  {v}" for k, v in rows]
    if out is not None:
        lines.append(f"  traces in {out}/  (pass-twin plot {out}; pass-twin render {out})")
    return "\n".join(lines)


def cmd_run(args) -> int:
    from twin.engine import Simulation
    from twin.scene import load_scene

    overrides = parse_assignments(args.set, "--set")
    if args.frames is not None:
        overrides["simulation.frames"] = args.frames
    if args.duration is not None:
        overrides["simulation.duration_s"] = args.duration
        overrides["simulation.frames"] = None
    if args.seed is not None:
        overrides["simulation.seed"] = args.seed
    scene = load_scene(args.scene, overrides)
    params = parse_assignments(args.param, "--param")
    out = Path(args.out)
    sim = Simulation(scene, out, policy=args.policy, policy_params=params or None,
                     progress=not args.quiet)
    try:
        summary = sim.run()
    except KeyboardInterrupt:
        from twin.traces import summarize
        print(f"\ninterrupted: partial traces in {out}/", file=sys.stderr)
        summary = summarize(out)
        print(_summary_table(summary, out))
        return 130
    print(f"\n{scene.name}: {scene.description}")
    print(_summary_table(summary, out))
    return 0


def cmd_scenes(args) -> int:
    from twin.scene import builtin_scenes, load_scene

    for name, path in builtin_scenes().items():
        try:
            desc = load_scene(path).description
        except ConfigError as e:
            desc = f"(invalid: {e})"
        print(f"{name:<12} {desc}")
    return 0


def cmd_policies(args) -> int:
    from twin.controller import PRESETS, ROLES, stages

    print("Presets (a controller is select → position → schedule → beamform; replace a stage with "
          "--param ROLE=STAGE, set one with --param ROLE.PARAM=VALUE):\n")
    for name, pre in PRESETS.items():
        hw = f"  hardware: {pre.hardware['kind']}" if pre.hardware else ""
        print(f"{name:<20} {pre.description}")
        print(f"{'':<20} {' → '.join(f'{r}={pre.stages[r]}' for r in ROLES)}{hw}  (scene: {pre.example_scene})")
        fixed = {r: p for r, p in pre.params.items() if p}
        if fixed:
            print(f"{'':<20} sets: " + ", ".join(f"{r}.{k}={v!r}" for r, p in fixed.items() for k, v in p.items()))
        if pre.aliases:
            print(f"{'':<20} params: " + ", ".join(f"{k} (→ {', '.join(v)})" for k, v in pre.aliases.items()))
    print("\nStages and their parameters (default unit [range] meaning):")
    for role, reg in stages().items():
        print(f"\n{role}:")
        for name, cls in reg.items():
            print(f"  {name:<18} {cls.description}")
            for k, prm in cls.params.items():
                print(f"  {'':<18}   {k} = {prm.describe()}")
    return 0


def cmd_plot(args) -> int:
    from viz.cli_commands import cmd_plot as plot

    path = plot(args.runs, args.out)
    print(f"wrote {path}")
    return 0


def cmd_render(args) -> int:
    from viz.cli_commands import cmd_render as render

    path = render(args.run, frame=args.frame, out=args.out, animate=args.animate, html=args.html,
                  camera=args.camera, side_by_side_with=args.side_by_side)
    print(f"wrote {path}")
    return 0


def cmd_figure(args) -> int:
    from twin.experiments.figures import available, run_figure

    if args.name == "list":
        for name, spec in available().items():
            print(f"{name:<26} {spec.ylabel} vs {spec.xlabel}")
        return 0
    df = run_figure(args.name, args.out, quick=args.quick, seed=args.seed)
    print(df.to_string(index=False, max_rows=60))
    print(f"\nwrote {Path(args.out) / (args.name + '.csv')} and .png")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pass-twin", description="Digital twin of a pinching-antenna system")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a scene and write traces")
    r.add_argument("scene", nargs="?", default="office", help="built-in scene name or path (default: office)")
    r.add_argument("--out", default="runs/latest", help="run directory (default: runs/latest)")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--frames", type=int, help="number of frames")
    g.add_argument("--duration", type=float, help="simulated seconds")
    r.add_argument("--seed", type=int)
    r.add_argument("--policy", help="controller policy (see `pass-twin policies`)")
    r.add_argument("--param", action="append", metavar="KEY=VALUE", help="policy parameter")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="scene field override (dotted path)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_run)

    sub.add_parser("scenes", help="list built-in scenes").set_defaults(func=cmd_scenes)
    sub.add_parser("policies", help="list controller policies").set_defaults(func=cmd_policies)

    pl = sub.add_parser("plot", help="dashboard PNG of one or more runs")
    pl.add_argument("runs", nargs="+")
    pl.add_argument("--out", help="PNG path (default: RUN/dashboard.png)")
    pl.set_defaults(func=cmd_plot)

    rd = sub.add_parser("render", help="3D render (PNG), animation (GIF/MP4) or HTML of a run")
    rd.add_argument("run")
    rd.add_argument("--frame", type=int, help="frame to render (default: last)")
    rd.add_argument("--out", help="PNG path (default: RUN/render.png)")
    rd.add_argument("--animate", metavar="OUT.mp4|OUT.gif")
    rd.add_argument("--html", metavar="OUT.html")
    rd.add_argument("--camera", default="isometric", choices=["isometric", "top", "guide"])
    rd.add_argument("--side-by-side", metavar="RUN_B", help="second run shown beside the first")
    rd.set_defaults(func=cmd_render)

    fg = sub.add_parser("figure", help="reproduce a paper figure (NAME or 'list')")
    fg.add_argument("name")
    fg.add_argument("--quick", action="store_true", help="few drops, coarse sweep")
    fg.add_argument("--out", default="figures")
    fg.add_argument("--seed", type=int, default=0)
    fg.set_defaults(func=cmd_figure)

    from viz.cli_commands import add_map_command
    add_map_command(sub)

    from twin.experiments.cli import add_experiment_commands
    add_experiment_commands(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"pass-twin: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
