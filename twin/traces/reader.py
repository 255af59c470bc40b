"""Read a run directory (docs/traces.md) and summarise it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from twin.errors import ConfigError
from twin.traces.schema import TABLES


def check_run_dir(run_dir) -> Path:
    d = Path(run_dir)
    if not (d / "scene.json").exists():
        raise ConfigError(str(d), "(run directory)", "not a pass-twin run directory (no scene.json)",
                          "give the --out directory of a `pass-twin run`")
    return d


def read_table(run_dir, name: str) -> pd.DataFrame:
    """One trace table as a DataFrame (empty with the right columns if nothing was written)."""
    d = Path(run_dir) / f"{name}.parquet"
    if not d.exists() or not any(d.glob("part-*.parquet")):
        return TABLES[name].empty_table().to_pandas()
    return pq.read_table(d, schema=TABLES[name]).to_pandas()


def load_run_scene(run_dir):
    """The validated Scene a run used."""
    from twin.scene.schema import Scene

    d = check_run_dir(run_dir)
    return Scene.model_validate(json.loads((d / "scene.json").read_text()))


def read_meta(run_dir) -> dict:
    p = Path(run_dir) / "meta.json"
    return json.loads(p.read_text()) if p.exists() else {}


def beams_of_frame(run_dir, frame: int, slot: int = 0, beams: pd.DataFrame | None = None):
    """(W (N,K), Rs (N,N) or None) in force at ``frame``/``slot``."""
    b = read_table(run_dir, "beams") if beams is None else beams
    b = b[(b.frame == frame) & (b.slot == slot)]

    def mat(kind):
        m = b[b.kind == kind]
        if m.empty:
            return None
        out = np.zeros((m.row.max() + 1, m.col.max() + 1), complex)
        out[m.row.to_numpy(), m.col.to_numpy()] = m.re.to_numpy() + 1j * m.im.to_numpy()
        return out

    return mat("W"), mat("Rs")


def analog_of_frame(run_dir, frame: int, slot: int = 0, beams: pd.DataFrame | None = None):
    """Analog weights (N,M) of a hybrid array in force at ``frame``/``slot`` (None: none)."""
    b = read_table(run_dir, "beams") if beams is None else beams
    m = b[(b.frame == frame) & (b.slot == slot) & (b.kind == "A")]
    if m.empty:
        return None
    out = np.zeros((m.row.max() + 1, m.col.max() + 1), complex)
    out[m.row.to_numpy(), m.col.to_numpy()] = m.re.to_numpy() + 1j * m.im.to_numpy()
    return out


def summarize(run_dir) -> dict:
    """Run summary from the tables (works for a run killed midway)."""
    d = Path(run_dir)
    users, targets = read_table(d, "users"), read_table(d, "targets")
    frames, pas = read_table(d, "frames"), read_table(d, "pas")
    meta = read_meta(d)
    rates = users["rate_bps_hz"].to_numpy()
    rcrb = targets["rcrb_m"].to_numpy()
    finite = rcrb[np.isfinite(rcrb)]
    travel = 0.0
    if not pas.empty:
        p = pas.sort_values(["waveguide", "pa", "time_s"])
        travel = float(p.groupby(["waveguide", "pa"])["s_m"].apply(lambda s: np.abs(np.diff(s)).sum()).sum())
    so = frames["sensing_outage_exact"].to_numpy() if not frames.empty else np.array([])
    so = so[np.isfinite(so)]
    st = frames["solve_time_s"].to_numpy() if not frames.empty else np.array([])
    return {
        "frames": int(len(frames)),
        "duration_s": round(float(frames["time_s"].max() + meta.get("frame_s", 0.0)), 9) if len(frames) else 0.0,
        "policy": meta.get("policy", ""),
        "mean_rate_bps_hz": float(rates.mean()) if rates.size else float("nan"),
        "p5_rate_bps_hz": float(np.percentile(rates, 5)) if rates.size else float("nan"),
        "outage_fraction": float(users["outage"].mean()) if len(users) else float("nan"),
        "mean_rcrb_m": float(finite.mean()) if finite.size else float("nan"),
        "unilluminated_target_fraction": float(1 - finite.size / rcrb.size) if rcrb.size else float("nan"),
        "mean_sensing_outage": float(so.mean()) if so.size else float("nan"),
        "pa_travel_m": travel,
        "mean_solve_time_s": float(st.mean()) if st.size else float("nan"),
        "p95_solve_time_s": float(np.percentile(st, 95)) if st.size else float("nan"),
        "fallback_frames": int((frames["status"] != "ok").sum()) if len(frames) else 0,
        "completed": bool(meta.get("completed", False)),
    }
