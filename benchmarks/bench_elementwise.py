"""Element-wise pinching beamforming (paper 002, MODEL §4.2): speed and candidate sets.

1. One full candidate sweep of one PA (N = 8 guides, M = 8 PAs, K = 8 users, Q = 1000
   candidates): rank-two (Woodbury) scoring against an explicit beamformer per
   candidate, and the (K,Q) scorer of the default search (``rank2_scores``, CPU time);
   then full element-wise optimisations on the paper002 scene: the default path against
   the reference path (``evaluator=candidate_sum_rates``), CPU time, and whether they
   end at the same positions and sum rate.
2. ``--candidates``: paper 002's relaxed candidate set (any sample at least δ from the
   guide's other PAs) against the ordered one (between its neighbours), on ``--drops``
   drops of the paper002 scene (users uniform over the region, the same random legal
   start for both; Q = ``--Q``): mean sum rate of each, and the paired relative gain
   with a 95 % interval, for every beamformer of both links.

    python benchmarks/bench_elementwise.py [--candidates] [--drops 200] [--Q 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from twin.optim.elementwise import (DOWNLINK, UPLINK, LinkSetup, brute_force_sum_rates, candidate_sum_rates,
                                    sum_rate_elementwise_positions)
from twin.optim.elementwise import _alpha
from twin.optim.layout import PassLayout
from twin.optim.rank2_scores import reduced_sum_rates
from twin.scene import load_scene, parse_scene, read_raw, resolve
from twin.world import World


def world_n8():
    raw = read_raw(resolve("paper002"))
    g = raw["waveguides"][0]
    raw["waveguides"] = [{**g, "feed": [0.0, -2.625 + 0.75 * n, 3.0], "pas": 8} for n in range(8)]
    raw["users"]["count"] = 8
    return World(parse_scene(raw, "bench"))


def speed():
    world = world_n8()
    rng = np.random.default_rng(0)
    users = np.column_stack([rng.uniform(0, 10, 8), rng.uniform(-3, 3, 8), np.zeros(8)])
    dep = world.deployment
    s = dep.uniform_positions()
    terms = dep.channel_terms(s, users, dep.installed, world.floor)
    H = terms.sum(axis=1)
    x = np.linspace(0, 10, 1000)
    delta = PassLayout(dep, world.floor).guide_terms(3, x, users) - terms[3, 4][None]
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
        G = H.conj().T @ H
        alpha = _alpha(setup, H.shape[1])
        A = np.linalg.inv(G + alpha * np.eye(H.shape[1])) if setup.needs_inverse() else None
        bT = np.ascontiguousarray(np.conj(delta).T)
        kw = dict(power_w=setup.power_w, user_power_w=setup.user_power_w, noise_w=setup.noise_w, alpha=alpha,
                  A=A, G=G, fro2_h=float(np.sum(np.abs(H) ** 2)))
        ref_cpu, new_cpu = [], []
        for _ in range(5):                   # CPU time, interleaved
            t0 = time.process_time()
            for _ in range(20):
                candidate_sum_rates(H, 3, delta, setup, A, G)
            t1 = time.process_time()
            for _ in range(20):
                c = reduced_sum_rates(H, 3, bT, kind, link, **kw)
            ref_cpu.append((t1 - t0) / 20)
            new_cpu.append((time.process_time() - t1) / 20)
        print(f"  {link:8s} {kind:4s}: rank-two {np.median(fast) * 1e3:6.2f} ms, naive {np.median(slow) * 1e3:7.1f} ms, "
              f"ratio {np.median(slow) / np.median(fast):5.0f}x, max rel. diff {err:.1e}; CPU rank-two "
              f"{np.median(ref_cpu) * 1e3:.2f} ms, (K,Q) {np.median(new_cpu) * 1e3:.2f} ms "
              f"(max rel. diff {np.max(np.abs(c - a) / np.abs(a)):.1e})")
    w2 = World(load_scene("paper002"))
    lay = PassLayout(w2.deployment, w2.floor)
    u2 = np.column_stack([rng.uniform(0, 10, w2.n_users), rng.uniform(-3, 3, w2.n_users), np.zeros(w2.n_users)])
    for kind in ("mrt", "zf", "mmse"):
        setup = LinkSetup(kind, "downlink", w2.power_w, w2.user_power_w, w2.noise_w)
        for cands in ("relaxed", "ordered"):
            cpu = {"default": [], "reference": []}
            same = True
            for i in range(5):
                out = {}
                for path, ev in (("reference", candidate_sum_rates), ("default", None)):
                    t0 = time.process_time()
                    out[path] = sum_rate_elementwise_positions(lay, u2, setup, Q=1000, rng=np.random.default_rng(i),
                                                               candidates=cands, evaluator=ev)
                    cpu[path].append(time.process_time() - t0)
                same &= bool(np.array_equal(out["default"].s, out["reference"].s)
                             and out["default"].sum_rate == out["reference"].sum_rate)
            print(f"paper002 scene, full element-wise optimisation (Q = 1000, {kind}, {cands}): CPU median "
                  f"{np.median(cpu['default']) * 1e3:.0f} ms default, {np.median(cpu['reference']) * 1e3:.0f} ms "
                  f"reference; same positions and sum rate: {same}")


def candidate_sets(drops: int, Q: int, seed: int = 0):
    """Relaxed against ordered candidate sets on paper 002 drops (paired)."""
    w = World(load_scene("paper002"))
    lay = PassLayout(w.deployment, w.floor)
    dep = w.deployment
    lo, hi = dep.bounds()
    print(f"paper002 scene, {drops} drops, Q = {Q}: mean sum rate (bit/s/Hz), relaxed − ordered (paired, 95 %)")
    print(f"{'link':8s} {'kind':4s} {'ordered':>8s} {'relaxed':>8s} {'gain %':>7s} {'95% CI %':>16s} {'moves o/r':>10s}")
    for link, kinds in (("downlink", DOWNLINK), ("uplink", UPLINK)):
        for kind in kinds:
            setup = LinkSetup(kind, link, w.power_w, w.user_power_w, w.noise_w)
            rates = {"ordered": [], "relaxed": []}
            moves = {"ordered": [], "relaxed": []}
            for d in range(drops):
                rng = np.random.default_rng([seed, d])
                users = np.column_stack([w.floor.sample_free(rng, w.n_users, clearance=0.0),
                                         np.full(w.n_users, w.ue_height)])
                s0 = dep.legalize(rng.uniform(lo, hi))
                for c in rates:
                    r = sum_rate_elementwise_positions(lay, users, setup, Q=Q, s0=s0, candidates=c)
                    rates[c].append(r.sum_rate)
                    moves[c].append(r.info["moves"])
            o, r = np.array(rates["ordered"]), np.array(rates["relaxed"])
            diff = r - o                         # paired; the interval of the mean gain over the ordered mean
            half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
            print(f"{link:8s} {kind:4s} {o.mean():8.2f} {r.mean():8.2f} {100 * diff.mean() / o.mean():7.2f} "
                  f"[{100 * (diff.mean() - half) / o.mean():6.2f}, {100 * (diff.mean() + half) / o.mean():6.2f}] "
                  f"{np.mean(moves['ordered']):4.1f}/{np.mean(moves['relaxed']):4.1f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--candidates", action="store_true", help="relaxed vs ordered candidate sets (paired drops)")
    ap.add_argument("--drops", type=int, default=200, help="drops for --candidates (default 200)")
    ap.add_argument("--Q", type=int, default=1000, help="samples per guide for --candidates (default 1000)")
    args = ap.parse_args(argv)
    if args.candidates:
        candidate_sets(args.drops, args.Q)
    else:
        speed()


if __name__ == "__main__":
    main()
