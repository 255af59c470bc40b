"""Issue 5 benchmark: one frame's optimisation on the paper001 scene (T = 4), and the
exact sensing outage for C = 10 clusters against a 10^6-sample Monte Carlo.

    python benchmarks/bench_clustered.py
"""

from __future__ import annotations

import time

import numpy as np

from twin.experiments.figures.paper001 import controller, proposed, schedule
from twin.physics import outage_monte_carlo, outage_probability, rcs_covariance


def main():
    ctrl = controller(proposed(4), 2.0, {"radio.tx_power_dbm": 12})
    world = ctrl.world
    rng = np.random.default_rng(0)
    times = []
    for d in range(5):
        pts = world.floor.sample_free(rng, 3, 0.5)
        pts = np.column_stack([pts, np.zeros(3)])
        t0 = time.perf_counter()
        schedule(ctrl, pts[1:], pts[0])
        times.append(time.perf_counter() - t0)
    print(f"paper001 frame optimisation (T = 4, C = 10 clusters × 4 PAs, K = 2): median {np.median(times):.2f} s "
          f"(min {min(times):.2f}, max {max(times):.2f})")
    th = np.linspace(0.5, 2.5, 10)
    cov = rcs_covariance(th, 1.0, 1.0)
    w = rng.uniform(0.5, 3.0, 10)
    thr = 2.0
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        p = outage_probability(w, cov, thr)
    t_exact = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    pm, lo, hi = outage_monte_carlo(w, cov, thr, np.random.default_rng(1), 1_000_000)
    t_mc = time.perf_counter() - t0
    print(f"C = 10: exact outage {p:.6g} in {t_exact * 1e3:.3f} ms; Monte Carlo 10^6 samples {pm:.6g} "
          f"[{lo:.6g}, {hi:.6g}] in {t_mc:.2f} s; ratio {t_mc / t_exact:.0f}x")


if __name__ == "__main__":
    main()
