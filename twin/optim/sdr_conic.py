"""The CRB SDR (MODEL §4.3; paper 000 eqs. 25-31) written directly in Clarabel's standard
conic form, ``min qᵀx  s.t.  A x + s = b,  s ∈ K``, with the data a numpy expression of
the (scaled, whitened) parameters that :class:`twin.optim.sdr.CrbSdr` computes.

The same problem as CrbSdr's cvxpy model, without cvxpy's canonicalisation, parameter
validation and solution retrieval on every call: the sparsity pattern of A is fixed per
(N, K, L, objective) and each solve fills in the values. A new ``clarabel.DefaultSolver``
is built per solve (0.6 ms at N = 4, K = 3) rather than updated in place (0.1 ms):
Clarabel's ``update`` keeps the equilibration of the first instance, so an answer would
depend (at 1e-7) on which instances the object had solved before. Settings without
equilibration (``equilibrate_enable = False``, as in :data:`FAST_SETTINGS`) carry no such
state: there one solver per problem and settings is updated in place, with answers bit for
bit those of a fresh solver with the same settings (tests/optim/test_sdr_conic.py).

Variables, per Hermitian block (the K beam covariances ``W_k``, then ``R_s``), ``N²``
reals: ``Re W_pq`` for p ≤ q, then ``Im W_pq`` for p < q (row-major over the upper
triangle); then per target ``U_l`` and ``Z_l`` (``[00, 01, 11]`` each); then the epigraph
variable ``t`` of the worst-case objective. Cones, in this order:

* non-negative: the power budget ``1 − tr Re R``, the K SINR rows (28) (coefficients
  ``[vec Re G; vec Im G]`` on ``[vec Re W; vec Im W]``), and for ``"worst"`` the L rows
  ``t − w_l tr Z_l``;
* PSD (real form, 2N × 2N): ``[[Re W, −Im W], [Im W, Re W]] ⪰ 0`` ⇔ ``W ⪰ 0``, for each
  ``W_k`` and ``R_s``;
* PSD (4 × 4) per target: the whitened Schur LMI (25) ``[[J11 − U, J12], [J12ᵀ, J22]]``
  with the Fisher entries ``F r`` linear in R, and ``[[Z, Tᵀ], [T, U]]`` (``Z ⪰ Tᵀ U⁻¹ T``).

Clarabel's PSD triangle: the upper triangle column by column, off-diagonal entries × √2.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

#: Clarabel's solution status → the status names CrbSdr reports (cvxpy's names for these
#: four, Clarabel's own for the rest, e.g. "NumericalError"), as its cvxpy direct path
STATUS = {"Solved": "optimal", "AlmostSolved": "optimal_inaccurate",
          "PrimalInfeasible": "infeasible", "AlmostPrimalInfeasible": "infeasible_inaccurate"}


#: Clarabel settings that differ from its defaults. Chordal decomposition finds nothing to
#: gain in the 2N×2N real-form blocks (complete but for N entries: not chordal) and splits
#: each 4×4 LMI into two 3×3 cones, which costs more than it saves (N = 4, K = 3: 10.8
#: instead of 11.2 iterations, 6.3 instead of 8.5 ms CPU per solve); presolve only drops
#: rows with infinite bounds, of which there are none.
SETTINGS = {"chordal_decomposition_enable": False, "presolve_enable": False}

#: Clarabel settings of the real-time controllers' optional fast SDR (``fast_sdr`` of the
#: ``crb-ao`` and ``crb-sdr`` stages; issue 13): no iterative refinement of the KKT solves,
#: duality-gap / feasibility tolerances 1e-6 instead of 1e-8 and no equilibration. On 40
#: ``office`` slot instances (N = K = 4) 10.8 instead of 12.6 iterations, about a quarter
#: less CPU per solve, tr CRB within 1.7e-5 (relative) of the default settings' optimum
#: (with equilibration, fifth round); every answer is still verified physically (SINR
#: rows and budget to ``VERIFY_RTOL``). Without equilibration (issue 13, sixth round), so
#: that a solver can be updated in place instead of set up anew per solve (the same answer
#: as a fresh solver): 5.93 → 5.52 ms median CPU per pilot SDR on 70 ``office`` slots,
#: objectives within 2.2e-6 (median), 7e-4 (max) of the equilibrated fast solve. A fast
#: solve that fails numerically (6 of 1361 ``office`` pilot SDRs) is retried with
#: equilibration first (:data:`twin.optim.sdr.EQUILIBRATE_RETRY`), then with CrbSdr's other
#: retry settings, and a fast solve that never returns ``ok`` is repeated with the default
#: settings (:class:`twin.optim.sdr.FastFirstSdr`). Used by a continuing run's SDRs
#: (``beamform.fast_sdr``, ``position.fast_sdr``, both on by default) and, since the eighth
#: round, by the paper 000 figures' drops, where at N = 8 the defaults mostly end
#: ``AlmostSolved`` and cost more; a controller's first (cold) decision keeps the defaults.
FAST_SETTINGS = {"iterative_refinement_enable": False, "tol_gap_abs": 1e-6, "tol_gap_rel": 1e-6, "tol_feas": 1e-6,
                 "equilibrate_enable": False}


def fast_solver_opts() -> dict:
    """``CrbSdr(solver_opts=…)`` of the fast path: one thread and :data:`FAST_SETTINGS`, a new dict per call."""
    return {"max_threads": 1, **FAST_SETTINGS}


def _svec_index(d: int):
    """(d,d) positions of the symmetric entries in Clarabel's triangle and their weights
    (1 on the diagonal, √2 off it)."""
    idx = np.full((d, d), -1)
    k = 0
    for j in range(d):
        for i in range(j + 1):
            idx[i, j] = idx[j, i] = k
            k += 1
    w = np.where(np.eye(d, dtype=bool), 1.0, np.sqrt(2.0))
    return idx, w


def hermitian_lift(N: int) -> sp.csr_matrix:
    """V (2N², N²), sparse: ``[vec_F Re W; vec_F Im W] = V @ params`` for a Hermitian W in
    the block parametrisation above (column-major vec, as :func:`fisher_linear_map`); one
    entry ±1 per row (none for the zero imaginary diagonal)."""
    rows, cols, vals = [], [], []
    col = 0
    for p in range(N):
        for q in range(p, N):
            rows += [p + N * q] + ([q + N * p] if q != p else [])
            cols += [col] * (1 + (q != p))
            vals += [1.0] * (1 + (q != p))
            col += 1
    for p in range(N):
        for q in range(p + 1, N):
            rows += [N * N + p + N * q, N * N + q + N * p]
            cols += [col, col]
            vals += [1.0, -1.0]
            col += 1
    return sp.csr_matrix((vals, (rows, cols)), shape=(2 * N * N, N * N))


def hermitian_of(params: np.ndarray, N: int, V=None) -> np.ndarray:
    """The Hermitian (…,N,N) matrices of block parameters (…,N²) (V: :func:`hermitian_lift`
    of N, if at hand)."""
    params = np.asarray(params)
    V = hermitian_lift(N) if V is None else V
    v = (V @ params.reshape(-1, N * N).T).T.reshape(params.shape[:-1] + (2 * N * N,)) \
        if sp.issparse(V) else params @ V.T
    re = v[..., :N * N].reshape(v.shape[:-1] + (N, N))
    im = v[..., N * N:].reshape(v.shape[:-1] + (N, N))
    return np.swapaxes(re, -1, -2) + 1j * np.swapaxes(im, -1, -2)     # vec_F → row-major


def _real_form_map(N: int):
    """G (svec length of 2N×2N, N²) as (rows, cols, values):
    ``svec([[Re W, −Im W], [Im W, Re W]]) = G @ params``."""
    d = 2 * N
    idx, w = _svec_index(d)
    V = hermitian_lift(N).tocsr()
    rows, cols, vals = [], [], []
    for i in range(d):
        for j in range(i, d):
            bi, bj, pi, pj = i // N, j // N, i % N, j % N
            if bi == bj:                                   # Re W[pi, pj]
                r, sign = pi + N * pj, 1.0
            else:                                          # i < j: top-right block −Im W
                r, sign = N * N + pi + N * pj, -1.0
            for k in range(V.indptr[r], V.indptr[r + 1]):
                rows.append(idx[i, j])
                cols.append(V.indices[k])
                vals.append(sign * w[i, j] * V.data[k])
    return np.array(rows, int), np.array(cols, int), np.array(vals)


class ConicCrbSdr:
    """CrbSdr's relaxation for N RF chains, K users, L targets and an objective
    (``"sum"``/``"worst"``) in Clarabel's standard form. The rows whose coefficients
    depend on the instance (SINR, worst-case epigraph, Schur LMI (25)) are filled densely
    per solve; the rest of A (budget, PSD blocks, ``[[Z, Tᵀ], [T, U]]``) is fixed and kept
    sparse (its size grows as N⁴ dense)."""

    def __init__(self, N: int, K: int, L: int = 1, objective: str = "sum"):
        self.N, self.K, self.L, self.objective = N, K, L, objective
        nb = N * N
        self.V = hermitian_lift(N)
        # Vᵀ for the per-solve products: dense while small (a sparse product costs more)
        self.VT = self.V.T.toarray() if N <= 16 else self.V.T.tocsr()
        self.nx_blocks = (K + 1) * nb
        self.u0 = self.nx_blocks                          # U_l at u0 + 6 l, Z_l at u0 + 6 l + 3
        self.it = self.u0 + 6 * L if (L > 1 and objective == "worst") else None
        self.n = self.u0 + 6 * L + (self.it is not None)
        dpsd = 2 * N
        self.len_psd = dpsd * (dpsd + 1) // 2
        self.n_nonneg = 1 + K + (L if self.it is not None else 0)
        self.r_psd = self.n_nonneg                        # first row of the W_k/Rs cones
        self.r_lmi = self.r_psd + (K + 1) * self.len_psd  # first row of the per-target cones
        self.m = self.r_lmi + 20 * L
        self.idx4, self.w4 = _svec_index(4)
        # dynamic rows: SINR (and epigraph) rows, then the 10 rows of each LMI (25)
        self.dyn_rows = np.concatenate([np.arange(1, self.n_nonneg)]
                                       + [self.r_lmi + 20 * l + np.arange(10) for l in range(L)])
        self.lmi_d = [self.n_nonneg - 1 + 10 * l for l in range(L)]   # first dynamic row of LMI l
        D0 = np.zeros((len(self.dyn_rows), self.n))
        for l in range(L):
            u = self.u0 + 6 * l
            for a, (i, j) in enumerate(((0, 0), (0, 1), (1, 1))):
                D0[self.lmi_d[l] + self.idx4[i, j], u + a] = self.w4[i, j]    # J11 − U
            if self.it is not None:
                D0[K + l, self.it] = -1.0                                     # t − w_l tr Z_l
        self.D0 = D0
        entries = ((0, 0), (0, 1), (1, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 2), (3, 3))
        self.lmi_entry = np.array([0, 1, 2, 3, 4, 5, 6, 7, 7])        # Fisher row of each entry
        self.lmi_coef = -np.array([self.w4[i, j] for i, j in entries])
        self.lmi_rows = np.concatenate([[self.lmi_d[l] + self.idx4[i, j] for i, j in entries]
                                        for l in range(L)]).astype(int)
        # b of [[Z, Tᵀ], [T, U]]: entry (j, 2+i) holds T[i, j], T flattened row-major
        self.t_rows = np.array([[self.r_lmi + 20 * l + 10 + self.idx4[j, 2 + i] for i in range(2)
                                 for j in range(2)] for l in range(L)])
        self.t_coef = np.array([self.w4[j, 2 + i] for i in range(2) for j in range(2)])
        # fixed rows (row, col, value)
        rows, cols, vals = [], [], []
        diag_cols = [self.V.indices[self.V.indptr[p + N * p]] for p in range(N)]   # Re W_pp
        for blk in range(K + 1):                                               # tr Re R ≤ 1
            rows += [0] * N
            cols += [blk * nb + c for c in diag_cols]
            vals += [1.0] * N
        gr, gc, gv = _real_form_map(N)
        for blk in range(K + 1):
            rows += list(self.r_psd + blk * self.len_psd + gr)
            cols += list(blk * nb + gc)
            vals += list(-gv)
        for l in range(L):
            r = self.r_lmi + 20 * l + 10
            u, z = self.u0 + 6 * l, self.u0 + 6 * l + 3
            for a, (i, j) in enumerate(((0, 0), (0, 1), (1, 1))):
                rows += [r + self.idx4[i, j], r + self.idx4[2 + i, 2 + j]]    # Z, U
                cols += [z + a, u + a]
                vals += [-self.w4[i, j]] * 2
        self.b0 = np.zeros(self.m)
        self.b0[0] = 1.0
        # pattern of the dynamic rows: generic values of every data entry
        rng = np.random.default_rng(0)
        probe = self._dynamic(rng.standard_normal((L, 8, 2 * nb)), rng.uniform(1, 2, L),
                              rng.standard_normal((K, 2 * nb)), rng.standard_normal((K, 2 * nb)))
        self.dr, self.dc = np.nonzero((probe != 0) | (D0 != 0))
        all_rows = np.concatenate([np.asarray(rows, int), self.dyn_rows[self.dr]])
        all_cols = np.concatenate([np.asarray(cols, int), self.dc])
        order = np.lexsort((all_rows, all_cols))            # CSC: by column, then row
        self.rows, self.cols = all_rows[order], all_cols[order]
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(self.cols, minlength=self.n))])
        pos = np.empty(len(order), int)
        pos[order] = np.arange(len(order))
        self.fixed_pos, self.dyn_pos = pos[:len(rows)], pos[len(rows):]
        self.data0 = np.zeros(len(order))
        self.data0[self.fixed_pos] = vals
        self.P = sp.csc_matrix((self.n, self.n))
        self.cones = None                                  # built on first solve (import)
        self._A = None                                     # the CSC A that matrices() refills
        self._settings = {}
        self._solvers = {}                                 # (problem, settings) -> solver updated in place

    # ------------------------------------------------------------------------------
    def _lift(self, X):
        """``X @ V`` for X (…, 2N²): coefficients on ``[vec Re; vec Im]`` → on a block's
        N² parameters."""
        X = np.asarray(X)
        if not sp.issparse(self.VT):
            return X @ self.VT.T
        flat = X.reshape(-1, X.shape[-1])
        return (self.VT @ flat.T).T.reshape(X.shape[:-1] + (self.VT.shape[0],))

    def _sinr_rows(self, g, h):
        """(K, (K+1)N²): the SINR rows' coefficients on the blocks (s = b − A x ≥ 0)."""
        K, nb = self.K, self.N * self.N
        out = np.tile(self._lift(h), (1, K + 1))
        blocks = out.reshape(K, K + 1, nb)
        blocks[np.arange(K), np.arange(K)] -= self._lift(g)
        return out

    def _dynamic(self, F, weights, g, h):
        """The dynamic rows (dense): F (L,8,2N²) whitened Fisher maps, weights (L,), SINR
        coefficients g (K,2N²) on W_k and h (K,2N²) on R (both on ``[vec Re; vec Im]``)."""
        K, L, nx = self.K, self.L, self.nx_blocks
        D = self.D0.copy()
        D[:K, :nx] = self._sinr_rows(g, h)
        if self.it is not None:                              # t − w_l tr Z_l ≥ 0
            z = self.u0 + 6 * np.arange(L) + 3
            D[K + np.arange(L), z] = D[K + np.arange(L), z + 2] = weights
        Fv = self._lift(F)                                   # (L, 8, N²)
        # LMI l, rows of J11 − U (00, 01, 11), J12 (02, 03, 12, 13), J22 (22, 33): −w × F r
        D[self.lmi_rows, :nx] = np.tile((self.lmi_coef[:, None] * Fv[:, self.lmi_entry]).reshape(9 * L, -1),
                                        (1, K + 1))
        return D

    def matrices(self, F, T, weights, g, h, noise):
        """(A (m,n) CSC, b (m,), q (n,)) of one instance (arguments as :meth:`_dynamic`; A is one
        object per problem, refilled by the next call),
        T (L,2,2) the whitening, noise (K,) the SINR rows' right-hand sides)."""
        K, L = self.K, self.L
        D = self._dynamic(F, weights, g, h)
        A = self._A
        if A is None:                  # one CSC object per problem; Clarabel copies its data
            A = self._A = sp.csc_matrix((self.data0.copy(), self.rows, self.indptr), shape=(self.m, self.n))
        A.data[:] = self.data0
        A.data[self.dyn_pos] = D[self.dr, self.dc]
        b = self.b0.copy()
        b[1:1 + K] = -np.asarray(noise)
        b[self.t_rows] = self.t_coef * np.asarray(T).reshape(L, 4)   # E[2+i, j] = T[i, j]
        q = np.zeros(self.n)
        if self.it is None:
            z = self.u0 + 6 * np.arange(L) + 3
            q[z] = q[z + 2] = 1.0 if L == 1 else weights
        else:
            q[self.it] = 1.0
        return A, b, q

    def _clarabel_settings(self, opts: dict):
        """Clarabel's settings object for :data:`SETTINGS` updated by ``opts``, one per
        distinct ``opts`` (Clarabel copies them into each solver)."""
        import clarabel

        key = tuple(sorted(opts.items(), key=lambda kv: kv[0]))
        settings = self._settings.get(key)
        if settings is None:
            settings = clarabel.DefaultSettings()
            settings.verbose = False
            for name, value in {**SETTINGS, **opts}.items():
                setattr(settings, name, value)
            self._settings[key] = settings
        return settings

    def solve(self, F, T, weights, g, h, noise, opts: dict):
        """Solve one instance with Clarabel settings ``opts`` (:data:`SETTINGS` and
        Clarabel's defaults otherwise). Returns (status name, Clarabel's solve time, iterations, x or None,
        CPU time of Clarabel's solve, like its solve time without the set-up)."""
        Am, b, q = self.matrices(F, T, weights, g, h, noise)
        if self.cones is None:
            self.cones = self._cones(self.K + 1)
        st, sol, cpu = self._clarabel_run(self.P, q, Am, b, self.cones, opts, problem="full")
        x = np.asarray(sol.x) if st in ("optimal", "optimal_inaccurate") else None
        return st, float(sol.solve_time), int(sol.iterations), x, cpu

    def _cones(self, n_blocks: int) -> list:
        """Clarabel's cones: the non-negative rows, ``n_blocks`` real-form 2N×2N PSD blocks and
        the two 4×4 LMIs per target."""
        import clarabel

        return [clarabel.NonnegativeConeT(self.n_nonneg)] + [clarabel.PSDTriangleConeT(2 * self.N)] * n_blocks \
            + [clarabel.PSDTriangleConeT(4)] * (2 * self.L)

    def _clarabel_run(self, P, q, A, b, cones, opts: dict, problem: str = "full"):
        """(status name, Clarabel's solution, CPU time of its solve) of a fresh solver on this
        data, or, for settings without equilibration, of this object's solver for
        ``problem`` ("full" or "restricted": fixed cones and sparsity) and ``opts`` updated
        with it, which gives the same answer (module docstring)."""
        import clarabel

        key = (problem, tuple(sorted(opts.items(), key=lambda kv: kv[0])))
        solver = self._solvers.get(key)
        if solver is not None:
            solver.update(q=q, A=A.data, b=b)        # the same pattern: its values only (≈ 50 µs less)
        else:
            solver = clarabel.DefaultSolver(P, q, A, b, cones, self._clarabel_settings(opts))
            if opts.get("equilibrate_enable", True) is False and solver.is_data_update_allowed():
                self._solvers[key] = solver
        c0 = time.process_time()
        sol = solver.solve()
        cpu = time.process_time() - c0
        return STATUS.get(str(sol.status), str(sol.status)), sol, cpu

    # ------------------------------------------------------------------------------
    def blocks(self, x):
        """(What (K,N,N), Rs_hat (N,N), trZ (L,)) of a solution vector (scaled units)."""
        N, K, nb = self.N, self.K, self.N * self.N
        M = hermitian_of(np.asarray(x)[:self.nx_blocks].reshape(K + 1, nb), N,
                         self.V if sp.issparse(self.VT) else self.VT.T)
        z = np.array([x[self.u0 + 6 * l + 3] + x[self.u0 + 6 * l + 5] for l in range(self.L)])
        return M[:K], M[K], z


#: :class:`ConicCrbSdrNoRs`: the restricted solution is kept when the certificate's
#: smallest eigenvalue is at least ``−CERT_RTOL × |objective|`` (a bound on what a sensing
#: covariance could still gain, relative to the scaled objective)
CERT_RTOL = 1e-6


class ConicCrbSdrNoRs(ConicCrbSdr):
    """The relaxation of :class:`ConicCrbSdr` restricted to ``R_s = 0`` (no R_s block, no
    R_s cone: K instead of K + 1 real-form PSD cones; about an eighth less Clarabel time at
    N = K = 4), with a dual certificate that its optimum is the full relaxation's (MODEL
    §4.3; issue 13).

    The restriction loses nothing: any feasible ``(W_1, …, W_K, R_s)`` of the relaxation
    maps to the feasible ``(W_1 + R_s, W_2, …, W_K, 0)`` with the same ``R`` (so the same
    Fisher information, power and objective) and user 1's SINR row only looser
    (``(1 + 1/γ_1) h_1ᴴ R_s h_1 ≥ 0`` more signal). Both problems have the same optimal
    value; only the split of the same optimal R differs (the rank-one recovery, eqs.
    32-33, then takes from ``Ŵ_1`` what the full solve would have left in ``R̂_s``).

    The certificate checks this numerically on each solve (a guard against a solver
    answer that is not optimal): with Clarabel's form (``Px + q + Aᵀz = 0``, ``z ∈ K*``)
    the full problem's R_s columns (cost 0) need a ``z_s`` in the R_s cone's dual (PSD,
    self-dual) with ``Gᵀ z_s = v``, ``v = A_{·,R_s}ᵀ z`` over the other rows (G: the
    real-form map of the R_s cone, ``s = G x``). The least-norm solution of ``Gᵀ z_s = v``
    is of real form, and any PSD solution averaged over the real-form symmetry is one
    too, so ``Y = smat(z_s) ⪰ 0`` decides it; by weak duality the full optimum is then
    within the solver's gap of the restricted one. ``Y`` is the reduced cost of sensing
    power (budget price + the users' interference prices − the Fisher gain); by the map
    above it is W_1's cone dual plus user 1's SINR price times ``(1 + 1/γ_1) h_1 h_1ᴴ``,
    so ``Y ⪰ 0`` up to the solver's accuracy. On 120 ``office`` pilot slots (N = K = 4)
    λ_min(Y) ≥ 0.03 in every one.
    """

    def __init__(self, N: int, K: int, L: int = 1, objective: str = "sum"):
        super().__init__(N, K, L, objective)
        nb = N * N
        rs_cols = np.arange(K * nb, (K + 1) * nb)
        rs_rows = np.arange(self.r_psd + K * self.len_psd, self.r_psd + (K + 1) * self.len_psd)
        keep_col = np.ones(self.n, bool)
        keep_col[rs_cols] = False
        keep_row = np.ones(self.m, bool)
        keep_row[rs_rows] = False
        self.keep_cols, self.keep_rows = np.flatnonzero(keep_col), np.flatnonzero(keep_row)
        col_new = np.cumsum(keep_col) - 1
        row_new = np.cumsum(keep_row) - 1
        self.mask = keep_row[self.rows] & keep_col[self.cols]          # CSC order of the full A
        self.r_rows = row_new[self.rows[self.mask]]
        self.r_indptr = np.concatenate([[0], np.cumsum(np.bincount(col_new[self.cols[self.mask]],
                                                                   minlength=len(self.keep_cols)))])
        # the R_s columns of the full A on the kept rows (certificate): positions in A.data
        on_rs = np.isin(self.cols, rs_cols) & keep_row[self.rows]
        self.rs_pos, self.rs_row, self.rs_col = np.flatnonzero(on_rs), self.rows[on_rs], self.cols[on_rs] - K * nb
        G = np.zeros((self.len_psd, nb))
        gr, gc, gv = _real_form_map(N)
        np.add.at(G, (gr, gc), gv)                                     # s = G x on the R_s cone
        self.pinv_GT = np.linalg.pinv(G.T)                             # least-norm z_s of Gᵀ z_s = v
        self.idx8, self.w8 = _svec_index(2 * N)
        self.r_P = sp.csc_matrix((len(self.keep_cols), len(self.keep_cols)))
        self.r_cones = None
        self._Ar = None                                                # the CSC A that solve_restricted refills

    def solve_restricted(self, F, T, weights, g, h, noise, opts: dict):
        """Solve the instance (arguments as :meth:`ConicCrbSdr.solve`) with ``R_s = 0``.
        Returns (status name, Clarabel's solve time, iterations, x in the full layout (R_s
        block 0) or None, CPU time of Clarabel's solve, certified): ``certified`` is True
        when the certificate shows the restricted optimum optimal for the full relaxation
        (to :data:`CERT_RTOL`); then x is the full relaxation's solution."""
        A, b, q = self.matrices(F, T, weights, g, h, noise)
        Ar = self._Ar
        if Ar is None:                 # one CSC object, refilled per solve (Clarabel copies its data)
            Ar = self._Ar = sp.csc_matrix((A.data[self.mask], self.r_rows, self.r_indptr),
                                          shape=(len(self.keep_rows), len(self.keep_cols)))
        else:
            Ar.data[:] = A.data[self.mask]
        if self.r_cones is None:
            self.r_cones = self._cones(self.K)
        st, sol, cpu = self._clarabel_run(self.r_P, q[self.keep_cols], Ar, b[self.keep_rows], self.r_cones, opts,
                                          problem="restricted")
        if st not in ("optimal", "optimal_inaccurate"):
            return st, float(sol.solve_time), int(sol.iterations), None, cpu, False
        x = np.zeros(self.n)
        x[self.keep_cols] = np.asarray(sol.x)
        z = np.zeros(self.m)
        z[self.keep_rows] = np.asarray(sol.z)
        lam = self.certificate(A, z)
        ok = bool(np.isfinite(lam) and lam >= -CERT_RTOL * max(abs(float(sol.obj_val)), 1e-12))
        return st, float(sol.solve_time), int(sol.iterations), x, cpu, ok

    def certificate(self, A, z) -> float:
        """λ_min of the reduced cost Y of R_s (:meth:`reduced_cost`) for the dual ``z`` of
        the restricted problem (zeros on the R_s cone's rows), A the full problem's matrix."""
        return float(np.linalg.eigvalsh(self.reduced_cost(A, z))[0])

    def reduced_cost(self, A, z) -> np.ndarray:
        """The reduced cost Y (real form, 2N × 2N) of R_s for the dual ``z``: the least-norm
        ``smat(z_s)`` with ``Gᵀ z_s = A_{·,R_s}ᵀ z`` (class docstring). At the full
        relaxation's optimum it is the dual of its R_s cone (tests/optim/test_crb_slot.py)."""
        v = np.zeros(self.N * self.N)
        np.add.at(v, self.rs_col, A.data[self.rs_pos] * z[self.rs_row])
        zs = self.pinv_GT @ v
        return zs[self.idx8] / self.w8
