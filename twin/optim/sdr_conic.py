"""The CRB SDR (MODEL §4.3; paper 000 eqs. 25-31) written directly in Clarabel's standard
conic form, ``min qᵀx  s.t.  A x + s = b,  s ∈ K``, with the data a numpy expression of
the (scaled, whitened) parameters that :class:`twin.optim.sdr.CrbSdr` computes.

The same problem as CrbSdr's cvxpy model, without cvxpy's canonicalisation, parameter
validation and solution retrieval on every call: the sparsity pattern of A is fixed per
(N, K, L, objective) and each solve fills in the values. A new ``clarabel.DefaultSolver``
is built per solve (0.6 ms at N = 4, K = 3) rather than updated in place (0.1 ms):
Clarabel's ``update`` keeps the equilibration of the first instance, so an answer would
depend (at 1e-7) on which instances the object had solved before.

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


def hermitian_lift(N: int) -> np.ndarray:
    """V (2N², N²): ``[vec_F Re W; vec_F Im W] = V @ params`` for a Hermitian W in the
    block parametrisation above (column-major vec, as :func:`fisher_linear_map`)."""
    V = np.zeros((2 * N * N, N * N))
    col = 0
    for p in range(N):
        for q in range(p, N):
            V[p + N * q, col] = 1.0
            V[q + N * p, col] = 1.0
            col += 1
    for p in range(N):
        for q in range(p + 1, N):
            V[N * N + p + N * q, col] = 1.0
            V[N * N + q + N * p, col] = -1.0
            col += 1
    return V


def hermitian_of(params: np.ndarray, N: int) -> np.ndarray:
    """The Hermitian (…,N,N) matrices of block parameters (…,N²)."""
    params = np.asarray(params)
    V = hermitian_lift(N)
    v = params @ V.T
    re = v[..., :N * N].reshape(v.shape[:-1] + (N, N))
    im = v[..., N * N:].reshape(v.shape[:-1] + (N, N))
    return np.swapaxes(re, -1, -2) + 1j * np.swapaxes(im, -1, -2)     # vec_F → row-major


def _real_form_map(N: int) -> np.ndarray:
    """G (svec length of 2N×2N, N²): ``svec([[Re W, −Im W], [Im W, Re W]]) = G @ params``."""
    d = 2 * N
    idx, w = _svec_index(d)
    G = np.zeros((d * (d + 1) // 2, N * N))
    V = hermitian_lift(N)
    for i in range(d):
        for j in range(i, d):
            bi, bj, pi, pj = i // N, j // N, i % N, j % N
            if bi == bj:                                   # Re W[pi, pj]
                row, sign = V[pi + N * pj], 1.0
            else:                                          # i < j: top-right block −Im W
                row, sign = V[N * N + pi + N * pj], -1.0
            G[idx[i, j]] += sign * w[i, j] * row
    return G


class ConicCrbSdr:
    """CrbSdr's relaxation for N RF chains, K users, L targets and an objective
    (``"sum"``/``"worst"``) in Clarabel's standard form, updated in place per solve."""

    def __init__(self, N: int, K: int, L: int = 1, objective: str = "sum"):
        self.N, self.K, self.L, self.objective = N, K, L, objective
        nb = N * N
        self.V = hermitian_lift(N)
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
        diag = np.array([self.V[p + N * p] for p in range(N)]).sum(axis=0)   # tr Re W
        # constant part of A and b
        A = np.zeros((self.m, self.n))
        b = np.zeros(self.m)
        for blk in range(K + 1):
            A[0, blk * nb:(blk + 1) * nb] = diag                   # tr Re R ≤ 1
        b[0] = 1.0
        G = _real_form_map(N)
        for blk in range(K + 1):
            r = self.r_psd + blk * self.len_psd
            A[r:r + self.len_psd, blk * nb:(blk + 1) * nb] = -G
        for l in range(L):
            r = self.r_lmi + 20 * l
            u, z = self.u0 + 6 * l, self.u0 + 6 * l + 3
            for a, (i, j) in enumerate(((0, 0), (0, 1), (1, 1))):
                A[r + self.idx4[i, j], u + a] = self.w4[i, j]            # J11 − U
                A[r + 10 + self.idx4[i, j], z + a] = -self.w4[i, j]      # Z
                A[r + 10 + self.idx4[2 + i, 2 + j], u + a] = -self.w4[i, j]   # U
        self.A0, self.b0 = A, b
        # data-dependent pattern: generic values of every data entry
        rng = np.random.default_rng(0)
        probe = self._fill(rng.standard_normal((L, 8, 2 * nb)), rng.standard_normal((L, 2, 2)),
                           rng.uniform(1, 2, L), rng.standard_normal((K, 2 * nb)),
                           rng.standard_normal((K, 2 * nb)), rng.uniform(1, 2, K))[0]
        mask = (A != 0) | (probe != 0)
        cols, rows = np.nonzero(mask.T)                   # CSC order: by column, then row
        self.rows, self.cols = rows, cols
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=self.n))])
        self.P = sp.csc_matrix((self.n, self.n))
        self.cones = None                                  # built on first solve (import)

    # ------------------------------------------------------------------------------
    def _fill(self, F, T, weights, g, h, noise):
        """Dense A, b, q of one instance: F (L,8,2N²) whitened Fisher maps, T (L,2,2)
        whitening, weights (L,), SINR coefficients g (K,2N²) on W_k and h (K,2N²) on R (both
        on ``[vec Re; vec Im]``), noise (K,)."""
        N, K, L, nb = self.N, self.K, self.L, self.N * self.N
        A, b = self.A0.copy(), self.b0.copy()
        gv, hv = g @ self.V, h @ self.V                    # (K, N²)
        for k in range(K):
            A[1 + k, :self.nx_blocks] = np.tile(hv[k], K + 1)
            A[1 + k, k * nb:(k + 1) * nb] -= gv[k]
            b[1 + k] = -noise[k]
        q = np.zeros(self.n)
        for l in range(L):
            z = self.u0 + 6 * l + 3
            wl = 1.0 if L == 1 else weights[l]
            if self.it is None:
                q[z] += wl
                q[z + 2] += wl
            else:
                row = 1 + K + l                             # t − w_l tr Z_l ≥ 0
                A[row, self.it] = -1.0
                A[row, z] = A[row, z + 2] = wl
            Fv = np.tile(F[l] @ self.V, (1, K + 1))        # (8, (K+1) N²)
            r = self.r_lmi + 20 * l
            i4, w4 = self.idx4, self.w4
            for e, (i, j) in enumerate(((0, 0), (0, 1), (1, 1), (0, 2), (0, 3), (1, 2), (1, 3))):
                A[r + i4[i, j], :self.nx_blocks] = -w4[i, j] * Fv[e]
            A[r + i4[2, 2], :self.nx_blocks] = -Fv[7]
            A[r + i4[3, 3], :self.nx_blocks] = -Fv[7]
            for i in range(2):                              # E[2+i, j] = T[i, j]
                for j in range(2):
                    b[r + 10 + i4[j, 2 + i]] = w4[j, 2 + i] * T[l][i, j]
        if self.it is not None:
            q[self.it] = 1.0
        return A, b, q

    def solve(self, F, T, weights, g, h, noise, opts: dict):
        """Solve one instance with Clarabel settings ``opts`` (Clarabel's defaults
        otherwise). Returns (status name, Clarabel's solve time, iterations, x or None,
        CPU time of Clarabel's solve, like its solve time without the set-up)."""
        import clarabel

        A, b, q = self._fill(F, T, weights, g, h, noise)
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        for name, value in opts.items():
            setattr(settings, name, value)
        Am = sp.csc_matrix((A[self.rows, self.cols], self.rows, self.indptr), shape=(self.m, self.n))
        if self.cones is None:
            self.cones = [clarabel.NonnegativeConeT(self.n_nonneg)] \
                + [clarabel.PSDTriangleConeT(2 * self.N)] * (self.K + 1) \
                + [clarabel.PSDTriangleConeT(4)] * (2 * self.L)
        solver = clarabel.DefaultSolver(self.P, q, Am, b, self.cones, settings)
        c0 = time.process_time()
        sol = solver.solve()
        cpu = time.process_time() - c0
        st = STATUS.get(str(sol.status), str(sol.status))
        x = np.asarray(sol.x) if st in ("optimal", "optimal_inaccurate") else None
        return st, float(sol.solve_time), int(sol.iterations), x, cpu

    # ------------------------------------------------------------------------------
    def blocks(self, x):
        """(What (K,N,N), Rs_hat (N,N), trZ (L,)) of a solution vector (scaled units)."""
        N, K, nb = self.N, self.K, self.N * self.N
        M = hermitian_of(np.asarray(x)[:self.nx_blocks].reshape(K + 1, nb), N)
        z = np.array([x[self.u0 + 6 * l + 3] + x[self.u0 + 6 * l + 5] for l in range(self.L)])
        return M[:K], M[K], z
