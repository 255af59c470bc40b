"""Built-in scenes load; YAML and TOML give the same scene; bad input gives one clear error."""

import json

import pytest
import yaml

from twin.cli import main
from twin.scene import builtin_scenes, load_scene, read_raw


def test_builtin_scenes_include_the_office_and_the_papers():
    names = set(builtin_scenes())
    assert {"office", "paper000"} <= names
    for name in names:
        scene = load_scene(name)
        assert scene.users.n >= 1 and len(scene.waveguides) >= 1


def test_yaml_scene_equals_toml_scene(tmp_path):
    raw = read_raw(builtin_scenes()["office"])
    p = tmp_path / "office.yaml"
    p.write_text(yaml.safe_dump(json.loads(json.dumps(raw))))
    assert load_scene(p) == load_scene("office")


def test_office_wall_losses_come_from_material_presets():
    scene = load_scene("office")
    losses = {w.material: w.loss_at(28.0) for w in scene.floor.walls}
    assert losses["glass"] == pytest.approx(2 + 0.2 * 28)
    assert losses["concrete"] == float("inf")
    assert len({w.height_m for w in scene.floor.walls}) >= 2


BAD = {
    "unknown key": ("[radio]\ncarrier_hz = 28e9\n", "radio.carrier_hz", "unknown key"),
    "wrong unit": ("[radio]\ncarrier_ghz = \"28 GHz\"\n", "radio.carrier_ghz", "plain number"),
    "malformed": ("[radio\ncarrier_ghz = 28\n", "(syntax)", "malformed TOML"),
    "wall outside": ("[[floor.walls]]\npoints = [[2.0, 2.0], [40.0, 2.0]]\nloss_db = 3.0\n",
                     "floor.walls[0].points", "outside the outline"),
    "user in wall": ("[[floor.walls]]\npoints = [[2.0, 0.0], [2.0, 10.0]]\nthickness_m = 0.4\nloss_db = 3.0\n"
                     "[users]\npositions = [[2.0, 5.0]]\n", "users.positions[0]", "inside a wall"),
    "too many PAs": ("[[waveguides]]\nfeed = [0.0, 1.0, 3.0]\nlength_m = 0.01\npas = 4\n",
                     "waveguides[0].pas", "at most 2"),
}

BASE = """
name = "bad"
[floor]
outline = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]
"""


def _scene_text(extra: str) -> str:
    text = BASE + extra
    if "[[waveguides]]" not in text:
        text += "\n[[waveguides]]\nfeed = [0.0, 1.0, 3.0]\nlength_m = 8.0\npas = 2\n"
    if "[users]" not in text:
        text += "\n[users]\ncount = 2\n"
    return text


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_with_one_clear_message(case, tmp_path, capsys):
    extra, field, words = BAD[case]
    p = tmp_path / "bad.toml"
    p.write_text(_scene_text(extra))
    rc = main(["run", str(p), "--out", str(tmp_path / "out"), "--quiet", "--frames", "1"])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(p) in err and field in err and words in err
    assert "fix:" in err or "did you mean" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unknown_scene_name_suggests_the_builtins(capsys, tmp_path):
    rc = main(["run", "ofice", "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "did you mean 'office'" in err


def test_unknown_policy_and_parameter_are_clear(capsys, tmp_path):
    assert main(["run", "paper000", "--out", str(tmp_path), "--policy", "nope", "--quiet"]) == 2
    assert "unknown policy 'nope'" in capsys.readouterr().err
    assert main(["run", "paper000", "--out", str(tmp_path), "--param", "beam=zf", "--quiet"]) == 2
    assert "has no parameter 'beam'" in capsys.readouterr().err
