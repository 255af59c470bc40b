"""``pass-twin`` command line: thin wrappers over the library (docs in README.md)."""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

from twin import __version__
from twin.errors import ConfigError
from twin.scene.values import parse_assignments, parse_value  # noqa: F401 - re-exported

#: Files that mark a directory as a run directory (written by twin.engine / twin.traces).
RUN_MARKERS = ("scene.json", "summary.json", "meta.json")
DEFAULT_RUN_DIR = "runs/latest"


def _nearest_existing(p: Path) -> Path:
    a = p
    while not a.exists() and a != a.parent:
        a = a.parent
    return a


def _check_writable_dir(d: Path, flag: str) -> None:
    """Create ``d`` if needed and write a probe file in it, or a ConfigError naming ``flag``."""
    anc = _nearest_existing(d)
    if anc.exists() and not anc.is_dir():
        what = "is a file" if anc == d else f"is under a file ({anc})"
        raise ConfigError(flag, str(d), f"{what}, not a directory",
                          f"give {flag} a directory path that is not a file or inside one")
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=d, prefix=".write-test-"):
            pass
    except OSError as e:
        raise ConfigError(flag, str(d), f"cannot write there: {e.strerror or e}",
                          f"give {flag} a directory you can write to") from None


def is_run_dir(d: Path) -> bool:
    """True if ``d`` holds a run (its scene, summary or trace tables)."""
    return d.is_dir() and (any((d / m).exists() for m in RUN_MARKERS) or any(d.glob("*.parquet")))


def check_run_dir(out: Path, force: bool, flag: str = "--out", default: bool = False) -> bool:
    """Check ``out`` can take a new run: refuse a file, a path under a file, a directory
    that cannot be written, a non-empty directory that is not a run, and an existing run
    unless ``force`` (the default run directory is always replaced). Creates ``out`` if
    missing; returns True when a previous run there must be replaced (:func:`replace_run_dir`)."""
    replace = False
    if out.is_dir() and any(out.iterdir()):
        if not is_run_dir(out):
            raise ConfigError(flag, str(out), "is a directory holding other files, not a run",
                              f"give {flag} a new or empty directory (e.g. runs/NAME)")
        if not (force or default):
            raise ConfigError(flag, str(out), "already holds a run",
                              f"add --force to replace it, or give another {flag}")
        replace = True
    _check_writable_dir(out, flag)
    return replace


def replace_run_dir(out: Path, flag: str = "--out") -> None:
    """Delete the previous run in ``out`` (checked by :func:`check_run_dir`) and recreate it."""
    print(f"pass-twin: replacing the previous run in {out}/", file=sys.stderr)
    try:
        shutil.rmtree(out)
        out.mkdir(parents=True)
    except OSError as e:
        raise ConfigError(flag, str(out), f"cannot replace the previous run: {e.strerror or e}",
                          f"remove it yourself or give another {flag}") from None


def _check_out_file(path: str | None, flag: str) -> None:
    """An output file path (PNG, GIF, HTML): not a directory, its folder writable."""
    if not path:
        return
    p = Path(path)
    if p.is_dir():
        raise ConfigError(flag, path, "is a directory, not a file", f"give {flag} a file path (e.g. {p / 'out.png'})")
    parent = p.parent
    anc = _nearest_existing(parent)
    if not anc.is_dir():
        raise ConfigError(flag, path, f"is under a file ({anc})", f"give {flag} a path in a directory")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ConfigError(flag, path, f"cannot write in {anc}", f"give {flag} a path you can write to")


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
        ("outage fraction", _fmt(g("outage_fraction"), ".2%")
         + ("" if g("scheduled_fraction") in (None, 1.0) else
            " of scheduled samples (" + _fmt(g("scheduled_fraction"), ".0%") + " scheduled)")),
        ("user throughput", _fmt(g("mean_user_throughput_bps_hz"), ".3f", unit=" bit/s/Hz")
         + " mean, " + _fmt(g("p5_user_throughput_bps_hz"), ".3f") + " 5th pct over users"),
        ("mean RCRB", _fmt(g("mean_rcrb_m"), ".4g", 1e3, " mm")),
        ("sensing outage", _fmt(g("mean_sensing_outage"), ".4g")),
        ("PA travel", _fmt(g("pa_travel_m"), ".2f", unit=" m")),
        ("controller time", _fmt(g("mean_solve_time_s"), ".2f", 1e3, " ms/frame")
         + " (p95 " + _fmt(g("p95_solve_time_s"), ".2f", 1e3, " ms") + ")"),
        ("fallback frames", summary.get("fallback_frames", 0)),
        ("frames by status", ", ".join(f"{k} {v}" for k, v in (summary.get("status_counts") or {}).items())
         or "n/a"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"  {k:<{width}}  {v}" for k, v in rows]
    if out is not None:
        lines.append(f"  traces in {out}/  (pass-twin plot {out}; pass-twin render {out})")
    return "\n".join(lines)


def cmd_run(args) -> int:
    from twin.scene import load_scene

    overrides = parse_assignments(args.set, "--set")
    sources = {}
    if args.frames is not None:
        overrides["simulation.frames"] = args.frames
        sources["simulation.frames"] = "--frames"
    if args.duration is not None:
        overrides["simulation.duration_s"] = args.duration
        overrides["simulation.frames"] = None
        sources["simulation.duration_s"] = sources["simulation.frames"] = "--duration"
    if args.seed is not None:
        overrides["simulation.seed"] = args.seed
        sources["simulation.seed"] = "--seed"
    scene = load_scene(args.scene, overrides, sources)
    params = parse_assignments(args.param, "--param")
    if args.out is not None and not args.out.strip():
        raise ConfigError("--out", "(path)", "is empty", "give a run directory, e.g. --out runs/NAME")
    out = Path(args.out or DEFAULT_RUN_DIR)
    replace = check_run_dir(out, args.force, default=args.out is None)
    from twin.engine import Simulation  # after the checks: bad input is reported before the heavy imports
    sim = Simulation(scene, out, policy=args.policy, policy_params=params or None,
                     progress=not args.quiet)
    if replace:  # only now: a bad policy or parameter above leaves the previous run intact
        replace_run_dir(out)
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

    _check_out_file(args.out, "--out")

    path = plot(args.runs, args.out)
    print(f"wrote {path}")
    return 0


def cmd_render(args) -> int:
    from viz.cli_commands import cmd_render as render

    for flag, path in (("--out", args.out), ("--animate", args.animate), ("--html", args.html)):
        _check_out_file(path, flag)

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
    from twin.experiments.figures import dask_client, last_counts

    if args.name != "all" and args.name not in available():   # reported before any directory is made
        run_figure(args.name, args.out)
    if args.workers is not None and args.dask != "local":
        raise ConfigError("--workers", "N", "sets the size of --dask local only", "add --dask local or drop --workers")
    _check_writable_dir(Path(args.out), "--out")
    names = list(available()) if args.name == "all" else [args.name]
    import time
    with dask_client(args.dask, args.workers) as client:
        if args.name == "all" and client is not None:
            _figures_at_once(names, args, client)
            print(f"wrote {len(names)} figures to {args.out}")
            return 0
        for i, name in enumerate(names, 1):
            tag = f"[{i}/{len(names)}] {name}" if args.name == "all" else name
            if args.name == "all" and _figure_done(Path(args.out), name):
                print(f"{tag}: already in {args.out}, kept", file=sys.stderr)
                continue
            t0, c0 = time.perf_counter(), time.process_time()
            df = run_figure(name, args.out, quick=args.quick, seed=args.seed, progress=True, cache=True,
                            client=client)
            n = last_counts()
            cpu = f", CPU {time.process_time() - c0:.1f} s" if client is None else ""
            print(f"{tag}: {time.perf_counter() - t0:.1f} s{cpu} ({n['computed']} drops computed, "
                  f"{n['cached']} from {Path(args.out) / '.drops'})", file=sys.stderr)
    if args.name == "all":
        print(f"wrote {len(names)} figures to {args.out}")
    else:
        print(df.to_string(index=False, max_rows=60))
        print(f"\nwrote {Path(args.out) / (args.name + '.csv')} and .png")
    return 0


def _figure_done(out: Path, name: str) -> bool:
    """Figure ``name``'s CSV and PNG are both in ``out`` (``figure all`` keeps it)."""
    return (out / f"{name}.csv").exists() and (out / f"{name}.png").exists()


def _figures_at_once(names, args, client) -> None:
    """``figure all`` on Dask: the figures not yet in OUT run together
    (:func:`twin.experiments.figures.run_figures`), a line per figure as it finishes; the
    first figure's error is raised after the others have finished."""
    import time

    from twin.experiments.figures import run_figures

    out = Path(args.out)
    kept = [n for n in names if _figure_done(out, n)]
    for n in kept:
        print(f"{n}: already in {out}, kept", file=sys.stderr)
    todo = [n for n in names if n not in kept]
    t0, done = time.perf_counter(), []

    def report(name, df, counts, error):
        done.append(name)
        head = f"[{len(done)}/{len(todo)}] {name}"
        if error is not None:
            print(f"{head}: failed after {time.perf_counter() - t0:.1f} s: {error}", file=sys.stderr)
            return
        print(f"{head}: done at {time.perf_counter() - t0:.1f} s ({counts['computed']} drops computed, "
              f"{counts['cached']} from {out / '.drops'})", file=sys.stderr)

    import math

    c0, (w0, _) = time.process_time(), _workers_cpu(client)
    errors = run_figures(todo, out, client, quick=args.quick, seed=args.seed, on_done=report)
    w1, n_workers = _workers_cpu(client)
    if todo:
        cpu = time.process_time() - c0 + w1 - w0
        print(f"{len(todo)} figures: {_min_s(time.perf_counter() - t0)} wall"
              + (f", {_min_s(cpu)} CPU (this process and {n_workers} workers)" if math.isfinite(cpu) else ""),
              file=sys.stderr)
    if errors:
        raise next(iter(errors.values()))


def _min_s(seconds: float) -> str:
    """``71 min 4 s`` (a minute or more) or ``2.4 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s} s"


def _workers_cpu(client) -> tuple[float, int]:
    """(CPU seconds of the Dask workers' processes so far, number of workers); NaN when the
    workers cannot tell (then only the wall time of ``figure all`` is reported)."""
    import time

    try:
        per = client.run(time.process_time)
        return float(sum(per.values())), len(per)
    except Exception:                   # a scheduler that refuses client.run: no CPU figure
        return float("nan"), 0


def int_at_least(text: str, lo: int, what: str) -> int:
    """argparse type body: an integer ≥ ``lo``, else one line naming ``what``."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: give an integer ≥ {lo}") from None
    if v < lo:
        raise argparse.ArgumentTypeError(f"invalid {what} {v}: give an integer ≥ {lo}")
    return v


def seed_int(text: str) -> int:
    """argparse type: an integer ≥ 0 (a numpy seed)."""
    return int_at_least(text, 0, "seed")


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1 (a count of workers)."""
    return int_at_least(text, 1, "count")


def _has_default(action) -> bool:
    """A default worth showing: not None, not a store_true's False, not suppressed (0 is one)."""
    return not (action.default is None or action.default is False or action.default is argparse.SUPPRESS)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, unless its help already states one or it has none."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or not _has_default(action):
            return text
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """Usage errors as one line naming the flag and the fix, exit status 2 (as ConfigError)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        fix = f"see {self.prog} --help"
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group(2))
            close = difflib.get_close_matches(m.group(1), choices, n=1)
            message = message[:m.start()] + f"invalid choice: {m.group(1)!r}"
            fix = (f"did you mean {close[0]!r}? " if close else "") + f"choose from {', '.join(choices)}"
        self.exit(2, f"{self.prog}: error: {message} (fix: {fix})\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="pass-twin", description="Digital twin of a pinching-antenna system")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                   help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run a scene and write traces", description="Run a scene and write its traces.")
    r.add_argument("scene", nargs="?", default="office",
                   help="built-in scene name (see `pass-twin scenes`) or path to a .toml/.yaml scene file")
    r.add_argument("--out", metavar="DIR",
                   help=f"run directory (default: {DEFAULT_RUN_DIR}, replaced by every run that does not "
                        "give --out); an existing run there is refused unless --force")
    r.add_argument("--force", action="store_true", help="replace the run already in --out")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--frames", type=int, metavar="N",
                   help="number of controller frames (default: the scene's simulation.frames)")
    g.add_argument("--duration", type=float, metavar="SECONDS",
                   help="simulated seconds instead of --frames (default: the scene's)")
    r.add_argument("--seed", type=int, metavar="N",
                   help="seed of every random draw of the run, an integer ≥ 0 (default: the scene's "
                        "simulation.seed)")
    r.add_argument("--policy", metavar="NAME",
                   help="controller policy, see `pass-twin policies` (default: the scene's controller.policy)")
    r.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="policy parameter, repeatable (default: the scene's controller.params)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a scene field by dotted path, repeatable, e.g. --set waveguides.0.pas=4 "
                        "(default: none)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_run)

    sub.add_parser("scenes", help="list built-in scenes").set_defaults(func=cmd_scenes)
    sub.add_parser("policies", help="list controller policies").set_defaults(func=cmd_policies)

    pl = sub.add_parser("plot", help="dashboard PNG of one or more runs")
    pl.add_argument("runs", nargs="+", metavar="RUN", help="run directories (several are overlaid)")
    pl.add_argument("--out", metavar="FILE.png", help="PNG path (default: RUN/dashboard.png)")
    pl.set_defaults(func=cmd_plot)

    rd = sub.add_parser("render", help="3D render (PNG), animation (GIF/MP4) or HTML of a run")
    rd.add_argument("run", metavar="RUN", help="run directory")
    rd.add_argument("--frame", type=int, help="frame to render (default: last)")
    rd.add_argument("--out", metavar="FILE.png", help="PNG path (default: RUN/render.png)")
    rd.add_argument("--animate", metavar="OUT.mp4|OUT.gif", help="write an animation over the frames (default: none)")
    rd.add_argument("--html", metavar="OUT.html", help="write an interactive HTML page (default: none)")
    rd.add_argument("--camera", default="isometric", choices=["isometric", "top", "guide"], help="camera view")
    rd.add_argument("--side-by-side", metavar="RUN_B", help="second run shown beside the first (default: none)")
    rd.set_defaults(func=cmd_render)

    fg = sub.add_parser("figure", help="reproduce a paper figure (NAME, 'all' or 'list')")
    fg.add_argument("name", help="figure name, 'all' (every figure; those already in --out are kept), or 'list'; "
                                 "every drop is kept in OUT/.drops, so a rerun resumes where it stopped")
    fg.add_argument("--quick", action="store_true", help="few drops, coarse sweep")
    fg.add_argument("--out", default="figures", metavar="DIR", help="directory for NAME.csv and NAME.png")
    fg.add_argument("--seed", type=seed_int, default=0, metavar="N", help="seed of the random drops, an integer ≥ 0")
    fg.add_argument("--dask", metavar="local|ADDRESS", default=None,
                    help="run the drops on Dask: 'local' (a LocalCluster, one single-threaded worker process "
                         "per core) or a scheduler's HOST:PORT (default: in this process)")
    fg.add_argument("--workers", type=positive_int, default=None, metavar="N",
                    help="workers of --dask local (default: one per core)")
    fg.set_defaults(func=cmd_figure)

    from viz.cli_commands import add_map_command
    add_map_command(sub)

    from twin.experiments.cli import add_experiment_commands
    add_experiment_commands(sub)
    _show_defaults(sub)
    return p


def _show_defaults(sub) -> None:
    """Every flag of every subcommand shows its default, even one added without help."""
    for parser in sub.choices.values():
        for action in parser._actions:
            if not action.help and _has_default(action):
                action.help = "(default: %(default)s)"


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors (already printed, one line)
        return e.code if isinstance(e.code, int) else 2
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"pass-twin: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
