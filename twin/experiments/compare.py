"""Paired policy comparison and parameter sweeps with common random numbers.

Every policy of a study runs on the same seeds; a seed fixes the user and target
trajectories, the observation noise and the RCS draws whatever the policy
(``twin/engine/streams.py``), so per-seed differences are the policies' own and the
paired interval is tight."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from twin.errors import ConfigError
from twin.experiments.stats import mean_ci
from twin.experiments.tasks import PolicySpec, Task, execute

#: summary metric -> (label, unit, better) used in tables and plots
METRICS = {
    "mean_rate_bps_hz": ("mean user rate", "bit/s/Hz", "higher"),
    "p5_rate_bps_hz": ("5th-percentile user rate", "bit/s/Hz", "higher"),
    "outage_fraction": ("outage fraction", "", "lower"),
    "mean_rcrb_m": ("mean RCRB", "m", "lower"),
    "mean_sensing_outage": ("sensing outage", "", "lower"),
    "pa_travel_m": ("total PA travel", "m", "lower"),
    "mean_solve_time_s": ("controller time per frame (mean)", "s", "lower"),
    "p95_solve_time_s": ("controller time per frame (95th pct)", "s", "lower"),
}
TIMING = ("mean_solve_time_s", "p95_solve_time_s")


def _scene_and_hash(scene, overrides=None):
    from twin.scene import load_scene, scene_hash
    from twin.scene.loader import parse_scene

    if isinstance(scene, (str, Path)):
        sc = load_scene(scene, overrides)
    else:
        sc = scene if not overrides else parse_scene(
            _apply(scene.model_dump(mode="json"), overrides), "--set")
    return sc, scene_hash(sc)


def _apply(raw, overrides):
    from twin.scene import apply_overrides
    return apply_overrides(raw, overrides)


def _policies(policies) -> list[PolicySpec]:
    if isinstance(policies, str):
        policies = [p for p in policies.split(",") if p.strip()]
    specs = [p if isinstance(p, PolicySpec) else PolicySpec.parse(p) for p in policies]
    if not specs:
        raise ConfigError("--policies", "(list)", "no policy given", "e.g. --policies follow,uniform")
    from twin.controller import resolve
    for s in specs:          # names, stages and parameter values, checked before any run
        resolve(s.name, s.params, source=f"--policies {s.label}")
    return specs


def compare(scene, policies, seeds=4, out="comparison", *, frames=None, backend=None,
            reference=None, progress=True, overrides=None) -> pd.DataFrame:
    """Run every policy on the same seeds; write ``comparison.csv``, ``comparison.md`` and
    ``comparison.png`` into ``out``; return the per-(policy, seed) DataFrame.

    seeds: a count (seeds 0..n−1) or a list; backend: None/"local" (processes), "serial",
    "dask-local" or a Dask scheduler address; reference: the policy label differences are
    taken against (default: the first).
    """
    sc, h = _scene_and_hash(scene, overrides)
    specs = _policies(policies)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scene_json = json.dumps(sc.model_dump(mode="json"))
    tasks = [Task(scene_json, h, p, s, frames, str(out)) for p in specs for s in seed_list]
    results = execute(tasks, backend, progress=progress)
    df = pd.DataFrame([{"policy": t.policy.label, "seed": t.seed, **{m: r.get(m, np.nan) for m in METRICS}}
                       for t, r in zip(tasks, results)])
    ref = reference or specs[0].label
    df.to_csv(out / "comparison.csv", index=False)
    (out / "comparison.md").write_text(comparison_markdown(df, ref, sc.name))
    plot_comparison(df, ref, out / "comparison.png")
    return df


def paired_summary(df: pd.DataFrame, metric: str, reference: str) -> pd.DataFrame:
    """Per policy: mean with 95% CI, and the paired difference to ``reference`` (per-seed
    differences' mean with its 95% CI)."""
    wide = df.pivot(index="seed", columns="policy", values=metric)
    rows = []
    for pol in df["policy"].unique():
        m, lo, hi = mean_ci(wide[pol])
        d = (wide[pol] - wide[reference]).to_numpy()
        dm, dlo, dhi = mean_ci(d)
        rows.append({"policy": pol, "mean": m, "ci_low": lo, "ci_high": hi,
                     "diff": dm, "diff_ci_low": dlo, "diff_ci_high": dhi})
    return pd.DataFrame(rows)


def comparison_markdown(df: pd.DataFrame, reference: str, scene_name: str) -> str:
    n = df["seed"].nunique()
    lines = [f"# Policy comparison on `{scene_name}`", "",
             f"{n} seeds, common random numbers; 95% Student-t intervals; paired difference "
             f"= policy − `{reference}` per seed.", ""]
    for metric, (label, unit, better) in METRICS.items():
        if df[metric].isna().all():
            continue
        t = paired_summary(df, metric, reference)
        u = f" [{unit}]" if unit else ""
        lines += [f"## {label}{u} ({better} is better)", "",
                  "| policy | mean | 95% CI | diff. to reference | 95% CI |", "|---|---|---|---|---|"]
        for r in t.itertuples():
            lines.append(f"| {r.policy} | {r.mean:.4g} | [{r.ci_low:.4g}, {r.ci_high:.4g}] | "
                         f"{r.diff:+.4g} | [{r.diff_ci_low:+.4g}, {r.diff_ci_high:+.4g}] |")
        lines.append("")
    return "\n".join(lines)


def _metric_axes(df: pd.DataFrame):
    """A figure with one panel per metric present in ``df``: (plt, fig, axes, metrics)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in METRICS if not df[m].isna().all()]
    cols = 4
    rows = int(np.ceil(len(metrics) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), constrained_layout=True,
                             squeeze=False)
    for ax in axes.ravel()[len(metrics):]:
        ax.set_visible(False)
    return plt, fig, axes, metrics


def plot_comparison(df: pd.DataFrame, reference: str, path) -> None:
    plt, fig, axes, metrics = _metric_axes(df)
    pols = list(df["policy"].unique())
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes.ravel(), metrics):
        label, unit, better = METRICS[metric]
        t = paired_summary(df, metric, reference)
        x = np.arange(len(pols))
        ax.bar(x, t["mean"], color=[colours[i % len(colours)] for i in range(len(pols))], alpha=0.5,
               yerr=[t["mean"] - t["ci_low"], t["ci_high"] - t["mean"]], capsize=4)
        wide = df.pivot(index="seed", columns="policy", values=metric)[pols]
        for _, row in wide.iterrows():            # per-seed paired lines
            ax.plot(x, row.to_numpy(), color="0.3", alpha=0.35, lw=0.8, marker=".")
        ax.set_xticks(x, pols, rotation=20, ha="right", fontsize="small")
        ax.set_title(f"{label} ({better} better)", fontsize="medium")
        ax.set_ylabel(unit or "fraction")
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"{df['seed'].nunique()} seeds; bars: mean ± 95% CI; lines: the same seed across policies")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sweep(scene, grid: dict, policies, seeds=2, out="sweep", *, frames=None, backend=None,
          progress=True) -> pd.DataFrame:
    """Run a grid over scene fields (dotted paths, values lists) × policies × seeds; write
    ``sweep.parquet``, ``sweep.csv`` and ``sweep.png`` (each metric vs the first key, one
    line per policy, mean ± 95% CI over seeds); return the tidy DataFrame."""
    if not grid:
        raise ConfigError("--set", "(grid)", "no swept key", "e.g. --set radio.tx_power_dbm=10,20,30")
    specs = _policies(policies)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys = list(grid)
    tasks = []
    for values in itertools.product(*(grid[k] for k in keys)):
        point = tuple(zip(keys, values))
        sc, h = _scene_and_hash(scene, dict(point))
        scene_json = json.dumps(sc.model_dump(mode="json"))
        tasks += [Task(scene_json, h, p, s, frames, str(out), point) for p in specs for s in seed_list]
    results = execute(tasks, backend, progress=progress)
    df = pd.DataFrame([{**dict(t.point), "policy": t.policy.label, "seed": t.seed,
                        **{m: r.get(m, np.nan) for m in METRICS}} for t, r in zip(tasks, results)])
    df.to_parquet(out / "sweep.parquet", index=False)
    df.to_csv(out / "sweep.csv", index=False)
    plot_sweep(df, keys, out / "sweep.png")
    return df


def plot_sweep(df: pd.DataFrame, keys: list[str], path) -> None:
    plt, fig, axes, metrics = _metric_axes(df)
    x = keys[0]
    group = ["policy"] + keys[1:]
    for ax, metric in zip(axes.ravel(), metrics):
        for name, g in df.groupby(group, sort=False):
            stats = g.groupby(x)[metric].apply(lambda v: mean_ci(v)).sort_index()
            xs = stats.index.to_numpy()
            m = np.array([s[0] for s in stats])
            lo = np.array([s[1] for s in stats])
            hi = np.array([s[2] for s in stats])
            label = name if isinstance(name, str) else ", ".join(map(str, name))
            line, = ax.plot(xs, m, marker="o", label=label)
            ax.fill_between(xs, lo, hi, alpha=0.15, color=line.get_color())
        lab, unit, _ = METRICS[metric]
        ax.set_xlabel(x)
        ax.set_ylabel(f"{lab} [{unit}]" if unit else lab, fontsize="small")
        ax.grid(True, alpha=0.3)
    axes.ravel()[0].legend(fontsize="x-small")
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- CLI ----------------------------------------------------------------------------
def _backend(args):
    if args.dask:
        return "dask-local" if args.dask == "local" else args.dask
    return "serial" if args.workers == 1 else None


def cmd_compare(args) -> int:
    df = compare(args.scene, args.policies, args.seeds, args.out, frames=args.frames,
                 backend=_backend(args), reference=args.reference)
    print((Path(args.out) / "comparison.md").read_text())
    print(f"wrote {args.out}/comparison.csv, comparison.md, comparison.png ({len(df)} runs)")
    return 0


def cmd_sweep(args) -> int:
    from twin.scene.values import parse_value

    grid = {}
    for item in args.set or []:
        if "=" not in item:
            raise ConfigError("--set", item, "expected key=v1,v2,…", "e.g. --set radio.tx_power_dbm=10,20,30")
        k, v = item.split("=", 1)
        grid[k.strip()] = [parse_value(x) for x in v.split(",")]
    df = sweep(args.scene, grid, args.policies, args.seeds, args.out, frames=args.frames,
               backend=_backend(args))
    print(df.groupby(list(grid) + ["policy"])[["mean_rate_bps_hz", "outage_fraction"]].mean().to_string())
    print(f"wrote {args.out}/sweep.parquet, sweep.csv, sweep.png ({len(df)} runs)")
    return 0


def add_commands(sub) -> None:
    for name, func, hlp in (("compare", cmd_compare, "paired comparison of policies over seeds"),
                            ("sweep", cmd_sweep, "grid over scene fields × policies × seeds")):
        c = sub.add_parser(name, help=hlp)
        c.add_argument("scene", help="built-in scene name or path")
        c.add_argument("--policies", required=True, help="comma list; name or name:key=value:…")
        c.add_argument("--seeds", type=int, default=4)
        c.add_argument("--out", default=name)
        c.add_argument("--frames", type=int, help="frames per run (default: the scene's)")
        c.add_argument("--dask", metavar="ADDRESS", help="Dask scheduler address, or 'local' for a LocalCluster")
        c.add_argument("--workers", type=int, help="local worker processes (default: all cores; 1 = serial)")
        if name == "compare":
            c.add_argument("--reference", help="policy label for paired differences (default: first)")
        else:
            c.add_argument("--set", action="append", metavar="KEY=V1,V2", required=True,
                           help="swept scene field (dotted path) and its values")
        c.set_defaults(func=func)
