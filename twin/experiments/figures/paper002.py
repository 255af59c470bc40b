"""Paper 002 figure reproductions (§V, Figs. 2-6): sum rate of PASS (element-wise
pinching beamforming) against hMIMO for MRT/ZF/MMSE downlink and MRC/ZF/MMSE uplink.

Each drop draws the users uniformly over the service region and the PASS start
positions uniformly (the paper's random initialisation), the same for every scheme of
the drop. MMSE is started from the best, under its own objective, of the random start
and the ZF / MRT optima of the drop: its objective dominates theirs, so its result is
never below theirs. Full mode: 400 drops and Q = 1000 (the paper's averaging); quick
mode: a few drops, Q = 200, a coarse sweep. ``quick="ci"`` (the findings tests,
tests/figures) is quick mode (a figure takes seconds).

Schemes are presets (:func:`schemes`, :class:`twin.experiments.snapshot.Scheme`):
PASS-X is ``elementwise`` with ``beamformer = x``, the link and Q; hMIMO-X is ``hmimo``
with ``beamformer = x``. PASS positions come from the preset's ``position`` stage's
element-wise search (its set-up, Q and ε, through the same solver bridge); the figure
keeps the random start per drop and the MMSE start from the ZF / MRT optima (a
procedure a controller cannot express). hMIMO is the preset's hardware with the
analog rule of the paper (:func:`twin.optim.hybrid.hmimo_solution`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.errors import ConfigError
from twin.experiments.figures import drop_map, figure
from twin.experiments.figures.drops import per_process
from twin.experiments.snapshot import Scheme
from twin.experiments.stats import mean_ci
from twin.optim import drop_memo
from twin.optim.elementwise import sum_rate
from twin.optim.hybrid import hmimo_solution
from twin.problems import array_site
from twin.scene import load_scene
from twin.world import World

SCENE = "paper002"
FULL_DROPS, QUICK_DROPS = 400, 6
FULL_Q, QUICK_Q = 1000, 200


def _kinds(link):
    return ("mrt", "zf", "mmse") if link == "downlink" else ("mrc", "zf", "mmse")


def schemes(link: str, Q: int) -> list[tuple[Scheme, Scheme]]:
    """(PASS, hMIMO) scheme pairs per beamformer of ``link``, in the figures' order."""
    return [(Scheme("elementwise", {"beamformer": k, "link": link, "Q": int(Q), "position.candidates": "relaxed"},
                    f"-{k.upper()}"),
             Scheme("hmimo", {"beamformer": k}, f"-{k.upper()}")) for k in _kinds(link)]


def controllers(world, link: str, Q: int) -> list:
    """[(PASS controller or None where the composition is refused, hMIMO scheme)]: ZF
    needs K ≤ N (the stage refuses it otherwise; the figure then has no point)."""
    out = []
    for pas, hm in schemes(link, Q):
        try:
            out.append((pas, pas.controller(world), hm))
        except ConfigError:
            out.append((pas, None, hm))
    return out


def drop_rates(world, users, link, Q, rng, ctrls=None) -> dict:
    """Sum rates of the six schemes for one drop (users (K,3))."""
    dep = world.deployment
    lo, hi = dep.bounds()
    s_init = dep.legalize(rng.uniform(lo, hi))
    out, optima = {}, {}
    for pas, ctrl, hm in ctrls if ctrls is not None else controllers(world, link, Q):
        if ctrl is None:
            out[pas.label] = out[hm.label] = np.nan
            continue
        stage = ctrl.ctx.stages["position"]
        setup = stage.setup
        start = s_init
        if setup.kind == "mmse":
            cands = [s_init] + list(optima.values())
            rates = [sum_rate(dep.channel(c, users, dep.installed, world.floor), setup) for c in cands]
            start = cands[int(np.argmax(rates))]
        res = ctrl.ctx.solvers.sum_rate_positions(users, setup, Q=stage.p["Q"], eps=stage.p["eps"], s0=start,
                                                  rng=None, candidates=stage.p["candidates"])
        optima[setup.kind] = res.s
        out[pas.label] = res.sum_rate
        out[hm.label] = hmimo_solution(array_site(world), users, setup).sum_rate
    return out


def _sweep(column, values, overrides, link, quick, seed, Q=None):
    """Mean sum rate per scheme and value; every (value, drop) is one drop of the figure's
    drop map (:func:`sweep_drop`), drop d of every value on the stream (seed, d)."""
    drops = QUICK_DROPS if quick else FULL_DROPS
    qs = [Q(v) if Q else (QUICK_Q if quick else FULL_Q) for v in values]
    # drop-major: the points of a drop run one after the other and share its candidate
    # lines' terms (sweep_drop, twin.optim.drop_memo); every (value, drop) is one drop of the map
    ovs = [_canonical(overrides(v)) for v in values]
    items = [(ov, link, q, seed, d) for d in range(drops) for ov, q in zip(ovs, qs)]
    results = drop_map(sweep_drop, items, desc=column, group=len(values))
    rows = []
    for i, v in enumerate(values):
        per = {}
        for out in results[i::len(values)]:
            for k, r in out.items():
                per.setdefault(k, []).append(r)
        for scheme, rates in per.items():
            if np.all(np.isnan(rates)):
                continue
            m, lo, hi = mean_ci(rates)
            rows.append({column: v, "scheme": scheme, "sum_rate_bps_hz": m, "ci_low": lo, "ci_high": hi,
                         "drops": int(np.sum(np.isfinite(rates)))})
    return pd.DataFrame(rows)


def _canonical(overrides: dict | None) -> dict | None:
    """``overrides``, or None when they leave the scene as it is: the point at the scene's
    own value of a sweep (P = 20 dBm, D_x = 10 m, M = 4, K = 4 downlink; p = 10 dBm
    uplink) is then the same drop in every figure that sweeps through it, computed once
    (:func:`twin.experiments.figures.drop_map`)."""
    if overrides and load_scene(SCENE, overrides).model_dump() == load_scene(SCENE).model_dump():
        return None
    return overrides


@per_process
def _point(overrides, link, Q):
    """The world and controllers of one sweep point (shared by the drops a process runs)."""
    world = World(load_scene(SCENE, overrides))
    return world, controllers(world, link, Q)


def sweep_drop(overrides, link, Q, seed, d) -> dict:
    """Drop ``d`` of a sweep point (scene ``overrides``, ``link``, ``Q``): users on the
    stream (seed, d), then :func:`drop_rates`; the geometry-only steps (the candidate
    lines' channel terms) are shared with the drop's other points (:mod:`twin.optim.drop_memo`)."""
    world, ctrls = _point(overrides, link, Q)
    rng = np.random.default_rng([seed, d])
    users = world.floor.sample_free(rng, world.n_users, clearance=0.0)
    users = np.column_stack([users, np.full(len(users), world.ue_height)])
    with drop_memo.shared(("paper002", seed, d)):      # line terms shared by the drop's searches and points
        return drop_rates(world, users, link, Q, rng, ctrls)


def _all_guides(key, value):
    return {f"waveguides.{n}.{key}": value for n in range(4)}


@figure("paper002-resolution", x="Q", metric="sum_rate_bps_hz", xlabel="search resolution Q (samples per guide)",
        ylabel="downlink sum rate [bit/s/Hz]", title="Paper 002 Fig. 2: sum rate vs resolution", task_s=0.5)
def resolution(quick: bool, seed: int) -> pd.DataFrame:
    values = [11, 51, 201] if quick else [11, 26, 51, 101, 201, 501, 1001]
    return _sweep("Q", values, lambda v: None, "downlink", quick, seed, Q=lambda v: v)


@figure("paper002-power", x="tx_power_dbm", metric="sum_rate_bps_hz", xlabel="BS transmit power P [dBm]",
        ylabel="downlink sum rate [bit/s/Hz]", title="Paper 002 Fig. 3(a): downlink sum rate vs P", task_s=0.5)
def power(quick: bool, seed: int) -> pd.DataFrame:
    """Full mode reaches down to −30 dBm: the low-SNR regime where hMIMO-MRT beats
    hMIMO-ZF (paper §V-B)."""
    values = [0, 20, 40] if quick else list(range(-30, 45, 5))
    return _sweep("tx_power_dbm", values, lambda v: {"radio.tx_power_dbm": v}, "downlink", quick, seed)


@figure("paper002-uplink-power", x="user_tx_power_dbm", metric="sum_rate_bps_hz",
        xlabel="per-user transmit power p [dBm]", ylabel="uplink sum rate [bit/s/Hz]",
        title="Paper 002 Fig. 3(b): uplink sum rate vs p", task_s=0.5)
def uplink_power(quick: bool, seed: int) -> pd.DataFrame:
    values = [-10, 10, 30] if quick else list(range(-30, 35, 5))
    return _sweep("user_tx_power_dbm", values, lambda v: {"radio.user_tx_power_dbm": v}, "uplink", quick, seed)


# --- Fig. 4 (side length D_x) and the uplink panels (b) of Figs. 2, 5, 6 -----------------
def _side(dx: float) -> dict:
    """The paper002 scene with the region's x side (and the guides' length) set to D_x."""
    return {"floor.outline": [[0.0, -3.0], [float(dx), -3.0], [float(dx), 3.0], [0.0, 3.0]],
            **_all_guides("length_m", float(dx))}


def side_values(quick: bool) -> list[float]:
    return [5.0, 15.0, 25.0] if quick else [5.0, 10.0, 15.0, 20.0, 25.0, 30.0]


@figure("paper002-side", x="side_m", metric="sum_rate_bps_hz", xlabel="region side length D_x [m]",
        ylabel="downlink sum rate [bit/s/Hz]", title="Paper 002 Fig. 4(a): downlink sum rate vs D_x", task_s=0.4)
def side(quick: bool, seed: int) -> pd.DataFrame:
    return _sweep("side_m", side_values(quick), _side, "downlink", quick, seed)


@figure("paper002-uplink-side", x="side_m", metric="sum_rate_bps_hz", xlabel="region side length D_x [m]",
        ylabel="uplink sum rate [bit/s/Hz]", title="Paper 002 Fig. 4(b): uplink sum rate vs D_x", task_s=0.4)
def uplink_side(quick: bool, seed: int) -> pd.DataFrame:
    return _sweep("side_m", side_values(quick), _side, "uplink", quick, seed)


@figure("paper002-uplink-resolution", x="Q", metric="sum_rate_bps_hz",
        xlabel="search resolution Q (samples per guide)", ylabel="uplink sum rate [bit/s/Hz]",
        title="Paper 002 Fig. 2(b): uplink sum rate vs resolution", task_s=0.5)
def uplink_resolution(quick: bool, seed: int) -> pd.DataFrame:
    values = [11, 51, 201] if quick else [11, 26, 51, 101, 201, 501, 1001]
    return _sweep("Q", values, lambda v: None, "uplink", quick, seed, Q=lambda v: v)


def _pas_values(quick: bool) -> list[int]:
    return [1, 4, 8] if quick else [1, 2, 4, 6, 8, 10]


def _users_values(quick: bool) -> list[int]:
    return [2, 4, 6] if quick else [1, 2, 3, 4, 5, 6, 7, 8]


def _register_link_pair(name: str, x: str, xlabel: str, fig: str, what: str, values, overrides) -> None:
    """Register the downlink figure ``paper002-NAME`` (panel a) and the uplink one
    ``paper002-uplink-NAME`` (panel b) of one sweep: same x values and scene changes."""
    for link, prefix, panel in (("downlink", "", "a"), ("uplink", "uplink-", "b")):
        def make(link=link):
            def func(quick: bool, seed: int) -> pd.DataFrame:
                return _sweep(x, values(quick), overrides, link, quick, seed)
            return func
        figure(f"paper002-{prefix}{name}", x=x, metric="sum_rate_bps_hz", xlabel=xlabel,
               ylabel=f"{link} sum rate [bit/s/Hz]",
               title=f"Paper 002 Fig. {fig}({panel}): {link} sum rate vs {what}", task_s=0.4)(make())


_register_link_pair("pas", "pas_per_guide", "PAs per waveguide M", "5", "M", _pas_values,
                    lambda v: _all_guides("pas", v))
_register_link_pair("users", "users", "number of users K", "6", "K (ZF needs K ≤ N)", _users_values,
                    lambda v: {"users.count": v})
