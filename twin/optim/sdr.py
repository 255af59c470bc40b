"""CRB-minimising digital beamforming by semidefinite relaxation (MODEL §4.3; paper 000
§III-A, eqs. 23-33).

The SDR (31) over ``W_k ⪰ 0``, ``R_s ⪰ 0``, ``U ⪰ 0``: minimise ``tr(U^{-1})`` subject to
the Schur LMI (25) ``[[J11 − U, J12], [J12^T, J22]] ⪰ 0``, the SINR rows (28) and the power
budget (29). :class:`CrbSdr` builds it once per (N, K, targets) and re-solves it with new
channel parameters per call: by default written directly in Clarabel's conic form
(:mod:`twin.optim.sdr_conic`, a numpy expression of the parameters below), or as a cvxpy
DPP problem (``backend="cvxpy"``, any cvxpy solver; the reference the conic form is tested
against, and the fallback when Clarabel fails on the conic form).

Conditioning (raw units cost Clarabel about twice the iterations; SCS in raw units reports
"optimal" while missing SINR targets): covariances are in units of the budget P (``tr R ≤ 1``),
channels in units of σ/√P, each SINR row is divided by ``‖h̃_k‖²``; the target-channel
gradient is put in the gauge of :func:`nuisance_gauge` (CRB unchanged) and the LMI is
whitened by the congruence ``diag(T, I/√b)`` with ``T = S_0^{-1/2}`` (S_0: Schur complement
at ``R = P I/N``); the objective ``tr(U^{-1})`` is written as ``tr Z`` with
``[[Z, T^T], [T, U]] ⪰ 0`` (Schur complement again), so every block is O(1) even for the
badly conditioned BS-side arrays. Clarabel failures are retried with more regularisation.

The Fisher information is real-linear in R, so its coefficients are read off
:meth:`CrbSetup.fisher` (the rank-two factorisation of
:func:`twin.physics.sensing.fisher_blocks`, equal to rounding) applied to a basis of
covariances (:func:`fisher_linear_map`); the objective reported is
:func:`twin.physics.sensing.crb_from_channel` of the recovered covariance, the very CRB the
physics core and the twin's evaluator compute.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from twin.optim.result import OptResult, Status
from twin.optim.sdr_conic import ConicCrbSdr, ConicCrbSdrNoRs, fast_solver_opts
from twin.physics.sensing import (crb_from_fisher, fisher_blocks, nuisance_gauge,
                                  receiver_response)
from twin.physics.sinr import sinr_downlink

#: relative tolerance of the physical verification (SINR rows, power budget)
VERIFY_RTOL = 2e-3
#: Clarabel settings tried in turn when a solve fails or does not verify (MIMO baselines
#: are badly conditioned: the range information of a BS-side array is tiny)
RETRY_SETTINGS = ({}, {"static_regularization_constant": 1e-7}, {"direct_solve_method": "faer"})
#: the first retry of a solver whose settings turn equilibration off (the fast settings,
#: :data:`~twin.optim.sdr_conic.FAST_SETTINGS`): the same problem, R_s-restricted too if
#: the first attempt was, with Clarabel's equilibration back on. Without it a solve ends
#: ``NumericalError`` about once in 200 ``office`` pilot SDRs (6 of 1361); with it none of
#: 179 captured ones did (issue 13, seventh round), and it costs one restricted solve where
#: the full relaxation was solved from a new solver before (7-45 ms more for that frame)
EQUILIBRATE_RETRY = {"equilibrate_enable": True}


@dataclass(frozen=True)
class CrbSetup:
    """The sensing receiver and echo model a CRB needs (MODEL §2.4, §3.3): receive ULA
    position (3,), axis (3,), elements M_r, spacing (m), carrier (Hz), RCS (m²),
    snapshots T and receiver noise σ_s² (W)."""

    rx_position: np.ndarray
    rx_elements: int
    fc: float
    rx_axis: tuple = (0.0, 1.0, 0.0)
    rx_spacing: float | None = None
    rcs_m2: float = 1.0
    snapshots: int = 256
    noise_w: float = 1e-12

    def receiver(self, target):
        """(a (Mr,), da (2,Mr), β) for a target (3,) (MODEL §2.4)."""
        return receiver_response(target, self.rx_position, self.rx_elements, self.fc,
                                 rx_axis=self.rx_axis, rx_spacing=self.rx_spacing,
                                 rcs_m2=self.rcs_m2)

    def fisher(self, R, h, dh, target):
        """Fisher blocks (J11, J12, J22) (MODEL §3.3), batched like
        :func:`~twin.physics.sensing.fisher_blocks`, which it equals (to rounding): since
        ``A = a hᴴ`` and ``Ȧ_i = ȧ_i hᴴ + a ḣ_iᴴ`` have rank ≤ 2, every trace
        ``tr(X R Yᴴ)`` factors into receive inner products (``aᴴa``, ``aᴴȧ_j``, ``ȧ_iᴴȧ_j``,
        once per target) times transmit quadratic forms (``hᴴRh``, ``hᴴRḣ_i``, ``ḣ_jᴴRh``,
        ``ḣ_jᴴRḣ_i``): O(N²) per candidate instead of O(M_r N²), no (…,2,M_r,N) temporaries.
        R need not be Hermitian (the SDR's Fisher map is read off a basis)."""
        a, da, beta = self.receiver(target)
        R, h, dh = np.asarray(R), np.asarray(h), np.asarray(dh)
        c = 2.0 * self.snapshots / self.noise_w
        e0 = np.real(np.vdot(a, a))                                 # aᴴa
        e1 = da @ a.conj()                                          # (2,): aᴴȧ_j
        e2 = da.conj() @ da.T                                       # (2,2): ȧ_iᴴȧ_j
        Rh = np.einsum("...nm,...m->...n", R, h)                    # (…,N)
        Rdh = np.einsum("...nm,...im->...in", R, dh)                # (…,2,N): Rḣ_i
        hc, dhc = h.conj(), dh.conj()
        q0 = np.einsum("...n,...n->...", hc, Rh)                    # hᴴRh
        q1 = np.einsum("...n,...in->...i", hc, Rdh)                 # hᴴRḣ_i
        q1b = np.einsum("...jn,...n->...j", dhc, Rh)                # ḣ_jᴴRh
        q2 = np.einsum("...jn,...in->...ij", dhc, Rdh)              # [i,j] = ḣ_jᴴRḣ_i
        J11 = c * abs(beta) ** 2 * np.real(e2 * q0[..., None, None] + q1[..., :, None] * e1[None, :]
                                           + np.conj(e1)[:, None] * q1b[..., None, :] + e0 * q2)
        t = np.conj(e1) * q0[..., None] + e0 * q1                   # tr(A R Ȧ_iᴴ)
        J12 = c * np.real(np.conj(beta) * t[..., :, None] * np.array([1.0, 1j]))
        J22 = c * np.real(e0 * q0)[..., None, None] * np.eye(2)
        return J11, J12, J22

    def crb(self, R, h, dh, target) -> np.ndarray:
        """(2,2) position CRB (MODEL §3.3, §6): the steps of :func:`crb_from_channel` (its
        Fisher blocks of the gauged gradient, then :func:`crb_from_fisher`) with the
        receiver terms of :meth:`receiver`, so a setup that keeps them per target
        (:class:`_ReceiverMemo`) does not rebuild them. The same numbers."""
        h = np.asarray(h)
        return self.crb_gauged(R, h, nuisance_gauge(h, dh), target)

    def crb_gauged(self, R, h, dh_gauged, target) -> np.ndarray:
        """:meth:`crb` of a gradient already in the gauge of :func:`nuisance_gauge` (the
        SDR gauges it once for its Fisher map and its verified CRB)."""
        a, da, beta = self.receiver(target)
        return crb_from_fisher(*fisher_blocks(np.asarray(R), np.asarray(h), dh_gauged, a, da, beta,
                                              self.snapshots, self.noise_w))


class _ReceiverMemo(CrbSetup):
    """A plain :class:`CrbSetup` that keeps the receive-side terms (a, ȧ, β) of the last
    target: one SDR solve needs them for the Fisher map and again for the verified CRB.
    Same numbers, computed once."""

    def receiver(self, target):
        key = np.asarray(target, float).tobytes()
        memo = self.__dict__.get("_rx")
        if memo is None or memo[0] != key:
            memo = (key, super().receiver(target))
            object.__setattr__(self, "_rx", memo)
        return memo[1]


@functools.lru_cache(maxsize=None)
def _basis(N: int) -> np.ndarray:
    """The 2N² Hermitian-part basis of :func:`fisher_linear_map` (read-only, per N)."""
    basis = np.zeros((2 * N * N, N, N), complex)
    p, q = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    idx = (p + N * q).ravel()                          # column-major index of (p, q)
    basis[idx, p.ravel(), q.ravel()] = 1.0
    basis[N * N + idx, p.ravel(), q.ravel()] = 1j
    basis.flags.writeable = False
    return basis


def fisher_linear_map(setup: CrbSetup, h, dh, target, gauged: bool = False) -> np.ndarray:
    """Coefficients of the Fisher entries as real-linear functions of a Hermitian R
    (MODEL §3.3, paper 000 A.14-A.17), read off ``fisher_blocks`` on a basis.

    Returns F (8, 2N²): rows ``[J11_00, J11_01, J11_11, J12_00, J12_01, J12_10, J12_11,
    J22_00]``; columns act on ``[vec_F(Re R); vec_F(Im R)]`` (column-major vec), so that
    ``entries(R) = F @ [vec(Re R); vec(Im R)]`` exactly. ``gauged``: dh is already
    :func:`nuisance_gauge`'s.
    """
    h, dh = np.asarray(h), np.asarray(dh)
    N = h.shape[0]
    if not gauged:
        dh = nuisance_gauge(h, dh)
    J11, J12, J22 = setup.fisher(_basis(N), h, dh, target)
    return np.stack([J11[:, 0, 0], J11[:, 0, 1], J11[:, 1, 1], J12[:, 0, 0], J12[:, 0, 1],
                     J12[:, 1, 0], J12[:, 1, 1], J22[:, 0, 0]])


@dataclass(frozen=True)
class SdrSolution:
    """W (N,K) rank-one beamformers (eq. 32), Rs (N,N) sensing covariance (eq. 33), both
    in watts (None when there is no solution); sinr (K,) the physical SINR of the returned
    solution; power_w its ``tr R``; sdr_objective ``tr(U^{-1})`` of the relaxation (m²)."""

    W: np.ndarray | None
    Rs: np.ndarray | None
    sinr: np.ndarray | None = None
    power_w: float = float("nan")
    sdr_objective: float = float("inf")


@dataclass(frozen=True)
class SdrResult(OptResult):
    """Outcome of one SDR solve (MODEL §4.3): an :class:`OptResult` with solution
    :class:`SdrSolution`; objective ``tr CRB`` (m²) of ``R = W W^H + Rs`` by the physics
    core; iterations: the solver's; status ``ok``, ``infeasible``, ``solver-failed`` or
    ``constraint-missed`` (the solve returned but the SINR rows or the power budget miss
    by more than :data:`VERIFY_RTOL`), the detail in ``info["detail"]``; wall_time_s the
    whole call (parameter update, solve, recovery, verification); ``info``:
    ``solve_time_s`` (Clarabel's own time), ``cvxpy_wall_s`` (the solver call alone: problem
    data and Clarabel; the name is historical), ``clarabel_cpu_s`` (CPU time of Clarabel's
    solve, its set-up excluded as in ``solve_time_s``; conic backend only), ``attempts``, ``rank_Wk_max``,
    ``solver_status``."""

    @property
    def W(self):
        return self.solution.W

    @property
    def Rs(self):
        return self.solution.Rs

    @property
    def sinr(self):
        return self.solution.sinr

    @property
    def power_w(self) -> float:
        return self.solution.power_w

    @property
    def sdr_objective(self) -> float:
        return self.solution.sdr_objective

    @property
    def solve_time_s(self) -> float:
        return self.info.get("solve_time_s", float("nan"))

    @property
    def R(self) -> np.ndarray:
        return self.W @ self.W.conj().T + self.Rs


def _failed(status: Status, t0: float, detail: str | None = None, solve_time_s: float = float("nan"),
            iterations: int = 0) -> SdrResult:
    info = {"solve_time_s": solve_time_s}
    if detail:
        info["detail"] = str(detail)[:200]
    return SdrResult(SdrSolution(None, None), float("inf"), iterations, time.perf_counter() - t0, status,
                     (), info)


class CrbSdr:
    """The SDR (31) of paper 000 built once for N RF chains and K users, re-solved per call
    with new channels (MODEL §4.3).

    ``solve(H, h_t, dh_t, target, setup, sinr_target, power_w, noise_w)`` with H (N,K)
    user channels, h_t (N,) target channel and dh_t (2,N) its gradient w.r.t. (x_t, y_t);
    any transmitter (PASS or a fixed array, MODEL §2.6) works. Never raises on an
    infeasible or failed solve: the result's status says what happened.

    ``backend``: ``"conic"`` (default with Clarabel) writes the relaxation in Clarabel's
    standard form with numpy (:class:`~twin.optim.sdr_conic.ConicCrbSdr`) and calls Clarabel
    directly: no cvxpy compile (seconds) and a third less time per solve. When every retry
    fails there, the cvxpy model is built and solved instead (:meth:`_cvxpy_fallback`).
    ``"cvxpy"`` (default for any other ``solver``): the DPP problem; ``direct``: re-solve
    through its compiled problem data (:meth:`_solve_direct`) instead of ``problem.solve``
    (same answer, less overhead; falls back to ``problem.solve`` if that path fails).

    Several targets (MODEL §4.3): ``n_targets = L > 1`` gives one Schur LMI (25) per target
    (its own ``U_l``, whitening and ``Z_l``) on the common R, and the objective
    ``objective = "sum"``: ``Σ_l tr(U_l^{-1})`` (a linear combination of the per-target
    ``tr Z_l``), or ``"worst"``: ``max_l tr(U_l^{-1})`` through an epigraph variable ``t ≥
    tr Z_l``. ``solve`` then takes h_t (L,N), dh_t (L,2,N), target (L,3); the result's
    objective is the sum (or max) of the targets' tr CRB, each in ``info["crb_traces_m2"]``.

    ``restrict_rs`` (conic backend; off by default, for the real-time controllers): the
    first attempt solves the relaxation with ``R_s = 0`` (one PSD cone fewer) and keeps its
    answer only when a dual certificate proves it optimal for the full relaxation
    (:class:`~twin.optim.sdr_conic.ConicCrbSdrNoRs`); otherwise the full relaxation is
    solved as without it. ``info["rs_restricted"]`` says which answer was returned. With
    settings that turn equilibration off (the fast ones), a restricted solve that fails
    numerically is retried restricted with equilibration (:data:`EQUILIBRATE_RETRY`) before
    the full relaxation and the other retry settings.

    ``reduce_span`` (off by default; on in :meth:`FastFirstSdr.build`): when the users'
    channels, the target channel and its gradient span fewer than N dimensions (K + 3 < N
    for one target), the same relaxation is solved in the d coordinates of that span and
    lifted back (:meth:`_reduced`; exact, ``info["span_dim"]`` = d). At N = 8, K = 3: d = 6,
    16 instead of 43 ms per solve, objectives within the solver's tolerance.

    ``retries = False`` (:class:`FastFirstSdr`'s fast member): only the first attempt (and
    its equilibrated retry) is tried, never :data:`RETRY_SETTINGS`' others or the cvxpy
    model; a failure is returned for a more robust solver to take over.
    """

    def __init__(self, n_rf: int, n_users: int, *, solver: str = "CLARABEL",
                 solver_opts: dict | None = None, direct: bool = True, n_targets: int = 1,
                 objective: str = "sum", backend: str | None = None, restrict_rs: bool = False,
                 reduce_span: bool = False, retries: bool = True):
        N, K, L = int(n_rf), int(n_users), int(n_targets)
        # the same relaxation on the span of the channels when it is smaller (see _reduced)
        self._kw = dict(n_users=K, solver=solver, solver_opts=solver_opts, direct=direct, n_targets=L,
                        objective=objective, backend=backend, restrict_rs=restrict_rs, retries=retries)
        self.retries = bool(retries)
        self.reduce_span, self._subs = bool(reduce_span), {}
        if N < 1 or K < 1 or L < 1:
            raise ValueError(f"CrbSdr needs N ≥ 1 RF chains, K ≥ 1 users and ≥ 1 target, got N={N}, K={K}, "
                             f"targets={L}")
        if objective not in ("sum", "worst"):
            raise ValueError(f"CrbSdr objective must be 'sum' or 'worst', got {objective!r}")
        backend = backend or ("conic" if solver == "CLARABEL" else "cvxpy")
        if backend not in ("conic", "cvxpy") or (backend == "conic" and solver != "CLARABEL"):
            raise ValueError(f"CrbSdr backend must be 'conic' (Clarabel only) or 'cvxpy', got {backend!r} "
                             f"with solver {solver!r}")
        self.N, self.K, self.L, self.objective = N, K, L, objective
        self.solver, self.backend = solver, backend
        self.direct = bool(direct)
        self.solver_opts = {"max_threads": 1} if solver_opts is None and solver == "CLARABEL" \
            else dict(solver_opts or {})
        self._fallback = None
        self._rx_memo = None              # (set-up, its _ReceiverMemo): see solve
        # restrict_rs (conic only; issue 13): the first attempt solves the relaxation with
        # R_s = 0 and keeps it when its dual certificate proves it the full optimum
        # (ConicCrbSdrNoRs), else solves the full relaxation; info["rs_restricted"] says which
        self._conic_r = ConicCrbSdrNoRs(N, K, L, objective) if restrict_rs and backend == "conic" else None
        if backend == "conic":            # the restricted problem's object solves the full one too
            self._conic = self._conic_r or ConicCrbSdr(N, K, L, objective)
        else:
            self._build_cvxpy()

    def _build_cvxpy(self):
        """The relaxation as a cvxpy DPP problem (``backend="cvxpy"``)."""
        N, K, L, objective = self.N, self.K, self.L, self.objective
        # Hermitian PSD matrices in real form: X ⪰ 0 (2N×2N) gives the Hermitian PSD
        # W = (X11 + X22)/2 + j (X21 − X12)/2; every Hermitian PSD W arises this way. Real
        # variables keep cvxpy's complex-to-real reduction (and its overhead) out.
        self.Xk = [cp.Variable((2 * N, 2 * N), symmetric=True) for _ in range(K)]
        self.Xs = cp.Variable((2 * N, 2 * N), symmetric=True)

        def re_im(X):
            return (X[:N, :N] + X[N:, N:]) / 2, (X[N:, :N] - X[:N, N:]) / 2

        parts = [re_im(X) for X in self.Xk]
        Rs_re, Rs_im = re_im(self.Xs)
        # one Schur LMI per target (MODEL §4.3, several targets): U_l, Z_l, F_l, T_l
        self.Us = [cp.Variable((2, 2), symmetric=True) for _ in range(L)]
        self.Zs = [cp.Variable((2, 2), symmetric=True) for _ in range(L)]
        self.Fs = [cp.Parameter((8, 2 * N * N)) for _ in range(L)]
        self.Ts = [cp.Parameter((2, 2)) for _ in range(L)]                    # whitening
        self.U, self.Z, self.F, self.T = self.Us[0], self.Zs[0], self.Fs[0], self.Ts[0]
        # SINR rows: Re tr(G W) = Σ Re G ⊙ Re W + Σ Im G ⊙ Im W for Hermitian G, W
        self.Hr = [cp.Parameter((N, N)) for _ in range(K)]    # h̃h̃^H/‖h̃‖²: real, imag parts
        self.Hi = [cp.Parameter((N, N)) for _ in range(K)]
        self.Gr = [cp.Parameter((N, N)) for _ in range(K)]    # (1+1/γ) × the same
        self.Gi = [cp.Parameter((N, N)) for _ in range(K)]
        self.noise = cp.Parameter(K, nonneg=True)                             # 1/‖h̃‖²
        R_re = sum(p[0] for p in parts) + Rs_re
        R_im = sum(p[1] for p in parts) + Rs_im
        r = cp.hstack([cp.vec(R_re, order="F"), cp.vec(R_im, order="F")])
        cons = [self.Xs >> 0, cp.trace(R_re) <= 1.0]
        for F, T, U, Z in zip(self.Fs, self.Ts, self.Us, self.Zs):
            j = F @ r
            M = cp.bmat([[j[0] - U[0, 0], j[1] - U[0, 1], j[3], j[4]],
                         [j[1] - U[1, 0], j[2] - U[1, 1], j[5], j[6]],
                         [j[3], j[5], j[7], 0.0],
                         [j[4], j[6], 0.0, j[7]]])
            E = cp.bmat([[Z, T.T], [T, U]])      # Z ⪰ T^T U^{-1} T
            cons += [0.5 * (M + M.T) >> 0, 0.5 * (E + E.T) >> 0]
        cons += [X >> 0 for X in self.Xk]
        for k in range(K):
            Wr, Wi = parts[k]
            cons.append(cp.sum(cp.multiply(self.Gr[k], Wr)) + cp.sum(cp.multiply(self.Gi[k], Wi))
                        - cp.sum(cp.multiply(self.Hr[k], R_re)) - cp.sum(cp.multiply(self.Hi[k], R_im))
                        >= self.noise[k])
        if L == 1:
            goal = cp.trace(self.Z)
        else:
            # tr Z_l is target l's tr CRB over its whitening scale c0_l: weights c0_l/max c0
            self.weights = cp.Parameter(L, nonneg=True)
            traces = cp.hstack([cp.trace(Z) for Z in self.Zs])
            if objective == "sum":
                goal = self.weights @ traces
            else:
                self.t = cp.Variable()
                cons += [self.t >= cp.multiply(self.weights, traces)]
                goal = self.t
        self.problem = cp.Problem(cp.Minimize(goal), cons)
        if not self.problem.is_dcp(dpp=True):  # pragma: no cover - construction guard
            raise RuntimeError("the CRB SDR is not DPP")

    # ---------------------------------------------------------------------------------
    def solve(self, H, h_t, dh_t, target, setup: CrbSetup, sinr_target, power_w: float,
              noise_w: float) -> SdrResult:
        """Solve (31) for these channels, recover rank-one ``W_k`` (eqs. 32-33) and verify
        the result against the physical SINR (MODEL §3.1) and power budget."""
        t0 = time.perf_counter()
        H = np.asarray(H, complex)
        h_t, dh_t = np.asarray(h_t, complex), np.asarray(dh_t, complex)
        N, K, L = self.N, self.K, self.L
        if L > 1:          # several targets: h_t (L,N), dh_t (L,2,N), target (L,3)
            if H.shape != (N, K) or h_t.shape != (L, N) or dh_t.shape != (L, 2, N):
                raise ValueError(f"CrbSdr({N},{K},targets={L}) got H {H.shape}, h_t {h_t.shape}, dh_t {dh_t.shape}")
        elif H.shape != (N, K) or h_t.shape != (N,) or dh_t.shape != (2, N):
            raise ValueError(f"CrbSdr({N},{K}) got H {H.shape}, h_t {h_t.shape}, dh_t {dh_t.shape}")
        gamma = np.broadcast_to(np.asarray(sinr_target, float), (K,))
        P, sigma2 = float(power_w), float(noise_w)
        if not (P > 0 and sigma2 > 0 and np.all(gamma > 0)):
            raise ValueError("power_w, noise_w and the SINR targets must be positive")
        if self.reduce_span:
            U = _span_basis(H, h_t, dh_t)
            if U is not None:
                return self._reduced(U, t0, H, h_t, dh_t, target, setup, sinr_target, power_w, noise_w)
        # --- parameters (scaled: R̃ = R/P, h̃ = h √P/σ) ------------------------------------
        Ht = H * np.sqrt(P / sigma2)
        nrm = np.sum(np.abs(Ht) ** 2, axis=0)
        if np.any(nrm == 0) or not np.all(np.isfinite(Ht)):
            return _failed(Status.INFEASIBLE, t0, "a user has no channel")
        if type(setup) is CrbSetup:      # receiver terms once per target (Fisher map, verified CRB)
            memo = self._rx_memo
            if memo is None or memo[0] is not setup:
                # kept across solves for the same (frozen) set-up: the pilot SDRs of a frame
                # share its target, so its receive-side terms are computed once a frame
                memo = self._rx_memo = (setup, _ReceiverMemo(**{f.name: getattr(setup, f.name)
                                                                for f in dataclasses.fields(setup)}))
            setup = memo[1]
        hs, dhs, qs = (h_t, dh_t, np.asarray(target, float)) if L > 1 else (h_t[None], dh_t[None], [target])
        c0s, Fw, Tw, dgs = [], [], [], []
        for l in range(L):
            dgs.append(nuisance_gauge(hs[l], dhs[l]))   # once, for the Fisher map and the verified CRB
            F = fisher_linear_map(setup, hs[l], dgs[l], qs[l], gauged=True) * P
            j0 = F @ _isotropic(N)                       # Fisher entries at R = P I/N
            b_ref = j0[7]
            S0 = np.array([[j0[0], j0[1]], [j0[1], j0[2]]]) - \
                np.array([[j0[3], j0[4]], [j0[5], j0[6]]]) @ np.array([[j0[3], j0[5]], [j0[4], j0[6]]]) / max(b_ref, 1e-300)
            lam, V = np.linalg.eigh(S0) if np.all(np.isfinite(S0)) else (np.zeros(2), np.eye(2))
            if not (b_ref > 0 and lam[0] > 0):
                return _failed(Status.INFEASIBLE, t0, "no Fisher information about the target"
                               + (f" {l}" if L > 1 else ""))
            T = (V / np.sqrt(lam)) @ V.T                 # S0^{-1/2}
            c0 = float(np.sum(1.0 / lam))                # tr S0^{-1}
            Fw.append(_congruence(F, T, b_ref))
            Tw.append(T / np.sqrt(c0))
            c0s.append(c0)
        c0s = np.asarray(c0s)
        weights = c0s / c0s.max()
        c0 = float(c0s.max())
        # SINR rows on [vec Re; vec Im]: h̃h̃^H/‖h̃‖² on R, (1+1/γ) × the same on W_k
        Hk = Ht.T[:, :, None] * Ht.T.conj()[:, None, :] / nrm[:, None, None]   # np.outer per user
        Hk = 0.5 * (Hk + np.swapaxes(Hk, 1, 2).conj())
        Hk = np.swapaxes(Hk, 1, 2).reshape(K, N * N)                           # column-major vec
        hk = np.concatenate([Hk.real, Hk.imag], axis=1)
        gk = (1.0 + 1.0 / gamma)[:, None] * hk
        data = (np.asarray(Fw), np.asarray(Tw), weights, gk, hk, 1.0 / nrm)
        if self.backend == "cvxpy":
            self._set_parameters(*data)
        # --- solve; Clarabel's numerical failures are retried with more regularisation --
        res = None
        plan = self._attempts()
        for attempt, (extra, restricted) in enumerate(plan):
            retry_restricted = attempt + 1 < len(plan) and plan[attempt + 1][1]
            res = self._attempt(extra, restricted, retry_restricted, data, H, h_t, dh_t, target, setup, gamma, P,
                                sigma2, c0, t0, dgs)
            res.info["attempts"] = attempt + 1
            if res.ok or res.status is Status.INFEASIBLE:
                break
        if self.backend == "conic" and self.retries and not res.ok and res.status is not Status.INFEASIBLE:
            res = self._cvxpy_fallback(res, (H, h_t, dh_t, target, setup, sinr_target, power_w, noise_w), t0)
        return res

    def _reduced(self, U, t0, H, h_t, dh_t, target, setup, sinr_target, power_w, noise_w) -> SdrResult:
        """The relaxation on ``span{H, h_t, ḣ_t}`` (orthonormal basis U (N,d), d < N), lifted
        back. Exact (MODEL §4.3, ``reduce_span``): every term of (31) is a quadratic form of R
        or W_k in those vectors, or ``tr R``; ``P R Pᴴ`` (P = U Uᴴ) keeps every quadratic form
        and does not raise the trace, so an optimum lies in the span, and the d × d problem
        in the coordinates ``Uᴴ h`` has the same value; its W (d,K) and R_s lift as ``U W``
        and ``U R_s Uᴴ``, whose SINRs, power and tr CRB are the reduced ones."""
        d = U.shape[1]
        sub = self._subs.get(d)
        if sub is None:
            sub = self._subs[d] = CrbSdr(d, **self._kw)
        Uh = U.conj().T
        res = sub.solve(Uh @ H, h_t @ U.conj(), dh_t @ U.conj(), target, setup,
                        sinr_target, power_w, noise_w)
        sol = res.solution
        if sol.W is not None:
            sol = dataclasses.replace(sol, W=U @ sol.W, Rs=U @ sol.Rs @ Uh)
        return dataclasses.replace(res, solution=sol, wall_time_s=time.perf_counter() - t0,
                                   info={**res.info, "span_dim": d})

    def _attempts(self) -> list:
        """The solves ``solve`` tries in turn until one is ``ok`` or infeasible: (extra
        Clarabel settings, whether R_s-restricted first). :data:`RETRY_SETTINGS`, the first
        restricted with ``restrict_rs``; with settings that turn equilibration off,
        :data:`EQUILIBRATE_RETRY` on the restricted problem second."""
        if self.solver != "CLARABEL":
            return [({}, False)]
        restrict = self._conic_r is not None
        plan = [(RETRY_SETTINGS[0], restrict)]
        if restrict and self.solver_opts.get("equilibrate_enable", True) is False:
            plan.append((EQUILIBRATE_RETRY, True))
        return plan + [(extra, False) for extra in RETRY_SETTINGS[1:]] if self.retries else plan

    def _cvxpy_fallback(self, res, args, t0):
        """After every conic attempt failed: the same solve through the cvxpy model (built
        on first need), which returns what CrbSdr returned before the conic backend. On
        paper000's fixed-array drops about 1 in 100 relaxations, all infeasible ones, stall
        in Clarabel in one formulation and not the other. Returns the cvxpy result if it is
        ``ok`` or ``infeasible``, else ``res``."""
        if self._fallback is None:
            self._fallback = CrbSdr(self.N, self.K, solver=self.solver, solver_opts=self.solver_opts,
                                    n_targets=self.L, objective=self.objective, backend="cvxpy")
        alt = self._fallback.solve(*args)
        if not (alt.ok or alt.status is Status.INFEASIBLE):
            return res
        alt.info["fallback"] = f"cvxpy after {res.status}: {res.info.get('detail', '')}"[:200]
        return dataclasses.replace(alt, wall_time_s=time.perf_counter() - t0)

    def _set_parameters(self, Fw, Tw, weights, gk, hk, noise):
        N, NN = self.N, self.N * self.N
        for l in range(self.L):
            self.Fs[l].value, self.Ts[l].value = Fw[l], Tw[l]
        if self.L > 1:
            self.weights.value = weights
        for k in range(self.K):           # vec_F back to (N,N): the transpose of row-major
            self.Hr[k].value, self.Hi[k].value = hk[k, :NN].reshape(N, N).T, hk[k, NN:].reshape(N, N).T
            self.Gr[k].value, self.Gi[k].value = gk[k, :NN].reshape(N, N).T, gk[k, NN:].reshape(N, N).T
        self.noise.value = noise

    def _solve_direct(self, opts):
        """Re-solve through the compiled problem data: cvxpy applies the new parameters
        (``get_problem_data``, DPP), Clarabel is called directly and only the primal values
        are mapped back through the reduction chain (cvxpy's full ``solve`` also recovers
        every dual of the PSD cones, ~half of its overhead here). Returns (status, Clarabel
        solve time, {variable id: value})."""
        from cvxpy.reductions.solution import Solution

        data, chain, inv = self.problem.get_problem_data(self.solver)
        raw = chain.solver.solve_via_data(data, False, False, opts)
        st = str(raw.status)
        status = {"Solved": cp.OPTIMAL, "AlmostSolved": cp.OPTIMAL_INACCURATE,
                  "PrimalInfeasible": cp.INFEASIBLE,
                  "AlmostPrimalInfeasible": cp.INFEASIBLE_INACCURATE}.get(st, st)
        self._last_iterations = int(getattr(raw, "iterations", 0) or 0)
        if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            return status, float(raw.solve_time), {}
        sol = Solution(cp.OPTIMAL, raw.obj_val, {inv[-1][chain.solver.VAR_ID]: np.asarray(raw.x)}, {}, {})
        for r, i in zip(reversed(chain.reductions[:-1]), reversed(inv[:-1])):
            sol = r.invert(sol, i)
        return status, float(raw.solve_time), sol.primal_vars

    def _run_cvxpy(self, opts):
        """One solve through cvxpy. Returns (status, Clarabel's time, iterations, solution
        blocks (What (K,N,N), Rs_hat (N,N), tr Z_l (L,)) in scaled units or None)."""
        values = None
        if self.direct:
            try:
                st, solve_time, values = self._solve_direct(opts)
            except Exception:   # noqa: BLE001 - cvxpy internals changed: public path
                self.direct = False
        iters = getattr(self, "_last_iterations", 0)
        if not self.direct:
            self.problem.solve(solver=self.solver, warm_start=False, **opts)   # fresh solver: no state from earlier solves
            stats = self.problem.solver_stats
            solve_time = float(stats.solve_time) if stats and stats.solve_time is not None else float("nan")
            st = self.problem.status
            iters = int(getattr(stats, "num_iters", 0) or 0)
            values = {v.id: v.value for v in self.Xk + [self.Xs] + self.Zs}
        if st not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or values.get(self.Xs.id) is None:
            return st, solve_time, iters, None
        N = self.N
        What = np.array([_herm(_complex(values[X.id], N)) for X in self.Xk])
        return st, solve_time, iters, (What, _herm(_complex(values[self.Xs.id], N)),
                                       np.array([np.trace(values[Z.id]) for Z in self.Zs]))

    def _attempt(self, extra, restricted, retry_restricted, data, H, h_t, dh_t, target, setup, gamma, P, sigma2,
                 c0, t0, dgs):
        """One solve with Clarabel settings ``extra`` added, R_s-restricted first if
        ``restricted``. A restricted solve that fails numerically goes on to the full
        relaxation here, unless the next attempt is restricted again (``retry_restricted``)."""
        N, K = self.N, self.K
        ts = time.perf_counter()
        opts = {**self.solver_opts, **extra}
        clarabel_cpu = float("nan")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)   # verified physically below
                if self.backend == "conic":
                    certified, clarabel_cpu = False, 0.0
                    numerical = False
                    if restricted:                                   # R_s = 0 first (restrict_rs)
                        st, solve_time, iters, x, cpu, certified = self._conic_r.solve_restricted(*data, opts)
                        clarabel_cpu += cpu
                        numerical = (retry_restricted and x is None
                                     and st not in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE))
                    if not certified and not numerical:
                        st, solve_time, iters, x, cpu = self._conic.solve(*data, opts)
                        clarabel_cpu += cpu
                    blocks = None if x is None else self._conic.blocks(x)
                else:
                    st, solve_time, iters, blocks = self._run_cvxpy(opts)
        except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
            return _failed(Status.SOLVER_FAILED, t0, f"solver error: {exc}")
        solver_wall = time.perf_counter() - ts
        if st in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            return _failed(Status.INFEASIBLE, t0, f"solver: {st}", solve_time, iters)
        if st not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or blocks is None:
            return _failed(Status.SOLVER_FAILED, t0, f"solver status {st}", solve_time, iters)
        What_s, Rs_s, trZ = blocks
        parts = trZ * (data[2] if self.L > 1 else 1.0) * c0
        sdr_obj = float(parts.sum() if self.objective == "sum" else parts.max())
        # --- rank-one recovery (eqs. 32-33), in watts ----------------------------------
        What = P * What_s
        Rhat = What.sum(axis=0) + P * Rs_s
        W = np.zeros((N, K), complex)
        for k in range(K):
            Wh = What[k] @ H[:, k]
            denom = np.real(H[:, k].conj() @ Wh)
            # paper eq. 32 prints (h^H Ŵ h)^{-1}; the exponent is -1/2 ([37]): it keeps
            # h^H W̄ h = h^H Ŵ h, hence every SINR row and the objective
            W[:, k] = Wh / np.sqrt(denom) if denom > 0 else 0.0
        Rs = _psd(Rhat - W @ W.conj().T)   # eq. 33 with R̂ = Σ Ŵ + R̂s (paper drops Σ Ŵ)
        # --- physical verification -----------------------------------------------------
        sinr = sinr_downlink(H, W, sigma2, Rs)
        R = W @ W.conj().T + Rs
        power = float(np.real(np.trace(R)))
        if self.L == 1:
            obj = float(np.trace(setup.crb_gauged(R, h_t, dgs[0], target)))
        else:
            traces = np.array([np.trace(setup.crb_gauged(R, h_t[l], dgs[l], target[l])) for l in range(self.L)])
            obj = float(traces.sum() if self.objective == "sum" else traces.max())
        short = float(np.max(1.0 - sinr / gamma))
        over = power / P - 1.0
        status, info = Status.OK, {}   # an "optimal_inaccurate" solve that passes the check is kept
        if short > VERIFY_RTOL or over > VERIFY_RTOL or not np.isfinite(obj):
            status = Status.CONSTRAINT_MISSED
            info["detail"] = f"SINR short by {max(short, 0):.2e}, power over by {max(over, 0):.2e}"
        if self.L > 1:
            info["crb_traces_m2"] = [float(x) for x in traces]
        lam = np.linalg.eigvalsh(What)                               # (K, N), one batched call
        tr = np.maximum(np.trace(What, axis1=1, axis2=2).real, 1e-300)
        if restricted:
            info["rs_restricted"] = bool(certified)
        info.update({"rank_Wk_max": int(np.max(np.sum(lam > 1e-6 * tr[:, None], axis=1))),
                     "solver_iterations": iters, "solver_status": str(st), "cvxpy_wall_s": solver_wall,
                     "solve_time_s": solve_time, "clarabel_cpu_s": clarabel_cpu})
        return SdrResult(SdrSolution(W, Rs, sinr, power, sdr_obj), obj, int(iters),
                         time.perf_counter() - t0, status, (), info)


#: Clarabel's iteration limit for :class:`FastFirstSdr`'s fast solve (its default: 200). A
#: fast solve that converges takes 10-25 iterations; one that does not (no equilibration,
#: no refinement: an infeasible or badly scaled instance) used to run to the limit and
#: through every retry setting before the defaults were tried
FAST_FIRST_MAX_ITER = 50


class FastFirstSdr:
    """The CRB SDR as the twin solves it by default: ``fast`` (a :class:`CrbSdr` with
    :func:`~twin.optim.sdr_conic.fast_solver_opts`) first, the same problem repeated with
    ``default`` (Clarabel's default settings) unless that returns ``ok``. Drop-in for a
    :class:`CrbSdr` wherever only ``solve`` is called (the AO, :func:`sdr_at`, the
    fixed-array baselines).

    Why the fast settings first (issue 13, eighth round, SDRs captured from full-size
    paper 000 drops, two solves each): at N = 8 Clarabel's defaults (iterative refinement,
    1e-8 tolerances) stall and end ``AlmostSolved`` (reduced 5e-5 accuracy) in 21 of 23
    solved K = 8 instances, while the fast settings (no refinement, 1e-6 tolerances) end
    ``Solved`` in 22, in 0.62× the time; with ``restrict_rs`` 0.54× (K = 3) to 0.65×
    (K = 8) at N = 8 and 0.75× at N = 4, objectives within the solvers' tolerance."""

    def __init__(self, fast: CrbSdr, default: CrbSdr, retry_infeasible: bool = True):
        self.fast, self.default, self.retry_infeasible = fast, default, bool(retry_infeasible)

    @classmethod
    def build(cls, n_rf: int, n_users: int, restrict_rs: bool = True, reduce_span: bool = True,
              retry_infeasible: bool = False) -> "FastFirstSdr":
        """The pair for N RF chains and K users (``restrict_rs``: both first with R_s = 0,
        kept when certified optimal; ``reduce_span``: both on the channels' span when it is
        smaller than N, :meth:`CrbSdr._reduced`; ``retry_infeasible``: an infeasible verdict
        of the fast solve is checked with the defaults too, which at N = K = 8 took 3.3 s to
        agree after the fast solve's 0.5 s)."""
        return cls(CrbSdr(n_rf, n_users, solver_opts={**fast_solver_opts(), "max_iter": FAST_FIRST_MAX_ITER},
                          restrict_rs=restrict_rs, reduce_span=reduce_span, retries=False),
                   CrbSdr(n_rf, n_users, restrict_rs=restrict_rs, reduce_span=reduce_span), retry_infeasible)

    def solve(self, *args) -> SdrResult:
        """:meth:`CrbSdr.solve`: the fast solve's result when ``ok`` (or ``infeasible``
        unless ``retry_infeasible``), else the default one's."""
        res = self.fast.solve(*args)
        if res.ok or (res.status is Status.INFEASIBLE and not self.retry_infeasible):
            return res
        return self.default.solve(*args)


def _span_basis(H, h_t, dh_t):
    """Orthonormal basis (N,d) of the span of the users' channels H (N,K), the target
    channels h_t ((N,) or (L,N)) and their gradients dh_t ((2,N) or (L,2,N)): the Q factor
    of those d = K + 3L vectors (each scaled to unit norm), or None when d ≥ N. No
    direction is dropped however small: a BS-side array's range information lives in
    components 1e-10 of the channel's norm (dropping them moved a MIMO baseline's RCRB by
    8 %), and Q spans every vector exactly, dependent or not."""
    N = H.shape[0]
    B = np.concatenate([H, np.reshape(h_t, (-1, N)).T, np.reshape(dh_t, (-1, N)).T], axis=1)
    if B.shape[1] >= N:
        return None
    norms = np.linalg.norm(B, axis=0)
    return np.linalg.qr(B / np.where(norms > 0, norms, 1.0))[0]


def _congruence(F, T, b):
    """Rows of the Fisher map after the congruence ``diag(T, I/√b)`` of the LMI (25):
    ``T J11 T^T``, ``T J12/√b``, ``J22/b`` (the Schur complement becomes ``T S T^T``)."""
    r = F
    out = np.empty_like(F)
    for row, (i, k) in enumerate(((0, 0), (0, 1), (1, 1))):
        out[row] = (T[i, 0] * T[k, 0] * r[0] + (T[i, 0] * T[k, 1] + T[i, 1] * T[k, 0]) * r[1]
                    + T[i, 1] * T[k, 1] * r[2])
    for row, (i, k) in zip(range(3, 7), ((0, 0), (0, 1), (1, 0), (1, 1))):
        out[row] = (T[i, 0] * r[3 + k] + T[i, 1] * r[5 + k]) / np.sqrt(b)
    out[7] = r[7] / b
    return out


def _complex(X, N) -> np.ndarray:
    """Hermitian W = (X11 + X22)/2 + j (X21 − X12)/2 of a real-form variable X (2N,2N)."""
    X = np.asarray(X).reshape(2 * N, 2 * N)
    return (X[:N, :N] + X[N:, N:]) / 2 + 1j * (X[N:, :N] - X[:N, N:]) / 2


@functools.lru_cache(maxsize=None)
def _isotropic(N: int) -> np.ndarray:
    """``_vec_re_im(I/N)`` (read-only, per N)."""
    v = _vec_re_im(np.eye(N) / N)
    v.flags.writeable = False
    return v


def _vec_re_im(R) -> np.ndarray:
    R = np.asarray(R)
    return np.concatenate([np.real(R).ravel(order="F"), np.imag(R).ravel(order="F")])


def _herm(X) -> np.ndarray:
    X = np.asarray(X)
    return 0.5 * (X + X.conj().T)


def _psd(X) -> np.ndarray:
    """Nearest PSD matrix (clip negative eigenvalues, numerical round-off of eq. 33)."""
    lam, V = np.linalg.eigh(_herm(X))
    return (V * np.clip(lam, 0.0, None)) @ V.conj().T
