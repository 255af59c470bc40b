"""Paper 001 figure reproductions (§V, Figs. 3-7): sensing outage of clustered PAs.

Each drop places the target and the users uniformly over the area; every scheme of a
drop sees the same positions. The outage is reported exactly (mean over drops with a
95% interval, column ``outage_probability``) and by Monte Carlo as the paper does
(``outage_mc`` with its 95% Wilson interval, ``mc_ci_low``/``mc_ci_high``, pooling
``MC_SAMPLES`` RCS draws per drop). Quick mode: 4 drops, a coarse sweep; full mode:
100 drops. ``quick="ci"`` (the findings tests, tests/figures) is quick mode at 10 and
20 dBm only: a drop's stream does not depend on the power, so those points are the quick
figure's own numbers.

Schemes are presets (:class:`twin.experiments.snapshot.Scheme`: the proposed scheme is
``clustered-outage``, baseline k is ``clustered-baselinek``, "no intra-cluster
beamforming" is ``clustered-nobf``, the paper's own algorithm ``Proposed-MM`` is
``clustered-mm``), with T (and the RCS decay) as fixed parameters;
R_min is the scene's requirement (``requirements.r_min_bps_hz``). A drop's schedule is
the one the preset's ``select`` stage computes, through the same solver bridge
(:meth:`twin.controller.solvers.Solvers.outage_schedule`) with the stage's parameters.
One experimental procedure a preset cannot express stays here: within a drop the
schemes are solved from the strictest R_min down, and the proposed scheme's search also
starts from the solutions of the same scheme for stricter R_min (feasible for a looser
one), so its outage cannot rise as R_min falls through a local optimum."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from twin.beammap import grid_points
from twin.experiments.figures import drop_map, figure
from twin.experiments.figures.drops import per_process
from twin.experiments.snapshot import Scheme
from twin.experiments.stats import mean_ci
from twin.optim import drop_memo
from twin.optim.clustered import schedule_weights
from twin.physics.outage import outage_monte_carlo
from twin.scene import load_scene

SCENE = "paper001"
FULL_DROPS, QUICK_DROPS = 100, 4
MC_SAMPLES = 20_000
R_MIN = 2.0
T_PAPER = 4


def proposed(T: int = T_PAPER, **params) -> Scheme:
    return Scheme("clustered-outage", {"T": T, **params}, f"-T{T}")


def proposed_mm(T: int = T_PAPER, **params) -> Scheme:
    """Paper 001's own method (MODEL §4.5.1, preset ``clustered-mm``): ``Proposed-MM``."""
    return Scheme("clustered-mm", {"T": T, **params}, f"-T{T}")


def baselines(T: int = T_PAPER) -> list[Scheme]:
    """Baselines 1-4 of §V-A (presets ``clustered-baseline1`` … ``4``)."""
    return [Scheme(f"clustered-baseline{k}", {"T": T}) for k in (1, 2, 3, 4)]


def schedule(ctrl, users, target, starts=()):
    """The schedule the controller's ``outage-schedule`` stage computes for this drop
    (same solver call, same stage parameters), with extra ``starts`` for the proposed
    rule. Returns the ScheduleResult (its problem: ``.problem``)."""
    sel, pos, tx = ctrl.ctx.stages["select"], ctrl.ctx.stages["position"], ctrl.tx
    decay = None if sel.p["decay"] < 0 else float(sel.p["decay"])
    return ctrl.ctx.solvers.outage_schedule(
        np.atleast_2d(users), np.asarray(target, float), T=sel.p["T"] or ctrl.ctx.slots_per_frame,
        rule=sel.p["rule"], pas_per_cluster=sel.p["pas_per_cluster"], focus=pos.name == "cluster-focus",
        fixed_ula=tx.kind == "subarray-ula", objective=sel._objective(), decay=decay,
        points_per_cluster=pos.p.get("Q", 0), starts=starts, method=sel.p["method"])


def controller(scheme: Scheme, r_min: float = R_MIN, overrides: dict | None = None):
    """The scheme's controller on the paper001 scene with R_min and ``overrides``."""
    return scheme.controller(load_scene(SCENE, {**(overrides or {}), "requirements.r_min_bps_hz": float(r_min)}))


def _drop(world, seed, d):
    rng = np.random.default_rng([seed, d])
    pts = world.floor.sample_free(rng, world.n_users + 1, clearance=0.5)
    pts = np.column_stack([pts, np.full(len(pts), world.ue_height)])
    return pts[0], pts[1:], rng


def _rows(results, column, value):
    rows = []
    for scheme, runs in results.items():
        ex = np.array([r[0] for r in runs])
        m, lo, hi = mean_ci(ex)
        hits = sum(r[1] for r in runs)
        n = sum(r[2] for r in runs)
        p, mlo, mhi = _wilson(hits, n)
        rows.append({column: value, "scheme": scheme, "outage_probability": m, "ci_low": max(lo, 0.0),
                     "ci_high": min(hi, 1.0), "outage_mc": p, "mc_ci_low": mlo, "mc_ci_high": mhi,
                     "chernoff": float(np.mean([r[3] for r in runs])), "drops": len(runs)})
    return rows


def _wilson(k, n, z=1.959963984540054):
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return p, max(0.0, c - h), min(1.0, c + h)


def evaluate(ctrl, target, users, rng, starts=(), keep=None):
    """(exact outage, MC hits, MC samples, Chernoff) of one scheme's controller on one
    drop; an infeasible rate target counts as certain outage. ``keep``: list receiving the
    schedule."""
    sch = schedule(ctrl, users, target, starts)
    pb = sch.problem
    if keep is not None:
        keep.append(sch)
    if not sch.usable:
        return 1.0, MC_SAMPLES, MC_SAMPLES, 1.0
    w = schedule_weights(pb, sch.clusters, sch.configs, sch.tau)
    p, _, _ = outage_monte_carlo(w, pb.cov, pb.threshold, rng, MC_SAMPLES)
    return sch.outage, int(round(p * MC_SAMPLES)), MC_SAMPLES, sch.chernoff


def _sweep(column, values, schemes, quick, seed, overrides=lambda v: None):
    """schemes: [(Scheme, R_min, label, scene overrides)]; label None: the scheme's. Per
    swept value each entry gets its controller (scene: ``overrides(v)`` and the entry's);
    every (value, drop) is one drop of the figure's drop map (:func:`sweep_drop`)."""
    drops = QUICK_DROPS if quick else FULL_DROPS
    schemes = [(sc, r, label or sc.label, extra or {}) for sc, r, label, extra in schemes]
    # drop-major: the points of a drop run one after the other and share its geometry-only
    # steps (sweep_drop, twin.optim.drop_memo); every (value, drop) is one drop of the map
    items = [(overrides(v) or {}, schemes, seed, d) for d in range(drops) for v in values]
    results = drop_map(sweep_drop, items, desc=column, group=len(values))
    rows = []
    for i, v in enumerate(values):
        res = {label: [results[d * len(values) + i][label] for d in range(drops)] for _, _, label, _ in schemes}
        rows += _rows(res, column, v)
    return pd.DataFrame(rows)


@per_process
def _controllers(over, schemes):
    """{label: controller} of one sweep point (shared by the drops a process runs)."""
    return {label: controller(sc, r, {**over, **extra}) for sc, r, label, extra in schemes}


def split_slots(sch, T: int) -> SimpleNamespace:
    """Schedule ``sch`` (T' ≤ T slots) as a T-slot start: each slot split into consecutive
    slots of the same cluster, configuration and user (group sizes differ by at most one).
    With its durations re-optimised it reaches the T'-slot outage (the same time per
    cluster, configuration and user), so a search at T started from it does no worse."""
    n = len(sch.clusters)
    rep = np.full(n, T // n) + (np.arange(n) < T % n)
    return SimpleNamespace(clusters=np.repeat(sch.clusters, rep), configs=np.repeat(sch.configs, rep),
                           users=np.repeat(sch.users, rep), status="ok")


def sweep_drop(over, schemes, seed, d) -> dict:
    """{label: evaluate(...)} of drop ``d`` at one sweep point (scene overrides ``over``):
    the schemes run strictest R_min first, fewest slots first, and the proposed rule starts
    also from the same scheme's solutions for stricter R_min (same scheme and scene) and
    from its solutions with fewer slots T (at the same or a stricter R_min, slots split,
    :func:`split_slots`): more slots can then only lower the outage, as they do at the
    global optimum."""
    with drop_memo.shared(("paper001", seed, d)):       # the focusing is shared by the drop's points
        return _sweep_drop(over, schemes, seed, d)


def _sweep_drop(over, schemes, seed, d) -> dict:
    ctrls = _controllers(over, schemes)
    world = next(iter(ctrls.values())).world
    order = sorted(schemes, key=lambda e: (-e[1], e[0].params.get("T", 0)))
    target, users, rng = _drop(world, seed, d)
    solved = {}                       # scheme and scene (less R_min) -> schedules, strictest R_min first
    fewer = {}                        # scheme and scene less T -> [(T, R_min, schedule)]
    res = {}
    for sc, r, label, extra in order:
        key = (sc.preset, tuple(sorted(sc.params.items())), repr(sorted(extra.items())))
        prev = [x for x in solved.get(key, []) if x.usable]
        T = sc.params.get("T", 0)
        family = (sc.preset, tuple(sorted((k, v) for k, v in sc.params.items() if k != "T")),
                  repr(sorted(extra.items())))
        if sc.preset == "clustered-outage" and T:
            prev += [split_slots(x, T) for t, rr, x in fewer.get(family, []) if t < T and rr >= r and x.usable]
        keep = solved.setdefault(key, [])
        n_kept = len(keep)
        res[label] = evaluate(ctrls[label], target, users, rng, starts=prev, keep=keep)
        if T:
            fewer.setdefault(family, []).extend((T, r, x) for x in keep[n_kept:])
    return res


def _power_values(quick):
    if quick == "ci":          # the findings tests: two of the quick powers, same drops and numbers
        return [10, 20]
    return [5, 10, 15, 20] if quick else [0, 4, 8, 12, 16, 20, 24]


@figure("paper001-power", x="tx_power_dbm", metric="outage_probability", xlabel="transmit power P [dBm]",
        ylabel="sensing outage probability", logy=True, title="Paper 001 Fig. 3: outage vs P", task_s=12)
def power(quick: bool, seed: int) -> pd.DataFrame:
    schemes = [(proposed(T), R_MIN, None, None) for T in (2, 3, 4)]
    schemes.append((proposed_mm(), R_MIN, None, None))
    schemes += [(b, R_MIN, None, None) for b in baselines()]
    return _sweep("tx_power_dbm", _power_values(quick), schemes, quick, seed,
                  lambda v: {"radio.tx_power_dbm": v})


@figure("paper001-rate", x="tx_power_dbm", metric="outage_probability", xlabel="transmit power P [dBm]",
        ylabel="sensing outage probability", logy=True, title="Paper 001 Fig. 4: outage vs P for several R_min", task_s=3.5)
def rate(quick: bool, seed: int) -> pd.DataFrame:
    schemes = [(proposed(), r, f"{proposed().label}-Rmin{r:g}", None) for r in (1.0, 4.0, 7.0)]
    schemes += [(b, 1.0, None, None) for b in baselines()]
    return _sweep("tx_power_dbm", _power_values(quick), schemes, quick, seed,
                  lambda v: {"radio.tx_power_dbm": v})


@figure("paper001-correlation", x="tx_power_dbm", metric="outage_probability", xlabel="transmit power P [dBm]",
        ylabel="sensing outage probability", logy=True, title="Paper 001 Fig. 5: RCS correlation", task_s=3.5)
def correlation(quick: bool, seed: int) -> pd.DataFrame:
    schemes = [(proposed(decay=d), 1.0, f"{proposed().label}-{name}", None)
               for name, d in (("fully-correlated", 0.0), ("partial", 1.0), ("uncorrelated", 1e4))]
    schemes.append((Scheme("clustered-baseline2", {"T": T_PAPER, "decay": 0.0}), 1.0, None, None))
    return _sweep("tx_power_dbm", _power_values(quick), schemes, quick, seed,
                  lambda v: {"radio.tx_power_dbm": v})


def _clusters_with(npas):
    return {"waveguides.0.pas": 10 * npas,
            "waveguides.0.clusters": [{"center_m": c + 0.5, "aperture_m": 0.5, "pas": npas} for c in range(10)]}


def pas_values(quick: bool) -> list[int]:
    return [1, 2, 4] if quick else [1, 2, 3, 4, 6]


@figure("paper001-pas", x="tx_power_dbm", metric="outage_probability", xlabel="transmit power P [dBm]",
        ylabel="sensing outage probability", logy=True,
        title="Paper 001 Fig. 6: outage vs P for several N_c (PAs per cluster)", task_s=6)
def pas(quick: bool, seed: int) -> pd.DataFrame:
    """The paper's axes: one curve of the proposed scheme per N_c, the proposed scheme
    without intra-cluster beamforming (``clustered-nobf``) at the largest N_c, and
    baseline 4 (one PA per cluster)."""
    values = pas_values(quick)
    nmax = max(values)
    schemes = [(proposed(), R_MIN, f"{proposed().label}-Nc{n}", _clusters_with(n)) for n in values]
    schemes.append((Scheme("clustered-nobf", {"T": T_PAPER}, f"-T{T_PAPER}-Nc{nmax}"), R_MIN, None,
                    _clusters_with(nmax)))
    schemes.append((baselines()[3], R_MIN, None, _clusters_with(nmax)))
    powers = [5, 15] if quick else _power_values(False)
    return _sweep("tx_power_dbm", powers, schemes, quick, seed, lambda v: {"radio.tx_power_dbm": v})


# --- Fig. 7: radiated power over the floor ---------------------------------------------
def heatmap_table(seed: int = 0, nx: int = 120, T: int = 4):
    """Normalised radiated power (dB) over the floor per slot for the proposed positions,
    the target-aligned ones and an even spread, on the proposed cluster sequence; also
    the power each placement radiates at the target. Returns (grid DataFrame, at_target)."""
    ctrl = controller(proposed(T))
    world = ctrl.world
    target, users, rng = _drop(world, seed, 0)
    layout = ctrl.ctx.solvers.layout
    sch = schedule(ctrl, users, target)
    pb = sch.problem
    dep = world.deployment
    x, y, pts = grid_points(world, nx)
    rows, at_target = [], {}
    clusters = [(n, c, lo, hi) for n, b in enumerate(dep.cluster_bounds) for c, (lo, hi) in enumerate(b)]
    for t in range(T):
        ci, cfg = int(sch.clusters[t]), int(sch.configs[t])
        n, c, lo, hi = clusters[ci]
        npas = int(np.sum(dep.cluster[n] == c))
        placements = {"proposed": pb.positions[ci, cfg, :npas],
                      "target-aligned": pb.positions[ci, pb.config_names.index("target"), :npas]
                      if "target" in pb.config_names else pb.positions[ci, 0, :npas],
                      "uniform": lo + (hi - lo) * (np.arange(npas) + 0.5) / npas}
        for name, xs in placements.items():
            terms = layout.guide_terms(n, xs, np.vstack([pts, target[None]]), 1 / np.sqrt(npas))
            p = np.abs(terms.sum(axis=0)) ** 2 * world.power_w
            grid, p_t = p[:-1], p[-1]
            at_target.setdefault(name, []).append(float(p_t))
            db = 10 * np.log10(grid / grid.max())
            rows.append(pd.DataFrame({"x_m": pts[:, 0], "y_m": pts[:, 1], "slot": t, "cluster": ci,
                                      "scheme": name, "power_db": db}))
    meta = {"target": target, "users": users, "clusters": sch.clusters}
    return pd.concat(rows, ignore_index=True), at_target, meta


def _heatmap_plot(df, path, spec):
    from matplotlib.figure import Figure          # no pyplot: never switches a notebook's backend

    schemes = list(df.scheme.unique())
    slots = sorted(df.slot.unique())
    fig = Figure(figsize=(3.2 * len(slots), 2.9 * len(schemes)), constrained_layout=True)
    axes = fig.subplots(len(schemes), len(slots), squeeze=False)
    meta = df.attrs.get("meta", {})
    for i, s in enumerate(schemes):
        for j, t in enumerate(slots):
            g = df[(df.scheme == s) & (df.slot == t)]
            xs, ys = np.unique(g.x_m), np.unique(g.y_m)
            Z = g.pivot(index="y_m", columns="x_m", values="power_db").to_numpy()
            ax = axes[i, j]
            im = ax.pcolormesh(xs, ys, np.clip(Z, -30, 0), cmap="inferno", vmin=-30, vmax=0, shading="auto")
            ax.axhline(0.0, color="c", lw=2)                               # the waveguide
            if "target" in meta:
                ax.plot(*meta["target"][:2], "w*", ms=12, mec="k")
                ax.plot(meta["users"][:, 0], meta["users"][:, 1], "gs", ms=6, mec="k")
            ax.set_title(f"{s}, slot {t} (cluster {int(g.cluster.iloc[0])})", fontsize="small")
            ax.set_aspect("equal")
    fig.colorbar(im, ax=axes, label="normalised radiated power [dB]", shrink=0.6)
    fig.savefig(path, dpi=100)


@figure("paper001-heatmap", x="x_m", metric="power_db", xlabel="x [m]", ylabel="y [m]", ci=False,
        plot=_heatmap_plot, title="Paper 001 Fig. 7", task_s=0)
def heatmap(quick: bool, seed: int) -> pd.DataFrame:
    df, at_target, meta = heatmap_table(seed, nx=60 if quick else 160)
    df.attrs["meta"] = meta
    df.attrs["at_target"] = at_target
    return df
