"""Issue 3 benchmark: one full candidate sweep of one PA (N = 8 guides, M = 8 PAs,
K = 8 users, Q = 1000 candidates): rank-two (Woodbury) scoring against an explicit
beamformer per candidate; and the wall time of a full element-wise optimisation on the
paper002 scene.

    python benchmarks/bench_elementwise.py
"""

from __future__ import annotations

import time

import numpy as np

from twin.optim.elementwise import (LinkSetup, brute_force_sum_rates, candidate_sum_rates,
                                    candidate_terms, elementwise_search)
from twin.scene import load_scene, parse_scene, read_raw, resolve
from twin.world import World


def world_n8():
    raw = read_raw(resolve("paper002"))
    g = raw["waveguides"][0]
    raw["waveguides"] = [{**g, "feed": [0.0, -2.625 + 0.75 * n, 3.0], "pas": 8} for n in range(8)]
    raw["users"]["count"] = 8
    return World(parse_scene(raw, "bench"))


def main():
    world = world_n8()
    rng = np.random.default_rng(0)
    users = np.column_stack([rng.uniform(0, 10, 8), rng.uniform(-3, 3, 8), np.zeros(8)])
    dep = world.deployment
    s = dep.uniform_positions()
    terms = dep.channel_terms(s, users, dep.installed, world.floor)
    H = terms.sum(axis=1)
    x = np.linspace(0, 10, 1000)
    delta = candidate_terms(world, 3, x, users) - terms[3, 4][None]
    print("one PA, Q = 1000 candidates, N = M = K = 8")
    for kind, link in (("mrt", "downlink"), ("zf", "downlink"), ("mmse", "downlink"),
                       ("mrc", "uplink"), ("zf", "uplink"), ("mmse", "uplink")):
        setup = LinkSetup(kind, link, world.power_w, world.user_power_w, world.noise_w)
        fast, slow = [], []
        for _ in range(7):
            t0 = time.perf_counter()
            a = candidate_sum_rates(H, 3, delta, setup)
            fast.append(time.perf_counter() - t0)
        for _ in range(3):
            t0 = time.perf_counter()
            b = brute_force_sum_rates(H, 3, delta, setup)
            slow.append(time.perf_counter() - t0)
        err = np.max(np.abs(a - b) / np.abs(b))
        print(f"  {link:8s} {kind:4s}: rank-two {np.median(fast) * 1e3:6.2f} ms, naive {np.median(slow) * 1e3:7.1f} ms, "
              f"ratio {np.median(slow) / np.median(fast):5.0f}x, max rel. diff {err:.1e}")
    w2 = World(load_scene("paper002"))
    u2 = np.column_stack([rng.uniform(0, 10, w2.n_users), rng.uniform(-3, 3, w2.n_users), np.zeros(w2.n_users)])
    for kind in ("mrt", "zf", "mmse"):
        setup = LinkSetup(kind, "downlink", w2.power_w, w2.user_power_w, w2.noise_w)
        times = [elementwise_search(w2, u2, setup, Q=1000, rng=np.random.default_rng(i)).wall_time_s for i in range(5)]
        print(f"paper002 scene, full element-wise optimisation (Q = 1000, {kind}): median {np.median(times) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
