"""Paper 000 SDR and AO timings (MODEL §4.3-§4.4; issue 4 performance note).

1. Per-frame re-solve of the CRB SDR at N = 4, K = 3 with new channels, per backend:
   "conic" (the default: Clarabel's standard form written with numpy, twin/optim/sdr_conic.py),
   the cvxpy DPP problem re-solved through its problem data ("cvxpy direct") or through
   cvxpy's public ``problem.solve`` ("cvxpy solve()"), and the cvxpy problem rebuilt every
   frame. Reports medians of the whole ``CrbSdr.solve`` wall, Clarabel's own solve time,
   (wall − Clarabel) / wall (the issue's overhead share; for "conic" also in CPU time,
   which a loaded machine does not distort), the solver call's own wall (problem data +
   Clarabel), the process CPU time per solve and the largest relative difference of the
   tr CRB from cvxpy's ``problem.solve``.
2. Wall time of one full AO (Algorithm 4) on the paper000 scene (uniform start).
3. Wall and CPU time of a warm-started frame of the isac-crb policy in the twin (users
   walking), in tracking mode (default), tracking with the optional shortcuts and in the
   previous full-AO mode.

Run: PYTHONPATH=$PWD python benchmarks/bench_sdr.py [--reps 30] [--parts 1,2,3] [--frames 6]
                                                     [--variants track,fast,guarded,full]

``--variants`` (part 3): which controllers run — ``track`` (the default tracking step,
``fast_sdr`` on since the seventh round of issue 13), ``fast`` (with the far round robin
too), ``guarded`` (the guarded step only with
the far round robin), ``full`` (the previous full AO per frame); default all four.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from twin.optim.crb_positioning import PassLayout, SearchGrid, coarse_to_fine, crb_ao
from twin.optim.sdr import CrbSdr
from twin.problems import crb_setup
from twin.controller import Controller, Observation, resolve
from twin.scene.loader import load_scene
from twin.world import World


def drop(rng):
    users = np.column_stack([rng.uniform(5, 20, 3), rng.uniform(-7.5, 7.5, 3), np.zeros(3)])
    return users, np.array([rng.uniform(5, 20), rng.uniform(-7.5, 7.5), 0.0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--parts", default="1,2,3", help="comma-separated parts to run (1: SDR re-solve, "
                    "2: Algorithm 4 and coarse-to-fine, 3: isac-crb policy)")
    ap.add_argument("--frames", type=int, default=6, help="warm frames of part 3 (default 6)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help=f"part 3's controllers, comma-separated among {', '.join(VARIANTS)} (default all)")
    a = ap.parse_args()
    parts = {int(p) for p in a.parts.split(",") if p.strip()}
    variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        print(f"bench_sdr.py: --variants: unknown {', '.join(unknown)}; use names among {', '.join(VARIANTS)}",
              file=sys.stderr)
        raise SystemExit(2)
    w = World(load_scene("paper000"))
    lay, setup = PassLayout(w.deployment, w.floor), crb_setup(w)
    s = w.deployment.uniform_positions()
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(a.reps):
        users, q = drop(rng)
        H = lay.terms(s, users).sum(axis=1)
        h, dh = lay.target(s, q)
        cases.append((H, h, dh, q))
    args = (setup, w.sinr_target, w.power_w, w.noise_w)

    def run(make):
        fr, walls, solves, cv, objs, cfr = [], [], [], [], [], []
        c0 = time.process_time()
        for H, h, dh, q in cases:
            sdr = make()
            t0, ct = time.perf_counter(), time.process_time()
            r = sdr.solve(H, h, dh, q, *args)
            wall, cpu1 = time.perf_counter() - t0, time.process_time() - ct
            cfr.append((cpu1 - r.info.get("clarabel_cpu_s", np.nan)) / cpu1)
            walls.append(wall)
            solves.append(r.solve_time_s)
            fr.append((wall - r.solve_time_s) / wall)
            cv.append(r.info["cvxpy_wall_s"])
            objs.append(r.objective)
        cpu = (time.process_time() - c0) / len(cases)
        return (np.median(fr), np.median(walls), np.median(solves), np.median(cv), cpu, np.asarray(objs),
                np.median(cfr))

    if 1 in parts:
        results = {}
        for name, kw in (("conic", {}), ("cvxpy direct", {"backend": "cvxpy"}),
                         ("cvxpy solve()", {"backend": "cvxpy", "direct": False})):
            shared = CrbSdr(4, 3, **kw)
            shared.solve(*cases[0][:3], cases[0][3], *args)          # compile once (first solve)
            results[name] = run(lambda: shared)
        results["cvxpy rebuild"] = run(lambda: CrbSdr(4, 3, backend="cvxpy", direct=False))
        print("SDR N=4 K=3, per-frame re-solve with new channels "
              f"({a.reps} frames; wall = CrbSdr.solve incl. parameters, recovery, verification; medians)")
        ref = results["cvxpy solve()"][5]
        for name, r in results.items():
            print(f"  {name:13s}: CrbSdr.solve {r[1] * 1e3:7.1f} ms wall ({r[4] * 1e3:6.1f} ms CPU), Clarabel "
                  f"{r[2] * 1e3:5.1f} ms, (wall - Clarabel)/wall = {r[0]:4.0%}"
                  + (f" (in CPU time {r[6]:4.0%})" if np.isfinite(r[6]) else "")
                  + f"; solver call {r[3] * 1e3:6.1f} ms; "
                  f"max |tr CRB / cvxpy's - 1| = {np.max(np.abs(r[5] / ref - 1)):.1e}")
    if 2 in parts:
        users, q = drop(np.random.default_rng(1))
        sdr = CrbSdr(4, 3)
        t0 = time.perf_counter()
        r = crb_ao(lay, s, users, q, setup, *args[1:], sdr=sdr, grid=SearchGrid(), max_iter=20)
        t1 = time.perf_counter() - t0
        print(f"Algorithm 4, paper000 scene, uniform start, continuous (grid 601): {t1:.2f} s, "
              f"{r.iterations} iterations, RCRB {np.sqrt(r.history[0]) * 1e6:.2f} -> {r.rcrb_m * 1e6:.2f} um")
        t0 = time.perf_counter()
        c = coarse_to_fine(lay, s, users, q, setup, *args[1:], sdr=sdr, max_iter=20)
        t2 = time.perf_counter() - t0
        print(f"coarse-to-fine 15 -> 30 -> continuous (first frame of isac-crb): {t2:.2f} s, "
              f"RCRB {c[15].rcrb_m * 1e6:.2f} / {c[30].rcrb_m * 1e6:.2f} / {c[None].rcrb_m * 1e6:.2f} um")
    if 3 not in parts:
        return

    policy_frames(w, a.frames, variants)


#: part 3's controllers: label and parameters
VARIANTS = {
    "track": ("track (default)", {}),
    "fast": ("track + far round robin", {"position.fast_sdr": True, "beamform.fast_sdr": True,
                                                   "position.track_far_every": 4}),
    "guarded": ("track, guarded step only + far round robin", {"position.track_steps": "guarded",
                                                               "position.track_far_every": 4}),
    "full": ("full (previous)", {"position.mode": "full", "beamform.reuse": False}),
}


def policy_frames(w, frames: int = 6, variants=tuple(VARIANTS)):
    """Part 3: warm-started frames of the isac-crb policy on the paper000 drop of seed 2
    (3 users walking ~1 m/s, 1 slot per frame), wall and CPU time per frame, in tracking
    mode (the default, ``fast_sdr`` on), in tracking mode with the optional shortcut (far
    candidates in a round robin over the guides, issue 13; the guarded step alone with the
    round robin, fourth round: faster, frame RCRB worse on ``office``, docs/performance.md
    "isac-crb, fourth round") and with ``position.mode = full``
    (the previous behaviour: up to max_iter = 3 AO iterations per frame) and
    ``beamform.reuse = false``."""
    for label, params in (VARIANTS[v] for v in variants):
        pol = Controller(w, resolve("isac-crb", params))
        rr = np.random.default_rng(2)
        users, q = drop(rr)

        def obs(frame, prev, users):
            return Observation(0.1 * frame, frame, w.tx.initial_state(), users, q[None], prev, rr)
        t0 = time.perf_counter()
        d = pol.decide(obs(0, None, users))
        first = time.perf_counter() - t0
        walls, cpus = [], []
        for f in range(1, frames + 1):
            users = users + np.column_stack([rr.normal(0, 0.1, (3, 2)), np.zeros(3)])   # 1 m/s walk
            t0, c0 = time.perf_counter(), time.process_time()
            d = pol.decide(obs(f, d, users))
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        print(f"isac-crb policy, {label}: first frame {first:.2f} s; warm-started frame median "
              f"{np.median(walls) * 1e3:.0f} ms wall, {np.median(cpus) * 1e3:.0f} ms CPU (max "
              f"{np.max(walls) * 1e3:.0f} ms wall; {frames} frames; goal: median <= 50 ms)")

if __name__ == "__main__":
    main()
