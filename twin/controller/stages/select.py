"""``select`` stages: which elements radiate in which slot and for how long."""

from __future__ import annotations

import numpy as np

from twin.controller.params import Param
from twin.controller.stage import Stage, stage
from twin.optim.clustered_track import TrackSettings


@stage
class SelectAll(Stage):
    """Every installed element radiates in every slot; the frame is split into the
    scene's ``slots_per_frame`` equal slots."""

    role, name = "select", "all"
    description = "every element radiates in every slot (equal slots)"

    def run(self, obs, plan):
        tx = self.ctx.tx
        S = self.ctx.slots_per_frame
        plan.durations = [self.ctx.frame_s / S] * S
        plan.active = [tx.installed.copy() for _ in range(S)]
        plan.users = [None] * S


@stage
class OutageSchedule(Stage):
    """Paper 001 (MODEL §4.5): per slot the active cluster, its configuration, the user
    served and the slot duration, minimising the exact sensing outage Pr(Γ < Γ_th)
    subject to every user's average rate ≥ R_min (both from ``[requirements]``). The
    configurations are the ``position`` stage's: element-wise focused (``cluster-focus``),
    evenly spread (``uniform``: no intra-cluster beamforming), or the fixed sub-arrays of a
    ``subarray-ula`` (baseline 1). Variants: ``rule = same-cluster`` (baseline 2),
    ``equal-durations`` (baseline 3), ``pas_per_cluster = 1`` (baseline 4).

    ``mode = track`` (default; issue 13, MODEL §5): in a continuing run a frame whose
    users or target moved starts from the previous frame's schedule
    (:mod:`twin.optim.clustered_track`: configurations re-focused within the PAs' reach
    of ``track_window_frames`` frames, one slot's moves per frame, durations kept or
    re-timed by a Newton step), unless something jumped farther than ``jump_m``, every
    ``resolve_frames`` frames, or when tracking finds no rate-feasible schedule: then the
    cold search, as ``mode = full`` does every frame. Unmoved frames are look-ups either
    way."""

    role, name = "select", "outage-schedule"
    description = "paper 001: cluster, duration and user per slot minimising the sensing outage s.t. R_min"
    params = {
        "T": Param(0, "slots per frame (0: the scene's slots_per_frame)", "slots", lo=0, hi=32),
        "rule": Param("proposed", "schedule freedom: proposed | one cluster in every slot | equal slot durations",
                      choices=("proposed", "same-cluster", "equal-durations")),
        "pas_per_cluster": Param(0, "PAs radiating per cluster (0: all; 1: paper 001 baseline 4)", "PAs", lo=0, hi=64),
        "objective": Param("exact", "what the search minimises: exact outage or the paper's Chernoff surrogate",
                           choices=("exact", "chernoff")),
        "s_grid": Param(0, "Chernoff surrogate: log-spaced values of s (0: continuous minimisation)", lo=0, hi=10000),
        "method": Param("search", "search: configuration library + exact schedule search (MODEL §4.5); mm: "
                        "paper 001's AO with continuous PA positions (MODEL §4.5.1); search+mm: mm also "
                        "started from the search's result", choices=("search", "mm", "search+mm")),
        "decay": Param(-1.0, "RCS correlation decay ϱ (negative: the scene's targets.rcs_decay_per_rad)", "1/rad",
                       lo=-1.0, hi=1e5),
        "mode": Param("track", "frames whose users or target moved (method search): track = warm-start from the "
                      "previous frame's schedule (re-focus within reach, one improving move, warm durations); "
                      "full = the cold search every frame", choices=("track", "full")),
        "track_window_frames": Param(1.0, "track: each configuration's PAs re-focused within the guide's PA speed × "
                                     "frame length × this of where they were", "frames", lo=0.0, hi=1e4),
        "track_moves": Param(1, "track: 1 = try the improving single-slot changes of one slot per frame (in turn), "
                             "0 = keep the schedule, re-time only", lo=0, hi=1),
        "track_alternate": Param(True, "track: re-focus on every other frame (twice the window) and try the moves "
                                 "on the frames between (false: both every frame)"),
        "resolve_frames": Param(0, "track: the cold search every this many frames (0: only when triggered)", "frames",
                                lo=0, hi=10**9),
        "jump_m": Param(0.25, "track: the cold search when a user or the target moved farther than this since the "
                        "previous frame", "m", lo=0.0, hi=1e4),
    }

    def check(self):
        tx, w = self.ctx.tx, self.ctx.world
        if not tx.clustered or w.n_targets == 0:
            self.refuse("", "needs a clustered deployment (waveguides.clusters or a subarray-ula) and a target",
                        "use a scene with [[waveguides.clusters]] and [targets] (e.g. paper001), or select = 'all'")
        pos = self.ctx.stage_name("position")
        if tx.kind == "pass" and pos not in ("cluster-focus", "uniform"):
            self.refuse("", f"chooses among cluster configurations, which position = {pos!r} does not provide",
                        "use position = 'cluster-focus' (focused PAs) or 'uniform' (evenly spread)")
        if self.p["method"] != "search" and (tx.kind != "pass" or pos != "cluster-focus" or self.p["rule"] != "proposed"
                                             or self.p["pas_per_cluster"] or self.p["objective"] != "exact"):
            self.refuse("method", f"method {self.p['method']!r} optimises every PA of a PASS cluster with the "
                        "proposed rule and reports the exact outage",
                        "use position = 'cluster-focus', rule = 'proposed', pas_per_cluster = 0, objective = "
                        "'exact', or method = 'search'")

    def _objective(self) -> str:
        obj = self.p["objective"]
        return f"chernoff-grid{self.p['s_grid']}" if obj == "chernoff" and self.p["s_grid"] > 0 else obj

    def _track(self) -> TrackSettings | None:
        """The tracking settings of ``mode = track`` (None: ``full``); the re-focusing
        window is what a PA slides in ``track_window_frames`` frames (MODEL §5)."""
        if self.p["mode"] != "track":
            return None
        tx = self.ctx.tx
        window = np.asarray(tx.speed, float) * self.ctx.frame_s * self.p["track_window_frames"]
        return TrackSettings(window, float(self.p["jump_m"]), int(self.p["resolve_frames"]), int(self.p["track_moves"]),
                             alternate=bool(self.p["track_alternate"]))

    def run(self, obs, plan):
        ctx, tx = self.ctx, self.ctx.tx
        q = obs.target
        if q is None:
            plan.fail("fallback", "no target observed")
            return
        T = self.p["T"] or ctx.slots_per_frame
        decay = None if self.p["decay"] < 0 else float(self.p["decay"])
        pos = ctx.stages["position"]
        sch = ctx.solvers.outage_schedule(
            obs.users, q, T=T, rule=self.p["rule"], pas_per_cluster=self.p["pas_per_cluster"],
            focus=pos.name == "cluster-focus", fixed_ula=tx.kind == "subarray-ula",
            objective=self._objective(), decay=decay, points_per_cluster=pos.p.get("Q", 0), method=self.p["method"],
            track=self._track() if obs.previous is not None else None)
        pb = sch.problem
        clusters = [(n, c) for n, b in enumerate(tx.cluster_bounds) for c in range(len(b))]
        single = self.p["pas_per_cluster"]
        chosen = {}
        for c_i, cfg in zip(sch.clusters, sch.configs):
            x = pb.positions[c_i, cfg]
            x = x[np.isfinite(x)]
            if x.size:
                chosen[clusters[c_i]] = x
        plan.hints["cluster_positions"] = chosen
        plan.durations, plan.active, plan.users = [], [], []
        for t in range(T):
            n, c = clusters[sch.clusters[t]]
            members = np.flatnonzero(tx.cluster[n] == c)
            active = np.zeros(tx.installed.shape, bool)
            active[n, members[:single] if single else members] = True
            plan.durations.append(float(sch.tau[t]) * ctx.frame_s / pb.t_tot)
            plan.active.append(active)
            plan.users.append((int(sch.users[t]),))
        plan.W = [None] * T
        plan.Rs = [None] * T
        plan.info.update({"planned_outage": sch.outage, "planned_chernoff": sch.chernoff,
                          "clusters": "-".join(map(str, sch.clusters)),
                          "durations_ms": "-".join(f"{x * 1e3:.3g}" for x in sch.tau),
                          "min_rate_margin_bps_hz": float(np.min(sch.rates) - ctx.world.r_min),
                          "optimiser_s": sch.wall_time_s, "optimiser_status": str(sch.status),
                          "tracked": bool(sch.info.get("tracked", False)),
                          "reused": bool(sch.info.get("reused", False))})
        if not sch.usable:
            plan.note("infeasible", f"rate targets infeasible ({sch.info.get('detail', sch.status)})")
