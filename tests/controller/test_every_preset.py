"""Every preset runs in the twin on its example scene, is traced, and takes part in a
paired comparison ("every policy that exists, now and later")."""

import numpy as np
import pytest

from twin.engine import Simulation
from twin.experiments.compare import compare
from twin.controller import PRESETS
from twin.scene import load_scene
from twin.traces import read_table

POLICIES = sorted(PRESETS)


@pytest.mark.parametrize("name", POLICIES)
def test_policy_runs_in_the_twin_and_is_traced(name, tmp_path):
    scene = load_scene(PRESETS[name].example_scene)
    summary = Simulation(scene, tmp_path, policy=name, frames=3).run()
    frames = read_table(tmp_path, "frames")
    assert summary["completed"] and summary["frames"] == 3
    assert frames.status.iloc[0] in ("ok", "constraint-missed"), frames.status.iloc[0]
    users = read_table(tmp_path, "users")
    assert np.isfinite(users.sinr_db).all() or (users.sinr_db == -np.inf).any()
    assert len(users) >= 3 * scene.users.n


def test_all_policies_of_a_scene_compare_with_common_random_numbers(tmp_path):
    by_scene = {}
    for name in POLICIES:
        by_scene.setdefault(PRESETS[name].example_scene, []).append(name)
    scene, names = max(by_scene.items(), key=lambda kv: len(kv[1]))
    df = compare(scene, names, seeds=1, out=tmp_path, frames=2, backend="serial", progress=False)
    assert sorted(df.policy) == sorted(names)
    assert df.mean_rate_bps_hz.notna().all()
