"""Paper 000 SDR and AO timings (MODEL §4.3-§4.4; issue 4 performance note).

1. Per-frame re-solve of the CRB SDR at N = 4, K = 3 with new channels: the compiled DPP
   problem (CrbSdr, parameters updated) against rebuilding the cvxpy problem every time.
   Reports the median of (cvxpy wall − Clarabel's own solve time) / wall for the compiled
   problem re-solved through its problem data ("DPP direct", what CrbSdr does), through
   cvxpy's public ``problem.solve`` ("DPP solve()"), and rebuilt every frame.
2. Wall time of one full AO (Algorithm 4) on the paper000 scene (uniform start).
3. Wall and CPU time of a warm-started frame of the isac-crb policy in the twin (users
   walking), in tracking mode (default) and in the previous full-AO mode.

Run: .venv/bin/python benchmarks/bench_sdr.py [--reps 30] [--frames 6] [--part all|3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from twin.optim.crb_positioning import PassLayout, SearchGrid, coarse_to_fine, crb_ao
from twin.optim.sdr import CrbSdr, CrbSetup
from twin.controller import Controller, Observation, resolve
from twin.scene.loader import load_scene
from twin.world import World


def drop(rng):
    users = np.column_stack([rng.uniform(5, 20, 3), rng.uniform(-7.5, 7.5, 3), np.zeros(3)])
    return users, np.array([rng.uniform(5, 20), rng.uniform(-7.5, 7.5), 0.0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--frames", type=int, default=6, help="warm frames of part 3 (default 6)")
    ap.add_argument("--part", choices=("all", "3"), default="all", help="3: only the isac-crb policy frames")
    a = ap.parse_args()
    w = World(load_scene("paper000"))
    if a.part == "3":
        return policy_frames(w, a.frames)
    lay, setup = PassLayout(w.deployment, w.floor), CrbSetup.from_world(w)
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
        fr, walls, solves, cv = [], [], [], []
        for H, h, dh, q in cases:
            sdr = make()
            t0 = time.perf_counter()
            r = sdr.solve(H, h, dh, q, *args)
            wall = time.perf_counter() - t0
            walls.append(wall)
            solves.append(r.solve_time_s)
            fr.append((wall - r.solve_time_s) / wall)
            cv.append(r.info["cvxpy_wall_s"])
        cv = np.asarray(cv)
        return (np.median(fr), np.median(walls), np.median(solves),
                np.median((cv - np.asarray(solves)) / cv), np.median(cv))

    shared = CrbSdr(4, 3)
    shared.solve(*cases[0][:3], cases[0][3], *args)          # compile once (first solve)
    dpp = run(lambda: shared)
    public = CrbSdr(4, 3, direct=False)
    public.solve(*cases[0][:3], cases[0][3], *args)
    dpp_public = run(lambda: public)
    rebuild = run(lambda: CrbSdr(4, 3, direct=False))
    print("SDR N=4 K=3, per-frame re-solve with new channels "
          f"({a.reps} frames; wall = CrbSdr.solve incl. parameter update, recovery, verification)")
    for name, r in (("DPP direct", dpp), ("DPP solve()", dpp_public), ("rebuild", rebuild)):
        print(f"  {name:12s}: cvxpy wall {r[4] * 1e3:7.1f} ms, Clarabel {r[2] * 1e3:5.1f} ms, "
              f"median (cvxpy wall - Clarabel)/cvxpy wall = {r[3]:.0%}; whole CrbSdr.solve "
              f"{r[1] * 1e3:7.1f} ms, (wall - Clarabel)/wall = {r[0]:.0%}")

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

    policy_frames(w, a.frames)


def policy_frames(w, frames: int = 6):
    """Part 3: warm-started frames of the isac-crb policy on the paper000 drop of seed 2
    (3 users walking ~1 m/s, 1 slot per frame), wall and CPU time per frame, in tracking
    mode (the default) and with ``position.mode = full`` (the previous behaviour: up to
    max_iter = 3 AO iterations per frame) and ``beamform.reuse = false``."""
    for label, params in (("track (default)", {}),
                          ("full (previous)", {"position.mode": "full", "beamform.reuse": False})):
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
