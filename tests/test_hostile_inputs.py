"""Hostile input (issue 15 item 1): every class of bad input gets ONE line naming the file
or flag, the field and the fix, exit status 2, within seconds, and never a traceback or a
run with a plausible wrong number. Each case runs ``twin.cli.main`` in-process; an error
is raised while loading, before any simulation, so the module takes a few seconds."""

from __future__ import annotations

import math
import time
import types
import typing

import numpy as np
import pytest
from pydantic import BaseModel

from twin import __version__
from twin.cli import build_parser, main
from twin.errors import ConfigError
from twin.scene import apply_overrides, load_scene, parse_scene, read_raw
from twin.scene import schema as S

BASE = """
name = "hostile"
[floor]
outline = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]
"""
GUIDE = "\n[[waveguides]]\nfeed = [0.0, 1.0, 3.0]\nlength_m = 8.0\npas = 2\n"


def scene_text(extra: str = "", floor: str = "") -> str:
    text = BASE.replace("[floor]\n", "[floor]\n" + floor) + extra
    if "[[waveguides]]" not in text:
        text += GUIDE
    if "[users]" not in text:
        text += "\n[users]\ncount = 2\n"
    return text


def wall(points: str, extra: str = "loss_db = 3.0") -> str:
    return f"[[floor.walls]]\npoints = {points}\n{extra}\n"


def guide(extra: str) -> str:
    return f"[[waveguides]]\nfeed = [0.0, 1.0, 3.0]\nlength_m = 8.0\n{extra}\n"


def mobility(m: str) -> str:
    return f"[users]\ncount = 2\nmobility = {{ model = 'random_waypoint', {m} }}\n"


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))

# name -> (scene file content: str (TOML extra), or (suffix, bytes|str) for a raw file;
#          field named in the message; words in the message)
SCENE_CASES = {
    # files that are not a UTF-8 scene
    "binary file": ((".toml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff"), "(file)", "binary"),
    "UTF-16 file": ((".toml", scene_text().encode("utf-16")), "(file)", "UTF-16"),
    "UTF-16 without BOM": ((".toml", scene_text().encode("utf-16-le")), "(file)", "UTF-16"),
    "Latin-1 file": ((".toml", scene_text('description = "Büro"\n').encode("latin-1")), "(file)", "not UTF-8"),
    # degenerate floor outlines
    "zero-area outline": (("", "[[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]"), "floor.outline", "no area"),
    "collinear outline": (("", "[[0.0, 0.0], [5.0, 0.0], [10.0, 0.0]]"), "floor.outline", "no area"),
    "single-point outline": (("", "[[1.0, 1.0]]"), "floor.outline", "at least 3"),
    "NaN outline": (("", "[[0.0, 0.0], [10.0, 0.0], [nan, 10.0], [0.0, 10.0]]"), "floor.outline[2][0]", "finite"),
    "inf outline": (("", "[[0.0, 0.0], [inf, 0.0], [10.0, 10.0], [0.0, 10.0]]"), "floor.outline[1][0]", "finite"),
    "self-intersecting outline": (("", "[[0.0, 0.0], [10.0, 10.0], [10.0, 0.0], [0.0, 10.0]]"),
                                  "floor.outline", "self-intersection at (5, 5)"),
    "outline beyond 10 km": (("", "[[0.0, 0.0], [1e9, 0.0], [1e9, 1e9], [0.0, 1e9]]"), "floor.outline", "limit"),
    # walls
    "closed wall of 2 points": (wall("[[2.0, 2.0], [4.0, 2.0]]", "closed = true\nloss_db = 3.0"),
                                "floor.walls[0]", "at least 3 points"),
    "NaN wall thickness": (wall("[[2.0, 2.0], [4.0, 2.0]]", "thickness_m = nan\nloss_db = 3.0"),
                           "floor.walls[0].thickness_m", "finite"),
    "inf wall thickness": (wall("[[2.0, 2.0], [4.0, 2.0]]", "thickness_m = inf\nloss_db = 3.0"),
                           "floor.walls[0].thickness_m", "finite"),
    "inf wall loss": (wall("[[2.0, 2.0], [4.0, 2.0]]", "loss_db = inf"), "floor.walls[0].loss_db", "opaque = true"),
    "wall covering the floor": (wall("[[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]",
                                     "closed = true\nopaque = true"), "floor.walls[0]", "cover the floor"),
    "thick wall covering the floor": (wall("[[5.0, 0.0], [5.0, 10.0]]", "thickness_m = 10.0\nloss_db = 3.0"),
                                      "floor.walls[0]", "cover the floor"),
    "zero-length wall": (wall("[[2.0, 2.0], [2.0, 2.0]]"), "floor.walls[0].points", "zero length"),
    "self-intersecting closed wall": (wall("[[2.0, 2.0], [4.0, 4.0], [4.0, 2.0], [2.0, 4.0]]",
                                           "closed = true\nloss_db = 3.0"), "floor.walls[0].points",
                                      "self-intersection at (3, 3)"),
    # non-finite numbers anywhere (a generic sweep over every field is below)
    "NaN power": ("[radio]\ntx_power_dbm = nan\n", "radio.tx_power_dbm", "finite"),
    "-inf noise": ("[radio]\nnoise_dbm = -inf\n", "radio.noise_dbm", "finite"),
    "NaN SINR target": ("[users]\ncount = 2\nsinr_target_db = [6.0, nan]\n", "users.sinr_target_db[1]", "finite"),
    "inf RCS": ("[targets]\ncount = 1\nrcs_m2 = inf\n", "targets.rcs_m2", "finite"),
    "inf frame length": ("[simulation]\nframe_s = inf\n", "simulation.frame_s", "finite"),
    "inf speed": (mobility("speed_m_s = inf"), "users.mobility.speed_m_s", "finite"),
    "NaN speed range": (mobility("speed_m_s = [0.5, nan]"), "users.mobility.speed_m_s[1]", "finite"),
    "inf n_eff": (guide("n_eff = inf"), "waveguides[0].n_eff", "finite"),
    "inf guide length": (guide("length_m = inf").replace("length_m = 8.0\n", ""), "waveguides[0].length_m", "finite"),
    "NaN feed": ("[[waveguides]]\nfeed = [nan, 1.0, 3.0]\nlength_m = 8.0\n", "waveguides[0].feed[0]", "finite"),
    "NaN direction": (guide("direction = [nan, 0.0, 0.0]"), "waveguides[0].direction[0]", "finite"),
    "inf observation noise": ("[controller]\nobservation_noise_m = inf\n", "controller.observation_noise_m", "finite"),
    "NaN policy parameter": ("[controller]\nparams = { x = [1.0, nan] }\n", "controller.params.x[1]", "finite"),
    # values that are numbers but wrong
    "negative pause": (mobility("pause_s = -1.0"), "users.mobility", "pause_s must be ≥ 0"),
    "reversed pause range": (mobility("pause_s = [3.0, 1.0]"), "users.mobility", "min ≤ max"),
    "pas = true": (guide("pas = true"), "waveguides[0].pas", "not true/false"),
    "count = true": ("[users]\ncount = true\n", "users.count", "not true/false"),
    "pas = 2.0": (guide("pas = 2.0"), "waveguides[0].pas", "without a decimal point"),
    "empty positions": ("[users]\npositions = []\n", "users.positions", "at least one"),
    "zero sensing axis": ("[sensing]\naxis = [0.0, 0.0, 0.0]\n", "sensing.axis", "non-zero"),
    "users above the ceiling": (("floor", "ue_height_m = 3.5\n"), "floor", "not below ceiling_m"),
    # finite values whose SI conversion overflows, or that make a frame never end
    "power of 10^6 dBm": ("[radio]\ntx_power_dbm = 1e6\n", "radio.tx_power_dbm", "less than or equal to 200"),
    "noise of -10^6 dBm": ("[radio]\nnoise_dbm = -1e6\n", "radio.noise_dbm", "greater than or equal to -200"),
    "SINR target of 10^6 dB": ("[users]\ncount = 2\nsinr_target_db = [6.0, 1e6]\n", "users.sinr_target_db[1]",
                               "less than or equal to 100"),
    "carrier of 10^-300 GHz": ("[radio]\ncarrier_ghz = 1e-300\n", "radio.carrier_ghz", "greater than or equal to 0.1"),
    "walker at 10^300 m/s": (mobility("speed_m_s = 1e300"), "users.mobility", "limit of 100 m/s"),
    "frame of 10^300 s": ("[simulation]\nframe_s = 1e300\n", "simulation.frame_s", "less than or equal to 60"),
    "RCS of 10^300 m²": ("[targets]\ncount = 1\nrcs_m2 = 1e300\n", "targets.rcs_m2", "1000000"),
    "ULA spacing of 10^300 m": ("[sensing]\nspacing_m = 1e300\n", "sensing.spacing_m", "less than or equal to 10"),
    "n_eff of 10^300": (guide("n_eff = 1e300"), "waveguides[0].n_eff", "less than or equal to 10"),
    "observation noise of 10^300 m": ("[controller]\nobservation_noise_m = 1e300\n", "controller.observation_noise_m",
                                      "1000"),
    "ceiling at 10^300 m": (("floor", "ceiling_m = 1e300\n"), "floor.ceiling_m", "limit of ±10000 m"),
    "target on the sensing array": ("[sensing]\nposition = [5.0, 5.0, 0.0]\n[targets]\npositions = [[5.0, 5.0]]\n",
                                    "targets.positions[0]", "where the sensing array is"),
    # scripted paths that cannot be walked (a RecursionError or a hang before)
    "looping path of one waypoint": ("[users]\npositions = [[5.0, 5.0]]\n"
                                     "mobility = { model = 'waypoints', waypoints = [[5.0, 5.0]] }\n",
                                     "users.mobility.waypoints", "at least 2 waypoints"),
    "repeated waypoint": ("[users]\ncount = 1\nmobility = [{ model = 'waypoints', waypoints = [[5.0, 5.0], [5.0, 5.0]] }]\n",
                          "users.mobility[0].waypoints[1]", "repeats waypoints[0]"),
    "looping path of 2 nm at 100 m/s": ("[users]\ncount = 1\nmobility = { model = 'waypoints', speed_m_s = 100.0, "
                                        "waypoints = [[5.0, 5.0], [5.0, 5.000000001]] }\n",
                                        "users.mobility.waypoints", "over the limit of 1000"),
    # guides
    "guide feed outside the floor": ("[[waveguides]]\nfeed = [50.0, 1.0, 3.0]\nlength_m = 8.0\n",
                                     "waveguides[0].feed", "outside the floor"),
    "guide leaving the floor": ("[[waveguides]]\nfeed = [5.0, 1.0, 3.0]\nlength_m = 8.0\n",
                                "waveguides[0].length_m", "length_m ≤ 5"),
    "guide below the floor": ("[[waveguides]]\nfeed = [0.0, 1.0, -1.0]\nlength_m = 8.0\n",
                              "waveguides[0].feed", "not above the users"),
    "guide sloping into the users": (guide("direction = [1.0, 0.0, -1.0]").replace("length_m = 8.0", "length_m = 5.0"),
                                     "waveguides[0].direction", "not above the users"),
    # sizes that cannot finish
    "10^6 users": ("[users]\ncount = 1000000\n", "users.count", "1000"),
    "10^6 slots per frame": ("[simulation]\nslots_per_frame = 1000000\n", "simulation.slots_per_frame", "1000"),
    "10^6 evaluations per frame": ("[simulation]\nslots_per_frame = 100\nsamples_per_slot = 100\n",
                                   "simulation.samples_per_slot", "limit of 1000 evaluations"),
    "10^9 frames from a duration": ("[simulation]\nduration_s = 1e6\nframe_s = 1e-4\n", "simulation.duration_s",
                                    "limit of 10000000 frames"),
    "10^5 PAs": (guide("pas = 100000"), "waveguides[0].pas", "1024"),
    "300 guides": ("".join(GUIDE for _ in range(300)), "waveguides", "at most 256"),
    # YAML
    "YAML billion laughs": ((".yaml", LAUGHS), "", "limit of 200000 values"),
    "YAML recursive alias": ((".yaml", "floor: &f {outline: [[0,0],[10,0],[10,10]], walls: [*f]}\n"),
                             "floor.walls[0]", "refers to itself"),
    "YAML nested 5000 deep": ((".yaml", "name: " + "[" * 5000 + "]" * 5000 + "\n"), "(syntax)", "nested too deeply"),
    "YAML python tag": ((".yaml", "name: !!python/object/apply:os.system ['true']\n"), "(syntax)", "malformed YAML"),
    "TOML nested 5000 deep": ((".toml", "name = " + "[" * 5000 + "]" * 5000 + "\n"), "(syntax)", "nested too deeply"),
}


def _write(tmp_path, case):
    content = SCENE_CASES[case][0]
    if isinstance(content, tuple) and content[0] in (".toml", ".yaml"):
        suffix, body = content
        p = tmp_path / f"scene{suffix}"
        p.write_bytes(body if isinstance(body, bytes) else body.encode())
    elif isinstance(content, tuple) and content[0] == "floor":
        p = tmp_path / "scene.toml"
        p.write_text(scene_text(floor=content[1]))
    elif isinstance(content, tuple):
        p = tmp_path / "scene.toml"
        p.write_text(scene_text().replace("[[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]", content[1]))
    else:
        p = tmp_path / "scene.toml"
        p.write_text(scene_text(content))
    return p


def one_line_error(capsys, rc, source, field, words):
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    line = err.strip()
    assert line.startswith("pass-twin: error: " + source + ": "), line
    assert field in line and words in line, line
    assert "(fix: " in line, line
    return line


@pytest.mark.parametrize("case", list(SCENE_CASES))
def test_bad_scene_file_gets_one_line_naming_file_field_and_fix(case, tmp_path, capsys):
    p = _write(tmp_path, case)
    t0 = time.perf_counter()
    rc = main(["run", str(p), "--out", str(tmp_path / "out"), "--quiet"])
    assert time.perf_counter() - t0 < 8.0            # "within seconds" (YAML nested 5000 deep: ~2 s)
    one_line_error(capsys, rc, str(p), SCENE_CASES[case][1], SCENE_CASES[case][2])
    assert not (tmp_path / "out").exists()          # refused before anything is written


@pytest.mark.parametrize("case", list(SCENE_CASES))
def test_loader_raises_the_same_config_error(case, tmp_path):
    p = _write(tmp_path, case)
    with pytest.raises(ConfigError) as e:
        load_scene(p)
    _, field, words = SCENE_CASES[case]
    assert e.value.source == str(p) and e.value.field.startswith(field) and words in str(e.value)


def test_a_directory_is_not_a_scene(tmp_path, capsys):
    for d in (tmp_path / "dir.toml", tmp_path / "plain"):
        d.mkdir()
        rc = main(["run", str(d), "--out", str(tmp_path / "out"), "--quiet"])
        one_line_error(capsys, rc, str(d), "(file)", "is a directory")


def test_a_device_is_not_a_scene(capsys):
    """/dev/zero would be read forever."""
    rc = main(["run", "/dev/zero", "--quiet"])
    one_line_error(capsys, rc, "/dev/zero", "(file)", "not a regular file")


def test_an_oversized_file_is_refused_unread(tmp_path, capsys):
    p = tmp_path / "big.toml"
    p.write_bytes(b"#" * (5 * 1024 * 1024))
    rc = main(["run", str(p), "--out", str(tmp_path / "out"), "--quiet"])
    one_line_error(capsys, rc, str(p), "(file)", "over the limit")


def test_billion_laughs_is_refused_within_a_second(tmp_path):
    p = tmp_path / "lol.yaml"
    p.write_text(LAUGHS)
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="limit of 200000 values"):
        read_raw(p)
    assert time.perf_counter() - t0 < 1.0


# --- accepted on purpose -------------------------------------------------------------
def test_closed_wall_flush_with_the_outline_is_accepted(tmp_path):
    """A lift core against the outer walls: its thickness pokes out of the outline, its
    corners do not; the free space excludes the core and its wall inside the floor."""
    from twin.geometry.floorplan import FloorPlan

    p = tmp_path / "core.toml"
    p.write_text(scene_text(wall("[[0.0, 0.0], [3.0, 0.0], [3.0, 3.0], [0.0, 3.0]]",
                                "closed = true\nthickness_m = 0.3\nopaque = true")))
    fp = FloorPlan.from_scene(load_scene(p))
    assert fp.free.area == pytest.approx(100.0 - 3.15 ** 2)
    assert fp.wall_inside_outline(0)


def test_a_yaml_alias_that_expands_a_little_is_accepted(tmp_path):
    p = tmp_path / "alias.yaml"
    p.write_text("floor: {outline: &sq [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]}\n"
                 "waveguides: [{feed: [0.0, 1.0, 3.0], length_m: 8.0}]\n"
                 "users: {count: 1, mobility: {model: waypoints, waypoints: *sq}}\n")
    with pytest.raises(ConfigError, match=r"users.mobility.waypoints\[0\]"):
        load_scene(p)        # the corners are on the outline, not in free space: the alias was expanded
    p.write_text(p.read_text().replace("waypoints: *sq", "waypoints: [[1.0, 1.0], [9.0, 9.0]]"))
    assert load_scene(p).users.mobility.waypoints == ((1.0, 1.0), (9.0, 9.0))


def test_numpy_integer_counts_from_library_callers_are_accepted():
    scene = load_scene("paper002", {"users.count": np.int64(3), "waveguides.0.pas": np.int32(2)})
    assert scene.users.n == 3 and scene.waveguides[0].pas == 2 and type(scene.users.count) is int


# --- generic guards (also cover fields added to the schema later) --------------------------
def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, path + (i,))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path


def _dotted(path):
    return ".".join(str(x) for x in path)


def _bracketed(path):
    return "".join(f"[{x}]" if isinstance(x, int) else (f".{x}" if i else str(x)) for i, x in enumerate(path))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_every_number_of_every_builtin_scene_refuses_non_finite_values(value):
    """Set each numeric leaf of each built-in scene to NaN/±inf: each is refused, naming it."""
    from twin.scene import builtin_scenes

    n = 0
    for name, path in builtin_scenes().items():
        raw = read_raw(path)
        for leaf in _leaves(raw):
            with pytest.raises(ConfigError) as e:
                parse_scene(apply_overrides(raw, {_dotted(leaf): value}), name)
            assert e.value.field == _bracketed(leaf) and "finite" in e.value.problem
            n += 1
    assert n > 150


def test_every_float_field_of_the_schema_refuses_nan_without_the_loader():
    """The schema itself (Scene.model_validate, as run directories are re-read) refuses
    NaN in every model: allow_inf_nan=False is inherited, not set per field."""
    def models(m, seen):
        if m in seen:
            return
        seen.add(m)
        for f in m.model_fields.values():
            for t in _types(f.annotation):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    models(t, seen)
        return seen

    found = models(S.Scene, set())
    assert {S.Radio, S.Wall, S.Floor, S.Waveguide, S.Cluster, S.Sensing, S.Mobility, S.Users,
            S.Targets, S.Controller, S.Simulation} <= found
    for m in found:
        assert m.model_config.get("allow_inf_nan") is False, m.__name__
    raw = load_scene("office").model_dump(mode="json")
    raw["radio"]["noise_dbm"] = float("nan")
    with pytest.raises(Exception, match="finite number"):
        S.Scene.model_validate(raw)


def _types(ann):
    args = typing.get_args(ann)
    if not args:
        return [ann]
    if typing.get_origin(ann) is typing.Annotated:
        return _types(args[0])
    return [ann] + [t for a in args for t in _types(a)]


def test_every_integer_field_of_the_schema_is_strict():
    """Counts refuse true/false and 2.0 (``pas = true`` would be 1 PA in lax mode)."""
    from pydantic import Strict

    def strict(tp, metadata=()) -> bool:
        if typing.get_origin(tp) is typing.Annotated:
            return strict(typing.get_args(tp)[0], tuple(metadata) + tp.__metadata__)
        return tp is not int or any(isinstance(x, Strict) for x in metadata)

    def check(m, seen):
        if m in seen:
            return
        seen.add(m)
        for name, f in m.model_fields.items():
            members = typing.get_args(f.annotation) if typing.get_origin(f.annotation) in (typing.Union, types.UnionType) \
                else (f.annotation,)
            for t in members:
                assert strict(t, f.metadata), f"{m.__name__}.{name} is a lax int: use schema.Count"
            for t in _types(f.annotation):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    check(t, seen)
            n[0] += 1
    n = [0]
    check(S.Scene, set())
    assert n[0] > 50
    with pytest.raises(Exception, match="valid integer"):
        S.Simulation.model_validate({"seed": True})


# --- --set and the run flags ---------------------------------------------------------
SET_CASES = {
    "index out of range": ("waveguides.9.pas=2", "waveguides.9.pas", "index 9 is out of range"),
    "negative index": ("waveguides.-1.pas=2", "waveguides.-1.pas", "out of range"),
    "index not an integer": ("waveguides.x.pas=2", "waveguides.x.pas", "'x' is not an index"),
    "last index out of range": ("floor.outline.9=[1.0, 2.0]", "floor.outline.9", "out of range"),
    "through a number": ("radio.tx_power_dbm.x=2", "radio.tx_power_dbm.x", "is a value (30.0), not a table"),
    "through a string": ("name.x=2", "name.x", "is a value ('office')"),
    "empty name": ("radio..x=2", "radio..x", "empty name"),
    "no value": ("radio.tx_power_dbm", "radio.tx_power_dbm", "expected key=value"),
    "NaN value": ("radio.tx_power_dbm=nan", "radio.tx_power_dbm", "finite"),
    "bad value": ("waveguides.0.pas=0", "waveguides[0].pas", "greater than or equal to 1"),
    "boolean count": ("waveguides.0.pas=true", "waveguides[0].pas", "not true/false"),
    "unknown key": ("radio.power=2", "radio.power", "did you mean 'tx_power_dbm'"),
    "model error caused by the override": ("users.positions=[[1.0, 1.0]]", "users", "count = 4 but 1 positions"),
}


@pytest.mark.parametrize("case", list(SET_CASES))
def test_set_errors_name_set_not_the_scene_file(case, tmp_path, capsys):
    arg, field, words = SET_CASES[case]
    rc = main(["run", "office", "--out", str(tmp_path / "out"), "--quiet", "--frames", "1", "--set", arg])
    line = one_line_error(capsys, rc, "--set", field, words)
    assert "office.toml" not in line


FLAG_CASES = {
    "--frames 0": (["--frames", "0"], "--frames", "simulation.frames", "greater than or equal to 1"),
    "--frames 10^8": (["--frames", "100000000"], "--frames", "simulation.frames", "10000000"),
    "--duration inf": (["--duration", "inf"], "--duration", "simulation.duration_s", "finite"),
    "--duration nan": (["--duration", "nan"], "--duration", "simulation.duration_s", "finite"),
    "--duration -1": (["--duration", "-1"], "--duration", "simulation.duration_s", "greater than 0"),
    "--seed -1": (["--seed", "-1"], "--seed", "simulation.seed", "greater than or equal to 0"),
}


@pytest.mark.parametrize("case", list(FLAG_CASES))
def test_run_flag_errors_name_the_flag(case, tmp_path, capsys):
    args, flag, field, words = FLAG_CASES[case]
    rc = main(["run", "office", "--out", str(tmp_path / "out"), "--quiet", *args])
    one_line_error(capsys, rc, flag, field, words)


@pytest.mark.parametrize("argv, words", [
    (["run", "office", "--seed", "x"], "argument --seed: invalid int value: 'x'"),
    (["rn"], "did you mean 'run'?"),
    (["figure", "paper002-power", "--seed", "-1"], "argument --seed: invalid seed -1: give an integer ≥ 0"),
    (["run", "office", "--out", ""], "--out: (path): is empty"),
    (["render", "r", "--camera", "isometrc"], "did you mean 'isometric'?"),
    ([], "required: COMMAND"),
])
def test_usage_errors_are_one_line_with_a_fix(argv, words, capsys):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and words in err and "(fix: " in err, err


# --- --out ---------------------------------------------------------------------------
def _run(out, *extra):
    return main(["run", "paper002", "--out", str(out), "--quiet", "--frames", "1", *extra])


def test_out_that_is_a_file_or_under_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    one_line_error(capsys, _run(f), "--out", str(f), "is a file")
    one_line_error(capsys, _run(f / "run"), "--out", str(f / "run"), f"is under a file ({f})")
    assert f.read_text() == "keep me"


def test_out_where_nothing_can_be_written_is_refused(tmp_path, capsys):
    one_line_error(capsys, _run("/proc/pass-twin-run"), "--out", "/proc/pass-twin-run", "cannot write there")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        rc = _run(ro / "run")
        if rc == 2:        # root may write anyway; then the run just succeeds
            one_line_error(capsys, rc, "--out", str(ro / "run"), "cannot write there")
    finally:
        ro.chmod(0o700)


def test_out_that_holds_other_files_is_refused_even_with_force(tmp_path, capsys):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "thesis.tex").write_text("x")
    one_line_error(capsys, _run(d, "--force"), "--out", str(d), "not a run")
    assert (d / "thesis.tex").exists()


def test_rerun_into_a_run_directory_is_refused_and_force_replaces_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(out) == 0
    (out / "marker").write_text("old run")
    capsys.readouterr()
    one_line_error(capsys, _run(out, "--seed", "3"), "--out", str(out), "--force")
    assert (out / "marker").exists()
    # a bad policy with --force leaves the old run where it was
    assert _run(out, "--force", "--policy", "nope") == 2
    assert (out / "marker").exists()
    capsys.readouterr()
    assert _run(out, "--force", "--seed", "3") == 0
    assert not (out / "marker").exists()
    import json
    assert json.loads((out / "scene.json").read_text())["simulation"]["seed"] == 3
    assert "replacing the previous run" in capsys.readouterr().err


def test_the_default_run_directory_is_replaced(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for seed in (1, 2):
        assert main(["run", "paper002", "--quiet", "--frames", "1", "--seed", str(seed)]) == 0
    import json
    assert json.loads((tmp_path / "runs/latest/scene.json").read_text())["simulation"]["seed"] == 2


def test_output_file_flags_of_plot_render_and_figure_are_checked(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    one_line_error(capsys, main(["plot", str(tmp_path), "--out", str(tmp_path)]), "--out", str(tmp_path),
                   "is a directory, not a file")
    one_line_error(capsys, main(["render", str(tmp_path), "--html", str(f / "x.html")]), "--html",
                   str(f / "x.html"), "under a file")
    one_line_error(capsys, main(["render", str(tmp_path), "--animate", str(f / "x.gif")]), "--animate",
                   str(f / "x.gif"), "under a file")
    one_line_error(capsys, main(["figure", "paper002-power", "--out", str(f)]), "--out", str(f), "is a file")


# --- CLI habits ----------------------------------------------------------------------
def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"pass-twin {__version__}"


def test_every_flag_of_every_subcommand_has_help_and_shows_its_default(capsys):
    """Every flag has help and shows its default; the flags of twin/cli.py's own commands
    without a default also say what happens when they are left out."""
    import argparse

    OWN = {"run", "plot", "render", "figure"}

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"run", "scenes", "policies", "plot", "render", "figure"} <= set(sub.choices)
    for name, p in sub.choices.items():
        text = " ".join(p.format_help().split())
        for a in p._actions:
            if isinstance(a, argparse._HelpAction):
                continue
            assert a.help, f"{name} {a.dest} has no help"
            if not (a.default is None or a.default is False or a.default is argparse.SUPPRESS):
                assert f"default: {a.default}" in text, f"{name} {a.dest}: default {a.default!r} not shown"
            elif name in OWN and a.option_strings and not a.required and not isinstance(a, argparse._StoreTrueAction):
                assert "default" in a.help, f"{name} {a.dest}: help does not say what happens without it"
    run_help = " ".join(sub.choices["run"].format_help().split())
    for flag in ("--seed", "--out", "--force", "--frames"):
        assert flag in run_help
    assert "default: runs/latest" in run_help and "default: the scene's simulation.seed" in run_help


def test_docs_list_every_limit_the_code_enforces():
    from pathlib import Path

    from twin.scene import checks, loader

    docs = Path(__file__).resolve().parents[1] / "docs" / "scenes.md"
    limits = docs.read_text().split("### Limits", 1)[1]
    values = {k: v for k, v in vars(S).items() if k.startswith("MAX_")}
    values.update(MAX_NODES=loader.MAX_NODES, MAX_DEPTH=loader.MAX_DEPTH, MAX_EXTENT_M=checks.MAX_EXTENT_M)
    assert len(values) >= 15
    for name, v in values.items():
        forms = {(f"{v:,}" if isinstance(v, int) else f"{v:,.0f}").replace(",", " "), f"{v:g}"}
        assert any(f in limits for f in forms), f"{name} = {v} is not in docs/scenes.md, Limits"
    assert f"{loader.MAX_FILE_BYTES // 2**20} MiB" in limits
    assert f"{checks.MIN_FREE_FRACTION:.0%}".replace("%", " %") in limits
