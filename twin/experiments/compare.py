"""Paired policy comparison and parameter sweeps with common random numbers.

Every policy of a study runs on the same seeds; a seed fixes the user and target
trajectories, the observation noise and the RCS draws whatever the policy
(``twin/engine/streams.py``), so per-seed differences are the policies' own and the
paired interval is tight. Intervals (``twin/experiments/stats.py``) respect the
quantity: Wilson for fractions, a percentile bootstrap for non-negative quantities,
paired Student t for differences."""

from __future__ import annotations

import itertools
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from twin.errors import ConfigError
from twin.experiments.stats import fraction_ci, few_seeds_warning, mean_ci, nonnegative_ci
from twin.experiments.tasks import PolicySpec, Task, execute, label_replicates, summary_value

log = logging.getLogger("twin.experiments")

#: table metric -> (label, unit, better, kind, (summary field, scale)); kind picks the
#: interval: "fraction" (Wilson), "nonneg" (bootstrap); column names carry the unit
METRICS = {
    "mean_rate_bps_hz": ("mean user rate", "bit/s/Hz", "higher", "nonneg", ("mean_rate_bps_hz", 1.0)),
    "p5_rate_bps_hz": ("5th-percentile user rate", "bit/s/Hz", "higher", "nonneg", ("p5_rate_bps_hz", 1.0)),
    "outage_fraction": ("outage fraction", "", "lower", "fraction", ("outage_fraction", 1.0)),
    "p5_user_throughput_bps_hz": ("5th-percentile user throughput (unserved slots count 0)", "bit/s/Hz",
                                  "higher", "nonneg", ("p5_user_throughput_bps_hz", 1.0)),
    "mean_rcrb_mm": ("mean RCRB", "mm", "lower", "nonneg", ("mean_rcrb_m", 1e3)),
    "mean_sensing_outage": ("sensing outage", "", "lower", "fraction", ("mean_sensing_outage", 1.0)),
    "pa_travel_m": ("total PA travel", "m", "lower", "nonneg", ("pa_travel_m", 1.0)),
    "mean_solve_time_s": ("controller time per frame (mean)", "s", "lower", "nonneg", ("mean_solve_time_s", 1.0)),
    "p95_solve_time_s": ("controller time per frame (95th pct)", "s", "lower", "nonneg", ("p95_solve_time_s", 1.0)),
}
TIMING = ("mean_solve_time_s", "p95_solve_time_s")
#: prefix of the per-status frame-count columns (``status_ok``, ``status_fallback``, …)
STATUS_PREFIX = "status_"


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
    return label_replicates(specs)


def _seeds(seeds) -> list[int]:
    """``seeds`` as a list: a count n gives 0..n−1; a list must hold distinct seeds ≥ 0."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ConfigError("--seeds", str(seeds), "the number of seeds must be at least 1",
                              "e.g. --seeds 8 (seeds 0..7)")
        return list(range(int(seeds)))
    try:
        out = [int(s) for s in seeds]
    except (TypeError, ValueError):
        raise ConfigError("--seeds", str(seeds), "expected a count or a list of integer seeds",
                          "e.g. --seeds 8") from None
    if not out or min(out) < 0 or len(set(out)) != len(out):
        raise ConfigError("--seeds", str(seeds), "expected distinct seeds ≥ 0", "e.g. seeds=[0, 1, 2]")
    return out


def _frames(frames) -> int | None:
    if frames is not None and (isinstance(frames, bool) or int(frames) < 1):
        raise ConfigError("--frames", str(frames), "the number of frames must be at least 1",
                          "e.g. --frames 50, or leave it out for the scene's own")
    return None if frames is None else int(frames)


def _row(task: Task, summary: dict) -> dict:
    row = {"policy": task.policy.label, "seed": task.seed, "frames": task.n_frames}
    for metric, (*_, (field, scale)) in METRICS.items():
        row[metric] = summary_value(summary, field) * scale
    row["user_samples"] = summary_value(summary, "user_samples")
    for status, n in (summary.get("status_counts") or {}).items():
        row[STATUS_PREFIX + status] = int(n)
    return row


def _table(tasks, execution, point_keys=()) -> pd.DataFrame:
    df = pd.DataFrame([{**dict(t.point), **_row(t, r)} for t, r in zip(tasks, execution.results)])
    status_cols = sorted(c for c in df.columns if c.startswith(STATUS_PREFIX))
    # a status a run never had counts 0 frames there
    df[status_cols] = df[status_cols].fillna(0).astype(int)
    if df["user_samples"].notna().all():
        df["user_samples"] = df["user_samples"].astype("int64")
    ordered = [*point_keys, "policy", "seed", "frames", *METRICS, "user_samples", *status_cols]
    df = df[ordered]
    df.attrs["runs"], df.attrs["runs_reused"] = len(tasks), execution.reused
    df.attrs["notes"] = [execution.report()]
    return df


def compare(scene, policies, seeds=4, out="comparison", *, frames=None, backend=None,
            reference=None, progress=True, overrides=None) -> pd.DataFrame:
    """Run every policy on the same seeds; write ``comparison.csv``, ``comparison.md`` and
    ``comparison.png`` into ``out``; return the per-(policy, seed) DataFrame.

    seeds: a count (seeds 0..n−1) or a list; backend: None/"local" (processes), "serial",
    "dask-local" or a Dask scheduler address; reference: the policy label differences are
    taken against (default: the first). A policy listed twice is an A/A check: its copies
    are labelled ``name``, ``name#2`` and run separately. ``df.attrs`` holds ``runs``,
    ``runs_reused`` (from the cache) and ``notes`` (the cache report and any warning).
    """
    seed_list = _seeds(seeds)
    frames = _frames(frames)
    specs = _policies(policies)
    labels = [s.label for s in specs]
    ref = specs[0].label if reference is None else str(reference)
    if ref not in labels:
        raise ConfigError("--reference", ref, "not one of the compared policies",
                          f"use one of: {', '.join(labels)}")
    sc, h = _scene_and_hash(scene, overrides)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scene_json = json.dumps(sc.model_dump(mode="json"))
    tasks = [Task(scene_json, h, p, s, frames, str(out)) for p in specs for s in seed_list]
    df = _table(tasks, execute(tasks, backend, progress=progress))
    warn = few_seeds_warning(len(seed_list))
    if warn:
        df.attrs["notes"].append(f"warning: {warn}")
    for note in df.attrs["notes"]:
        log.info(note)
    df.to_csv(out / "comparison.csv", index=False)
    (out / "comparison.md").write_text(comparison_markdown(df, ref, sc.name))
    plot_comparison(df, ref, out / "comparison.png", sc.name)
    return df


def metric_ci(values, metric: str, counts=None) -> tuple[float, float, float]:
    """(mean, low, high) over seeds with the interval that fits the metric's kind."""
    if METRICS[metric][3] == "fraction":
        return fraction_ci(values, counts if metric == "outage_fraction" else None)
    return nonnegative_ci(values)


def paired_summary(df: pd.DataFrame, metric: str, reference: str) -> pd.DataFrame:
    """Per policy: mean with its 95% interval (:func:`metric_ci`), and the paired
    difference to ``reference`` (mean of the per-seed differences, paired Student t)."""
    wide = df.pivot(index="seed", columns="policy", values=metric)
    counts = df.pivot(index="seed", columns="policy", values="user_samples") \
        if "user_samples" in df else None
    rows = []
    for pol in df["policy"].unique():
        m, lo, hi = metric_ci(wide[pol], metric, None if counts is None else counts[pol])
        d = (wide[pol] - wide[reference]).to_numpy()
        dm, dlo, dhi = mean_ci(d)
        rows.append({"policy": pol, "mean": m, "ci_low": lo, "ci_high": hi,
                     "diff": dm, "diff_ci_low": dlo, "diff_ci_high": dhi})
    return pd.DataFrame(rows)


def _frames_text(df: pd.DataFrame) -> str:
    f = sorted(df["frames"].unique())
    return f"{f[0]} frames" if len(f) == 1 else f"{', '.join(map(str, f))} frames"


def status_table(df: pd.DataFrame) -> pd.DataFrame:
    """Frames by status per policy, summed over seeds (columns: the statuses seen)."""
    cols = [c for c in df.columns if c.startswith(STATUS_PREFIX)]
    t = df.groupby("policy", sort=False)[cols].sum()
    t.columns = [c[len(STATUS_PREFIX):] for c in cols]
    return t


def comparison_markdown(df: pd.DataFrame, reference: str, scene_name: str) -> str:
    n = df["seed"].nunique()
    lines = [f"# Policy comparison on `{scene_name}`", "",
             f"{n} seeds × {_frames_text(df)} per run, common random numbers. Intervals (95%): "
             f"Wilson with the seeds' effective sample size for fractions, percentile bootstrap "
             f"over seeds for non-negative quantities; paired difference = policy − "
             f"`{reference}` per seed, paired Student t.", ""]
    warn = few_seeds_warning(n)
    if warn:
        lines += [f"> **Warning:** {warn}.", ""]
    for metric, (label, unit, better, *_) in METRICS.items():
        if metric not in df or df[metric].isna().all():      # a table from before the metric existed
            continue
        t = paired_summary(df, metric, reference)
        u = f" [{unit}]" if unit else ""
        lines += [f"## {label}{u} ({better} is better)", "",
                  "| policy | mean | 95% CI | diff. to reference | 95% CI |", "|---|---|---|---|---|"]
        for r in t.itertuples():
            lines.append(f"| {r.policy} | {r.mean:.4g} | [{r.ci_low:.4g}, {r.ci_high:.4g}] | "
                         f"{r.diff:+.4g} | [{r.diff_ci_low:+.4g}, {r.diff_ci_high:+.4g}] |")
        lines.append("")
    st = status_table(df)
    if not st.empty:
        lines += [f"## Frames by status (sum over {n} seeds)", "",
                  "| policy | " + " | ".join(st.columns) + " |", "|---|" + "---|" * len(st.columns)]
        for pol, row in st.iterrows():
            lines.append(f"| {pol} | " + " | ".join(str(int(v)) for v in row) + " |")
        lines.append("")
    return "\n".join(lines)


def _metric_axes(df: pd.DataFrame):
    """A figure with one panel per metric present in ``df``: (plt, fig, axes, metrics)."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    metrics = [m for m in METRICS if m in df and not df[m].isna().all()]
    cols = min(4, max(1, len(metrics)))
    rows = int(np.ceil(len(metrics) / cols))
    fig = Figure(figsize=(4.2 * cols, 3.6 * rows), constrained_layout=True)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel()[len(metrics):]:
        ax.set_visible(False)
    return plt, fig, axes, metrics


def _unit_label(metric: str) -> str:
    label, unit, *_ = METRICS[metric]
    return f"[{unit}]" if unit else "[fraction]"


def plot_comparison(df: pd.DataFrame, reference: str, path, scene_name: str = ""):
    """One panel per metric: each policy's per-seed paired difference to ``reference``
    (dots), their mean and paired 95% interval (bar), zero line; with one policy only,
    its per-seed values and mean with interval. Returns the (pyplot-free) Figure."""
    plt, fig, axes, metrics = _metric_axes(df)
    pols = list(df["policy"].unique())
    others = [p for p in pols if p != reference] or pols
    paired = others != pols or len(pols) > 1
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes.ravel(), metrics):
        label, unit, better, *_ = METRICS[metric]
        t = paired_summary(df, metric, reference).set_index("policy")
        wide = df.pivot(index="seed", columns="policy", values=metric)
        x = np.arange(len(others))
        for i, pol in enumerate(others):
            c = colours[(pols.index(pol)) % len(colours)]
            vals = (wide[pol] - wide[reference]) if paired else wide[pol]
            jitter = np.linspace(-0.12, 0.12, len(vals)) if len(vals) > 1 else np.zeros(1)
            ax.plot(i + jitter, vals.to_numpy(), ".", color=c, alpha=0.6, ms=6)
            m, lo, hi = ((t.loc[pol, "diff"], t.loc[pol, "diff_ci_low"], t.loc[pol, "diff_ci_high"])
                         if paired else (t.loc[pol, "mean"], t.loc[pol, "ci_low"], t.loc[pol, "ci_high"]))
            ax.errorbar(i + 0.3, m, yerr=[[max(m - lo, 0)], [max(hi - m, 0)]], fmt="D", color=c,
                        capsize=5, ms=5, lw=1.5)
        if paired:
            ax.axhline(0.0, color="0.2", lw=0.9, ls="--")
            ref_m = t.loc[reference, "mean"]
            ax.set_title(f"{label}\n({better} better; {reference}: {ref_m:.4g} {unit})".replace(" )", ")"),
                         fontsize="medium")
            ax.set_ylabel(f"difference to {reference} {_unit_label(metric)}", fontsize="small")
        else:
            ax.set_title(f"{label} ({better} better)", fontsize="medium")
            ax.set_ylabel(_unit_label(metric), fontsize="small")
        ax.set_xticks(x + 0.1, others, rotation=20, ha="right", fontsize="small")
        ax.set_xlim(-0.6, len(others) - 0.4)
        ax.grid(True, axis="y", alpha=0.3)
    n = df["seed"].nunique()
    head = f"{scene_name}: " if scene_name else ""
    fig.suptitle(f"{head}paired differences to {reference}, {n} seeds × {_frames_text(df)} "
                 f"(common random numbers)\ndots: seeds; diamond and bar: mean and 95% paired interval"
                 if paired else f"{head}{n} seeds × {_frames_text(df)}; dots: seeds; bar: mean and 95% interval")
    fig.savefig(path, dpi=110)
    return fig


# --- sweeps -----------------------------------------------------------------------
_UNIT_SUFFIXES = (("_dbm", "dBm"), ("_dbi", "dBi"), ("_db", "dB"), ("_ghz", "GHz"), ("_hz", "Hz"),
                  ("_m2", "m²"), ("_mps", "m/s"), ("_m_s", "m/s"), ("_mm", "mm"), ("_ms", "ms"),
                  ("_m", "m"), ("_s", "s"), ("_rad", "rad"), ("_deg", "°"))
_WORDS = {"tx": "transmit", "sinr": "SINR", "rcs": "RCS", "pa": "PA", "pas": "PAs", "ue": "UE",
          "n": "number of", "crb": "CRB", "ao": "AO"}


def axis_label(key: str) -> str:
    """A human axis label for a dotted scene key: ``radio.tx_power_dbm`` → "transmit power
    [dBm] (radio.tx_power_dbm)"; the unit comes from the field's suffix."""
    leaf = key.rsplit(".", 1)[-1]
    unit = ""
    for suffix, u in _UNIT_SUFFIXES:
        if leaf.lower().endswith(suffix):
            leaf, unit = leaf[: -len(suffix)], u
            break
    words = [_WORDS.get(w.lower(), w) for w in re.split(r"[_\s]+", leaf) if w]
    text = " ".join(words) or key
    return f"{text[0].upper()}{text[1:]}{f' [{unit}]' if unit else ''} ({key})"


def sweep(scene, grid: dict, policies, seeds=2, out="sweep", *, frames=None, backend=None,
          progress=True) -> pd.DataFrame:
    """Run a grid over scene fields (dotted paths, values lists) × policies × seeds; write
    ``sweep.parquet``, ``sweep.csv`` and ``sweep.png`` (each metric vs the first key, one
    line per policy, mean ± 95% interval over seeds); return the tidy DataFrame."""
    if not grid:
        raise ConfigError("--set", "(grid)", "no swept key", "e.g. --set radio.tx_power_dbm=10,20,30")
    seed_list = _seeds(seeds)
    frames = _frames(frames)
    specs = _policies(policies)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys = list(grid)
    tasks, name = [], ""
    for values in itertools.product(*(grid[k] for k in keys)):
        point = tuple(zip(keys, values))
        sc, h = _scene_and_hash(scene, dict(point))
        name = sc.name
        scene_json = json.dumps(sc.model_dump(mode="json"))
        tasks += [Task(scene_json, h, p, s, frames, str(out), point) for p in specs for s in seed_list]
    df = _table(tasks, execute(tasks, backend, progress=progress), keys)
    warn = few_seeds_warning(len(seed_list))
    if warn:
        df.attrs["notes"].append(f"warning: {warn}")
    df.to_parquet(out / "sweep.parquet", index=False)
    df.to_csv(out / "sweep.csv", index=False)
    plot_sweep(df, keys, out / "sweep.png", name)
    return df


def plot_sweep(df: pd.DataFrame, keys: list[str], path, scene_name: str = ""):
    _, fig, axes, metrics = _metric_axes(df)
    x = keys[0]
    group = ["policy"] + keys[1:]
    for ax, metric in zip(axes.ravel(), metrics):
        for name, g in df.groupby(group, sort=False):
            pts = sorted(g[x].unique())
            stats = [metric_ci(g.loc[g[x] == v, metric], metric, g.loc[g[x] == v, "user_samples"])
                     for v in pts]
            m, lo, hi = (np.array(s) for s in zip(*stats))
            label = name if isinstance(name, str) else ", ".join(
                f"{k}={v}" if i else str(v) for i, (k, v) in enumerate(zip(group, name)))
            line, = ax.plot(pts, m, marker="o", label=label)
            ax.fill_between(pts, lo, hi, alpha=0.15, color=line.get_color())
        lab, unit, better, *_ = METRICS[metric]
        ax.set_title(f"{lab} ({better} better)", fontsize="medium")
        ax.set_xlabel(axis_label(x), fontsize="small")
        ax.set_ylabel(f"{lab} {_unit_label(metric)}", fontsize="small")
        ax.grid(True, alpha=0.3)
    axes.ravel()[0].legend(fontsize="x-small")
    n = df["seed"].nunique()
    head = f"{scene_name}: " if scene_name else ""
    fig.suptitle(f"{head}sweep over {x}, {n} seeds × {_frames_text(df)} per point; "
                 f"lines: mean, bands: 95% interval over seeds")
    fig.savefig(path, dpi=110)
    return fig


# --- CLI ----------------------------------------------------------------------------
def _backend(args):
    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers", str(args.workers), "the number of worker processes must be at least 1",
                          "e.g. --workers 2, or --workers 1 to run serially")
    if args.dask:
        return "dask-local" if args.dask == "local" else args.dask
    return "serial" if args.workers == 1 else None


def _print_notes(df) -> None:
    import sys
    for note in df.attrs.get("notes", []):
        print(note, file=sys.stderr)


def cmd_compare(args) -> int:
    df = compare(args.scene, args.policies, args.seeds, args.out, frames=args.frames,
                 backend=_backend(args), reference=args.reference)
    print((Path(args.out) / "comparison.md").read_text())
    _print_notes(df)
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
    _print_notes(df)
    print(f"wrote {args.out}/sweep.parquet, sweep.csv, sweep.png ({len(df)} runs)")
    return 0


def add_commands(sub) -> None:
    for name, func, hlp in (("compare", cmd_compare, "paired comparison of policies over seeds"),
                            ("sweep", cmd_sweep, "grid over scene fields × policies × seeds")):
        c = sub.add_parser(name, help=hlp)
        c.add_argument("scene", help="built-in scene name or path")
        c.add_argument("--policies", required=True, help="comma list; name or name:key=value:…")
        c.add_argument("--seeds", type=int, default=4, metavar="N",
                       help="run seeds 0..N-1 for every policy (common random numbers; "
                            "intervals need 5 or more; default: %(default)s)")
        c.add_argument("--out", default=name, metavar="DIR",
                       help="output directory; finished runs under DIR/runs are reused (default: %(default)s)")
        c.add_argument("--frames", type=int, help="frames per run (default: the scene's)")
        c.add_argument("--dask", metavar="ADDRESS", help="Dask scheduler address, or 'local' for a LocalCluster")
        c.add_argument("--workers", type=int, help="local worker processes (default: all cores; 1 = serial)")
        if name == "compare":
            c.add_argument("--reference", help="policy label the paired differences are taken against (default: the first listed)")
        else:
            c.add_argument("--set", action="append", metavar="KEY=V1,V2", required=True,
                           help="swept scene field (dotted path) and its values")
        c.set_defaults(func=func)
