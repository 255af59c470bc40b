"""Paper 000 figure reproductions (§IV, Figs. 3-8): RCRB of the CRB-minimising ISAC
schemes versus AO iteration, P, K, N, M and γ.

Every point averages seeded drops (users and target uniform in the D_x × D_y area of
``scenes/paper000.toml``); all schemes see the same drops. Schemes (§IV-B):
Continuous-PASS, Discrete-PASS-30, Discrete-PASS-15 (Algorithm 4, run as the
coarse-to-fine continuation 15 → 30 → continuous of
:func:`twin.optim.crb_positioning.coarse_to_fine`, each level also started from the
uniform layout, then back from the continuous solution snapped to each lattice,
:func:`lattice_restarts`), Uniform-PASS (SDR only), mMIMO (N RF chains × M antennas, best
analog rule), MIMO (N antennas). The metric is ``rcrb_m`` = √tr CRB (m) of the CRB-optimal
covariance; means are over the drops where every scheme has a feasible beamformer
(common random numbers; the CSV's ``feasible`` column counts the drops used; a typical
loss is MIMO at γ ≥ 10 dB when two users sit at similar angles from the BS).

Schemes are presets (:func:`schemes`, :class:`twin.experiments.snapshot.Scheme`):
Continuous-PASS is ``isac-crb``, Discrete-PASS-Z is ``isac-crb-discrete`` with its ``Z``,
Uniform-PASS ``isac-crb-uniform``, mMIMO ``mmimo-isac`` (its analog ``rule``), MIMO
``mimo-isac``; the figure fixes ``grid`` and ``first_max_iter`` (quick or full) and
``sinr_margin_db = 0`` (the paper's γ exactly). The figure keeps two experimental
procedures a controller cannot express, with the schemes' parameters taken from their
presets: the PASS schemes of one drop are solved as one coarse-to-fine continuation
over their lattices (each level also started from the uniform layout) followed by a
fine-to-coarse pass (:func:`lattice_restarts`: each lattice level also started from the
finer level's solution snapped to its lattice), and a nested
sweep warm-starts each point from the harder one (:func:`sweep`). The fixed schemes are
the optimum of the presets' beamform stage (the CRB SDR) for their hardware, computed
by the same optimisers.

Sizes (``quick`` argument of every figure): False = the paper's averaging, True =
``--quick``, "ci" = the findings tests' size (see :func:`_settings`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.experiments.figures import drop_map, figure
from twin.experiments.figures.drops import per_process
from twin.experiments.snapshot import Scheme
from twin.experiments.stats import mean_ci
from twin.optim.crb_positioning import SearchGrid, coarse_to_fine, crb_ao, sdr_at
from twin.optim.isac_baselines import best_mmimo, fixed_array_sdr, mimo_array
from twin.optim.legal import lattice
from twin.optim.sdr import CrbSdr, FastFirstSdr
from twin.problems import array_site, crb_setup, pass_layout
from twin.scene.loader import load_scene
from twin.scene.schema import Scene
from twin.world import World


def schemes(quick: bool = False, plain: bool = False) -> list[Scheme]:
    """§IV-B's schemes, each a preset with the figure's fixed parameters; ``plain``: also
    the paper's plain Algorithm 4 (``isac-crb-paper``, continuous, from the uniform
    layout), beside the twin's extended one (Continuous-PASS)."""
    st = _settings(quick)
    exact = {"sinr_margin_db": 0.0}
    ao = {**exact, "grid": st["grid"], "first_max_iter": st["max_iter"]}
    return ([Scheme("isac-crb", ao)] + ([Scheme("isac-crb-paper", ao)] if plain else [])
            + [Scheme("isac-crb-discrete", {**ao, "Z": 30}, "-30"),
               Scheme("isac-crb-discrete", {**ao, "Z": 15}, "-15"), Scheme("isac-crb-uniform", exact),
               Scheme("mmimo-isac", exact), Scheme("mimo-isac", exact)])


def paper000_world(power_dbm=None, users=None, guides=None, pas=None, sinr_db=None) -> World:
    """The §IV-A set-up (scenes/paper000.toml) with one parameter changed. N guides sit at
    the centres of N equal strips across D_y (as the scene file does for N = 4)."""
    return World(paper000_scene(power_dbm, users, guides, pas, sinr_db))


def canonical_kw(kw: dict) -> dict:
    """:func:`paper000_world`'s arguments ``kw``, or {} when they give the scene as it is:
    the point at the scene's own value of a sweep (N = 4 guides, M = 4 PAs) is then the
    same drop in every figure that sweeps through it, computed once
    (:func:`twin.experiments.figures.drop_map`)."""
    if kw and paper000_scene(**kw).model_dump() == paper000_scene().model_dump():
        return {}
    return kw


def paper000_scene(power_dbm=None, users=None, guides=None, pas=None, sinr_db=None) -> Scene:
    """The scene of :func:`paper000_world`."""
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
    return Scene.model_validate(base)


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
# findings tests, tests/figures: the quick sweep values, 2 drops for the N and M sweeps, 1
# for the nested P, K and γ sweeps, whose optimised schemes are monotone drop by drop, and
# for the convergence figure, and a 101-point continuous grid; the Z = 15 / 30
# lattices, the refinement zoom around the best candidate and the AO / penalty iteration
# limits stay those of quick mode: fewer AO steps leave Discrete-PASS-15 in local optima
# that break its N and M trends).
def _settings(quick: bool | str) -> dict:
    if quick == "ci":
        return dict(grid=101, max_iter=8, penalty=dict(max_outer=2, max_inner=2))
    if quick:
        return dict(grid=301, max_iter=8, penalty=dict(max_outer=2, max_inner=2))
    return dict(grid=601, max_iter=20, penalty=None)


def scheme_rcrb(world: World, users, q, quick: bool, sdr: CrbSdr | FastFirstSdr | None = None,
                warm: dict | None = None, plain: bool = False) -> tuple[dict, dict]:
    """RCRB (m) of every scheme for one drop; NaN where beamforming is infeasible. Also
    returns the PASS schemes' positions per level ({15: s, 30: s, None: s}), which a
    sweep passes as ``warm`` to the next, easier point (see :func:`sweep`)."""
    st = _settings(quick)
    setup = crb_setup(world)
    layout = pass_layout(world)
    sdr = sdr or FastFirstSdr.build(world.deployment.n_guides, world.n_users)
    args = (world.sinr_target, world.power_w, world.noise_w)
    out = {}
    by_stage = {}
    for sc in schemes(quick, plain):
        spec = sc.spec()
        key = (spec.stages["position"], (spec.hardware or {}).get("kind"))
        if key[0] == "crb-ao" and spec.params["position"]["variant"] == "paper":
            key = ("crb-ao-paper", None)
        by_stage.setdefault(key, []).append((sc, spec))
    for sc, spec in by_stage.get(("crb-ao-paper", None), []):   # Algorithm 4 as published, from uniform
        p = spec.params["position"]
        r = crb_ao(layout, world.deployment.uniform_positions(), users, q, setup, *args, sdr=sdr,
                   grid=SearchGrid(lattice_z=p["Z"] or None, grid=p["grid"]), max_iter=p["first_max_iter"],
                   penalty=st["penalty"], guarded_sweeps=0)
        out[sc.label] = r.rcrb_m if r.sdr.ok else np.nan
    ao = by_stage.get(("crb-ao", None), [])
    chain = {}
    if ao:   # one continuation over the schemes' lattices, coarse to fine, then continuous
        p0 = ao[0][1].params["position"]
        lattices = tuple(sorted({spec.params["position"]["Z"] for _, spec in ao} - {0}))
        chain = coarse_to_fine(layout, world.deployment.uniform_positions(), users, q, setup, *args,
                               sdr=sdr, lattices=lattices, grid=p0["grid"], max_iter=p0["first_max_iter"],
                               penalty=st["penalty"], warm=warm)
        if LATTICE_RESTARTS:
            chain = lattice_restarts(chain, layout, users, q, setup, *args, sdr=sdr, grid=p0["grid"],
                                     max_iter=p0["first_max_iter"], penalty=st["penalty"])
    for sc, spec in ao:
        r = chain[spec.params["position"]["Z"] or None]
        out[sc.label] = r.rcrb_m if r.sdr.ok else np.nan
    for sc, _ in by_stage.get(("uniform", None), []):
        res = sdr_at(layout, sdr, world.deployment.uniform_positions(), users, q, setup, *args)
        out[sc.label] = np.sqrt(res.objective) if res.ok else np.nan
    for sc, spec in by_stage.get(("analog-steer", "hybrid"), []):
        _, res, _ = best_mmimo(array_site(world), sdr, users, q, setup, *args, rule=spec.params["position"]["rule"])
        out[sc.label] = np.sqrt(res.objective) if res.ok else np.nan
    for sc, _ in by_stage.get(("hold", "ula"), []):
        res = fixed_array_sdr(mimo_array(array_site(world)), sdr, users, q, setup, *args)
        out[sc.label] = np.sqrt(res.objective) if res.ok else np.nan
    missing = [sc.label for sc in schemes(quick, plain) if sc.label not in out]
    if missing:
        raise RuntimeError(f"paper 000 figures cannot evaluate schemes {missing}")
    return out, {z: (r.s if r.sdr.ok else None) for z, r in chain.items()}


#: the figure's fine-to-coarse pass (:func:`lattice_restarts`); False: the continuation alone
LATTICE_RESTARTS = True


def lattice_restarts(chain: dict, layout, users, q, setup, sinr_target, power_w, noise_w, *, sdr,
                     grid: int, **ao) -> dict:
    """Fine-to-coarse pass after the coarse-to-fine continuation (``chain``: {Z: AoResult,
    None: continuous}): each lattice level, finest first, is also run (Algorithm 4 on its
    Z+1 lattice, the paper's Discrete-PASS-Z) from the next finer level's solution snapped
    to its lattice, keeping the better. Then every level keeps the best solution of any
    coarser one, which is a point of its own feasible set (the Z = 15 lattice lies in the
    Z = 30 one, both in the continuous set). Without it Discrete-PASS-15 is a single
    start from the uniform layout, and its lattice search stops in local optima that the
    continuous level escapes (docs/paper000.md, "Discrete-PASS trends")."""
    out = dict(chain)
    zs = sorted((z for z in out if z is not None), reverse=True)
    finer = out.get(None)
    for z in zs:
        if finer is not None and finer.sdr.ok:
            r = crb_ao(layout, finer.s, users, q, setup, sinr_target, power_w, noise_w, sdr=sdr,
                       grid=SearchGrid(lattice_z=z, grid=grid), **ao)
            if r.sdr.ok and (not out[z].sdr.ok or r.objective < out[z].objective):
                out[z] = r
        finer = out[z]
    levels = sorted(zs) + [None]                     # coarse to fine: each feasible set holds the previous
    for i, z in enumerate(levels[1:], 1):
        ok = [out[c] for c in levels[:i + 1] if out[c].sdr.ok]
        best = min(ok, key=lambda r: r.objective, default=None)
        if best is not None:
            out[z] = best
    return out


def best_coherent_gain(world: World, q, z: int | None, angles: int = 1440) -> float:
    """Σ_n max |Σ_m t_nm(q)|²: the best coherent power gain towards the point q (3,) of
    each guide's M PAs with the paper's equal split ρ = 1/√M (MODEL §2.3, free space, no
    digital weights across guides), over the PA coordinates allowed by Discrete-PASS-Z
    (``z``: any M of the Z+1 lattice points, which lie L/Z ≫ δ apart) or continuous
    (``None``: every PA at the guide's best point with its phase aligned, the bound
    M·max|t|², reached within δ-spacing to a fraction of a dB). For the lattice, max over
    subsets S of |Σ_S t| = max over directions u of the sum of the M largest Re(t e^{-ju}),
    evaluated on ``angles`` directions. Explains why Discrete-PASS-Z gains little or
    nothing from more PAs (docs/paper000.md, "Discrete-PASS trends")."""
    layout = pass_layout(world)
    dep = world.deployment
    u = np.exp(-1j * np.linspace(0.0, 2 * np.pi, angles, endpoint=False))
    total = 0.0
    for n in range(dep.n_guides):
        M = int(dep.installed[n].sum())
        x = lattice(dep.length[n], z) if z else np.linspace(0.0, dep.length[n], 20001)
        t = layout.guide_terms(n, x, np.asarray(q, float)[None])[:, 0]
        if z is None:
            total += (M * np.abs(t).max()) ** 2
        else:
            proj = np.real(t[:, None] * u[None, :])
            total += np.max(-np.sort(-proj, axis=0)[:M].sum(axis=0)) ** 2
    return float(total)


def sweep(x_name: str, values, world_kw, quick: bool, seed: int, drops: int,
          harder_first=None, plain: bool = False) -> pd.DataFrame:
    """Mean RCRB per scheme and x value over ``drops`` seeded drops (same drops for every
    scheme; drop d of every x value uses the stream (seed, d)). ``world_kw(v)``: the
    :func:`paper000_world` arguments of point ``v``.

    ``harder_first`` (a sort key, optional) marks a sweep whose problems are nested on one
    deployment: the feasible set of each point contains that of the harder one (higher γ,
    lower P, more users: a dropped user's beam can join R_s with the same covariance and
    interference). Points are then solved from the hardest, and each drop's PASS positions
    warm-start the next point (``coarse_to_fine(warm=…)``); since the AO history never
    increases, every optimised scheme is then monotone along the sweep drop by drop, as
    its global optimum is, instead of showing AO local optima as wiggles. Such a drop's
    whole chain of points is one drop of the figure's drop map (:func:`drop_chain`);
    otherwise every (point, drop) is one."""
    order = sorted(values, key=harder_first) if harder_first is not None else list(values)
    kws = [canonical_kw(world_kw(v)) for v in order]
    if harder_first is not None:
        items = [(kws, quick, seed, d, plain) for d in range(drops)]
        chains = drop_map(drop_chain, items, desc=x_name)
        result = {(v, d): chains[d][i] for i, v in enumerate(order) for d in range(drops)}
    else:
        items = [([kw], quick, seed, d, plain) for kw in kws for d in range(drops)]
        chains = drop_map(drop_chain, items, desc=x_name)
        result = {(v, d): chains[i * drops + d][0] for i, v in enumerate(order) for d in range(drops)}
    rows = []
    SCHEMES = [sc.label for sc in schemes(quick, plain)]
    for v in order:
        per = {s: [result[v, d][s] for d in range(drops)] for s in SCHEMES}
        table = np.array([per[s] for s in SCHEMES], float)          # (schemes, drops)
        common = np.all(np.isfinite(table), axis=0)
        for i, s in enumerate(SCHEMES):
            vals = table[i, common] if common.any() else table[i]
            m, lo, hi = mean_ci(vals)
            rows.append({x_name: v, "scheme": s, "rcrb_m": m, "ci_low": lo, "ci_high": hi,
                         "feasible": int(np.isfinite(vals).sum()), "drops": drops})
    return pd.DataFrame(rows).sort_values(x_name, kind="stable").reset_index(drop=True)


@per_process
def _world_sdr(kw: dict):
    """World (:func:`paper000_world` with ``kw``) and its CRB SDR, shared by the drops a
    process runs: the fast settings first, R_s-restricted when certified, as the
    controllers solve it (:class:`~twin.optim.sdr.FastFirstSdr`; issue 13, eighth round)."""
    world = paper000_world(**kw)
    return world, FastFirstSdr.build(world.deployment.n_guides, world.n_users)


def drop_chain(kws: list, quick, seed: int, d: int, plain: bool) -> list[dict]:
    """Drop ``d`` (stream (seed, d)) at the points ``kws`` in order: {scheme: RCRB} per
    point, each point's PASS positions warm-starting the next (a one-point chain: none)."""
    outs, warm = [], None
    for kw in kws:
        world, sdr = _world_sdr(kw)
        users, q = draw(world, np.random.default_rng([seed, d]))
        out, warm = scheme_rcrb(world, users, q, quick, sdr, warm, plain)
        outs.append(out)
    return outs


def _drops(quick: bool | str, full: int = 20, fast: int = 3, ci: int = 2) -> int:
    if quick == "ci":
        return min(ci, fast)
    return fast if quick else full


@figure("paper000-convergence", x="iteration", metric="rcrb_m", xlabel="AO iteration",
        ylabel="RCRB (m)", logy=True, title="Paper 000 Fig. 3: convergence of Algorithm 4", task_s=1)
def convergence(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    """RCRB vs AO iteration from the uniform layout, continuous PAs, P = 20 and 30 dBm,
    for the paper's plain Algorithm 4 (preset ``isac-crb-paper``) and the twin's
    extended one (``isac-crb``: extra element-wise CRB steps when the penalty step
    stalls; no continuation here, so both start alike); histories padded with their
    final value."""
    iters = 8 if quick else 25
    drops = _drops(quick, 10, 3, ci=1)
    rows = []
    runs = [Scheme("isac-crb"), Scheme("isac-crb-paper")]
    items = [(p, sc, quick, iters, seed, d) for p in (20.0, 30.0) for sc in runs for d in range(drops)]
    hists = iter(drop_map(convergence_drop, items, desc="iteration"))
    for p in (20.0, 30.0):
        for sc in runs:
            hist = np.array([next(hists) for _ in range(drops)])
            for i in range(iters + 1):
                m, lo, hi = mean_ci(hist[:, i])
                rows.append({"iteration": i, "scheme": f"{sc.label}, P = {p:.0f} dBm", "rcrb_m": m,
                             "ci_low": lo, "ci_high": hi, "feasible": int(np.isfinite(hist[:, i]).sum()),
                             "drops": drops})
    return pd.DataFrame(rows)


def convergence_drop(p: float, sc: Scheme, quick, iters: int, seed: int, d: int) -> np.ndarray:
    """√ of the AO history of scheme ``sc`` on drop ``d`` at P = ``p`` dBm, padded with its
    final value to ``iters + 1`` entries."""
    st = _settings(quick)
    world, sdr = _world_sdr({"power_dbm": p})
    setup = crb_setup(world)
    layout = pass_layout(world)
    plain = sc.param("position", "variant") == "paper"
    users, q = draw(world, np.random.default_rng([seed, d]))
    r = crb_ao(layout, world.deployment.uniform_positions(), users, q, setup, world.sinr_target,
               world.power_w, world.noise_w, sdr=sdr, grid=SearchGrid(grid=st["grid"]),
               max_iter=iters, tol=0.0, penalty=st["penalty"], guarded_sweeps=0 if plain else 2)
    h = np.sqrt(np.asarray(r.history, float))
    return np.concatenate([h, np.full(iters + 1 - len(h), h[-1])])


@figure("paper000-power", x="power_dbm", metric="rcrb_m", xlabel="BS power budget P (dBm)",
        ylabel="RCRB (m)", logy=True, title="Paper 000 Fig. 4: RCRB vs P", task_s=20)
def power(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    values = [10.0, 20.0, 30.0] if quick else [10.0, 15.0, 20.0, 25.0, 30.0, 35.0]
    return sweep("power_dbm", values, lambda v: {"power_dbm": v}, quick, seed, _drops(quick, ci=1),
                 harder_first=lambda v: v, plain=True)


@figure("paper000-users", x="users", metric="rcrb_m", xlabel="number of users K",
        ylabel="RCRB (m)", logy=True, title="Paper 000 Fig. 5: RCRB vs K (N = 8)", task_s=50)
def users(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    values = [2, 4, 6] if quick else [2, 3, 4, 5, 6, 7, 8]
    return sweep("users", values, lambda v: {"users": v, "guides": 8}, quick, seed,
                 _drops(quick, 20, 2, ci=1), harder_first=lambda v: -v)


@figure("paper000-waveguides", x="waveguides", metric="rcrb_m", xlabel="number of waveguides N",
        ylabel="RCRB (m)", logy=True, title="Paper 000 Fig. 6: RCRB vs N", task_s=5)
def waveguides(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    values = [3, 4, 6] if quick else [3, 4, 5, 6, 7, 8]
    return sweep("waveguides", values, lambda v: {"guides": v}, quick, seed, _drops(quick))


@figure("paper000-pas", x="pas", metric="rcrb_m", xlabel="PAs per waveguide M",
        ylabel="RCRB (m)", logy=True, title="Paper 000 Fig. 7: RCRB vs M", task_s=4)
def pas(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    values = [2, 4, 6] if quick else [1, 2, 3, 4, 5, 6]
    return sweep("pas", values, lambda v: {"pas": v}, quick, seed, _drops(quick))


@figure("paper000-sinr", x="sinr_db", metric="rcrb_m", xlabel="minimum SINR γ (dB)",
        ylabel="RCRB (m)", logy=True, title="Paper 000 Fig. 8: RCRB vs γ", task_s=18)
def sinr(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    values = [0.0, 10.0, 20.0] if quick else [0.0, 4.0, 8.0, 12.0, 16.0, 20.0]
    return sweep("sinr_db", values, lambda v: {"sinr_db": v}, quick, seed, _drops(quick, ci=1),
                 harder_first=lambda v: -v)


# --- MIMO / mMIMO against array placement and spacing (issue 14: unstated in the paper) --
PLACEMENTS = {"receiver": None, "area edge": (5.0, 0.0), "area centre": (12.5, 0.0)}
SPACINGS = {"λ/2": None, "2λ": 2.0, "10λ": 10.0}


@figure("paper000-placement", x="spacing_lambda", metric="rcrb_m", xlabel="array element spacing (λ)",
        ylabel="RCRB (m)", logy=True, title="Paper 000: MIMO / mMIMO RCRB vs transmit-array placement", task_s=0.05)
def placement(quick: bool = False, seed: int = 0) -> pd.DataFrame:
    """The BS-side baselines (presets ``mimo-isac``, ``mmimo-isac``) decided once per drop
    and evaluated by the twin's evaluator (:mod:`twin.experiments.snapshot`), with the
    transmit array (``hardware.position`` at the guides' height, ``hardware.spacing_m``)
    at the sensing receiver (the default), at the near edge of the service area, or at
    its centre; the receive array stays at the origin. Scheme column: "LABEL @ place";
    ``median_m`` beside the mean (a few drops dominate the mean)."""
    from twin.units import wavelength

    drops = _drops(quick, 20, 3)
    base = load_scene("paper000")
    lam = float(wavelength(base.radio.carrier_ghz * 1e9))
    height = float(base.waveguides[0].feed[2])
    rows = []
    cases = []
    for place, xy in PLACEMENTS.items():
        for sname, mult in SPACINGS.items():
            ov = {}
            if xy is not None:
                ov["hardware.position"] = [xy[0], xy[1], height]
            if mult is not None:
                ov["hardware.spacing_m"] = mult * lam
            for sc in (Scheme("mimo-isac", {"sinr_margin_db": 0.0}), Scheme("mmimo-isac", {"sinr_margin_db": 0.0})):
                cases.append((place, mult, ov, sc))
    items = [(ov, sc, seed, d) for _, _, ov, sc in cases for d in range(drops)]
    vals_all = drop_map(placement_drop, items, desc="placement")
    for i, (place, mult, _, sc) in enumerate(cases):
        v = np.asarray(vals_all[i * drops:(i + 1) * drops], float)
        ok = v[np.isfinite(v)]
        m, lo, hi = mean_ci(ok) if ok.size else (np.nan, np.nan, np.nan)
        rows.append({"spacing_lambda": mult or 0.5, "scheme": f"{sc.label} @ {place}", "rcrb_m": m,
                     "ci_low": lo, "ci_high": hi, "median_m": float(np.median(ok)) if ok.size else np.nan,
                     "feasible": int(ok.size), "drops": drops})
    return pd.DataFrame(rows)


@per_process
def _placement_controller(ov: dict, sc: Scheme):
    return sc.controller(load_scene("paper000", ov))


def placement_drop(ov: dict, sc: Scheme, seed: int, d: int) -> float:
    """RCRB (m) of scheme ``sc`` on the paper000 scene with ``ov``, decided once on drop
    ``d``; NaN where it has no decision."""
    from twin.experiments.snapshot import decide_once, frame_rcrb

    ctrl = _placement_controller(ov, sc)
    users, q = draw(ctrl.world, np.random.default_rng([seed, d]))
    snap = decide_once(ctrl, users, q[None])
    return frame_rcrb(snap, q) if snap.decision.status == "ok" else np.nan
