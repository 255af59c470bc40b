"""The element-wise (coordinate) 1-D search shared by papers 000, 001 and 002 (MODEL
§4.2, §4.4, §4.5; paper 000 Algorithm 2, paper 001 intra-cluster beamforming, paper 002
Algorithms 1-2).

For each PA (n, m) in turn: its legal interval (:meth:`LegalSet.interval`: bounds and δ
to its neighbours), the candidate coordinates in it (``candidates``: a grid, a lattice,
preinstalled positions), all scored in one vectorised call (``score``), optionally a
second, finer candidate set around the best and the current point (``refine``); the PA
moves to the best candidate. Sweeps repeat until the relative gain of the objective over
a sweep is at most ``eps`` or ``max_sweeps`` is reached. What is scored (sum rate, CRB,
focused array gain) is the caller's: the search knows only coordinates and numbers."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from twin.optim.legal import LegalSet
from twin.optim.result import OptResult, Status

MOVES = ("improve", "best")


def _split(out):
    if isinstance(out, tuple):
        return np.asarray(out[0], float), out[1]
    return np.asarray(out, float), None


def _pick(vals, cand, x, sense):
    """Index of the best candidate (non-finite values never win); if none is finite, the
    candidate nearest the current coordinate (staying)."""
    key = np.where(np.isfinite(vals), -vals if sense == "max" else vals, np.inf)
    j = int(np.argmin(key))
    if not np.isfinite(key[j]):
        j = int(np.argmin(np.abs(cand - x)))
    return j


def _better(a, b, sense, rtol):
    """a beats b by more than the relative margin rtol (in the objective's direction)."""
    if sense == "max":
        return a > (b * (1 + rtol) if b >= 0 else b * (1 - rtol))
    return a < (b * (1 - rtol) if b >= 0 else b * (1 + rtol))


def coordinate_search(s0, legal: LegalSet, score: Callable, *, candidates: Callable,
                      refine: Callable | None = None, on_move: Callable | None = None,
                      objective: Callable | None = None, start: float | None = None,
                      sense: str = "max", move: str = "improve", rtol: float = 1e-12,
                      eps: float = 1e-3, max_sweeps: int = 20, order=None,
                      interval: Callable | None = None, skip_settled: bool = False) -> OptResult:
    """Element-wise search over the PA coordinates s (N,M) from ``s0`` (legal).

    - ``candidates(n, m, lo, hi, x) -> (Q,)`` coordinates to score for PA (n, m) at x in
      [lo, hi] (the caller decides whether x itself is one; it is located as the last
      candidate equal to x);
    - ``score(n, m, cand) -> (Q,)`` or ``((Q,), data)``: the objective with PA (n, m) at
      each candidate, every other PA where it is (vectorised); ``data`` is handed back to
      ``on_move``;
    - ``refine(n, m, lo, hi, centres) -> (Q2,)`` (optional): a second candidate set around
      ``centres = [best, x]``; its best replaces the first stage's if strictly better;
    - ``on_move(n, m, x_new, data, j) -> bool | None``: the caller's state follows the
      move (e.g. channel rows); returning False undoes it (e.g. an exact re-check);
    - ``objective(s) -> float``: the objective after a sweep (default: the score of the
      last chosen candidate); ``start``: its value at s0 (None: no stop test after the
      first sweep);
    - ``sense``: "max" or "min"; ``move``: "improve" (move only if the best beats the
      current coordinate's score by the relative margin ``rtol``; a current coordinate
      outside the candidates scores worst) or "best" (take the best candidate, ties
      included; ``on_move`` is called for every PA; the current coordinate must be a
      candidate so the objective cannot worsen);
    - ``interval(s, n, m) -> (lo, hi)``: the coordinates PA (n, m) may take (default
      :meth:`LegalSet.interval`: bounds and δ from its neighbours; paper 002's relaxed
      set passes :meth:`LegalSet.bounds_of` and filters in ``candidates``);
    - ``skip_settled``: do not re-score a PA that stayed on its last visit when no move
      has been accepted since (its candidates and scores would be the same, so would
      its decision: the result is identical, the confirming sweep shorter). Only for
      scores that depend on s and the state ``on_move`` keeps, nothing else;
    - stop after a sweep when ``gain ≤ eps · max(|previous|, 1e-12)`` (status ``ok``) or
      after ``max_sweeps`` (status ``iteration-limit``).

    Returns an :class:`OptResult`: solution s (N,M), objective, iterations = sweeps,
    history = objective after each sweep (the start first, if given), info
    ``{"moves": accepted moves}``.
    """
    if sense not in ("max", "min"):
        raise ValueError(f"sense must be 'max' or 'min', got {sense!r}")
    if move not in MOVES:
        raise ValueError(f"move must be one of {', '.join(MOVES)}, got {move!r}")
    t0 = time.perf_counter()
    s = np.array(s0, float)
    order = legal.order() if order is None else order
    interval = legal.interval if interval is None else interval
    prev = start
    history = [] if start is None else [start]
    status, sweeps, moves, last = Status.ITERATION_LIMIT, 0, 0, start
    settled = {}                            # (n, m) -> the move count when it last stayed
    for sweeps in range(1, max(1, int(max_sweeps)) + 1):
        for n, m in order:
            if skip_settled and settled.get((n, m)) == moves:
                continue
            settled[n, m] = moves
            lo, hi = interval(s, n, m)
            if hi < lo:
                continue
            x = s[n, m]
            cand = np.asarray(candidates(n, m, lo, hi, x), float)
            if cand.size == 0:
                continue
            vals, data = _split(score(n, m, cand))
            j = _pick(vals, cand, x, sense)
            if refine is not None:
                cand2 = np.asarray(refine(n, m, lo, hi, [cand[j], x]), float)
                if cand2.size:
                    vals2, data2 = _split(score(n, m, cand2))
                    j2 = _pick(vals2, cand2, x, sense)
                    if _better(vals2[j2], vals[j], sense, 0.0):
                        cand, vals, data, j = cand2, vals2, data2, j2
            if move == "improve":
                here = np.flatnonzero(cand == x)
                cur = vals[here[-1]] if here.size else (-np.inf if sense == "max" else np.inf)
                if (here.size and j == here[-1]) or not _better(vals[j], cur, sense, rtol):
                    continue
            s[n, m] = cand[j]
            kept = None if on_move is None else on_move(n, m, cand[j], data, j)
            if kept is not None and not kept:
                s[n, m] = x
                continue
            moves += 1
            last = float(vals[j])
        val = float(objective(s)) if objective is not None else last
        if val is None:                     # nothing scored, nothing moved
            status = Status.OK
            break
        history.append(val)
        if prev is not None:
            gain = (val - prev) if sense == "max" else (prev - val)
            if gain <= eps * max(abs(prev), 1e-12):
                status = Status.OK
                break
        prev = val
    return OptResult(s, float(history[-1]) if history else float("nan"), sweeps,
                     time.perf_counter() - t0, status, tuple(history), {"moves": moves})
