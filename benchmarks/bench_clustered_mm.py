"""Issue 14 item 2: paper 001's own method (``clustered-mm``, MODEL §4.5.1) against the
configuration-library search (``clustered-outage``, MODEL §4.5) and exhaustive search.

    python benchmarks/bench_clustered_mm.py small     # exhaustive references, small cases
    python benchmarks/bench_clustered_mm.py drops     # the paper001-power quick drops
    python benchmarks/bench_clustered_mm.py blocks 10,40   # block solves: direct vs cvxpy

``small``: C = 3 clusters of N_c = 2 PAs (aperture 3 cm = 3 λ), one user, T = 2, 12 dBm. Per
case: the library search, the exhaustive search over the library (every schedule of the
1 + 2K configurations), Proposed-MM, search+MM, and the exhaustive search over every
schedule and every Pareto-optimal pair of positions on a λ/8 grid of each cluster. The
loss of a method is its outage over the fine-grid exhaustive one.

``drops``: the drops of ``paper001-power --quick`` (seed 0, 4 drops, R_min = 2, T = 4) at
5 / 10 / 15 / 20 dBm, each method through the preset's select stage; mean outage and CPU
time per drop.

``blocks``: every block problem Proposed-MM poses on the given full-size
``paper001-power`` drops (7 powers each), re-solved by Clarabel directly
(:mod:`twin.optim.mm_conic`) and by cvxpy's ``Problem.solve``, alternated, 3 times each:
CPU per solve (the least of 3), and whether the answers are bit-identical."""

from __future__ import annotations

import sys
import time

import numpy as np

from twin.experiments.figures.paper001 import QUICK_DROPS, _drop, controller, schedule
from twin.experiments.snapshot import Scheme
from twin.optim import clustered as cl
from twin.optim import clustered_mm as mm
from twin.problems import cluster_setup
from twin.units import wavelength

METHODS = {"search": ("clustered-outage", {}), "mm": ("clustered-mm", {}),
           "search+mm": ("clustered-outage", {"method": "search+mm"})}


def _timed(fn):
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


def small(cases: int = 4, K: int = 1, r_min: float = 1.0):
    over = {"waveguides.0.pas": 6, "radio.tx_power_dbm": 12,
            "waveguides.0.clusters": [{"center_m": c, "aperture_m": 0.03, "pas": 2} for c in (1.5, 5.0, 8.5)]}
    ctrls = {m: controller(Scheme(p, {"T": 2, **kw}), r_min, over) for m, (p, kw) in METHODS.items()}
    ctrl = ctrls["search"]
    world, lay = ctrl.world, ctrl.ctx.solvers.layout
    setup = cluster_setup(world)
    rng = np.random.default_rng(5)
    rows = []
    for d in range(cases):
        target = np.r_[rng.uniform(1, 9), rng.uniform(-4, 4), 0.0]
        users = np.column_stack([rng.uniform(1, 9, K), rng.uniform(-4, 4, K), np.zeros(K)])
        res = {m: _timed(lambda c=c: schedule(c, users, target)) for m, c in ctrls.items()}
        lib = cl.build_problem(lay, setup, users, target, T=2, r_min=r_min)
        lib_ex, t_lib = _timed(lambda: cl.exhaustive_schedule(lib))
        fine = mm.pareto_grid_problem(lay, setup, users, target, step=wavelength(world.fc) / 8, T=2, r_min=r_min)
        ex, t_ex = _timed(lambda: cl.exhaustive_schedule(fine))
        row = {"case": d, "exhaustive": ex.outage, "library-exhaustive": lib_ex.outage,
               **{m: r.outage for m, (r, _) in res.items()}, "J_fine": int(np.isfinite(fine.gains).sum(1).max())}
        rows.append(row)
        print(row, {m: round(t, 2) for m, (_, t) in res.items()}, f"lib-ex {t_lib:.1f}s fine-ex {t_ex:.1f}s",
              flush=True)
    ref = np.array([r["exhaustive"] for r in rows])
    for m in ("library-exhaustive", *METHODS):
        v = np.array([r[m] for r in rows])
        print(f"{m:20s} mean {v.mean():.5g} vs exhaustive {ref.mean():.5g}; excess: mean {np.mean(v / ref - 1):+.2%}, "
              f"max {np.max(v / ref - 1):+.2%}", flush=True)


def drops(powers=(5, 10, 15, 20), T: int = 4, r_min: float = 2.0, seed: int = 0):
    for p in powers:
        ctrls = {m: controller(Scheme(s, {"T": T, **kw}), r_min, {"radio.tx_power_dbm": p})
                 for m, (s, kw) in METHODS.items()}
        world = ctrls["search"].world
        out = {m: [] for m in METHODS}
        cpu = {m: [] for m in METHODS}
        for d in range(QUICK_DROPS):
            target, users, _ = _drop(world, seed, d)
            for m, c in ctrls.items():
                r, t = _timed(lambda c=c: schedule(c, users, target))
                out[m].append(r.outage)
                cpu[m].append(t)
        print(f"P = {p} dBm: " + "; ".join(f"{m} {np.mean(out[m]):.4g} ({np.mean(cpu[m]):.2f} s CPU/drop)"
                                           for m in METHODS), "| per drop:",
              {m: [round(x, 5) for x in v] for m, v in out.items()}, flush=True)


def blocks(drop_ids: str = "10,40", reps: int = 3):
    from twin.experiments.figures.paper001 import R_MIN, _power_values, proposed_mm, sweep_drop

    rec = []
    o_sel, o_sch = mm.solve_selection, mm.solve_scheduling
    copy = lambda v: {k: np.array(x, copy=True) if isinstance(x, np.ndarray) else x for k, x in v.items()}
    mm.solve_selection = lambda C, T, K, v: rec.append(("selection", o_sel, (C, T, K), copy(v))) or o_sel(C, T, K, v)
    mm.solve_scheduling = lambda K, T, v: rec.append(("scheduling", o_sch, (K, T), copy(v))) or o_sch(K, T, v)
    try:
        for d in (int(x) for x in drop_ids.split(",")):
            for p in _power_values(False):
                sweep_drop({"radio.tx_power_dbm": p}, [(proposed_mm(), R_MIN, "mm", {})], 0, d)
    finally:
        mm.solve_selection, mm.solve_scheduling = o_sel, o_sch
    least = {(b, m): 0.0 for b in ("selection", "scheduling") for m in ("cvxpy", "direct")}
    same = {b: 0 for b in ("selection", "scheduling")}
    fallbacks0, direct0 = sum(mm.FALLBACKS.values()), mm.DIRECT
    for block, fn, shape, v in rec:
        times, answers = {"cvxpy": [], "direct": []}, {}
        for rep in range(reps):
            for mode in (("cvxpy", "direct") if rep % 2 == 0 else ("direct", "cvxpy")):   # alternate the order
                mm.DIRECT = mode == "direct"
                t0 = time.process_time()
                answers[mode] = fn(*shape, v)
                times[mode].append(time.process_time() - t0)
        for mode, t in times.items():
            least[block, mode] += min(t)
        a, b = answers["direct"], answers["cvxpy"]
        a, b = (a, b) if isinstance(a, dict) or a is None else ({"u": a}, {"u": b})
        same[block] += (a is None and b is None) or (a is not None and b is not None
                                                     and all(np.array_equal(a[k], b[k]) for k in a))
    mm.DIRECT = direct0
    fell = sum(mm.FALLBACKS.values()) - fallbacks0
    if fell:
        print(f"{fell} direct solves raised and were timed on cvxpy's path: {dict(mm.FALLBACKS)}")
    for block in same:
        n = sum(r[0] == block for r in rec)
        c, d = least[block, "cvxpy"] / n * 1e3, least[block, "direct"] / n * 1e3
        print(f"{block}: {n} solves, cvxpy {c:.2f} ms, direct {d:.2f} ms per solve (least of {reps}), "
              f"direct/cvxpy {d / c:.3f}; bit-identical answers {same[block]} of {n}", flush=True)


def _floats(text: str) -> tuple:
    return tuple(float(x) for x in text.split(","))


#: each subcommand's positional arguments, converted from the command line in order
ARGS = {"small": (int, int, float), "drops": (_floats, int, float, int), "blocks": (str, int)}

if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "drops"
    if name not in ARGS or len(sys.argv) - 2 > len(ARGS[name]):
        sys.exit(f"usage: bench_clustered_mm.py {{{'|'.join(ARGS)}}} [arguments of that function]")
    {"small": small, "drops": drops, "blocks": blocks}[name](*(f(a) for f, a in zip(ARGS[name], sys.argv[2:])))
