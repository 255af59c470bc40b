"""Run summary (issue 15 item 3): standard JSON on disk (null for NaN), streamed from
the tables, equal to the whole-table computation; frames counted by status."""

import json

import numpy as np
import pytest

import twin.traces.reader as reader
from twin.engine import Simulation
from twin.scene import load_scene
from twin.traces import read_table, summarize
from twin.traces.writer import dumps_json


def _strict(text):
    def bad(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=bad)


@pytest.fixture(scope="module")
def follow_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    # flush every 2 frames: many parts, so the streamed PA travel crosses part boundaries
    scene = load_scene("office", {"simulation.flush_frames": 2})
    Simulation(scene, out, policy="follow", frames=9).run()
    return out


def test_summary_json_is_standard_json_with_null_for_nan(follow_run):
    s = _strict((follow_run / "summary.json").read_text())
    assert s["mean_sensing_outage"] is None                  # office has no clusters: NaN -> null
    assert isinstance(s["mean_rate_bps_hz"], float)
    for name in ("meta.json", "scene.json"):
        _strict((follow_run / name).read_text())
    text = dumps_json({"a": np.float64("nan"), "b": [np.inf, -np.inf, 1.5], "c": np.int32(3)})
    assert _strict(text) == {"a": None, "b": [None, None, 1.5], "c": 3}


def test_streamed_summary_matches_the_whole_table_computation(follow_run, monkeypatch):
    users, targets = read_table(follow_run, "users"), read_table(follow_run, "targets")
    pas, frames = read_table(follow_run, "pas"), read_table(follow_run, "frames")
    assert len(list((follow_run / "pas.parquet").glob("part-*"))) >= 4
    p = pas.sort_values(["waveguide", "pa", "time_s"])
    travel = p.groupby(["waveguide", "pa"])["s_m"].apply(lambda s: np.abs(np.diff(s)).sum()).sum()
    monkeypatch.setattr(reader, "read_table", lambda *a, **k: pytest.fail("summarize loaded a whole table"))
    s = summarize(follow_run)
    assert travel > 0.1 and s["pa_travel_m"] == pytest.approx(travel, rel=1e-12)
    assert s["mean_rate_bps_hz"] == pytest.approx(users.rate_bps_hz.mean(), rel=1e-12)
    assert s["p5_rate_bps_hz"] == np.percentile(users.rate_bps_hz, 5)
    served = users[users.scheduled]
    assert s["outage_fraction"] == pytest.approx(served.outage.mean()) and s["user_samples"] == len(users)
    fin = targets.rcrb_m[np.isfinite(targets.rcrb_m)]
    assert s["mean_rcrb_m"] == pytest.approx(fin.mean(), rel=1e-12)
    assert s["p95_solve_time_s"] == np.percentile(frames.solve_time_s, 95)
    assert s["frames"] == 9 and s["status_counts"] == frames.status.value_counts().to_dict()


def test_status_counts_group_fallback_reasons(tmp_path):
    from twin.traces import TraceWriter

    w = TraceWriter(tmp_path)
    for f, st in enumerate(["ok", "fallback: LinAlgError: singular", "ok", "fallback: ValueError: x",
                            "held-previous"]):
        w.add("frames", frame=f, time_s=0.1 * f, policy="p", status=st, solve_time_s=0.01, info="{}",
              decided_s=0.1 * f, in_force_s=0.1 * f, csi_nmse_db=np.nan, csi_age_s=np.nan,
              sensing_outage_exact=np.nan, sensing_outage_chernoff=np.nan, sensing_outage_mc=np.nan,
              frame_rcrb_m=np.nan, active_clusters="", slot_durations_s="")
    w.flush()
    s = summarize(tmp_path)
    assert s["status_counts"] == {"fallback": 2, "held-previous": 1, "ok": 2}
    assert s["fallback_frames"] == 3 and np.isnan(s["mean_rate_bps_hz"]) and s["user_samples"] == 0


@pytest.mark.parametrize("batch_rows", [7, reader.BATCH_ROWS])
def test_summary_from_the_written_parts_equals_the_summary_read_back(tmp_path, monkeypatch, batch_rows):
    """The recorder summarises a run from the parts its writer kept in memory: the same
    batches as reading the files back, hence the same summary, float for float (several
    parts per table; with 7-row batches, several batches per part)."""
    import twin.engine.recorder as recorder

    monkeypatch.setattr(reader, "BATCH_ROWS", batch_rows)
    seen = []

    def both(run_dir, parts=None):
        assert parts is not None and len(parts["users"]) >= 3          # kept, part by part
        from_memory = summarize(run_dir, parts)
        seen.append((from_memory, summarize(run_dir)))
        return from_memory

    monkeypatch.setattr(recorder, "summarize", both)
    scene = load_scene("office", {"simulation.flush_frames": 3})
    Simulation(scene, tmp_path, policy="follow", frames=8).run()
    (mem, disk), = seen
    assert dumps_json(mem) == dumps_json(disk)
    assert mem["user_samples"] > 0 and mem["pa_travel_m"] > 0 and np.isfinite(mem["mean_rcrb_m"])
    assert _strict((tmp_path / "summary.json").read_text()) == _strict(dumps_json(disk))


def test_writer_stops_keeping_parts_past_its_row_budget(tmp_path):
    from twin.traces import TraceWriter

    w = TraceWriter(tmp_path, keep={"targets": ["rcrb_m"]}, keep_rows=10)
    for f in range(3):
        row = {c: 0.0 for c in reader.TABLES["targets"].names}
        w.add("targets", **row | dict(time_s=0.1 * f, frame=f, slot=np.arange(4), target=0, rcrb_m=np.full(4, 0.5 + f)))
        w.flush()
        if f < 2:
            assert [t.num_rows for t in w.kept["targets"]] == [4] * (f + 1)
            assert w.kept["targets"][-1].column_names == ["rcrb_m"]
    assert w.kept is None                                    # 12 rows > 10: read the files back
