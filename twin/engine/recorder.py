"""The recorder: reporters of the evaluator's metrics into trace tables (in the manner of
Mesa's ``DataCollector``), and the one summary path. With traces off the tables go to
a temporary directory that is summarised the same way and deleted, so a summary never
depends on whether traces were kept."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from twin import __version__
from twin.traces.reader import SUMMARY_COLUMNS, summarize
from twin.traces.writer import TraceWriter
from twin.units import lin_to_db


class Recorder:
    """Writes one run's tables (users, targets, pas, frames, beams, blockers), scene.json,
    hardware.json, meta.json and summary.json into ``out_dir`` (None: a temporary
    directory, removed after the summary is computed)."""

    def __init__(self, out_dir, scene, flush_frames: int):
        self.keep = out_dir is not None
        self.dir = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="pass-twin-"))
        # the writer keeps the summary's columns of what it writes: the summary at the close
        # comes from memory, not from reading the tables back
        self.writer = TraceWriter(self.dir, flush_frames=flush_frames, keep=SUMMARY_COLUMNS)
        self.scene = scene
        self.meta: dict = {}
        self._target_rows: list[dict] = []
        self._target_frame: dict | None = None

    def start(self, seed: int, meta: dict, hardware: dict) -> None:
        """Write scene.json, hardware.json and meta.json (with the run's provenance) and
        open run.log."""
        from twin import provenance

        self.meta = {**meta, "version": __version__, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                     "completed": False}
        self.meta["provenance"] = provenance.start_run(self.dir, scene=self.scene, seed=seed,
                                                       policy=meta.get("policy", ""), frames=meta.get("frames", 0))
        self.writer.write_json("scene.json", self.scene.model_dump(mode="json"))
        self.writer.write_json("hardware.json", hardware)
        self.writer.write_json("meta.json", self.meta)

    # --- reporters -------------------------------------------------------------------
    def users(self, t, f, j, users, m, sinr_target, scheduled) -> None:
        K = len(users)
        self.writer.add("users", time_s=t, frame=f, slot=j, user=np.arange(K), x=users[:, 0], y=users[:, 1],
                        sinr_db=lin_to_db(m["sinr"]), sinr_target_db=lin_to_db(sinr_target),
                        rate_bps_hz=m["rate"], outage=m["outage"], los_pas=m["los"], link_loss_db=m["loss"],
                        body_loss_db=m["body"], scheduled=np.asarray(scheduled, bool))

    def blockers(self, t, f, j, xyz) -> None:
        """The people who block links (MODEL §5.1), where they stand."""
        self.writer.add("blockers", time_s=t, frame=f, slot=j, blocker=np.arange(len(xyz)),
                        x=xyz[:, 0], y=xyz[:, 1])

    def targets(self, t, f, j, targets, rcrb) -> None:
        """A sample's targets; held until the frame ends, when the per-frame columns
        (estimate, error, frame RCRB, sensing outage) are known (:meth:`target_frame`)."""
        self._target_rows.append(dict(time_s=t, frame=f, slot=j, target=np.arange(len(targets)),
                                      x=targets[:, 0], y=targets[:, 1], rcrb_m=rcrb))

    def target_frame(self, true_xy, est_xy, frame_rcrb, outage) -> None:
        """Per-frame, per-target values (MODEL §5.1, §3.3, §3.4), written on every sample
        row of the frame: ``x_est``/``y_est`` the frame's echo estimate, ``error_m`` its
        distance to the target at the frame start (the position the echo came from),
        ``frame_rcrb_m`` and ``sensing_outage_exact`` per target (NaN where not computed)."""
        err = np.linalg.norm(np.asarray(est_xy) - np.asarray(true_xy), axis=1)
        self._target_frame = dict(x_est=np.asarray(est_xy)[:, 0], y_est=np.asarray(est_xy)[:, 1], error_m=err,
                                  frame_rcrb_m=np.asarray(frame_rcrb, float),
                                  sensing_outage_exact=np.asarray(outage, float))

    def _flush_targets(self) -> None:
        per = self._target_frame
        for row in self._target_rows:
            n = len(row["target"])
            extra = ({k: np.tile(v, n // max(len(v), 1)) for k, v in per.items()} if per is not None else
                     {k: np.full(n, np.nan) for k in
                                                 ("x_est", "y_est", "error_m", "frame_rcrb_m",
                                                  "sensing_outage_exact")})
            self.writer.add("targets", **row, **extra)
        self._target_rows, self._target_frame = [], None

    def elements(self, t, f, j, tx, state, target_s) -> None:
        """Every element's in-force position (PAs of a PASS, antennas of a fixed array)."""
        pos = tx.positions(state.s)
        n_idx, m_idx = np.nonzero(tx.installed)
        act = np.asarray(state.active, bool) & tx.installed
        self.writer.add("pas", time_s=t, frame=f, slot=j, waveguide=n_idx, pa=m_idx, s_m=state.s[n_idx, m_idx],
                        target_s_m=target_s[n_idx, m_idx], x=pos[n_idx, m_idx, 0], y=pos[n_idx, m_idx, 1],
                        z=pos[n_idx, m_idx, 2], active=act[n_idx, m_idx], cluster=tx.cluster[n_idx, m_idx])

    def beams(self, f, j, W, Rs, analog=None) -> None:
        """Beamformer W (N,K), sensing covariance R_s (N,N) and, for a hybrid array, the
        analog weights (N,M) in force (kinds "W", "Rs", "A")."""
        for kind, mat in (("W", W), ("Rs", Rs), ("A", analog)):
            if mat is None:
                continue
            r, c = np.indices(mat.shape)
            self.writer.add("beams", frame=f, slot=j, kind=kind, row=r.ravel(), col=c.ravel(),
                            re=mat.real.ravel(), im=mat.imag.ravel())

    # --- a frame's samples at once (one add per table; same rows, same order) ------------------
    def users_batch(self, ts, f, slots, users, m, sinr_target, scheduled) -> None:
        """:meth:`users` for T samples: ts (T,), slots (T,), users (T,K,3), metrics (T,K)."""
        T, K = users.shape[:2]
        cache = self.__dict__.setdefault("_user_cache", {})
        key = (T, K, id(sinr_target))
        if key not in cache:                    # the user and target columns: once per run and layout
            cache[key] = (np.tile(np.arange(K), T), np.tile(np.broadcast_to(lin_to_db(sinr_target), (K,)), T),
                          sinr_target)
        user, target_db, _ = cache[key]
        self.writer.add("users", time_s=np.repeat(ts, K), frame=f, slot=np.repeat(slots, K),
                        user=user, x=users[:, :, 0].ravel(), y=users[:, :, 1].ravel(),
                        sinr_db=lin_to_db(m["sinr"]).ravel(),
                        sinr_target_db=target_db,
                        rate_bps_hz=m["rate"].ravel(), outage=m["outage"].ravel(), los_pas=m["los"].ravel(),
                        link_loss_db=m["loss"].ravel(), body_loss_db=m["body"].ravel(),
                        scheduled=np.asarray(scheduled, bool).ravel())

    def blockers_batch(self, ts, f, slots, xyz) -> None:
        """:meth:`blockers` for T samples: xyz (T,B,3)."""
        T, B = xyz.shape[:2]
        self.writer.add("blockers", time_s=np.repeat(ts, B), frame=f, slot=np.repeat(slots, B),
                        blocker=np.tile(np.arange(B), T), x=xyz[:, :, 0].ravel(), y=xyz[:, :, 1].ravel())

    def targets_batch(self, ts, f, slots, targets, rcrb) -> None:
        """:meth:`targets` for T samples: targets (T,J,3), rcrb (T,J)."""
        T, J = targets.shape[:2]
        self._target_rows.append(dict(time_s=np.repeat(ts, J), frame=f, slot=np.repeat(slots, J),
                                      target=np.tile(np.arange(J), T), x=targets[:, :, 0].ravel(),
                                      y=targets[:, :, 1].ravel(), rcrb_m=np.asarray(rcrb, float).ravel()))

    def _element_index(self, tx, T):
        """The installed elements' (guide, element) indices and their per-sample column
        tiles for T samples, computed once per run and sample count."""
        key = (id(tx), T)
        cache = self.__dict__.setdefault("_element_cache", {})
        if key not in cache:
            n_idx, m_idx = np.nonzero(tx.installed)
            cache[key] = (n_idx, m_idx, np.tile(n_idx, T), np.tile(m_idx, T), np.tile(tx.cluster[n_idx, m_idx], T))
        return cache[key]

    def elements_batch(self, ts, f, slots, tx, geo, states, target_s) -> None:
        """:meth:`elements` for T samples (``geo``: the states' batch geometry, whose
        coordinates and positions are the states' own where every installed element is
        active: inactive ones are at s = 0 there)."""
        T = len(ts)
        n_idx, m_idx, guides, pas, clusters = self._element_index(tx, T)
        P = len(n_idx)
        if np.array_equal(geo.active, np.broadcast_to(tx.installed, geo.active.shape)):
            S, pos = geo.s, geo.positions[:, n_idx, m_idx]
        else:
            S = np.stack([np.asarray(st.s, float) for st in states])
            pos = tx.batch_positions(S)[:, n_idx, m_idx]                                    # (T,P,3)
        self.writer.add("pas", time_s=np.repeat(ts, P), frame=f, slot=np.repeat(slots, P),
                        waveguide=guides, pa=pas, s_m=S[:, n_idx, m_idx].ravel(),
                        target_s_m=np.stack(target_s)[:, n_idx, m_idx].ravel(), x=pos[..., 0].ravel(),
                        y=pos[..., 1].ravel(), z=pos[..., 2].ravel(), active=geo.active[:, n_idx, m_idx].ravel(),
                        cluster=clusters)

    def beams_batch(self, f, slots, beams) -> None:
        """:meth:`beams` for T samples: ``beams`` = ``[(W, Rs, analog), …]``."""
        kinds = [tuple(m is not None for m in mats) for mats in beams]
        shapes = [tuple(np.shape(m) for m in mats if m is not None) for mats in beams]
        if len(set(kinds)) == 1 and len(set(shapes)) == 1:      # every sample the same matrices: stacked
            blocks = [np.stack([np.asarray(mats[i]) for mats in beams]) for i in range(3) if kinds[0][i]]
            names = [k for k, on in zip(("W", "Rs", "A"), kinds[0]) if on]
            if not blocks:
                return
            T = len(beams)
            key = (tuple(names), shapes[0], T)
            cache = self.__dict__.setdefault("_beam_cache", {})
            if key not in cache:                     # the kind/row/col columns: once per run and layout
                size = [b[0].size for b in blocks]
                rc = [np.indices(b.shape[1:]) for b in blocks]
                kind = np.concatenate([np.full(n, k, object) for k, n in zip(names, size)])
                cache[key] = (sum(size), np.tile(kind, T), np.tile(np.concatenate([r.ravel() for r, _ in rc]), T),
                              np.tile(np.concatenate([c.ravel() for _, c in rc]), T))
            n, kinds_col, rows, cols = cache[key]
            flat = np.concatenate([b.reshape(T, -1) for b in blocks], axis=1) if len(blocks) > 1 \
                else blocks[0].reshape(T, -1)                                           # sample-major
            self.writer.add("beams", frame=f, slot=np.repeat(np.asarray(slots), n), kind=kinds_col, row=rows,
                            col=cols, re=flat.real.ravel(), im=flat.imag.ravel())
            return
        cols = {k: [] for k in ("slot", "kind", "row", "col", "re", "im")}
        for j, mats in zip(slots, beams):
            for kind, mat in zip(("W", "Rs", "A"), mats):
                if mat is None:
                    continue
                mat = np.asarray(mat)
                r, c = np.indices(mat.shape)
                cols["slot"].append(np.full(mat.size, j))
                cols["kind"].append(np.full(mat.size, kind, object))
                cols["row"].append(r.ravel())
                cols["col"].append(c.ravel())
                cols["re"].append(mat.real.ravel())
                cols["im"].append(mat.imag.ravel())
        if cols["slot"]:
            self.writer.add("beams", frame=f, **{k: np.concatenate(v) for k, v in cols.items()})

    def frame(self, row: dict) -> None:
        self._flush_targets()
        self.writer.add("frames", **row)
        self.writer.end_frame()

    # --- end ---------------------------------------------------------------------------
    def close(self, completed: bool) -> dict | None:
        """Flush; on completion write meta/summary and return the summary; close run.log."""
        from twin import provenance

        self.writer.flush()
        if not completed:
            provenance.finish_run(None)
            return None
        self.meta["completed"] = True
        self.writer.write_json("meta.json", self.meta)
        summary = summarize(self.dir, self.writer.kept)
        provenance.finish_run(summary)
        if self.keep:
            self.writer.write_json("summary.json", summary)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return summary

    @staticmethod
    def info_json(info: dict) -> str:
        clean = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in (info or {}).items()
                 if isinstance(v, (int, float, str, bool, np.generic))}
        return json.dumps(clean, sort_keys=True)
