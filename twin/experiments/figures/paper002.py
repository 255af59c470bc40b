"""Paper 002 figure reproductions (§V, Figs. 2-6): sum rate of PASS (element-wise
pinching beamforming) against hMIMO for MRT/ZF/MMSE downlink and MRC/ZF/MMSE uplink.

Each drop draws the users uniformly over the service region and the PASS start
positions uniformly (the paper's random initialisation), the same for every scheme of
the drop. MMSE is started from the best, under its own objective, of the random start
and the ZF / MRT optima of the drop: its objective dominates theirs, so its result is
never below theirs. Full mode: 400 drops and Q = 1000 (the paper's averaging); quick
mode: a few drops, Q = 200, a coarse sweep. ``quick="ci"`` (the findings tests,
tests/figures) is quick mode (a figure takes seconds)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.experiments.figures import figure
from twin.experiments.stats import mean_ci
from twin.optim.elementwise import LinkSetup, elementwise_search, sum_rate
from twin.optim.hybrid import hmimo_solution
from twin.scene import load_scene
from twin.world import World

SCENE = "paper002"
FULL_DROPS, QUICK_DROPS = 400, 6
FULL_Q, QUICK_Q = 1000, 200


def _kinds(link):
    return ("mrt", "zf", "mmse") if link == "downlink" else ("mrc", "zf", "mmse")


def _label(kind):
    return kind.upper()


def drop_rates(world, users, link, Q, rng) -> dict:
    """Sum rates of the six schemes for one drop (users (K,3))."""
    dep = world.deployment
    lo, hi = dep.bounds()
    s_init = dep.legalize(rng.uniform(lo, hi))
    N, K = dep.n_guides, len(users)
    out, optima = {}, {}
    for kind in _kinds(link):
        setup = LinkSetup(kind, link, world.power_w, world.user_power_w, world.noise_w)
        if kind == "zf" and K > N:
            out[f"PASS-{_label(kind)}"] = out[f"hMIMO-{_label(kind)}"] = np.nan
            continue
        start = s_init
        if kind == "mmse":
            cands = [s_init] + list(optima.values())
            rates = [sum_rate(dep.channel(c, users, dep.installed, world.floor), setup) for c in cands]
            start = cands[int(np.argmax(rates))]
        res = elementwise_search(world, users, setup, Q=Q, s0=start)
        optima[kind] = res.s
        out[f"PASS-{_label(kind)}"] = res.sum_rate
        out[f"hMIMO-{_label(kind)}"] = hmimo_solution(world, users, setup)[0]
    return out


def _sweep(column, values, overrides, link, quick, seed, Q=None):
    drops = QUICK_DROPS if quick else FULL_DROPS
    rows = []
    for v in values:
        world = World(load_scene(SCENE, overrides(v)))
        q = Q(v) if Q else (QUICK_Q if quick else FULL_Q)
        per = {}
        for d in range(drops):
            rng = np.random.default_rng([seed, d])
            users = world.floor.sample_free(rng, world.n_users, clearance=0.0)
            users = np.column_stack([users, np.full(len(users), world.ue_height)])
            for k, r in drop_rates(world, users, link, q, rng).items():
                per.setdefault(k, []).append(r)
        for scheme, rates in per.items():
            if np.all(np.isnan(rates)):
                continue
            m, lo, hi = mean_ci(rates)
            rows.append({column: v, "scheme": scheme, "sum_rate_bps_hz": m, "ci_low": lo, "ci_high": hi,
                         "drops": int(np.sum(np.isfinite(rates)))})
    return pd.DataFrame(rows)


def _all_guides(key, value):
    return {f"waveguides.{n}.{key}": value for n in range(4)}


@figure("paper002-resolution", x="Q", metric="sum_rate_bps_hz", xlabel="search resolution Q (samples per guide)",
        ylabel="downlink sum rate [bit/s/Hz]", title="Paper 002 Fig. 2: sum rate vs resolution")
def resolution(quick: bool, seed: int) -> pd.DataFrame:
    values = [11, 51, 201] if quick else [11, 26, 51, 101, 201, 501, 1001]
    return _sweep("Q", values, lambda v: None, "downlink", quick, seed, Q=lambda v: v)


@figure("paper002-power", x="tx_power_dbm", metric="sum_rate_bps_hz", xlabel="BS transmit power P [dBm]",
        ylabel="downlink sum rate [bit/s/Hz]", title="Paper 002 Fig. 3(a): downlink sum rate vs P")
def power(quick: bool, seed: int) -> pd.DataFrame:
    values = [0, 20, 40] if quick else list(range(0, 45, 5))
    return _sweep("tx_power_dbm", values, lambda v: {"radio.tx_power_dbm": v}, "downlink", quick, seed)


@figure("paper002-uplink-power", x="user_tx_power_dbm", metric="sum_rate_bps_hz",
        xlabel="per-user transmit power p [dBm]", ylabel="uplink sum rate [bit/s/Hz]",
        title="Paper 002 Fig. 3(b): uplink sum rate vs p")
def uplink_power(quick: bool, seed: int) -> pd.DataFrame:
    values = [-10, 10, 30] if quick else list(range(-10, 35, 5))
    return _sweep("user_tx_power_dbm", values, lambda v: {"radio.user_tx_power_dbm": v}, "uplink", quick, seed)


@figure("paper002-pas", x="pas_per_guide", metric="sum_rate_bps_hz", xlabel="PAs per waveguide M",
        ylabel="downlink sum rate [bit/s/Hz]", title="Paper 002 Fig. 5: sum rate vs M")
def pas(quick: bool, seed: int) -> pd.DataFrame:
    values = [1, 4, 8] if quick else [1, 2, 4, 6, 8, 10]
    return _sweep("pas_per_guide", values, lambda v: _all_guides("pas", v), "downlink", quick, seed)


@figure("paper002-users", x="users", metric="sum_rate_bps_hz", xlabel="number of users K",
        ylabel="downlink sum rate [bit/s/Hz]", title="Paper 002 Fig. 6: sum rate vs K (ZF needs K ≤ N)")
def users(quick: bool, seed: int) -> pd.DataFrame:
    values = [2, 4, 6] if quick else [1, 2, 3, 4, 5, 6, 7, 8]
    return _sweep("users", values, lambda v: {"users.count": v}, "downlink", quick, seed)
