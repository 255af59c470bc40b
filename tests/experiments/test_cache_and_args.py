"""Issue 15 items 1-2: the task cache keys every input, tables carry the frames, cache
hits are reported; compare's arguments fail with one line and exit status 2."""

import json

import numpy as np
import pytest

import twin
from twin.cli import main
from twin.errors import ConfigError
from twin.experiments.compare import compare
from twin.experiments.tasks import PolicySpec, Task, label_replicates


def _run(out, frames, **kw):
    return compare("office", "uniform", seeds=[0], out=out, frames=frames, backend="serial",
                   progress=False, **kw)


def test_changing_frames_never_returns_the_cached_result_of_another_frame_count(tmp_path):
    a = _run(tmp_path, 2)
    b = _run(tmp_path, 3)
    assert a.frames.tolist() == [2] and b.frames.tolist() == [3]
    assert b.attrs["runs_reused"] == 0                       # 3 frames is a new task
    assert a.mean_rate_bps_hz[0] != b.mean_rate_bps_hz[0]
    assert "× 3 frames" in (tmp_path / "comparison.md").read_text()
    assert (tmp_path / "comparison.csv").read_text().splitlines()[1].split(",")[2] == "3"
    c = _run(tmp_path, 2)                                    # back to 2: both still cached
    assert c.attrs["runs_reused"] == 1 and c.attrs["notes"][0] == "1 of 1 runs reused from the cache"
    assert c.mean_rate_bps_hz[0] == a.mean_rate_bps_hz[0]


def test_an_override_or_a_parameter_is_a_new_task(tmp_path):
    a = _run(tmp_path, 2)
    b = _run(tmp_path, 2, overrides={"radio.tx_power_dbm": 20})
    assert b.attrs["runs_reused"] == 0 and b.mean_rate_bps_hz[0] < a.mean_rate_bps_hz[0]
    c = compare("office", "uniform:beamformer=mrt", seeds=[0], out=tmp_path, frames=2,
                backend="serial", progress=False)
    assert c.attrs["runs_reused"] == 0 and c.mean_rate_bps_hz[0] != a.mean_rate_bps_hz[0]
    # the run directory records the key and the inputs it was made from
    stamp = json.loads(next((tmp_path / "runs").glob("*/uniform_beamformer=mrt/seed-0-*/task.json")).read_text())
    assert stamp["params"] == {"beamformer": "mrt"} and stamp["frames"] == 2


def test_task_key_covers_every_input(monkeypatch):
    base = dict(scene_json="{}", scene_hash="abc", policy=PolicySpec.parse("uniform"), seed=0,
                frames=5, out_root="x")
    key = Task(**base).key
    for change in ({"scene_hash": "abd"}, {"seed": 1}, {"frames": 6},
                   {"policy": PolicySpec.parse("uniform:beamformer=zf")},
                   {"policy": PolicySpec.parse("follow")},
                   {"policy": label_replicates([PolicySpec.parse("uniform")] * 2)[1]}):
        assert Task(**{**base, **change}).key != key, change
    monkeypatch.setattr(twin, "__version__", "99.0")
    assert Task(**base).key != key


def test_a_partial_or_foreign_run_directory_is_not_a_cache_hit(tmp_path):
    _run(tmp_path, 2)
    stamp = next((tmp_path / "runs").glob("*/uniform/seed-0-*/task.json"))
    d = json.loads(stamp.read_text())
    stamp.write_text(json.dumps({**d, "key": "something-else"}))
    assert _run(tmp_path, 2).attrs["runs_reused"] == 0


@pytest.mark.parametrize("argv, flag", [
    (["--seeds", "0"], "--seeds"),
    (["--seeds", "-3"], "--seeds"),
    (["--reference", "mmse"], "--reference"),
    (["--frames", "0"], "--frames"),
    (["--workers", "0"], "--workers"),
])
def test_bad_compare_arguments_give_one_line_and_status_2(tmp_path, capsys, argv, flag):
    code = main(["compare", "office", "--policies", "uniform,follow", "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(f"pass-twin: error: {flag}:") and "fix:" in err[0]
    assert not (tmp_path / "o" / "runs").exists()           # refused before running anything


def test_a_policy_twice_is_an_a_a_check_with_zero_paired_difference(tmp_path):
    df = compare("office", "uniform,uniform", seeds=2, out=tmp_path, frames=2, backend="serial",
                 progress=False, reference="uniform#2")
    assert df.policy.unique().tolist() == ["uniform", "uniform#2"]
    runs = sorted(p.parent.name for p in (tmp_path / "runs").glob("*/*/seed-0-*"))
    assert runs == ["uniform", "uniform_2"]                  # each copy really ran
    a, b = (df[df.policy == p].set_index("seed") for p in ("uniform", "uniform#2"))
    for m in ("mean_rate_bps_hz", "p5_rate_bps_hz", "outage_fraction", "mean_rcrb_mm", "pa_travel_m"):
        np.testing.assert_array_equal(a[m], b[m])
    assert "| uniform#2 |" in (tmp_path / "comparison.md").read_text()


def test_seed_lists_must_be_distinct_and_non_negative(tmp_path):
    for seeds in ([], [1, 1], [-1]):
        with pytest.raises(ConfigError, match="--seeds"):
            compare("office", "uniform", seeds=seeds, out=tmp_path, frames=1, backend="serial",
                    progress=False)
