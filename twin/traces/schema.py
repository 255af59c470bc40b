"""Trace tables and their columns (docs/traces.md), as pyarrow schemas."""

from __future__ import annotations

import pyarrow as pa

TABLES: dict[str, pa.Schema] = {
    "users": pa.schema([
        ("time_s", pa.float64()), ("frame", pa.int64()), ("slot", pa.int32()), ("user", pa.int32()),
        ("x", pa.float64()), ("y", pa.float64()), ("sinr_db", pa.float64()),
        ("sinr_target_db", pa.float64()), ("rate_bps_hz", pa.float64()), ("outage", pa.bool_()),
        ("los_pas", pa.int32()), ("link_loss_db", pa.float64()), ("scheduled", pa.bool_()),
        ("body_loss_db", pa.float64()),
    ]),
    "targets": pa.schema([
        ("time_s", pa.float64()), ("frame", pa.int64()), ("slot", pa.int32()), ("target", pa.int32()),
        ("x", pa.float64()), ("y", pa.float64()), ("rcrb_m", pa.float64()),
        ("x_est", pa.float64()), ("y_est", pa.float64()), ("error_m", pa.float64()),
        ("frame_rcrb_m", pa.float64()), ("sensing_outage_exact", pa.float64()),
    ]),
    "pas": pa.schema([
        ("time_s", pa.float64()), ("frame", pa.int64()), ("slot", pa.int32()),
        ("waveguide", pa.int32()), ("pa", pa.int32()), ("s_m", pa.float64()),
        ("target_s_m", pa.float64()), ("x", pa.float64()), ("y", pa.float64()), ("z", pa.float64()),
        ("active", pa.bool_()), ("cluster", pa.int32()),
    ]),
    "frames": pa.schema([
        ("frame", pa.int64()), ("time_s", pa.float64()), ("policy", pa.string()),
        ("status", pa.string()), ("solve_time_s", pa.float64()), ("info", pa.string()),
        ("decided_s", pa.float64()), ("in_force_s", pa.float64()), ("csi_nmse_db", pa.float64()),
        ("csi_age_s", pa.float64()),
        ("sensing_outage_exact", pa.float64()), ("sensing_outage_chernoff", pa.float64()),
        ("sensing_outage_mc", pa.float64()), ("frame_rcrb_m", pa.float64()), ("active_clusters", pa.string()),
        ("slot_durations_s", pa.string()),
    ]),
    "blockers": pa.schema([
        ("time_s", pa.float64()), ("frame", pa.int64()), ("slot", pa.int32()), ("blocker", pa.int32()),
        ("x", pa.float64()), ("y", pa.float64()),
    ]),
    "beams": pa.schema([
        ("frame", pa.int64()), ("slot", pa.int32()), ("kind", pa.string()), ("row", pa.int32()),
        ("col", pa.int32()), ("re", pa.float64()), ("im", pa.float64()),
    ]),
}

#: Columns that depend on wall-clock time, excluded when comparing replays.
TIMING_COLUMNS = {"frames": ("solve_time_s",)}
