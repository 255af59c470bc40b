"""The bridge between stages and the pure optimisers of :mod:`twin.optim`: builds the
small problem objects they take from the run's World and calls them. Every call into
``twin.optim`` from the controller goes through here, so an optimiser's signature is
known in one place."""

from __future__ import annotations

import numpy as np

from twin import problems
from twin.optim import clustered as cl
from twin.optim import clustered_mm as clmm
from twin.optim import clustered_track as cltrack
from twin.optim.crb_positioning import ReachGrid, SearchGrid, coarse_to_fine, crb_ao, crb_track
from twin.optim.elementwise import LinkSetup, sum_rate_elementwise_positions
from twin.optim.layout import PassLayout
from twin.optim.sdr import CrbSdr, CrbSetup, FastFirstSdr
from twin.optim.sdr_conic import fast_solver_opts
from twin.units import db_to_lin


class Solvers:
    """Per-run solver state: compiled SDRs per (N, K), the CRB set-up, the PASS layout."""

    def __init__(self, world):
        self.world = world
        self._sdr: dict[tuple[int, int], CrbSdr] = {}
        self._setup = None
        self._layout = None
        self._cluster = None
        self._frames = cl.FrameMemo()
        self._last: dict = {}             # stage parameters -> (points, ScheduleResult, tracked frames in a row)

    def sdr(self, n_rf: int, n_users: int, fast: bool = False, restrict: bool = False) -> CrbSdr:
        """The DPP-compiled CRB SDR for N RF chains and K users (built once, MODEL §4.3);
        ``fast``: with Clarabel's :data:`~twin.optim.sdr_conic.FAST_SETTINGS` (issue 13);
        ``restrict``: first with ``R_s = 0``, kept when certified optimal (``CrbSdr(restrict_rs=True)``)."""
        key = (int(n_rf), int(n_users)) + (("fast",) if fast else ()) + (("restrict",) if restrict else ())
        if key not in self._sdr:
            self._sdr[key] = CrbSdr(*key[:2], solver_opts=fast_solver_opts() if fast else None,
                                    restrict_rs=restrict)
        return self._sdr[key]

    @property
    def crb_setup(self) -> CrbSetup:
        if self._setup is None:
            self._setup = problems.crb_setup(self.world)
        return self._setup

    @property
    def layout(self) -> PassLayout:
        if self._layout is None:
            self._layout = problems.pass_layout(self.world)
        return self._layout

    @property
    def cluster_setup(self) -> cl.ClusterSetup:
        if self._cluster is None:
            self._cluster = problems.cluster_setup(self.world)
        return self._cluster

    def crb_sdr_targets(self, tx, state, H, targets, gamma, objective: str):
        """CRB-minimising beamforming over several targets (MODEL §4.3): one Schur LMI per
        target on the common R, minimising the sum (``objective = "sum"``) or the largest
        (``"worst"``) of their tr CRB. ``targets`` (L,3); L = 1 is :meth:`crb_sdr`."""
        q = np.atleast_2d(np.asarray(targets, float))
        if len(q) == 1:
            return self.crb_sdr(tx, state, H, q[0], gamma)
        w = self.world
        hd = [tx.target_channel(state, qi) for qi in q]
        key = (int(tx.n_rf), int(H.shape[1]), len(q), objective)
        if key not in self._sdr:
            self._sdr[key] = CrbSdr(key[0], key[1], n_targets=key[2], objective=objective)
        return self._sdr[key].solve(H, np.array([h for h, _ in hd]), np.array([d for _, d in hd]), q,
                                    self.crb_setup, gamma, w.power_w, w.noise_w)

    # --- paper 000 ---------------------------------------------------------------------
    def crb_sdr(self, tx, state, H, q, gamma, fast: bool = False, hd=None, restrict: bool = False):
        """CRB-minimising beamforming (MODEL §4.3) for the users' channel estimate H (N,K)
        and the target channel of the transmitter in ``state`` (``hd``: that channel and
        its gradient when the caller has them); ``fast``: first with the fast Clarabel
        settings, repeated with the defaults unless that returns ``ok``; ``restrict``: each
        solve first without a sensing covariance, kept only when certified optimal
        (:class:`~twin.optim.sdr_conic.ConicCrbSdrNoRs`)."""
        w = self.world
        h, dh = tx.target_channel(state, q) if hd is None else hd
        args = (H, h, dh, q, self.crb_setup, gamma, w.power_w, w.noise_w)
        sdr = self.sdr(tx.n_rf, H.shape[1], restrict=restrict)
        if fast:
            sdr = FastFirstSdr(self.sdr(tx.n_rf, H.shape[1], fast=True, restrict=restrict), sdr)
        return sdr.solve(*args)

    def crb_positions(self, s0, users, q, gamma, *, z: int, grid: int, max_iter: int, continuation: bool,
                      plain: bool = False):
        """Algorithm 4 (MODEL §4.4) from ``s0``; ``continuation``: the coarse-to-fine run
        (Z = 15 → 30 → continuous) used for a cold start in continuous mode; ``plain``: the
        paper's Algorithm 4 without the extra element-wise steps."""
        w = self.world
        args = (self.layout, s0, users, q, self.crb_setup, gamma, w.power_w, w.noise_w)
        sdr = self.sdr(w.deployment.n_guides, len(users))
        if continuation:
            return coarse_to_fine(*args, sdr=sdr, grid=grid, max_iter=max_iter)[None]
        return crb_ao(*args, sdr=sdr, grid=SearchGrid(lattice_z=z if z > 0 else None, grid=grid),
                      max_iter=max_iter, guarded_sweeps=0 if plain else 2)

    def crb_track(self, s0, users, q, gamma, *, reach_m, z: int, points: int, steps, sweeps: int = 1,
                  far: int = 0, far_guides=None, fast: bool = False, restrict: bool = False):
        """One incremental Algorithm 4 step from the previous frame's ``s0``, each PA
        searched only within ``reach_m`` (N,) of it (MODEL §4.4, §5): :func:`crb_track` on
        ``points`` candidates per window (continuous; plus ``far`` over the whole guide, on
        the guides ``far_guides`` only when given) or the Z+1 lattice (Z > 0). ``fast``: its
        SDRs with the fast Clarabel settings, the step repeated with the defaults when the
        SDR at ``s0`` does not return ``ok``; ``restrict``: each SDR first without a sensing
        covariance, kept only when certified optimal (:meth:`sdr`; the same optimum at the
        solver's tolerance)."""
        w = self.world
        grid = SearchGrid(lattice_z=z) if z > 0 else ReachGrid(points=points, far=far)
        kw = dict(reach_m=reach_m, grid=grid, steps=steps, sweeps=sweeps)
        if far_guides is not None:
            kw["far_guides"] = far_guides
        args = (self.layout, s0, users, q, self.crb_setup, gamma, w.power_w, w.noise_w)
        if fast:
            ao = crb_track(*args, sdr=self.sdr(w.deployment.n_guides, len(users), fast=True, restrict=restrict),
                           **kw)
            if ao.sdr.ok:
                return ao
        return crb_track(*args, sdr=self.sdr(w.deployment.n_guides, len(users), restrict=restrict), **kw)

    # --- paper 002 ---------------------------------------------------------------------
    def link_setup(self, kind: str, link: str) -> LinkSetup:
        w = self.world
        return LinkSetup(kind, link, w.power_w, w.user_power_w, w.noise_w)

    def sum_rate_positions(self, users, setup, *, Q, eps, s0, rng, candidates="relaxed", reach=None, centre=None):
        """Element-wise pinching beamforming (MODEL §4.2); ``reach``/``centre``: the
        candidate window one frame of travel allows (None: the whole guide)."""
        return sum_rate_elementwise_positions(self.layout, users, setup, Q=Q, eps=eps, s0=s0, rng=rng,
                                              candidates=candidates, reach=reach, centre=centre)

    # --- paper 001 ---------------------------------------------------------------------
    def outage_schedule(self, users, q, *, starts=(), track: cltrack.TrackSettings | None = None, **kw):
        """Cluster selection, durations and user schedule minimising the sensing outage
        under the average-rate requirement (MODEL §4.5). Returns the ScheduleResult (its
        problem: ``.problem``). ``starts``: extra starting schedules of the proposed rule
        (a figure passes the solution for a stricter R_min, feasible here too). A frame
        whose users, target and parameters equal a recent frame's reuses its decision
        (:class:`twin.optim.clustered.FrameMemo`: the same answer, without the search).
        ``track`` (the stage's ``mode = track``; never a figure's call): a frame whose
        inputs moved is warm-started from the previous call's schedule with the same
        parameters (:mod:`twin.optim.clustered_track`), unless a point jumped farther than
        ``track.jump_m``, ``track.resolve_frames`` tracked frames have passed, or tracking
        found no rate-feasible schedule: then the cold search.
        ``method`` (keyword): ``search`` (configuration library, MODEL §4.5), ``mm`` (paper
        001's alternating optimisation with continuous positions, MODEL §4.5.1, from its
        own start) or ``search+mm`` (the same, from its own start and from the search's
        schedule: never worse than either)."""
        if starts:
            return self._outage_schedule(users, q, starts=starts, **kw)
        pkey = tuple(sorted((k, repr(v)) for k, v in kw.items()))
        last = self._last.get(pkey)

        def solve():
            if track is not None and last is not None:
                res = self._track_schedule(users, q, last, track, kw)
                if res is not None:
                    return res
            return self._outage_schedule(users, q, **kw)

        res = self._frames.get_or_solve((users, q, kw), solve)
        run = 0 if not res.info.get("tracked") else (last[2] + (not res.info.get("reused")) if last else 1)
        self._last[pkey] = (np.vstack([np.asarray(q, float)[None], np.atleast_2d(np.asarray(users, float))]), res, run)
        return res

    def _track_schedule(self, users, q, last, track, kw):
        """The tracked schedule (:func:`twin.optim.clustered_track.track_schedule`) from
        ``last`` = (points, result, tracked frames in a row), or None: cold search due."""
        pts_prev, prev, run = last
        pts = np.vstack([np.asarray(q, float)[None], np.atleast_2d(np.asarray(users, float))])
        if (kw.get("method", "search") != "search" or not prev.usable or prev.problem is None
                or pts.shape != pts_prev.shape or np.max(np.linalg.norm(pts - pts_prev, axis=1)) > track.jump_m
                or (track.resolve_frames and run + 1 >= track.resolve_frames)):
            return None
        w = self.world
        thr_db = float(w.scene.requirements.sensing_threshold_db)
        common = dict(T=kw["T"], r_min=w.r_min, threshold_db=thr_db, decay=kw["decay"])
        args = (self.layout, self.cluster_setup, users, q)
        if kw["fixed_ula"]:
            pb = cl.fixed_ula_problem(*args, **common)
        elif not kw["focus"]:
            pb = cl.build_problem(*args, **common, beamforming=False, pas_per_cluster=kw["pas_per_cluster"] or None)
        else:
            pb = cltrack.refresh_problem(self.layout, self.cluster_setup, prev.problem, pts_prev, users, q,
                                         window=track.window * (2 if track.alternate else 1), decay=kw["decay"],
                                         refocus=not track.alternate or run % 2 == 0,
                                         points_per_cluster=kw.get("points_per_cluster", 0),
                                         held=(prev.clusters, prev.configs))
        return cltrack.track_schedule(pb, prev.solution, objective=kw["objective"],
                                      same_cluster=kw["rule"] == "same-cluster",
                                      equal_durations=kw["rule"] == "equal-durations",
                                      moves=track.moves if not track.alternate or run % 2 else 0,
                                      slots=track.slots_at(run // 2 if track.alternate else run, kw["T"]))

    def _outage_schedule(self, users, q, *, T: int, rule: str, pas_per_cluster: int, focus: bool,
                         fixed_ula: bool, objective: str, decay: float | None, points_per_cluster: int = 0,
                         starts=(), method: str = "search"):
        if method != "search":
            return self._outage_schedule_mm(users, q, T=T, decay=decay, starts=starts, method=method,
                                            points_per_cluster=points_per_cluster)
        w = self.world
        thr_db = float(w.scene.requirements.sensing_threshold_db)
        common = dict(T=T, r_min=w.r_min, threshold_db=thr_db, decay=decay)
        args = (self.layout, self.cluster_setup, users, q)
        if fixed_ula:
            pb = cl.fixed_ula_problem(*args, **common)
        else:
            pb = cl.build_problem(*args, **common, beamforming=focus, pas_per_cluster=pas_per_cluster or None,
                                  points_per_cluster=points_per_cluster)
        skw = {"same_cluster": rule == "same-cluster", "equal_durations": rule == "equal-durations",
               "objective": objective}
        if rule == "proposed" and focus and not fixed_ula and not pas_per_cluster:
            skw["starts"] = [cl.solve_schedule(pb, same_cluster=True, objective=objective),
                             cl.solve_schedule(pb, equal_durations=True, objective=objective), *starts]
        return cl.solve_schedule(pb, **skw)

    def _outage_schedule_mm(self, users, q, *, T, decay, starts, method, points_per_cluster):
        w = self.world
        thr_db = float(w.scene.requirements.sensing_threshold_db)
        extra = list(starts)
        if method == "search+mm":
            extra.append(self.outage_schedule(users, q, T=T, rule="proposed", pas_per_cluster=0, focus=True,
                                              fixed_ula=False, objective="exact", decay=decay,
                                              points_per_cluster=points_per_cluster))
        return clmm.solve_mm(self.layout, self.cluster_setup, users, q, T=T, r_min=w.r_min, threshold_db=thr_db,
                             decay=decay, starts=extra)

    def focus_cluster(self, n, lo, hi, npas, points, weights, points_per_cluster: int = 0):
        """Element-wise focusing of one cluster's PAs on ``points`` (MODEL §4.5)."""
        dep = self.world.deployment
        return cl.focus_positions(self.layout, n, lo, hi, npas, points, weights, dep.spacing[n],
                                  1.0 / np.sqrt(npas), points_per_cluster=points_per_cluster)[0]

    @staticmethod
    def threshold_lin(db: float) -> float:
        return float(db_to_lin(db))
