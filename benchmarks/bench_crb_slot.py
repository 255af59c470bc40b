"""Cheap per-slot CRB beamformers against the per-slot SDR (issue 13, fourth round;
docs/performance.md "isac-crb, fourth round"): can a slot's beams be derived from an SDR
already solved instead of solving the slot's own SDR (MODEL §4.3)?

For every slot SDR an ``office`` run of ``isac-crb`` solves (the pilot re-beamformings),
two closed-form candidates are built at that slot's channel and judged by the rules the
SDR's own answers pass (every SINR row ≥ γ, power ≤ P, R_s ⪰ 0, physically verified):

- **re-split**: keep the total covariance R = Σ w_k w_kᴴ + R_s of the previous solved slot
  (or of the positioning stage's SDR), so the target's Fisher information is unchanged, and
  split it anew into beams for the new user channels. For a fixed R, user k's SINR depends
  only on ``s_k = |h_kᴴ w_k|²`` (its interference-plus-signal ``h_kᴴ R h_k`` is fixed):
  ``s_k ≥ a_k = γ_k/(1+γ_k) (h_kᴴ R h_k + σ²)``; with ``W = R^{1/2} V``, ``R_s ⪰ 0`` ⇔
  ``‖V‖₂ ≤ 1``. V is taken from the family ``G (GᴴG + αI)⁻¹`` (G = R^{1/2} H), columns
  scaled to ``g_kᴴ v_k = √a_k``; feasible iff the least ‖V‖₂ is ≤ 1.
- **min-power split**: the SINR-constrained minimum-power directions (uplink-downlink
  duality fixed point), their powers from the K × K SINR system with ``t · R_s0`` as extra
  interference, t spending the rest of the budget on sensing (R_s0: the previous slot's
  R_s, or its whole R).

Printed: the fraction of slots where each is feasible and, where it is, its tr CRB over the
slot SDR's (≥ 1: the SDR is the optimum over that feasible set).

``--solvers`` (issue 13, fifth round; docs/performance.md "isac-crb, fifth round") instead
re-solves every slot SDR of the run with the SDR variants a controller may use, alternated
instance by instance in one process for ``--rounds`` rounds, and prints per variant the
median CPU per ``CrbSdr.solve`` and per Clarabel solve, the mean iterations, the fraction
``ok`` and certified (``restrict_rs``), and the tr CRB against the default path's:

- default: ``CrbSdr`` as the figures use it;
- fast: Clarabel's :data:`~twin.optim.sdr_conic.FAST_SETTINGS` (``fast_sdr``);
- restricted: ``restrict_rs``, the relaxation with R_s = 0, kept when certified optimal;
- restricted + fast: both (the ``crb-sdr`` stage's pilot re-beamformings by default).

    PYTHONPATH=$PWD python benchmarks/bench_crb_slot.py [--frames 12] [--seed 1]
    PYTHONPATH=$PWD python benchmarks/bench_crb_slot.py --solvers [--frames 6] [--rounds 3]
    PYTHONPATH=$PWD python benchmarks/bench_crb_slot.py --solvers --track [--scene paper000] [--frames 25]
    PYTHONPATH=$PWD python benchmarks/bench_crb_slot.py --parallel [--frames 12] [--group 10] [--rounds 3]

``--parallel`` (sixth round; docs/performance.md "isac-crb pilots, sixth round") asks
whether a frame's pilot SDRs, independent problems, get cheaper together: the run's slot
SDRs in groups of ``--group`` consecutive ones (about a frame's pilots), each group solved on the pilots' path
(restricted + fast) one by one, on 2 threads (a ``CrbSdr`` per thread; wall and CPU), and
Clarabel alone: the group's conic problems one by one against their block-diagonal union
as one problem (CPU, iterations, and the union's objectives against the single solves'),
both on fresh solvers, set-up included (the pilots' path updates one solver in place
instead, ≈ 0.4 ms less per SDR: the first two rows).

``--track`` (second pass; docs/performance.md "isac-crb, fifth round", "second pass"):
the same comparison on the SDRs of the positioning stage's tracking step (``crb_track``:
the decision's SDRs, ``position.restrict_rs``) instead of the pilots'; ``--scene
paper000`` runs that scene with its users walking (random waypoint at 1 m/s, as
``bench_sdr.py`` part 3).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile

import numpy as np

from twin.physics.sinr import sinr_downlink

#: ridges α / mean ‖g_k‖² of the re-split family (0: zero forcing within R; inf: matched)
ALPHAS = (0.0, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, np.inf)


def _psd_sqrt(R: np.ndarray) -> np.ndarray:
    """The Hermitian PSD square root of R (negative eigenvalues clipped to 0)."""
    lam, U = np.linalg.eigh(0.5 * (R + R.conj().T))
    return (U * np.sqrt(np.clip(lam, 0.0, None))) @ U.conj().T


def _verified(W, Rs, H, gamma, noise_w, power_w, rtol=2e-3):
    """(W, Rs) if every SINR row, the budget and R_s ⪰ 0 hold physically, else None."""
    sinr = sinr_downlink(H, W, noise_w, Rs)
    tr = float(np.real(np.trace(W @ W.conj().T + Rs)))
    if (np.all(sinr >= gamma * (1 - rtol)) and tr <= power_w * (1 + rtol)
            and np.linalg.eigvalsh(Rs)[0] >= -rtol * tr / len(Rs)):
        return W, Rs
    return None


def resplit(R, H, gamma, noise_w, power_w):
    """(W, Rs) splitting the covariance R for the channels H with every SINR row met (or
    None), and the least ‖V‖₂ found (≤ 1: feasible)."""
    Rh = _psd_sqrt(R)
    G = Rh @ H
    T = np.real(np.einsum("nk,nk->k", H.conj(), R @ H))
    a = gamma / (1 + gamma) * (T + noise_w)
    if np.any(a > T) or np.real(np.trace(R)) > power_w * (1 + 2e-3):
        return None, np.inf
    GG = G.conj().T @ G
    scale = float(np.real(np.trace(GG))) / H.shape[1]
    best, norm = None, np.inf
    for alpha in ALPHAS:
        V = G.copy() if np.isinf(alpha) else G @ np.linalg.pinv(GG + alpha * scale * np.eye(len(GG)))
        d = np.einsum("nk,nk->k", G.conj(), V)
        if np.any(np.abs(d) == 0) or not np.all(np.isfinite(d)):
            continue
        V = V * (np.sqrt(a) / d)[None, :]
        nv = float(np.linalg.norm(V, 2))
        if nv < norm:
            best, norm = V, nv
    if best is None or norm > 1:
        return None, norm
    W = Rh @ best
    return _verified(W, 0.5 * ((R - W @ W.conj().T) + (R - W @ W.conj().T).conj().T), H, gamma, noise_w,
                     power_w), norm


def min_power_split(Rs0, H, gamma, noise_w, power_w, iters=200):
    """(W, Rs): min-power directions (dual uplink fixed point, noise-normalised), powers
    from the K × K SINR system with t · Rs0 as interference, t spending the budget; None
    if that has no non-negative solution."""
    N, K = H.shape
    Hn = H / np.sqrt(noise_w)
    lam = np.zeros(K)
    for _ in range(iters):
        X = np.linalg.solve(np.eye(N) + (Hn * lam) @ Hn.conj().T, Hn)
        new = 1 / ((1 + 1 / gamma) * np.real(np.einsum("nk,nk->k", Hn.conj(), X)))
        done = np.max(np.abs(new - lam) / new) < 1e-10
        lam = new
        if done:
            break
    U = np.linalg.solve(np.eye(N) + (Hn * lam) @ Hn.conj().T, Hn)
    U = U / np.linalg.norm(U, axis=0)
    Gm = np.abs(H.conj().T @ U) ** 2
    A = -gamma[:, None] * Gm
    A[np.arange(K), np.arange(K)] = np.diag(Gm)
    r = np.real(np.einsum("nk,nk->k", H.conj(), Rs0 @ H))
    p0, p1 = np.linalg.solve(A, gamma * noise_w), np.linalg.solve(A, gamma * r)
    den = p1.sum() + np.real(np.trace(Rs0))
    t = max((power_w - p0.sum()) / den, 0.0) if den > 0 else 0.0
    p = p0 + t * p1
    if np.any(p < 0):
        return None
    return _verified(U * np.sqrt(p), t * Rs0, H, gamma, noise_w, power_w)


def main(argv=None):
    from twin.controller.stages import beamform as bf
    from twin.engine import Simulation
    from twin.scene import load_scene

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--solvers", action="store_true", help="time the SDR variants on the run's slot SDRs")
    ap.add_argument("--rounds", type=int, default=3, help="--solvers, --parallel: rounds over the instances")
    ap.add_argument("--parallel", action="store_true",
                    help="a frame's slot SDRs on 2 threads and as one block-diagonal problem")
    ap.add_argument("--group", type=int, default=10,
                    help="--parallel: consecutive SDRs per group (about a frame's pilots)")
    ap.add_argument("--track", action="store_true",
                    help="--solvers: the tracking step's SDRs (crb_track) instead of the pilots'")
    ap.add_argument("--scene", default="office", choices=("office", "paper000"),
                    help="--solvers: the scene (paper000: users walking)")
    a = ap.parse_args(argv)
    if a.solvers:
        return solvers(a)
    if a.parallel:
        return parallel(a)
    rows = {k: [] for k in ("re-split previous slot", "re-split positioning SDR", "min-power + previous R_s",
                            "min-power + previous R")}
    norms = []
    prev = {}
    orig = bf.CrbSdr._solve

    def probe(self, obs, plan, j, cache):
        out = orig(self, obs, plan, j, cache)
        res, idx, H, _ = out
        if (isinstance(res, bf.SingleChainSolution) or not getattr(res, "ok", False)
                or res.info.get("reused") or res.wall_time_s == 0.0):
            return out
        w = self.ctx.world
        gamma = self.ctx.gamma(self.p["sinr_margin_db"])[idx]
        h, dh = self._target_channel(obs, self.slot_state(obs, plan, j, True))

        def ratio(sol):
            if sol is None:
                return np.nan
            R = sol[0] @ sol[0].conj().T + sol[1]
            return float(np.real(np.trace(self.ctx.solvers.crb_setup.crb(R, h, dh, obs.target)))) / res.objective

        hint = plan.hints.get("sdr_at_target")
        if "R" in prev:
            sol, nv = resplit(prev["R"], H, gamma, w.noise_w, w.power_w)
            norms.append(nv)
            rows["re-split previous slot"].append(ratio(sol))
            rows["min-power + previous R_s"].append(ratio(min_power_split(prev["Rs"], H, gamma, w.noise_w,
                                                                          w.power_w)))
            rows["min-power + previous R"].append(ratio(min_power_split(prev["R"], H, gamma, w.noise_w,
                                                                        w.power_w)))
        if hint is not None and getattr(hint[1], "ok", False):
            rows["re-split positioning SDR"].append(ratio(resplit(hint[1].R, H, gamma, w.noise_w, w.power_w)[0]))
        prev.update(R=res.R, Rs=res.Rs)
        return out

    bf.CrbSdr._solve = probe
    out = tempfile.mkdtemp(prefix="bench_crb_slot_")
    try:
        Simulation(load_scene("office", {"simulation.seed": a.seed}), out, policy="isac-crb", frames=a.frames).run()
    finally:
        bf.CrbSdr._solve = orig
        shutil.rmtree(out, ignore_errors=True)
    print(f"office, isac-crb, {a.frames} frames, seed {a.seed}: slot SDRs compared with cheap beamformers")
    print(f"{'candidate':<28} {'slots':>5} {'feasible':>8} | tr CRB / slot SDR's: q5 / median / q95 / max")
    for name, r in rows.items():
        r = np.asarray(r, float)
        ok = r[np.isfinite(r)]
        q = np.percentile(ok, [5, 50, 95, 100]) if ok.size else [np.nan] * 4
        print(f"{name:<28} {r.size:5d} {ok.size / max(r.size, 1):8.1%} | " + " / ".join(f"{x:.2f}" for x in q))
    if norms:
        print(f"re-split, least ‖V‖₂ (≤ 1 feasible): median {np.median(norms):.2f}, q10 "
              f"{np.percentile(norms, 10):.2f}, q90 {np.percentile(norms, 90):.2f}")
    return 0


def _instances(a) -> list:
    """The arguments of every ``CrbSdr.solve`` of a run's slot SDRs (``--track``: of its
    tracking steps' SDRs instead), in the order the run solved them."""
    from twin.controller.stages import beamform as bf
    from twin.engine import Simulation
    from twin.optim.sdr import CrbSdr
    from twin.scene import load_scene

    import dataclasses

    from twin.controller import solvers as sv
    from twin.optim.sdr import CrbSetup

    inst = []
    orig = bf.CrbSdr._solve
    orig_track, orig_solve, tracking = sv.crb_track, CrbSdr.solve, [False]

    def probe(self, obs, plan, j, cache):
        out = orig(self, obs, plan, j, cache)
        res, idx, H, _ = out
        if (not isinstance(res, bf.SingleChainSolution) and getattr(res, "ok", False)
                and not res.info.get("reused") and res.wall_time_s > 0.0):
            w = self.ctx.world
            h, dh = self._target_channel(obs, self.slot_state(obs, plan, j, True))
            inst.append((np.array(H), h, dh, np.array(obs.target, float), self.ctx.solvers.crb_setup,
                         self.ctx.gamma(self.p["sinr_margin_db"])[idx], w.power_w, w.noise_w))
        return out

    def track(*args, **kw):                     # --track: mark the SDRs crb_track solves
        tracking[0] = True
        try:
            return orig_track(*args, **kw)
        finally:
            tracking[0] = False

    def solve(self, H, h, dh, q, setup, gamma, P, noise):
        if tracking[0]:                         # its set-up as a plain CrbSetup (crb_track memoises it)
            plain = CrbSetup(**{f.name: getattr(setup, f.name) for f in dataclasses.fields(CrbSetup)})
            inst.append((np.array(H), np.array(h), np.array(dh), np.array(q, float), plain, np.array(gamma), P,
                         noise))
        return orig_solve(self, H, h, dh, q, setup, gamma, P, noise)

    if a.track:
        sv.crb_track, CrbSdr.solve = track, solve
    else:
        bf.CrbSdr._solve = probe
    overrides = {"simulation.seed": a.seed}
    if a.scene == "paper000":
        overrides |= {"users.mobility.model": "random_waypoint", "users.mobility.speed_m_s": 1.0}
    out = tempfile.mkdtemp(prefix="bench_crb_slot_")
    try:
        Simulation(load_scene(a.scene, overrides), out, policy="isac-crb", frames=a.frames).run()
    finally:
        bf.CrbSdr._solve, sv.crb_track, CrbSdr.solve = orig, orig_track, orig_solve
        shutil.rmtree(out, ignore_errors=True)
    return inst


def solvers(a) -> int:
    """``--solvers``: the slot SDRs of an ``office`` run re-solved with each variant."""
    import time

    from twin.optim.sdr import CrbSdr
    from twin.optim.sdr_conic import fast_solver_opts

    inst = _instances(a)
    if not inst:
        print(f"{a.scene}: no SDR of that kind in {a.frames} frames", file=sys.stderr)
        return 1
    N, K = inst[0][0].shape
    fast = fast_solver_opts()
    variants = {"default": CrbSdr(N, K), "fast": CrbSdr(N, K, solver_opts=fast),
                "restricted": CrbSdr(N, K, restrict_rs=True),
                "restricted + fast": CrbSdr(N, K, solver_opts=fast, restrict_rs=True)}
    rows = {name: [] for name in variants}
    for _ in range(a.rounds):
        for args in inst:
            ref = None
            for name, sdr in variants.items():
                c0 = time.process_time()
                res = sdr.solve(*args)
                cpu = time.process_time() - c0
                ref = res.objective if ref is None else ref
                rows[name].append((cpu, res.info.get("clarabel_cpu_s", np.nan), res.iterations, res.ok,
                                   res.info.get("rs_restricted", np.nan), res.objective / ref - 1.0))
    print(f"{a.scene}, isac-crb, {a.frames} frames, seed {a.seed}: {len(inst)} {'tracking' if a.track else 'slot'} "
          f"SDRs (N = {N}, K = {K}), "
          f"{a.rounds} rounds, variants alternated per instance")
    print(f"{'variant':<18} {'CPU/solve ms':>12} {'Clarabel ms':>11} {'iters':>6} {'ok':>5} {'certified':>9} | "
          f"tr CRB / default − 1: median |·| / max |·|")
    for name, r in rows.items():
        r = np.asarray(r, float)
        print(f"{name:<18} {1e3 * np.median(r[:, 0]):12.2f} {1e3 * np.median(r[:, 1]):11.2f} {np.mean(r[:, 2]):6.2f} "
              f"{np.mean(r[:, 3]):5.1%} {np.nanmean(r[:, 4]) if np.isfinite(r[:, 4]).any() else float('nan'):9.1%} | "
              f"{np.median(np.abs(r[:, 5])):.1e} / {np.max(np.abs(r[:, 5])):.1e}")
    return 0


def parallel(a) -> int:
    """``--parallel``: groups of a run's slot SDRs (a frame's pilots) one by one, on 2
    threads, and, Clarabel alone, as one block-diagonal problem."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import clarabel
    import scipy.sparse as sp

    from twin.optim import sdr_conic
    from twin.optim.sdr import CrbSdr
    from twin.optim.sdr_conic import fast_solver_opts

    inst = _instances(a)
    groups = [inst[i:i + a.group] for i in range(0, len(inst) - a.group + 1, a.group)]
    if not groups:
        print(f"{a.scene}: fewer than {a.group} slot SDRs in {a.frames} frames", file=sys.stderr)
        return 1
    N, K = inst[0][0].shape
    pilot = {"solver_opts": fast_solver_opts(), "restrict_rs": True}   # the pilots' path
    lanes = [CrbSdr(N, K, **pilot)]
    conic = []                               # Clarabel's data of each restricted solve
    orig_run = sdr_conic.ConicCrbSdr._clarabel_run

    def capture(self, P, q, A, b, cones, opts, **kw):
        conic.append((P.copy(), q.copy(), A.copy(), b.copy(), list(cones), dict(opts)))
        return orig_run(self, P, q, A, b, cones, opts, **kw)

    sdr_conic.ConicCrbSdr._clarabel_run = capture
    try:
        for args in inst:
            lanes[0].solve(*args)
    finally:
        sdr_conic.ConicCrbSdr._clarabel_run = orig_run
    n_cones = len(lanes[0]._conic_r._cones(K))
    conic = [c for c in conic if len(c[4]) == n_cones]   # the restricted problems (no R_s cone)
    settings = lanes[0]._conic._clarabel_settings(conic[0][5]) if conic else None
    pool = ThreadPoolExecutor(max_workers=2)
    local = threading.local()

    def lane():                              # each thread its own CrbSdr (it refills its data in place)
        if not hasattr(local, "sdr"):
            local.sdr = CrbSdr(N, K, **pilot)
        return local.sdr

    t = {k: [] for k in ("one by one", "2 threads", "Clarabel one by one", "Clarabel block-diagonal")}
    iters, gap = {"one": [], "union": []}, []
    list(pool.map(lambda args: lane().solve(*args), groups[0]))   # untimed: each thread builds its CrbSdr
    for _ in range(a.rounds):
        for g in groups:
            c0, w0 = time.process_time(), time.perf_counter()
            one = [lanes[0].solve(*args) for args in g]
            t["one by one"].append((time.process_time() - c0, time.perf_counter() - w0))
            c0, w0 = time.process_time(), time.perf_counter()
            two = list(pool.map(lambda args: lane().solve(*args), g))
            t["2 threads"].append((time.process_time() - c0, time.perf_counter() - w0))
            assert all(np.array_equal(x.W, y.W) for x, y in zip(one, two)), "threads changed an answer"
        for i in range(0, len(conic) - a.group + 1, a.group):
            cg = conic[i:i + a.group]
            c0 = time.process_time()
            sols = [clarabel.DefaultSolver(P, q, A, b, cones, settings).solve() for P, q, A, b, cones, _ in cg]
            t["Clarabel one by one"].append((time.process_time() - c0, np.nan))
            A = sp.block_diag([c[2] for c in cg], format="csc")
            n = A.shape[1]
            c0 = time.process_time()
            u = clarabel.DefaultSolver(sp.csc_matrix((n, n)), np.concatenate([c[1] for c in cg]), A,
                                       np.concatenate([c[3] for c in cg]), [k for c in cg for k in c[4]],
                                       settings).solve()
            t["Clarabel block-diagonal"].append((time.process_time() - c0, np.nan))
            iters["one"].append(np.mean([s.iterations for s in sols]))
            iters["union"].append(u.iterations)
            x, off = np.asarray(u.x), 0
            for c, s1 in zip(cg, sols):
                gap.append(abs(c[1] @ x[off:off + len(c[1])] / s1.obj_val - 1.0))
                off += len(c[1])
    pool.shutdown()
    print(f"{a.scene}, isac-crb, {a.frames} frames, seed {a.seed}: {len(groups)} groups of {a.group} slot SDRs "
          f"(N = {N}, K = {K}; restricted + fast, the pilots' path), {a.rounds} rounds")
    print(f"{'per group of ' + str(a.group):<26} {'CPU ms':>8} {'wall ms':>8}")
    for name, r in t.items():
        if not r:                            # fewer than --group restricted problems captured
            continue
        r = np.asarray(r, float)
        print(f"{name:<26} {1e3 * np.median(r[:, 0]):8.1f} {1e3 * np.median(r[:, 1]):8.1f}")
    if iters["one"]:
        print(f"Clarabel iterations: {np.mean(iters['one']):.1f} per problem alone, {np.mean(iters['union']):.1f} "
              f"for the union; union's objectives / alone − 1: median {np.median(gap):.1e}, max {np.max(gap):.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
