"""Element-wise pinching beamforming (paper 002 §III-IV; MODEL §4.1-§4.2).

For a linear beamformer (downlink MRT/ZF/MMSE) or combiner (uplink MRC/ZF/MMSE) the sum
rate is a function of the PA positions only. PAs are updated one at a time: all Q
candidate positions of one PA are scored in one vectorised step, and the best is kept;
sweeps over all PAs repeat until the relative gain falls below ε.

Moving PA (n, m) changes row n of H by δᵀ (K,), so the Gram matrix ``G = Hᴴ H`` changes
by a rank-two term ``G' = G + U C Uᴴ`` with ``U = [conj(h_n), conj(δ)]`` and
``C = [[0, 1], [1, 1]]``. Every sum rate needs only ``G'`` or ``A' = (G' + αI)⁻¹``:

* DL MRT: ``Hᴴ W ∝ G'``, ``‖H'‖²_F``;
* DL ZF (α = 0) and MMSE (α = Kσ²/P): ``H'ᴴW' ∝ I − αA'`` and
  ``‖W'‖² ∝ tr A' − α‖A'‖²_F`` (paper 002 eqs. 33, 37-38);
* UL MRC from ``G'``; UL ZF ``SINR_k = p/(σ²[A']_kk)``; UL MMSE (α = σ²/p)
  ``SINR_k = 1/(α[A']_kk) − 1`` (eqs. 51, 59-61),

and ``A'`` follows from the current ``A`` by Woodbury with a 2×2 core per candidate, entry by entry: no
N×N or K×K inverse per candidate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from twin.optim import drop_memo
from twin.optim.layout import PassLayout
from twin.optim.linear import linear_combiner, linear_precoder
from twin.optim.rank2_scores import reduced_sum_rates, row_constants
from twin.optim.result import OptResult
from twin.optim.search1d import coordinate_search
from twin.physics.sinr import rate_bps_hz, sinr_downlink, sinr_uplink

DOWNLINK = ("mrt", "zf", "mmse")
UPLINK = ("mrc", "zf", "mmse")


@dataclass(frozen=True)
class LinkSetup:
    """Which sum rate: ``link`` "downlink" (BS power ``power_w``) or "uplink" (per-user
    power ``user_power_w``), beamformer ``kind``, receiver noise ``noise_w``."""

    kind: str
    link: str
    power_w: float
    user_power_w: float
    noise_w: float

    def __post_init__(self):
        kinds = DOWNLINK if self.link == "downlink" else UPLINK if self.link == "uplink" else None
        if kinds is None:
            raise ValueError(f"link must be 'downlink' or 'uplink', got {self.link!r}")
        if self.kind not in kinds:
            raise ValueError(f"{self.link} beamformer must be one of {', '.join(kinds)}, got {self.kind!r}")

    @property
    def alpha(self) -> float:
        """Regularisation of ``A = (G + αI)⁻¹``: 0 for ZF, Kσ²/P (DL MMSE), σ²/p (UL MMSE)."""
        if self.kind != "mmse":
            return 0.0
        return self.noise_w / self.user_power_w if self.link == "uplink" else np.nan   # DL: needs K

    def needs_inverse(self) -> bool:
        return self.kind in ("zf", "mmse")


@dataclass(frozen=True)
class BeamPositions:
    """A PASS decision: PA coordinates s (N,M) and the beamformer W (N,K) (DL precoder,
    ‖W‖²_F = P; UL combiner, unit columns)."""

    s: np.ndarray
    W: np.ndarray


@dataclass(frozen=True)
class ElementwiseResult(OptResult):
    """:class:`OptResult` of the paper-002 search: solution :class:`BeamPositions`;
    objective the sum rate (bit/s/Hz); iterations the sweeps; history the sum rate after
    every accepted move (entry 0: the start); info ``{"moves": …}``."""

    @property
    def s(self) -> np.ndarray:
        return self.solution.s

    @property
    def W(self) -> np.ndarray:
        return self.solution.W

    @property
    def sum_rate(self) -> float:
        return self.objective

    @property
    def sweeps(self) -> int:
        return self.iterations


# --- exact sum rates (the reference; also used after every accepted move) -----------
def beamformer(H, setup: LinkSetup):
    """The linear beamformer of ``setup`` for channel H (N,K) (MODEL §4.1)."""
    if setup.link == "downlink":
        return linear_precoder(H, setup.power_w, setup.kind, setup.noise_w)
    return linear_combiner(H, setup.kind, setup.user_power_w, setup.noise_w)


def sum_rate(H, setup: LinkSetup) -> float:
    """Sum rate (bit/s/Hz) of channel H (N,K) with the beamformer of ``setup``, computed
    the direct way (explicit beamformer and SINR, MODEL §3.1-§3.2)."""
    W = beamformer(H, setup)
    if setup.link == "downlink":
        sinr = sinr_downlink(H, W, setup.noise_w)
    else:
        sinr = sinr_uplink(H, W, setup.user_power_w, setup.noise_w)
    return float(np.sum(rate_bps_hz(sinr)))


def _check_dims(N, K, setup):
    if setup.kind == "zf" and K > N:
        raise ValueError(f"ZF needs at least as many waveguides as users (K={K} > N={N}); "
                         "use 'mmse', which works for any K (paper 002, footnote on ZF)")


def _alpha(setup: LinkSetup, K: int) -> float:
    if setup.kind == "mmse" and setup.link == "downlink":
        return K * setup.noise_w / setup.power_w
    return setup.alpha


def _sinr_to_rate(sinr):
    return np.sum(np.log2(1.0 + np.maximum(sinr, 0.0)), axis=-1)


def candidate_sum_rates(H, n: int, delta, setup: LinkSetup, A=None, G=None):
    """Sum rates (Q,) when row n of H (N,K) changes by each row of ``delta`` (Q,K).

    O(QK²) with no per-candidate K×K matrix: MRT/MRC use ``G' = G₀ + c cᴴ`` (G₀ the Gram
    matrix without row n, c the new row conjugated); ZF/MMSE use Woodbury with the 2×2
    core ``S = C⁻¹ + Uᴴ A U`` on ``A = (G + αI)⁻¹`` (passed in, or computed once), and
    need only the diagonals and traces of ``A'`` and ``A'²`` (paper 002 eqs. 33, 37-38,
    51, 59-61). ``G``: ``Hᴴ H`` if the caller has it (the search keeps it per channel)."""
    H = np.asarray(H)
    delta = np.atleast_2d(delta)
    N, K = H.shape
    alpha = _alpha(setup, K)
    s2 = setup.noise_w
    G = H.conj().T @ H if G is None else G
    a = np.conj(H[n])                                              # (K,) old row, conjugated
    if setup.kind in ("mrt", "mrc"):
        c = a[None] + np.conj(delta)                               # (Q,K) new row, conjugated
        G0 = G - np.outer(a, a.conj())
        G0c = c @ G0.T                                             # (Q,K): G₀ c
        cn2 = np.sum(np.abs(c) ** 2, axis=1)
        diag = np.real(np.diag(G0))[None] + np.abs(c) ** 2         # G'_kk
        rows = (np.real(np.diag(G0 @ G0.conj().T))[None] + np.abs(c) ** 2 * cn2[:, None]
                + 2.0 * np.real(np.conj(c) * G0c))                 # Σ_i |G'_ki|²
        sig = diag ** 2
        intf = np.maximum(rows - sig, 0.0)
        if setup.link == "downlink":
            fro2 = np.sum(np.abs(H) ** 2) - np.sum(np.abs(a) ** 2) + cn2
            c2 = (setup.power_w / fro2)[:, None]
            return _sinr_to_rate(c2 * sig / (c2 * intf + s2))
        p = setup.user_power_w
        return _sinr_to_rate(p * sig / (p * intf + s2 * diag))
    if A is None:
        A = np.linalg.inv(G + alpha * np.eye(K))
    b = np.conj(delta)                                             # (Q,K)
    Aa = A @ a                                                     # (K,):   A a
    Ab = b @ A.T                                                   # (Q,K):  A b
    # S = C⁻¹ + Uᴴ A U with U = [a, b], entry by entry (Q,)
    s00 = -1.0 + np.real(np.vdot(a, Aa))
    s01 = 1.0 + Ab @ a.conj()
    s11 = np.real(np.sum(b.conj() * Ab, axis=1))
    det = s00 * s11 - np.abs(s01) ** 2
    i00, i01, i11 = s11 / det, -s01 / det, s00 / det               # S⁻¹ (Hermitian)
    # X = (A U) S⁻¹, column by column; diag(A') = diag(A) − Re Σ_j X_j conj(AU_j)
    X0 = Aa[None] * i00[:, None] + Ab * np.conj(i01)[:, None]
    X1 = Aa[None] * i01[:, None] + Ab * i11[:, None]
    d = np.real(np.diag(A))[None] - np.real(X0 * np.conj(Aa)[None] + X1 * np.conj(Ab))
    if setup.link == "uplink":
        sinr = setup.user_power_w / (s2 * d) if setup.kind == "zf" else 1.0 / (alpha * d) - 1.0
        return _sinr_to_rate(sinr)
    tr = np.sum(d, axis=1)                                         # tr A'
    if setup.kind == "zf":                                         # no interference, ‖W'‖² ∝ tr A'
        return K * np.log2(1.0 + setup.power_w / (s2 * tr))
    # MMSE: E = I − αA'; Σ_i|E_ki|² = 1 − 2α A'_kk + α² [A'²]_kk; ‖W'‖² ∝ tr A' − α tr A'²,
    # [A'²]_kk = [A²]_kk − 2 Re[(A²U) S⁻¹ (AU)ᴴ]_kk + [(AU) S⁻¹ M S⁻¹ (AU)ᴴ]_kk, M = Uᴴ A² U
    A2a = A @ Aa
    A2b = Ab @ A.T
    m00 = np.real(np.vdot(Aa, Aa))
    m01 = Ab @ Aa.conj()
    m11 = np.sum(np.abs(Ab) ** 2, axis=1)
    Y0 = A2a[None] * i00[:, None] + A2b * np.conj(i01)[:, None]    # (A²U) S⁻¹
    Y1 = A2a[None] * i01[:, None] + A2b * i11[:, None]
    # T = S⁻¹ M S⁻¹ (Hermitian 2×2)
    p00 = i00 * m00 + i01 * np.conj(m01)
    p01 = i00 * m01 + i01 * m11
    p10 = np.conj(i01) * m00 + i11 * np.conj(m01)
    p11 = np.conj(i01) * m01 + i11 * m11
    t00 = np.real(p00 * i00 + p01 * np.conj(i01))
    t01 = p00 * i01 + p01 * i11
    t11 = np.real(p10 * i01 + p11 * i11)
    Z0 = Aa[None] * t00[:, None] + Ab * np.conj(t01)[:, None]
    Z1 = Aa[None] * t01[:, None] + Ab * t11[:, None]
    cA, cB = np.conj(Aa)[None], np.conj(Ab)
    d2 = (np.real(np.diag(A @ A))[None] - 2.0 * np.real(Y0 * cA + Y1 * cB) + np.real(Z0 * cA + Z1 * cB))
    rows = 1.0 - 2.0 * alpha * d + alpha ** 2 * d2
    e2 = (1.0 - alpha * d) ** 2
    w2 = tr - alpha * np.sum(d2, axis=1)
    c2 = (setup.power_w / w2)[:, None]
    return _sinr_to_rate(c2 * e2 / (c2 * np.maximum(rows - e2, 0.0) + s2))


def brute_force_sum_rates(H, n: int, delta, setup: LinkSetup):
    """Reference: the same sum rates with an explicit beamformer (an inverse) per
    candidate. For tests and benchmarks."""
    out = np.empty(len(delta))
    for q, d in enumerate(np.atleast_2d(delta)):
        Hq = np.array(H, copy=True)
        Hq[n] = Hq[n] + d
        out[q] = sum_rate(Hq, setup)
    return out


# --- the search ----------------------------------------------------------------------
#: candidate sets of one PA: "relaxed" (paper 002 eq. 27: every sample at least δ from the
#: guide's other PAs) or "ordered" (the samples between its neighbours, δ from each)
CANDIDATES = ("relaxed", "ordered")


def sum_rate_elementwise_positions(layout: PassLayout, users, setup: LinkSetup, *, Q: int = 1000,
                                   eps: float = 1e-3, s0=None, grid=None,
                                   rng: np.random.Generator | None = None, max_sweeps: int = 20,
                                   evaluator=None, candidates: str = "relaxed",
                                   reach=None, centre=None) -> ElementwiseResult:
    """Element-wise sequential search (paper 002 Algorithms 1-2; MODEL §4.2) on the shared
    1-D search (:func:`twin.optim.search1d.coordinate_search`) with the sum-rate scorer.

    layout: the PASS geometry (its floor plan gives the blockage; pass
    ``layout.without_blockage()`` for none); users (K,3). Continuous mode: Q uniform
    samples per guide (``grid=None``); discrete mode: ``grid`` (G,) preinstalled positions
    along every guide. ``s0``: start (warm start); default random legal positions from
    ``rng`` (the paper's initialisation), or uniform without ``rng``. A candidate move is
    re-checked with the exact sum rate and undone if that is lower, so the sum rate never
    decreases (the current position is always a candidate). Status ``ok`` when a sweep
    gains at most ``eps`` (relative), ``iteration-limit`` after ``max_sweeps``.

    ``candidates``: ``"relaxed"`` (paper 002 eq. 27, the default): a PA may take any
    sample of its guide at least δ from the guide's other PAs, passing them; the result
    is relabelled in order (:meth:`LegalSet.relabel`: the PAs of a guide are
    interchangeable, so the channel and the sum rate are those of the search).
    ``"ordered"``: only the samples between its neighbours (δ from each).

    ``reach`` (N,) or scalar metres, with ``centre`` (N,M) (default: the start): every PA
    searches only the samples within ``reach`` of its coordinate in ``centre`` — where
    one frame of travel can take it (MODEL §5); the start is clipped into that window
    (inf: no limit on that guide). Continuous mode only. Only the candidate lines' samples
    inside some window are evaluated.

    ``evaluator``: None (default) scores every PA's contiguous run of line samples at once
    with :func:`twin.optim.rank2_scores.reduced_sum_rates` (candidates on the last axis;
    the samples the relaxed set excludes score −∞ instead of being gathered out);
    :func:`candidate_sum_rates` (or any ``f(H, n, delta, setup)``) scores the gathered
    candidates with it, the reference path (equal to the default to rounding:
    tests/optim/test_rank2_scores.py)."""
    if candidates not in CANDIDATES:
        raise ValueError(f"candidates must be one of {', '.join(CANDIDATES)}, got {candidates!r}")
    t0 = time.perf_counter()
    dep = layout.deployment
    legal = layout.legal
    users = np.atleast_2d(np.asarray(users, float))
    N, K = dep.n_guides, users.shape[0]
    _check_dims(N, K, setup)
    if s0 is not None:
        s = legal.legalize(np.asarray(s0, float))
    elif rng is not None:
        s = legal.legalize(rng.uniform(legal.lo, legal.hi))
    else:
        s = dep.uniform_positions()
    if grid is not None:
        grid = np.sort(np.asarray(grid, float))
        s = legal.snap(s, grid)
    window = reach is not None and bool(np.any(np.isfinite(np.asarray(reach, float))))
    if window:
        if grid is not None:
            raise ValueError("reach limits sliding PAs (continuous mode); a discrete grid switches "
                             "between preinstalled positions without travel: pass reach=None")
        legal = legal.within(legal.legalize(s if centre is None else np.asarray(centre, float)), reach)
        s = np.where(dep.installed, np.clip(s, legal.lo, legal.hi), 0.0)   # monotone clip: still legal
    relaxed = candidates == "relaxed"
    terms = layout.terms(s, users)
    st = {"H": terms.sum(axis=1), "s": s.copy()}
    st["rate"] = sum_rate(st["H"], setup)
    history = [st["rate"]]
    alpha = _alpha(setup, K)
    lines = {}        # guide n -> (candidate line, its terms (Q,K), which are computed (Q,)): once per search
    picked = {}       # (n, m) -> indices of the line points among the last candidates of PA (n, m)

    def span(line, lo, hi):
        return np.arange(line.searchsorted(lo - 1e-12, "left"), line.searchsorted(hi + 1e-12, "right"))

    others = {}       # (n, m) -> slots of the other PAs of its group (relaxed set)

    def crowded(n, m, lo, hi):
        """Whether another PA of the group lies within δ (plus a margin) of [lo, hi]: only
        then can the δ-clearance mask remove a candidate (a cheap scalar test first)."""
        if (n, m) not in others:
            others[n, m] = legal.members(n, m)[legal.members(n, m) != m].tolist()
        d = float(legal.spacing[n])
        row = st["s"][n]
        return any(lo - d - 1e-9 <= row[k] <= hi + d + 1e-9 for k in others[n, m])

    def line_of(n):
        """Guide n's candidate line and its terms. The terms of a line point do not depend on
        where the guide's other PAs are (MODEL §2.3: one PA's term is its own feed path and
        free-space link, ρ fixed by the guide's installed count), so every PA and sweep
        reuses them; with ``reach``, only the points inside some PA's window are built."""
        if n not in lines:
            line = grid if grid is not None else np.linspace(0.0, dep.length[n], Q)
            T = np.zeros((line.size, K), complex)
            have = np.zeros(line.size, bool)
            if window:
                need = np.unique(np.concatenate([span(line, legal.lo[n, m], legal.hi[n, m])
                                                 for m in np.flatnonzero(dep.installed[n])]))
            else:
                need = slice(None)
            if window:
                T[need] = layout.guide_terms(n, line[need], users)
            else:             # the whole line: geometry only, shared by a figure drop's searches
                T = drop_memo.memo("line_terms", layout, (n, line, users),
                                   lambda: layout.guide_terms(n, line, users))
            have[need] = True
            lines[n] = (line, T, have)
        return lines[n]

    def cands(n, m, lo, hi, x):
        line, _, _ = line_of(n)
        idx = span(line, lo, hi)
        if relaxed and crowded(n, m, lo, hi):
            idx = idx[legal.clear_of_sorted(st["s"], n, m, line[idx])]   # the line is sorted
        picked[n, m] = idx
        return np.append(line[idx], x)   # staying is one

    def guide_terms(n, m, cand):
        """Terms of PA (n, m) at ``cand`` = the line points ``picked[n, m]`` then x (the
        current coordinate: a line point once it has moved)."""
        line, T, have = line_of(n)
        idx = picked[n, m]
        if window:                        # else every line point is built already
            missing = idx[~have[idx]]
            if missing.size:
                T[missing] = layout.guide_terms(n, line[missing], users)
                have[missing] = True
        x = cand[-1]
        i = int(np.searchsorted(line, x))
        if i < line.size and line[i] == x and have[i]:
            T_x = T[i:i + 1]
        else:
            T_x = layout.guide_terms(n, cand[-1:], users)
        run = idx.size and idx[-1] - idx[0] + 1 == idx.size        # consecutive points: a view
        return np.concatenate([T[idx[0]:idx[-1] + 1] if run else T[idx], T_x])

    def gram():
        """(G = HᴴH, A = (G + αI)⁻¹ or None, ‖H‖²_F, guide row terms by n) of the current H:
        they change only with H, so once per accepted move."""
        if st.get("GA") is None:
            H = st["H"]
            G = H.conj().T @ H
            A = np.linalg.inv(G + alpha * np.eye(K)) if setup.needs_inverse() else None
            st["GA"] = (G, A, float(np.sum(np.abs(H) ** 2)), {})
        return st["GA"]

    def score(n, m, cand):
        T = guide_terms(n, m, cand)
        delta = T - terms[n, m][None]
        H = st["H"]
        if evaluator is candidate_sum_rates:
            G, A, _, _ = gram()
            return evaluator(H, n, delta, setup, A, G), T
        return evaluator(H, n, delta, setup), T

    def on_move(n, m, x, T, j):
        old = terms[n, m].copy()
        terms[n, m] = T[j]
        H_new = terms.sum(axis=1)
        new = sum_rate(H_new, setup)
        if new < st["rate"]:              # exact check: the objective never decreases
            terms[n, m] = old
            return False
        st["H"], st["rate"], st["GA"] = H_new, new, None
        st["s"][n, m] = x
        history.append(new)
        return True

    # --- the default path: a contiguous run of line samples per PA, candidates last ---------
    conj_lines = {}   # guide n -> conj(T)ᵀ (K,Q) of its line (columns filled as T is)
    runs = {}         # (n, m) -> (first line index, run length, the run positions the relaxed set excludes)
    kw = dict(power_w=setup.power_w, user_power_w=setup.user_power_w, noise_w=setup.noise_w, alpha=alpha)

    def conj_line(n):
        line, T, have = line_of(n)
        if n not in conj_lines:
            conj_lines[n] = np.ascontiguousarray(np.conj(T).T)
        return line, T, have, conj_lines[n]

    lists = {}

    def line_list(n):
        if n not in lists:
            lists[n] = line_of(n)[0].tolist()
        return lists[n]

    near = {}         # (n, k) -> (PA k's coordinate, the line points it excludes for the others)

    def near_of(n, k):
        at = float(st["s"][n, k])
        e = near.get((n, k))
        if e is None or e[0] != at:
            e = near[n, k] = (at, legal.near_sorted(n, at, line_list(n)))
        return e[1]

    moved = [0] * N   # accepted moves per guide: a PA's candidates depend on its guide's PAs only
    kept = {}         # (n, m) -> (moved[n], lo, hi, x, its runs entry, its candidates)

    def cands_run(n, m, lo, hi, x):
        """The line samples in [lo, hi] as one slice (a view), then x unless it is one of
        them; the samples the relaxed set excludes are masked in the scores instead. The
        same as on the PA's last visit while no PA of its guide has moved since."""
        k = kept.get((n, m))
        if k is not None and k[0] == moved[n] and k[1] == lo and k[2] == hi and k[3] == x:
            runs[n, m] = k[4]
            return k[5]
        cand = _cands_run(n, m, lo, hi, x)
        kept[n, m] = (moved[n], lo, hi, x, runs[n, m], cand)
        return cand

    def _cands_run(n, m, lo, hi, x):
        line, T, have, Tc = conj_line(n)
        i0 = int(line.searchsorted(lo - 1e-12, "left"))
        i1 = int(line.searchsorted(hi + 1e-12, "right"))
        if window:                        # build the run's missing terms (the windows' only)
            miss = np.flatnonzero(~have[i0:i1]) + i0
            if miss.size:
                T[miss] = layout.guide_terms(n, line[miss], users)
                Tc[:, miss] = np.conj(T[miss]).T
                have[miss] = True
        i = int(line.searchsorted(x))
        on = i0 <= i < i1 and line[i] == x
        out = None                        # run positions the relaxed set excludes (δ-clearance)
        if relaxed:                       # the line points near each other PA (kept per PA position)
            out = [j - i0 for k in legal.others(n, m) for j in near_of(n, k) if i0 <= j < i1]
            if on and out:
                out = [j for j in out if j != i - i0]   # staying is always a candidate
        runs[n, m] = (i0, i1 - i0, out)
        return line[i0:i1] if on else np.append(line[i0:i1], x)

    def score_run(n, m, cand):
        line, T, have, Tc = conj_line(n)
        i0, q, out = runs[n, m]
        t = terms[n, m]
        bT = np.empty((K, cand.size), complex)          # conj(δ)ᵀ
        np.subtract(Tc[:, i0:i0 + q], np.conj(t)[:, None], out=bT[:, :q])
        T_x = None
        if cand.size > q:                 # x off the line (a start): PA (n, m) has not moved, so its
            T_x = t                       # term is the start's, the very numbers guide_terms gives
            bT[:, q] = 0.0                # at x (the same formula, elementwise; tested)
        G, A, f2, rows = gram()
        if n not in rows:                 # guide n's row terms: the same for its PAs until a move
            rows[n] = row_constants(st["H"], n, setup.kind, setup.link, A, G, f2)
        vals = reduced_sum_rates(st["H"], n, bT, setup.kind, setup.link, A=A, G=G, fro2_h=f2, consts=rows[n], **kw)
        if out:
            vals[out] = -np.inf           # not candidates (the reference path gathers them out)
        return vals, (T, i0, q, T_x)

    def move_run(n, m, x, data, j):
        T, i0, q, T_x = data
        ok = on_move(n, m, x, (T[i0 + j] if j < q else T_x)[None], 0)
        moved[n] += ok
        return ok

    fast = evaluator is None

    res = coordinate_search(s, legal, score_run if fast else score, candidates=cands_run if fast else cands,
                            on_move=move_run if fast else on_move,
                            objective=lambda _s: st["rate"], start=st["rate"], sense="max",
                            move="improve", rtol=1e-12, eps=eps, max_sweeps=max_sweeps,
                            interval=legal.bounds_of if relaxed else None, skip_settled=True)
    s_out = legal.relabel(res.solution) if relaxed else res.solution
    W = beamformer(st["H"], setup)      # st["rate"] is sum_rate(st["H"]) already
    return ElementwiseResult(BeamPositions(s_out, W), float(st["rate"]), res.iterations,
                             time.perf_counter() - t0, res.status, tuple(history),
                             {"moves": res.info["moves"], "candidates": candidates})
