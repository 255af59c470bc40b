"""Read a run directory (docs/traces.md) and summarise it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
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


def part_files(run_dir, name: str) -> list[Path]:
    """A table's part files in write order (dot-named temporaries excluded)."""
    return sorted((Path(run_dir) / f"{name}.parquet").glob("part-*.parquet"))


#: rows per batch when a table is streamed (the summary's running sums go batch by batch)
BATCH_ROWS = 65_536

#: the columns the summary reads, per table: what a writer keeps of each part it writes
#: to summarise a run from memory (:func:`summarize` with ``parts``)
SUMMARY_COLUMNS = {
    "frames": ["time_s", "status", "solve_time_s", "sensing_outage_exact", "frame_rcrb_m", "csi_nmse_db",
               "csi_age_s", "frame", "slot_durations_s"],
    "users": ["rate_bps_hz", "outage", "scheduled", "frame", "slot", "user"],
    "targets": ["rcrb_m"],
    "pas": ["waveguide", "pa", "time_s", "s_m"],
}


def iter_batches(run_dir, name: str, columns: list[str], batch_rows: int | None = None):
    """Stream ``columns`` of a table as pyarrow RecordBatches, in write order, reading
    only those columns and at most ``batch_rows`` rows at a time."""
    for f in part_files(run_dir, name):
        yield from pq.ParquetFile(f).iter_batches(batch_size=batch_rows or BATCH_ROWS, columns=columns)


class _Tables:
    """A run's tables as the summary reads them: from the part files, or from the parts
    as the writer wrote them (``parts``: name → the written tables, in write order, with
    at least :data:`SUMMARY_COLUMNS`). Both give the same batches (a part cut into
    :data:`BATCH_ROWS`-row batches), hence the same running sums and the same summary."""

    def __init__(self, run_dir, parts: dict | None = None):
        self.dir, self.parts = Path(run_dir), parts

    def batches(self, name: str, columns: list[str]):
        if self.parts is None:
            yield from iter_batches(self.dir, name, columns)
            return
        for table in self.parts.get(name, ()):
            yield from table.select(columns).to_batches(max_chunksize=BATCH_ROWS)

    def column(self, name: str, column: str) -> np.ndarray:
        if self.parts is None:
            return read_column(self.dir, name, column)
        chunks = [b.column(0).to_numpy(zero_copy_only=False) for b in self.batches(name, [column])]
        if not chunks:
            return np.array([], dtype=TABLES[name].field(column).type.to_pandas_dtype())
        return np.concatenate(chunks)

    def columns(self, name: str, columns: list[str]) -> pd.DataFrame:
        if self.parts is None:
            return read_columns(self.dir, name, columns)
        parts = self.parts.get(name)
        if not parts:
            return pa.schema([TABLES[name].field(c) for c in columns]).empty_table().to_pandas()
        return pa.concat_tables([t.select(columns) for t in parts]).to_pandas()


def read_column(run_dir, name: str, column: str) -> np.ndarray:
    """One column of a table as a numpy array (only that column is read)."""
    chunks = [b.column(0).to_numpy(zero_copy_only=False) for b in iter_batches(run_dir, name, [column])]
    if not chunks:
        return np.array([], dtype=TABLES[name].field(column).type.to_pandas_dtype())
    return np.concatenate(chunks)


def status_category(status: str) -> str:
    """A frame status without its detail: "fallback: LinAlgError: …" → "fallback"."""
    return status.split(":", 1)[0].strip() or "(empty)"


def _pa_travel(run_dir, tables: _Tables | None = None) -> float:
    """Total distance the PAs moved along their guides, streamed part by part: rows of a
    PA are in time order, and each batch continues where the previous one ended."""
    last: dict[int, float] = {}
    total = 0.0
    for b in (tables or _Tables(run_dir)).batches("pas", SUMMARY_COLUMNS["pas"]):
        gid = (b.column(0).to_numpy().astype(np.int64) << 32) | b.column(1).to_numpy().astype(np.int64)
        t, s = b.column(2).to_numpy(), b.column(3).to_numpy()
        order = np.lexsort((t, gid))
        gid, s = gid[order], s[order]
        same = gid[1:] == gid[:-1]
        total += float(np.abs(np.diff(s))[same].sum())
        starts = np.flatnonzero(np.r_[True, ~same])
        ends = np.r_[starts[1:], gid.size] - 1
        for a, e in zip(starts, ends):
            g = int(gid[a])
            if g in last:
                total += abs(float(s[a]) - last[g])
            last[g] = float(s[e])
    return total


_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


def _slot_durations(frames: pd.DataFrame, meta: dict):
    """A function (frame, slot) arrays -> the slot's duration (s), from the frames'
    ``slot_durations_s`` ("0.01-0.01-…"; a number may carry an exponent "1e-05"); the
    nominal frame_s / slots_per_frame where a frame's row is missing (a run killed
    mid-frame) or gives no durations."""
    nominal = float(meta.get("frame_s", 1.0)) / max(int(meta.get("slots_per_frame", 1)), 1)
    parsed = [[float(x) for x in _NUMBER.findall(str(txt))] for txt in frames.get("slot_durations_s", [])]
    fr = frames["frame"].to_numpy(np.int64) if "frame" in frames else np.zeros(0, np.int64)
    n_f = int(fr.max()) + 1 if fr.size else 0
    n_s = max((len(p) for p in parsed), default=0)
    table = np.full((n_f, max(n_s, 1)), nominal)
    for f, p in zip(fr, parsed):
        if p:
            table[f, :len(p)] = p

    def lookup(frame, slot):
        frame, slot = np.asarray(frame, np.int64), np.asarray(slot, np.int64)
        ok = (frame < n_f) & (slot < table.shape[1])
        return np.where(ok, table[np.where(ok, frame, 0), np.where(ok, slot, 0)] if n_f else nominal, nominal)

    return lookup


def summarize(run_dir, parts: dict | None = None) -> dict:
    """Run summary from the tables (works for a run killed midway).

    Streams the tables column by column and batch by batch: running sums for the means,
    the PA travel carried across batches, and the exact 5th-percentile rate from the one
    ``rate_bps_hz`` column (8 bytes a user sample: 1 MB for 3000 office frames). Each
    user's long-run throughput is its rate averaged over time, slots it was not served
    counting 0 (MODEL §5.1; samples weighted by their slot's duration); the summary gives
    its mean and 5th percentile over the users. NaN marks a quantity the run has no data
    for (``null`` in summary.json).

    ``parts``: the tables as written (``TraceWriter.kept``: name → the written parts, in
    order, with :data:`SUMMARY_COLUMNS`) to summarise from memory instead of reading the
    files back; the batches are the same, so is the summary.
    """
    d = Path(run_dir)
    meta = read_meta(d)
    nan = float("nan")
    tables = _Tables(d, parts)
    frames = tables.columns("frames", SUMMARY_COLUMNS["frames"])
    slot_s = _slot_durations(frames, meta)
    n_users = n_out = n_served = 0
    rate_sum = 0.0
    user_bits = user_time = np.zeros(0)
    for b in tables.batches("users", SUMMARY_COLUMNS["users"]):
        r = b.column(0).to_numpy()
        rate_sum += float(r.sum())
        n_out += int(np.count_nonzero(b.column(1).to_numpy(zero_copy_only=False)))
        n_served += int(np.count_nonzero(b.column(2).to_numpy(zero_copy_only=False)))
        n_users += len(r)
        k = b.column(5).to_numpy().astype(np.int64)
        dt = slot_s(b.column(3).to_numpy(), b.column(4).to_numpy())
        m = int(k.max()) + 1 if k.size else 0
        if m > user_bits.size:
            user_bits, user_time = np.pad(user_bits, (0, m - user_bits.size)), np.pad(user_time, (0, m - user_time.size))
        user_bits += np.bincount(k, weights=r * dt, minlength=user_bits.size)
        user_time += np.bincount(k, weights=dt, minlength=user_time.size)
    seen = user_time > 0
    throughput = user_bits[seen] / user_time[seen]        # each user's time-averaged rate (MODEL §5.1)
    rates = tables.column("users", "rate_bps_hz") if n_users else np.array([])
    n_rcrb = n_finite = 0
    rcrb_sum = 0.0
    for b in tables.batches("targets", SUMMARY_COLUMNS["targets"]):
        r = b.column(0).to_numpy()
        fin = r[np.isfinite(r)]
        n_rcrb += len(r)
        n_finite += fin.size
        rcrb_sum += float(fin.sum())
    so = frames["sensing_outage_exact"].to_numpy(float)
    so = so[np.isfinite(so)]
    st = frames["solve_time_s"].to_numpy(float)
    statuses = frames["status"].map(status_category).value_counts(sort=False)

    def finite_mean(col):
        v = frames[col].to_numpy(float)
        v = v[np.isfinite(v)]
        return float(v.mean()) if v.size else nan

    return {
        "frames": int(len(frames)),
        "duration_s": round(float(frames["time_s"].max() + meta.get("frame_s", 0.0)), 9) if len(frames) else 0.0,
        "policy": meta.get("policy", ""),
        "mean_rate_bps_hz": rate_sum / n_users if n_users else nan,
        "p5_rate_bps_hz": float(np.percentile(rates, 5)) if rates.size else nan,
        "outage_fraction": n_out / n_served if n_served else nan,
        "mean_user_throughput_bps_hz": float(throughput.mean()) if throughput.size else nan,
        "p5_user_throughput_bps_hz": float(np.percentile(throughput, 5)) if throughput.size else nan,
        "user_samples": n_users,
        "scheduled_fraction": n_served / n_users if n_users else nan,
        "mean_rcrb_m": rcrb_sum / n_finite if n_finite else nan,
        "unilluminated_target_fraction": 1 - n_finite / n_rcrb if n_rcrb else nan,
        "mean_frame_rcrb_m": finite_mean("frame_rcrb_m"),
        "mean_sensing_outage": float(so.mean()) if so.size else nan,
        "mean_csi_nmse_db": finite_mean("csi_nmse_db"),
        "mean_csi_age_s": finite_mean("csi_age_s"),
        "pa_travel_m": _pa_travel(d, tables),
        "mean_solve_time_s": float(st.mean()) if st.size else nan,
        "p95_solve_time_s": float(np.percentile(st, 95)) if st.size else nan,
        "fallback_frames": int(statuses.get("fallback", 0) + statuses.get("held-previous", 0)),
        "status_counts": {str(k): int(v) for k, v in sorted(statuses.items())},
        "completed": bool(meta.get("completed", False)),
    }


def read_columns(run_dir, name: str, columns: list[str]) -> pd.DataFrame:
    """Some columns of a (small) table as a DataFrame, only those columns read."""
    files = part_files(run_dir, name)
    schema = pa.schema([TABLES[name].field(c) for c in columns])
    if not files:
        return schema.empty_table().to_pandas()
    return pa.concat_tables([pq.read_table(f, columns=columns) for f in files]).to_pandas()
