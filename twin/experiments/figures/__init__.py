"""Figure reproductions: ``pass-twin figure NAME [--quick] --out DIR``.

A figure is a function registered with :func:`figure`; it returns a tidy DataFrame with
the swept parameter's column (``x``), ``scheme``, the metric column, ``ci_low`` and
``ci_high``. :func:`run_figure` writes ``NAME.csv`` and ``NAME.png``. Every module in
this package is imported on first use, so a new figure is a new file.

A figure's independent drops go through :func:`drop_map` (:mod:`.drops`): with a cache
directory each drop is stored as soon as it is done and reused by a rerun (an interrupted
figure resumes drop by drop), and with a Dask client the drops run on its workers.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from twin.errors import ConfigError
from twin.experiments.figures.drops import dask_client, drop_map, last_counts, running  # noqa: F401


@dataclass(frozen=True)
class FigureSpec:
    name: str
    func: Callable
    x: str            # swept parameter column
    metric: str       # metric column
    xlabel: str
    ylabel: str
    logy: bool = False
    title: str = ""
    plot: Callable | None = None   # custom plot(df, path) instead of the default lines
    ci: bool = True                # the table carries ci_low / ci_high
    task_s: float = 1.0            # rough CPU seconds of one Dask task at full size (run_figures' order, its bar)


_FIGURES: dict[str, FigureSpec] = {}


def figure(name: str, *, x: str, metric: str, xlabel: str, ylabel: str, logy: bool = False,
           title: str = "", plot: Callable | None = None, ci: bool = True, task_s: float = 1.0):
    """Register ``func(quick: bool, seed: int) -> DataFrame`` as figure ``name``.
    ``task_s``: rough CPU seconds of one of its Dask tasks at full size (a drop, or a drop's
    points), only used when figures run together (:func:`run_figures`): to start the
    longest tasks first and to weigh its drops on the shared progress bar."""
    def deco(func):
        _FIGURES[name] = FigureSpec(name, func, x, metric, xlabel, ylabel, logy, title, plot, ci, float(task_s))
        return func
    return deco


def available() -> dict[str, FigureSpec]:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return dict(sorted(_FIGURES.items()))


def run_figure(name: str, out_dir: str | Path, quick: bool = False, seed: int = 0,
               progress: bool = False, cache: bool = False, client=None, bar=None,
               priority: int = 0) -> pd.DataFrame:
    """Compute figure ``name`` and write ``NAME.csv`` and ``NAME.png`` into ``out_dir``
    (``progress``: a bar per drop map on stderr; ``cache``: every drop stored under
    ``out_dir/.drops/NAME/`` and reused; ``client``: a ``distributed.Client`` running the
    drops, see :func:`dask_client`, as tasks of Dask ``priority``; ``bar``: a
    :class:`~.drops.SharedBar` to count the drops on instead)."""
    figs = available()
    if name not in figs:
        raise ConfigError("figure", "NAME", f"unknown figure {name!r}",
                          f"choose one of: {', '.join(figs)}")
    spec = figs[name]
    with running(name, Path(out_dir) if cache else None, client, progress, bar, priority, spec.task_s):
        df = spec.func(quick=quick, seed=seed)
    for col in (spec.x, "scheme", spec.metric) + (("ci_low", "ci_high") if spec.ci else ()):
        if col not in df.columns:
            raise RuntimeError(f"figure {name} did not produce column {col!r}")
    out = Path(out_dir)
    with _WRITE:                   # matplotlib's state is not thread-safe (run_figures)
        out.mkdir(parents=True, exist_ok=True)
        df.to_csv(out / f"{name}.csv", index=False)
        (spec.plot or _default_plot)(df, out / f"{name}.png", spec)
    return df


_WRITE = threading.Lock()


def run_figures(names: list[str], out_dir: str | Path, client, quick: bool = False, seed: int = 0,
                on_done: Callable | None = None) -> dict:
    """Run figures ``names`` at once on the Dask ``client``, each in a thread of this
    process, with the drop cache of :func:`run_figure` and one progress bar for all of
    them. Every figure's tasks are on the cluster from the start, the longest first (Dask
    priority by :attr:`FigureSpec.task_s`), so no worker waits for the last drops of one
    figure while another's are queued: only the end of the whole run can leave a core
    idle. ``on_done(name, df or None, counts, error or None)`` is called as each figure
    finishes. A figure that raises does not stop the others (its finished drops are kept);
    returns {name: exception} of the figures that raised. An interruption (Ctrl-C) cancels
    the cluster's tasks and re-raises once every thread has returned."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from twin.experiments.figures.drops import SharedBar, allow_tasks, cancel_all

    figs = available()
    unknown = [n for n in names if n not in figs]
    if unknown:
        raise ConfigError("figure", "NAME", f"unknown figure {unknown[0]!r}", f"choose one of: {', '.join(figs)}")
    ranks = {n: r for r, n in enumerate(sorted(names, key=lambda n: figs[n].task_s))}   # longest: highest

    def one(name):
        df = run_figure(name, out_dir, quick=quick, seed=seed, cache=True, client=client, bar=bar,
                        priority=ranks[name])
        return df, last_counts()

    errors = {}
    allow_tasks()
    bar = SharedBar("all figures")
    ex = ThreadPoolExecutor(max_workers=max(1, len(names)), thread_name_prefix="figure")
    try:
        futs = {ex.submit(one, n): n for n in sorted(names, key=lambda n: -figs[n].task_s)}
        for fut in as_completed(futs):
            name = futs[fut]
            try:
                df, counts = fut.result()
            except Exception as e:            # reported; the other figures go on
                errors[name] = e
                df, counts = None, {"computed": 0, "cached": 0}
            if on_done is not None:
                on_done(name, df, counts, errors.get(name))
    except BaseException:
        cancel_all()
        raise
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
        bar.close()
        allow_tasks()                         # a later figure in this process may submit again
    return errors


def _default_plot(df: pd.DataFrame, path: Path, spec: FigureSpec) -> None:
    from matplotlib.figure import Figure          # no pyplot: never switches a notebook's backend

    fig = Figure(figsize=(6.4, 4.4), constrained_layout=True)
    ax = fig.add_subplot()
    markers = "os^vD<>phx*"
    for i, (scheme, g) in enumerate(df.groupby("scheme", sort=False)):
        g = g.sort_values(spec.x)
        line, = ax.plot(g[spec.x], g[spec.metric], marker=markers[i % len(markers)], label=scheme)
        if spec.ci and np.any(g["ci_high"] > g["ci_low"]):
            if spec.logy:   # bands reaching 0 flood a log axis: thin error bars instead
                lo = np.clip(g[spec.metric] - g["ci_low"], 0, None)
                hi = np.clip(g["ci_high"] - g[spec.metric], 0, None)
                ax.errorbar(g[spec.x], g[spec.metric], yerr=[lo, hi], fmt="none", ecolor=line.get_color(),
                            alpha=0.5, capsize=3, lw=0.8)
            else:
                ax.fill_between(g[spec.x], g["ci_low"], g["ci_high"], color=line.get_color(), alpha=0.15)
    ax.set_xlabel(spec.xlabel)
    ax.set_ylabel(spec.ylabel)
    if spec.logy:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(spec.title or spec.name)
    fig.savefig(path, dpi=120)
