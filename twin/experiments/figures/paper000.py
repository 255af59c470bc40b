"""Paper 000 figure reproductions (§IV, Figs. 3-8): RCRB of the CRB-minimising ISAC
schemes versus AO iteration, P, K, N, M and γ.

Every point averages seeded drops (users and target uniform in the D_x × D_y area of
``scenes/paper000.toml``); all schemes see the same drops. Schemes (§IV-B):
Continuous-PASS, Discrete-PASS-30, Discrete-PASS-15 (Algorithm 4, run as the
coarse-to-fine continuation 15 → 30 → continuous of
:func:`twin.optim.crb_positioning.coarse_to_fine`, each level also started from the
uniform layout), Uniform-PASS (SDR only), mMIMO (N RF chains × M antennas, best analog
rule), MIMO (N antennas). The metric is ``rcrb_m`` = √tr CRB (m) of the CRB-optimal
covariance; means are over the drops where every scheme has a feasible beamformer
(common random numbers; the CSV's ``feasible`` column counts the drops used; a typical
loss is MIMO at γ ≥ 10 dB when two users sit at similar angles from the BS).

Sizes (``quick`` argument of every figure): False = the paper's averaging, True =
``--quick``, "ci" = the findings tests' size (see :func:`_settings`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.experiments.figures import figure
from twin.experiments.stats import mean_ci
from twin.optim.crb_positioning import PassLayout, SearchGrid, coarse_to_fine, crb_ao, sdr_at
from twin.optim.isac_baselines import best_mmimo, fixed_array_sdr, mimo_array
from twin.optim.sdr import CrbSdr, CrbSetup
from twin.scene.loader import load_scene
from twin.scene.schema import Scene
from twin.world import World

SCHEMES = ("Continuous-PASS", "Discrete-PASS-30", "Discrete-PASS-15", "Uniform-PASS", "mMIMO", "MIMO")


def paper000_world(power_dbm=None, users=None, guides=None, pas=None, sinr_db=None) -> World:
    """The §IV-A set-up (scenes/paper000.toml) with one parameter changed. N guides sit at
    the centres of N equal strips across D_y (as the scene file does for N = 4)."""
    base = load_scene("paper000").model_dump()
    if power_dbm is not None:
        base["radio"]["tx_power_dbm"] = float(power_dbm)
    if users is not None:
        base["users"]["count"] = int(users)
    if sinr_db is not None:
        base["users"]["sinr_target_db"] = float(sinr_db)
    g0 = base["waveguides"][0]
    N = len(base["waveguides"]) if guides is None else int(guides)
    ys = [p[1] for p in base["floor"]["outline"]]
    y0, y1 = min(ys), max(ys)
    base["waveguides"] = [dict(g0, feed=(g0["feed"][0], y0 + (n + 0.5) * (y1 - y0) / N, g0["feed"][2]),
                               pas=int(pas) if pas is not None else g0["pas"]) for n in range(N)]
    return World(Scene.model_validate(base))


def draw(world: World, rng: np.random.Generator):
    """Users (K,3) and target (3,) uniform in the service area (paper 000 §II). The target
    is drawn first and the users one by one, so the drops of a K-sweep are nested (the
    first K users of a drop are the same for every K)."""
    xy = np.array(world.scene.floor.outline)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    q = rng.uniform(lo, hi)
    users = rng.uniform(lo, hi, size=(world.n_users, 2))
    z = world.ue_height
    return np.column_stack([users, np.full(len(users), z)]), np.array([q[0], q[1], z])


# Sizes. ``quick`` is False (full: the paper's averaging), True (``--quick``) or "ci" (the
# findings tests, tests/figures: the quick sweep values, 2 drops (1 for the K sweep at
# N = 8 and for the convergence figure) and a 101-point continuous grid; the Z = 15 / 30
# lattices, the refinement zoom around the best candidate and the AO / penalty iteration
# limits stay those of quick mode: fewer AO steps leave Discrete-PASS-15 in local optima
# that break its N and M trends).
def _settings(quick: bool | str) -> dict:
    if quick == "ci":
        return dict(grid=101, max_iter=8, penalty=dict(max_outer=2, max_inner=2))
    if quick:
        return dict(grid=301, max_iter=8, penalty=dict(max_outer=2, max_inner=2))
    return dict(grid=601, max_iter=20, penalty=None)


def scheme_rcrb(world: World, users, q, quick: bool, sdr: CrbSdr | None = None,
                warm: dict | None = None) -> tuple[dict, dict]:
    """RCRB (m) of every scheme for one drop; NaN where beamforming is infeasible. Also
    returns the PASS schemes' positions per level ({15: s, 30: s, None: s}), which a
    sweep passes as ``warm`` to the next, easier point (see :func:`sweep`)."""
    st = _settings(quick)
    setup = CrbSetup.from_world(world)
    layout = PassLayout(world.deployment, world.floor)
    sdr = sdr or CrbSdr(world.deployment.n_guides, world.n_users)
    args = (world.sinr_target, world.power_w, world.noise_w)
    out = {}
    chain = coarse_to_fine(layout, world.deployment.uniform_positions(), users, q, setup, *args,
                           sdr=sdr, grid=st["grid"], max_iter=st["max_iter"], penalty=st["penalty"],
                           warm=warm)
    for name, key in (("Discrete-PASS-15", 15), ("Discrete-PASS-30", 30), ("Continuous-PASS", None)):
        r = chain[key]
        out[name] = r.rcrb_m if r.sdr.ok else np.nan
    res = sdr_at(layout, sdr, world.deployment.uniform_positions(), users, q, setup, *args)
    out["Uniform-PASS"] = np.sqrt(res.objective) if res.ok else np.nan
    _, res, _ = best_mmimo(world, sdr, users, q, setup, *args)
    out["mMIMO"] = np.sqrt(res.objective) if res.ok else np.nan
    res = fixed_array_sdr(mimo_array(world), sdr, users, q, setup, *args)
    out["MIMO"] = np.sqrt(res.objective) if res.ok else np.nan
    return out, {z: (r.s if r.sdr.ok else None) for z, r in chain.items()}


def sweep(x_name: str, values, make_world, quick: bool, seed: int, drops: int,
          harder_first=None) -> pd.DataFrame:
    """Mean RCRB per scheme and x value over ``drops`` seeded drops (same drops for every
    scheme; drop d of every x value uses the stream (seed, d)).

    ``harder_first`` (a sort key, optional) marks a sweep whose problems are nested on one
    deployment: the feasible set of each point contains that of the harder one (higher γ,
    lower P, more users: a dropped user's beam can join R_s with the same covariance and
    interference). Points are then solved from the hardest, and each drop's PASS positions
    warm-start the next point (``coarse_to_fine(warm=…)``); since the AO history never
    increases, every optimised scheme is then monotone along the sweep drop by drop, as
    its global optimum is, instead of showing AO local optima as wiggles."""
    order = sorted(values, key=harder_first) if harder_first is not None else list(values)
    rows = []
    warm = [None] * drops
    for v in order:
        world = make_world(v)
        sdr = CrbSdr(world.deployment.n_guides, world.n_users)
        per = {s: [] for s in SCHEMES}
        for d in range(drops):
            rng = np.random.default_rng([seed, d])
            users, q = draw(world, rng)
            out, pos = scheme_rcrb(world, users, q, quick, sdr, warm[d] if harder_first else None)
            warm[d] = pos
            for s, r in out.items():
                per[s].append(r)
        table = np.array([per[s] for s in SCHEMES], float)          # (schemes, drops)
        common = np.all(np.isfinite(table), axis=0)
        for i, s in enumerate(SCHEMES):
            vals = table[i, common] if common.any() else table[i]
            m, lo, hi = mean_ci(vals)
            rows.append({x_name: v, "scheme": s, "rcrb_m": m, "ci_low": lo, "ci_high": hi,
                         "feasible": int(np.isfinite(vals).sum()), "drops": drops})
    return pd.DataFrame(rows).sort_values(x_name, kind="stable").reset_index(drop=True)


def _drops(quick: bool | str, full: int = 20, fast: int = 3, ci: int = 2) -> int:
    if quick == "ci":
        return min(ci, fast)
    return fast if quick else full


@figure("paper000-convergence", x="iteration", metric="rcrb_m", xlabel="AO iteration",
        ylabel="RCRB (m)", logy=True, title="Paper 000 Fig. 3: convergence of Algorithm 4")
def convergence(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    """RCRB vs AO iteration (Algorithm 4 from the uniform layout, continuous PAs), P = 20
    and 30 dBm; histories padded with their final value."""
    iters = 8 if quick else 25
    drops = _drops(quick, 10, 3, ci=1)
    rows = []
    st = _settings(quick)
    for p in (20.0, 30.0):
        world = paper000_world(power_dbm=p)
        sdr = CrbSdr(world.deployment.n_guides, world.n_users)
        setup = CrbSetup.from_world(world)
        layout = PassLayout(world.deployment, world.floor)
        hist = []
        for d in range(drops):
            users, q = draw(world, np.random.default_rng([seed, d]))
            r = crb_ao(layout, world.deployment.uniform_positions(), users, q, setup, world.sinr_target,
                       world.power_w, world.noise_w, sdr=sdr, grid=SearchGrid(grid=st["grid"]),
                       max_iter=iters, tol=0.0, penalty=st["penalty"])
            h = np.sqrt(np.asarray(r.history, float))
            hist.append(np.concatenate([h, np.full(iters + 1 - len(h), h[-1])]))
        hist = np.array(hist)
        for i in range(iters + 1):
            m, lo, hi = mean_ci(hist[:, i])
            rows.append({"iteration": i, "scheme": f"Continuous-PASS, P = {p:.0f} dBm", "rcrb_m": m,
                         "ci_low": lo, "ci_high": hi, "feasible": int(np.isfinite(hist[:, i]).sum()),
                         "drops": drops})
    return pd.DataFrame(rows)


@figure("paper000-power", x="power_dbm", metric="rcrb_m", xlabel="BS power budget P (dBm)",
        ylabel="RCRB (m)", logy=True, title="Paper 000 Fig. 4: RCRB vs P")
def power(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    values = [10.0, 20.0, 30.0] if quick else [10.0, 15.0, 20.0, 25.0, 30.0, 35.0]
    return sweep("power_dbm", values, lambda v: paper000_world(power_dbm=v), quick, seed, _drops(quick),
                 harder_first=lambda v: v)


@figure("paper000-users", x="users", metric="rcrb_m", xlabel="number of users K",
        ylabel="RCRB (m)", logy=True, title="Paper 000 Fig. 5: RCRB vs K (N = 8)")
def users(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    values = [2, 4, 6] if quick else [2, 3, 4, 5, 6, 7, 8]
    return sweep("users", values, lambda v: paper000_world(users=v, guides=8), quick, seed,
                 _drops(quick, 20, 2, ci=1), harder_first=lambda v: -v)


@figure("paper000-waveguides", x="waveguides", metric="rcrb_m", xlabel="number of waveguides N",
        ylabel="RCRB (m)", logy=True, title="Paper 000 Fig. 6: RCRB vs N")
def waveguides(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    values = [3, 4, 6] if quick else [3, 4, 5, 6, 7, 8]
    return sweep("waveguides", values, lambda v: paper000_world(guides=v), quick, seed, _drops(quick))


@figure("paper000-pas", x="pas", metric="rcrb_m", xlabel="PAs per waveguide M",
        ylabel="RCRB (m)", logy=True, title="Paper 000 Fig. 7: RCRB vs M")
def pas(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    values = [2, 4, 6] if quick else [1, 2, 3, 4, 5, 6]
    return sweep("pas", values, lambda v: paper000_world(pas=v), quick, seed, _drops(quick))


@figure("paper000-sinr", x="sinr_db", metric="rcrb_m", xlabel="minimum SINR γ (dB)",
        ylabel="RCRB (m)", logy=True, title="Paper 000 Fig. 8: RCRB vs γ")
def sinr(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    values = [0.0, 10.0, 20.0] if quick else [0.0, 4.0, 8.0, 12.0, 16.0, 20.0]
    return sweep("sinr_db", values, lambda v: paper000_world(sinr_db=v), quick, seed, _drops(quick),
                 harder_first=lambda v: -v)
