"""Issue 5 benchmark: one frame's optimisation on the paper001 scene (T = 4), the
tracked frame of walking users (issue 13: ``select.mode = track``, CPU time per frame
once warm against the cold search), and the exact sensing outage for C = 10 clusters
against a 10^6-sample Monte Carlo.

    python benchmarks/bench_clustered.py [--walk-frames 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from twin.experiments.figures.paper001 import controller, proposed, schedule
from twin.optim.clustered_track import TrackSettings
from twin.physics import outage_monte_carlo, outage_probability, rcs_covariance


def _tracked(frames: int):
    """CPU ms per tracked frame (users walking 1.2 m/s, 8 ms frames) and per cold search."""
    ctrl = controller(proposed(4), 2.0, {"radio.tx_power_dbm": 15})
    world, sel = ctrl.world, ctrl.ctx.stages["select"]
    rng = np.random.default_rng(6)
    pts = world.floor.sample_free(rng, 3, 0.5)
    pts = np.column_stack([pts, np.full(3, world.ue_height)])
    q, users = pts[0], pts[1:]
    track = TrackSettings(np.asarray(ctrl.tx.speed, float) * world.scene.simulation.frame_s
                          * sel.p["track_window_frames"], sel.p["jump_m"], sel.p["resolve_frames"], sel.p["track_moves"])
    call = lambda c, u, tr: c.ctx.solvers.outage_schedule(                   # noqa: E731
        u, q, T=4, rule="proposed", pas_per_cluster=0, focus=True, fixed_ula=False, objective="exact", decay=None,
        points_per_cluster=0, method="search", track=tr)
    call(ctrl, users, track)
    heading = rng.uniform(0, 2 * np.pi, 2)
    tracked, cold, diff = [], [], []
    for f in range(frames):
        heading += rng.normal(0, 0.3, 2)
        users = users + 1.2 * 0.008 * np.column_stack([np.cos(heading), np.sin(heading), np.zeros(2)])
        users[:, 0], users[:, 1] = np.clip(users[:, 0], 0.3, 9.7), np.clip(users[:, 1], -4.7, 4.7)
        c0 = time.process_time()
        res = call(ctrl, users, track)
        tracked.append(time.process_time() - c0)
        if f % 20 == 19:
            ref = controller(proposed(4), 2.0, {"radio.tx_power_dbm": 15})
            c0 = time.process_time()
            full = call(ref, users, None)
            cold.append(time.process_time() - c0)
            diff.append(res.outage - full.outage)
    t = np.array(tracked) * 1e3
    print(f"walking users, {frames} tracked frames (15 dBm, R_min = 2): CPU {t.mean():.2f} ms mean, "
          f"{np.percentile(t, 95):.2f} ms p95 (frame 8 ms); cold search {np.median(cold) * 1e3:.0f} ms median; "
          f"planned outage tracked − cold at {len(diff)} frames: mean {np.mean(diff):+.2e}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--walk-frames", type=int, default=100, help="tracked frames of walking users (default 100)")
    args = ap.parse_args(argv)
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
    if args.walk_frames > 0:
        _tracked(args.walk_frames)
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
