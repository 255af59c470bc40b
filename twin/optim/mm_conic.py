"""Proposed-MM's block problems (MODEL §4.5.1; paper 001 eqs. 27-35 and 60-67) solved by
Clarabel directly on their standard conic form ``min ½xᵀPx + qᵀx  s.t.  A x + s = b,
s ∈ K``, skipping cvxpy's per-solve work.

cvxpy compiles a DPP problem once into an affine map from the parameter vector to (P, q,
A, b) (its ``ParamConeProg``), but every ``Problem.solve`` still re-validates the
parameters, re-runs the reduction chain's bookkeeping, re-parses the solver settings and
cones, and inverts the solution through every reduction: 2.1 ms of a 39 ms block-1 solve
and 0.55 of a 1.8 ms block-3 solve of ``paper001-power`` drops (CPU, least of 3; cProfile's
≈ 13 ms was mostly its own overhead on cvxpy's many small calls; docs/performance.md,
"Paper 001 figures, fifth round"). Here the
compiled map is taken once per problem (:class:`DirectBlock`, built from the problem of
:func:`twin.optim.clustered_mm.selection_problem` / ``scheduling_problem``), and a solve
is: the map applied to the parameter values, a fresh ``clarabel.DefaultSolver`` on that
data with cvxpy's default Clarabel settings, and the variables read from their columns of
x (projected on x ≥ 0 for the non-negative ones, as cvxpy's value recovery does).

**Same answers, bit for bit.** The data are the numbers cvxpy passes to Clarabel (the same
map on the same values), the solver is built fresh with the same settings, so each solve
is the cvxpy path's solve (``tests/optim/test_mm_conic.py`` compares variables and
objective with ``==`` on seeded real and random blocks). A block written in our own
standard form instead (b, z, φ, slacks, the log-det's triangle Δ and exponential cones;
tried in this round) is the same problem but not the same data: its optimum is the same to
the solver's tolerance, its minimiser is not (block 1's optimal face is flat up to the
10⁻⁶ quadratic, so z and φ differed by up to 0.08), which moved one of 14 (drop, power)
outages by 0.7 %, and it was not faster (Proposed-MM on 2 drops × 7 powers: 17.9 against
18.3 CPU s, 24 of its solves ending AlmostSolved or InsufficientProgress and re-solved by
cvxpy); it was dropped.

A new solver per solve, never updated in place: an updated Clarabel solver keeps the
equilibration of its first data, so an answer would depend on what the process had solved
before (the defect fixed in b6df057).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Clarabel statuses whose x is used: cvxpy's "optimal" and "optimal_inaccurate", the ones
#: the cvxpy path accepts (an inaccurate block is judged by the exact evaluation after it)
ACCEPTED = ("Solved", "AlmostSolved")


class DirectBlock:
    """A compiled DPP problem solved on Clarabel directly (module docstring). ``params``
    and ``variables``: name → the problem's cvxpy Parameter / Variable. Holds no state
    between solves (the compiled map and the variables' columns only)."""

    def __init__(self, prob, params: dict, variables: dict):
        import cvxpy as cp
        from cvxpy.reductions.cvx_attr2constr import CvxAttr2Constr
        from cvxpy.reductions.solvers.conic_solvers.clarabel_conif import dims_to_solver_cones

        data, chain, inverse = prob.get_problem_data(cp.CLARABEL)
        self.prog = data["param_prob"]
        self.cones = dims_to_solver_cones(data["dims"])
        self.ids = {name: p.id for name, p in params.items()}
        if set(self.ids.values()) != {p.id for p in prob.parameters()}:
            raise ValueError("DirectBlock needs a value for every parameter of the problem")
        # a variable with attributes (nonneg) is replaced by a new one in CvxAttr2Constr
        renamed = {}
        for red, inv in zip(chain.reductions, inverse):
            if isinstance(red, CvxAttr2Constr) and inv:
                renamed = {i: v.id for i, v in inv[0].items()}
        self.columns = {}
        for name, v in variables.items():
            col = self.prog.var_id_to_col[renamed.get(v.id, v.id)]
            self.columns[name] = (col, v.size, v.shape, bool(v.attributes["nonneg"]))
        self._settings = None

    def solve(self, values: dict):
        """Solve at parameter ``values`` (name → value). Returns (Clarabel status, {name:
        value} or None if the status is not :data:`ACCEPTED`, the objective of the compiled
        problem or None)."""
        import clarabel

        vals = {self.ids[name]: np.asarray(v, dtype=float) for name, v in values.items()}
        if self.prog.P is None:                    # an LP: as cvxpy's ConicSolver.apply
            q, d, A, b = self.prog.apply_parameters(vals)
            P = sp.csc_array((q.size, q.size))
        else:
            P, q, d, A, b = self.prog.apply_parameters(vals, quad_obj=True)
        if self._settings is None:                 # cvxpy's: the defaults, quiet (copied per solver)
            self._settings = clarabel.DefaultSettings()
            self._settings.verbose = False
        solver = clarabel.DefaultSolver(sp.triu(P).tocsc(), q, -A, np.atleast_1d(b), self.cones,
                                        self._settings)
        sol = solver.solve()
        status = str(sol.status)
        if status not in ACCEPTED:
            return status, None, None
        x = np.asarray(sol.x)
        out = {}
        for name, (col, size, shape, nonneg) in self.columns.items():
            v = x[col:col + size].reshape(shape, order="F")
            out[name] = np.maximum(v, 0.0) if nonneg else v
        return status, out, float(sol.obj_val) + float(d)
