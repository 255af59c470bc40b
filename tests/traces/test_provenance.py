"""Issue 15 item 4: a run directory records what made it and keeps a log."""

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

from twin import __version__, provenance
from twin.engine import Simulation
from twin.scene import load_scene, scene_hash

ROOT = Path(__file__).resolve().parents[2]


def test_run_directory_records_provenance_and_a_log(tmp_path):
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "twin.cli", "run", "office", "--frames", "2", "--seed", "7",
                    "--quiet", "--out", str(out)], check=True, capture_output=True, cwd=ROOT)
    meta = json.loads((out / "meta.json").read_text())
    p = meta["provenance"]
    assert p["command"][-6:] == ["office", "--frames", "2", "--seed", "7", "--quiet", "--out", str(out)][-6:]
    assert p["version"] == __version__ and p["seed"] == 7
    scene = load_scene("office", {"simulation.frames": 2, "simulation.seed": 7})
    assert p["scene_hash"] == scene_hash(scene)
    assert set(provenance.KEY_DEPENDENCIES) <= set(p["dependencies"])
    for dep in ("numpy", "scipy", "cvxpy", "clarabel", "simpy", "shapely", "pyvista", "pyarrow", "pandas"):
        assert re.match(r"\d+\.\d+", p["dependencies"][dep]), dep
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:                                 # run from a checkout
        assert p["git"]["commit"] == head.stdout.strip() and isinstance(p["git"]["dirty"], bool)
    log = (out / "run.log").read_text()
    assert "run started: scene office" in log and "seed 7" in log and "run completed: 2 frames" in log


def test_run_log_is_closed_after_the_run_and_not_shared_between_runs(tmp_path):
    scene = load_scene("office")
    Simulation(scene, tmp_path / "a", frames=1).run()
    assert not [h for h in logging.getLogger("twin").handlers if isinstance(h, logging.FileHandler)]
    logging.getLogger("twin.test").info("between runs")
    Simulation(scene, tmp_path / "b", frames=1).run()
    a, b = ((tmp_path / d / "run.log").read_text() for d in "ab")
    assert "between runs" not in a + b and a.count("run started") == b.count("run started") == 1


def test_git_state_is_none_outside_a_checkout(tmp_path):
    provenance.git_state.cache_clear()
    try:
        assert provenance.git_state(str(tmp_path)) is None
    finally:
        provenance.git_state.cache_clear()
