"""Trace writer: column buffers round-trip the schema; a killed writer leaves readable
tables made of whole parts (issue 13: rows buffered as columns, written in batches)."""

import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq

from twin.traces import TABLES, TraceWriter, read_table


def _users(w, frame, k=4):
    w.add("users", time_s=0.1 * frame, frame=frame, slot=0, user=np.arange(k), x=np.full(k, 1.5),
          y=[2.0] * k, sinr_db=np.linspace(0, 3, k), sinr_target_db=10.0, rate_bps_hz=np.ones(k),
          outage=np.arange(k) % 2 == 0, los_pas=np.arange(k), link_loss_db=np.float64(0.0), scheduled=True,
          body_loss_db=np.float64(0.0))


def test_buffered_rows_round_trip_with_the_schema_types(tmp_path):
    w = TraceWriter(tmp_path, flush_frames=1000)
    for f in range(3000):                  # 12 000 rows: the buffer grows past its first capacity
        _users(w, f)
        w.end_frame()
    w.add("frames", frame=0, time_s=0.0, policy="p", status="fallback: X", solve_time_s=0.1, info="{}",
          decided_s=0.0, in_force_s=0.0, csi_nmse_db=np.nan, csi_age_s=np.nan,
          sensing_outage_exact=np.nan, sensing_outage_chernoff=np.nan, sensing_outage_mc=np.nan,
          frame_rcrb_m=np.nan, active_clusters="", slot_durations_s="0.1")
    w.flush()
    t = pq.read_table(tmp_path / "users.parquet")
    assert t.schema.equals(TABLES["users"]) and t.num_rows == 12_000
    u = read_table(tmp_path, "users")
    assert u.frame.tolist()[:8] == [0, 0, 0, 0, 1, 1, 1, 1] and u.frame.iloc[-1] == 2999
    np.testing.assert_array_equal(u.user.to_numpy()[:4], [0, 1, 2, 3])
    np.testing.assert_allclose(u.sinr_db.to_numpy()[4:8], np.linspace(0, 3, 4))
    assert u.outage.tolist()[:4] == [True, False, True, False] and (u.sinr_target_db == 10.0).all()
    assert read_table(tmp_path, "frames").status.tolist() == ["fallback: X"]
    assert len(list((tmp_path / "users.parquet").glob("part-*.parquet"))) == 3   # every 1000 frames


def test_unflushed_rows_and_a_half_written_temporary_are_not_read(tmp_path):
    w = TraceWriter(tmp_path, flush_frames=10_000)
    _users(w, 0)
    w.flush()
    _users(w, 1)                                            # buffered, never flushed (killed)
    (tmp_path / "users.parquet" / ".part-00001.parquet.tmp").write_bytes(b"PAR1 half a file")
    u = read_table(tmp_path, "users")
    assert u.frame.tolist() == [0, 0, 0, 0]


CHILD = """
import sys, numpy as np
from twin.traces import TraceWriter
w = TraceWriter(sys.argv[1], flush_frames=5, flush_s=1e9)
f = 0
while True:
    k = 50
    w.add("users", time_s=0.1 * f, frame=f, slot=0, user=np.arange(k), x=np.zeros(k), y=np.zeros(k),
          sinr_db=np.zeros(k), sinr_target_db=0.0, rate_bps_hz=np.full(k, float(f)), outage=False,
          los_pas=0, link_loss_db=0.0, scheduled=True, body_loss_db=0.0)
    w.end_frame()
    f += 1
"""


def test_a_killed_writer_leaves_readable_whole_parts(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)])
    deadline = time.time() + 60
    while time.time() < deadline and len(list((tmp_path / "users.parquet").glob("part-*"))) < 20:
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    u = read_table(tmp_path, "users")
    frames = u.frame.to_numpy()
    assert len(u) >= 20 * 5 * 50 and len(u) % (5 * 50) == 0     # whole parts only
    np.testing.assert_array_equal(np.unique(frames), np.arange(frames.max() + 1))
    np.testing.assert_array_equal(u.rate_bps_hz.to_numpy(), frames.astype(float))
