"""A composition that cannot work stops before the run with one line naming the stage,
the field and the fix (exit status 2); requirements are scene fields read by every
controller."""

import numpy as np
import pytest

from twin.cli import main
from twin.controller import Controller, resolve
from twin.engine import Simulation
from twin.errors import ConfigError
from twin.scene import load_scene
from twin.traces import read_table
from twin.world import World


@pytest.mark.parametrize("policy,params,match", [
    ("pipeline", {"beamform": "foo"}, r"beamform.*unknown beamform stage 'foo'"),
    ("pipeline", {"position": "cluster-focus"}, r"position=cluster-focus.*no clusters"),
    ("pipeline", {"position": "elementwise", "position.Q": "many"}, r"position=elementwise.Q.*whole number"),
    ("pipeline", {"position": "elementwise", "position.Q": -3}, r"position=elementwise.Q.*out of range"),
    ("isac-crb", {"grid": 0}, r"position=crb-ao.grid.*out of range"),
    ("elementwise", {"beamformer": "magic"}, r"unknown value 'magic'"),
    ("clustered-outage", {"T": 1000}, r"select=outage-schedule.T.*out of range"),
    ("clustered-outage", {"R_min": 2.0}, r"requirements.r_min_bps_hz"),
    ("uniform", {"beamfromer": "zf"}, r"did you mean 'beamformer'"),
    ("pipeline", {"select": "outage-schedule"}, r"select=outage-schedule.*clustered"),
    ("unifrom", {}, r"did you mean 'uniform'"),
])
def test_bad_compositions_are_refused_before_the_run(policy, params, match):
    scene = load_scene("office")
    with pytest.raises(ConfigError, match=match):
        spec = resolve(policy, params)
        Controller(World(scene, hardware=spec.hardware), spec)


def test_crb_sdr_without_a_target_is_refused():
    raw = load_scene("office").model_dump()
    raw["targets"] = None
    from twin.scene.schema import Scene
    scene = Scene.model_validate(raw)
    with pytest.raises(ConfigError, match=r"beamform=crb-sdr.*no \[targets\]"):
        Controller(World(scene), resolve("pipeline", {"beamform": "crb-sdr"}))


def test_cli_reports_one_line_and_exit_2(capsys, tmp_path):
    rc = main(["run", "office", "--frames", "2", "--out", str(tmp_path / "r"), "--quiet",
               "--policy", "pipeline", "--param", "position=cluster-focus"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "position=cluster-focus" in err[0] and "fix:" in err[0]


def test_scene_controller_section_with_stages_and_per_stage_params(tmp_path):
    """The [controller] table of a scene names the stages and their parameters."""
    import tomllib
    from pathlib import Path
    src = Path(__file__).parents[2] / "scenes" / "paper001.toml"
    raw = tomllib.loads(src.read_text())
    raw["controller"] = {"select": "outage-schedule", "position": "cluster-focus", "schedule": "all",
                         "beamform": "crb-sdr", "params": {"select": {"T": 2}}}
    raw["simulation"]["frames"] = 2
    from twin.scene.schema import Scene
    scene = Scene.model_validate(raw)
    sim = Simulation(scene, tmp_path)
    assert sim.spec.stages == {"select": "outage-schedule", "position": "cluster-focus", "schedule": "all",
                               "beamform": "crb-sdr"}
    assert sim.spec.params["select"]["T"] == 2
    sim.run()
    frames = read_table(tmp_path, "frames")
    assert frames.active_clusters.str.count("-").eq(1).all()          # T = 2 slots


def test_requirements_come_from_the_scene_whatever_the_controller(tmp_path):
    """γ_k, R_min and Γ_th are scene fields: every controller's run is judged against the
    same requirements (the trace's target SINR and rate margin)."""
    over = {"requirements.sinr_target_db": 12.0, "requirements.r_min_bps_hz": 3.0, "simulation.frames": 2}
    import json
    for pol in ("uniform", "follow"):
        Simulation(load_scene("office", over), tmp_path / pol, policy=pol).run()
        users = read_table(tmp_path / pol, "users")
        assert np.allclose(users.sinr_target_db, 12.0)
        assert (users.outage == (users.sinr_db < 12.0)).all()
        info = json.loads(read_table(tmp_path / pol, "frames")["info"][0])
        rates = [v for k, v in info.items() if k.startswith("avg_rate_u")]
        assert info["avg_rate_margin_min_bps_hz"] == pytest.approx(min(rates) - 3.0)
