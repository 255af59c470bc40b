"""Load a scene (built-in name or path; TOML, or YAML with the same schema), validate it
and report bad input as one :class:`~twin.errors.ConfigError` naming file, field, fix."""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import re
import tomllib
from pathlib import Path

import numpy as np
import yaml
from pydantic import ValidationError

from twin.errors import ConfigError
from twin.scene.schema import Scene

#: A scene file larger than this is refused before it is parsed (a real scene is a few kB).
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Values after YAML alias expansion (a "billion laughs" file expands to 10⁹) and nesting depth.
MAX_NODES = 200_000
MAX_DEPTH = 32

SCENES_DIR = Path(__file__).resolve().parents[2] / "scenes"


def builtin_scenes() -> dict[str, Path]:
    """Built-in scene names -> files (``scenes/*.toml`` of the project)."""
    return {p.stem: p for p in sorted(SCENES_DIR.glob("*.toml"))}


def resolve(arg: str | Path) -> Path:
    """A built-in name or a path to a scene file."""
    p = Path(arg)
    if p.suffix in (".toml", ".yaml", ".yml") or p.exists():
        if not p.exists():
            raise ConfigError(str(p), "(file)", "no such scene file", "check the path")
        if p.is_dir():
            raise ConfigError(str(p), "(file)", "is a directory, not a scene file",
                              "give the path of a .toml or .yaml file")
        return p
    scenes = builtin_scenes()
    if str(arg) in scenes:
        return scenes[str(arg)]
    close = difflib.get_close_matches(str(arg), scenes, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(str(arg), "(scene)", "not a built-in scene nor a file",
                      f"{hint}built-in scenes: {', '.join(scenes)}; or give a path to a .toml/.yaml file")


def _read_text(path: Path) -> str:
    """The file as UTF-8 text, or a ConfigError saying why it is not (directory, binary,
    UTF-16, too large, unreadable)."""
    src = str(path)
    try:
        if path.is_dir():
            raise ConfigError(src, "(file)", "is a directory, not a scene file",
                              "give the path of a .toml or .yaml file")
        if not path.is_file():
            raise ConfigError(src, "(file)", "is not a regular file (a device, pipe or socket)",
                              "give the path of a .toml or .yaml file")
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ConfigError(src, "(file)", f"is over the limit of {MAX_FILE_BYTES} bytes for a scene file",
                              "a scene is a few kB of TOML; check the path")
    except OSError as e:
        raise ConfigError(src, "(file)", f"cannot read: {e.strerror or e}", "check the path and its permissions") from None
    head = data[:4096]
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        len(head) >= 4 and (head[1::2].count(0) > 0.9 * len(head[1::2]) or head[0::2].count(0) > 0.9 * len(head[0::2])))
    if utf16:
        raise ConfigError(src, "(file)", "is UTF-16 text, not UTF-8",
                          "save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 FILE)")
    if b"\x00" in data:
        raise ConfigError(src, "(file)", "holds NUL bytes: a binary file, not a scene",
                          "give a TOML or YAML scene file saved as UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(src, "(file)", f"is not UTF-8 text (byte {data[e.start]:#04x} at offset {e.start})",
                          "give a TOML or YAML scene file saved as UTF-8") from None


def read_raw(path: Path) -> dict:
    """Parse a TOML or YAML file into a dict; syntax errors name the file and line. Refuses
    files that are not UTF-8 text, and trees that expand past :data:`MAX_NODES` values or
    nest deeper than :data:`MAX_DEPTH` (YAML aliases, "billion laughs")."""
    text = _read_text(path)
    try:
        if path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), "(syntax)", f"malformed TOML: {e}",
                          "fix the syntax at that line (strings need quotes, tables [name])") from None
    except yaml.YAMLError as e:
        msg = " ".join(str(e).split())
        raise ConfigError(str(path), "(syntax)", f"malformed YAML: {msg}", "fix the syntax") from None
    except RecursionError:
        raise ConfigError(str(path), "(syntax)", "nested too deeply to parse",
                          f"a scene nests at most {MAX_DEPTH} levels") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(top level)", "a scene must be a table of sections", "")
    check_tree(data, str(path))
    return data


def check_tree(raw, source: str) -> None:
    """Refuse a raw scene tree that (after YAML alias expansion) holds more than
    :data:`MAX_NODES` values, nests deeper than :data:`MAX_DEPTH`, refers to itself, or
    holds a non-finite number anywhere (NaN, ±inf: no scene field accepts one)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def visit(node, path: str, depth: int) -> int:
        if isinstance(node, float):
            if not math.isfinite(node):
                hint = "; for a wall that blocks everything use opaque = true" if path.endswith("loss_db") else ""
                raise ConfigError(source, path or "(top level)", f"{node} is not a finite number",
                                  f"give a finite value (NaN and ±inf are not allowed{hint})")
            return 1
        if not isinstance(node, (dict, list, tuple)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigError(source, path or "(top level)", "refers to itself (recursive YAML alias)",
                              "write the value out instead of an alias to its own parent")
        if depth > MAX_DEPTH:
            raise ConfigError(source, path, f"nests deeper than the limit of {MAX_DEPTH} levels",
                              "see docs/scenes.md for the structure of a scene")
        active.add(key)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        total = 1
        for k, v in items:
            sub = f"{path}[{k}]" if isinstance(k, int) else (f"{path}.{k}" if path else str(k))
            total += visit(v, sub, depth + 1)
            if total > MAX_NODES:
                raise ConfigError(source, path or "(top level)",
                                  f"expands to more than the limit of {MAX_NODES} values (YAML aliases?)",
                                  "write the scene without aliases; a scene holds a few hundred values")
        active.discard(key)
        sizes[key] = total
        return total

    visit(raw, "", 0)


def _field_path(loc) -> str:
    parts = []
    for x in loc:
        if isinstance(x, int):
            parts.append(f"[{x}]")
        elif x in ("float", "int", "str", "bool", "tuple[float, float]", "list", "dict") or "[" in str(x) \
                or str(x).startswith(("constrained-", "function-")):
            continue  # pydantic union-branch labels
        else:
            parts.append(("." if parts else "") + str(x))
    return "".join(parts) or "(top level)"


def _pick_error(errors: list[dict]) -> dict:
    """The error to report: for a union field, a branch that failed on the value (a
    range, a finite number…) says more than the branches that failed on the type."""
    first = _field_path(errors[0]["loc"])
    same = [e for e in errors if _field_path(e["loc"]) == first
            or _field_path(e["loc"]).startswith(first + "[")]
    for e in same:
        if not e["type"].endswith("_type"):
            return e
    return errors[0]


def _pydantic_error(source: str, err: ValidationError, raw: dict) -> ConfigError:
    e = _pick_error(err.errors())
    field = _field_path(e["loc"])
    kind = e["type"]
    if kind == "extra_forbidden":
        key = str(e["loc"][-1])
        from twin.scene import schema
        known = _known_keys(e["loc"][:-1], raw)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys here: {', '.join(known)}"
        if key.endswith(("_hz", "_mhz", "_w", "_mw", "_db", "_cm", "_mm", "_km")) or close:
            hint += " (units are part of the key name; see docs/scenes.md)"
        return ConfigError(source, field, f"unknown key {key!r}", hint)
    if kind == "missing":
        return ConfigError(source, field, "required field is missing", "add it (see docs/scenes.md)")
    value = e.get("input")
    fix = "see docs/scenes.md for the field's type and unit"
    if isinstance(value, str) and any(c.isdigit() for c in value):
        fix = "give a plain number: the unit is in the key name (e.g. carrier_ghz = 28)"
    elif kind == "int_type" and isinstance(value, bool):
        fix = "give a whole number, not true/false (e.g. pas = 2)"
    elif kind == "int_type" and isinstance(value, float):
        fix = f"give a whole number without a decimal point (e.g. {int(value)})" if value.is_integer() \
            else "give a whole number"
    elif kind == "finite_number":
        fix = "give a finite value (NaN and ±inf are not allowed)"
    elif kind in ("less_than_equal", "less_than") or (kind == "too_long" and e.get("ctx", {}).get("max_length", 0) > 3):
        fix = "that is the limit (docs/scenes.md, Limits); use a smaller value"
    elif kind in ("too_long", "too_short") and e.get("ctx", {}).get("max_length", 0) in (2, 3):
        n = e["ctx"]["max_length"]
        fix = f"give {n} numbers: " + ("[x, y] in metres" if n == 2 else "[x, y, z]")
    elif kind == "too_short" and e.get("ctx", {}).get("min_length") == 1:
        fix = "give at least one entry, or leave the key out"
    msg = e["msg"].replace("Value error, ", "")
    if "input" not in e or isinstance(value, dict):
        return ConfigError(source, field, msg, fix)
    got = f"{len(value)} entries" if isinstance(value, (list, tuple)) and len(value) > 8 else repr(value)
    if len(got) > 80:
        got = got[:77] + "..."
    return ConfigError(source, field, f"{msg} (got {got})", fix)


def _known_keys(loc, raw) -> list[str]:
    from twin.scene import schema as S
    model = S.Scene
    for x in loc:
        if isinstance(x, int):
            continue
        f = model.model_fields.get(str(x))
        if f is None:
            return []
        ann = f.annotation
        cand = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, S.Model)]
        if not cand:
            sub = [a for t in getattr(ann, "__args__", ()) for a in getattr(t, "__args__", (t,))
                   if isinstance(a, type) and issubclass(a, S.Model)]
            cand = sub
        if not cand:
            return []
        model = cand[0]
    return sorted(model.model_fields)


def validate_geometry(scene: Scene, source: str) -> None:
    """Cross-field checks that need geometry: a floor outline enclosing an area, walls
    inside it leaving free space, guides over the floor and above the users, entities not
    in a wall and inside the floor, PAs fit their guide at the minimum spacing (MODEL §1)."""
    from twin.geometry.floorplan import FloorPlan
    from twin.scene import checks

    checks.check_sizes(scene, source)
    checks.check_extent(scene, source)
    outline = checks.check_outline(scene, source)
    checks.check_walls(scene, outline, source)
    checks.check_guides(scene, outline, source)
    checks.check_sensing(scene, source)
    checks.check_waypoints(scene, source)
    checks.check_stations(scene, source)
    fp = FloorPlan.from_scene(scene)
    checks.check_free_space(fp, scene, source)
    lam = scene.radio.wavelength_m
    for i, g in enumerate(scene.waveguides):
        delta = g.min_spacing_m if g.min_spacing_m is not None else lam / 2
        need = (g.pas - 1) * delta
        if need > g.length_m + 1e-12:
            cap = int(np.floor(g.length_m / delta + 1e-9)) + 1
            raise ConfigError(source, f"waveguides[{i}].pas",
                              f"{g.pas} PAs need {need:.4g} m at spacing {delta:.4g} m but the guide is {g.length_m} m",
                              f"use at most {cap} PAs or a longer guide / smaller min_spacing_m")
        if g.initial_m is not None:
            s = np.asarray(g.initial_m)
            if s.min() < 0 or s.max() > g.length_m or np.any(np.diff(s) < delta - 1e-12):
                raise ConfigError(source, f"waveguides[{i}].initial_m",
                                  "positions must be in [0, length_m], increasing, spaced by min_spacing_m",
                                  f"spacing here is {delta:.4g} m")
        for j, c in enumerate(g.clusters):
            lo, hi = c.center_m - c.aperture_m / 2, c.center_m + c.aperture_m / 2
            if lo < -1e-9 or hi > g.length_m + 1e-9:
                raise ConfigError(source, f"waveguides[{i}].clusters[{j}]", "cluster segment leaves the guide",
                                  f"keep center_m ± aperture_m/2 within [0, {g.length_m}]")
            if (c.pas - 1) * delta > c.aperture_m + 1e-12:
                raise ConfigError(source, f"waveguides[{i}].clusters[{j}].pas",
                                  f"{c.pas} PAs do not fit an aperture of {c.aperture_m} m at spacing {delta:.4g} m",
                                  "widen aperture_m or use fewer PAs")
    for kind in ("users", "targets", "blockers"):
        ent = getattr(scene, kind)
        if ent is None:
            continue
        pts = list(ent.positions or [])
        for i in range(ent.n):
            m = ent.mobility_of(i)
            if m.model == "waypoints":
                pts_i = list(m.waypoints)
                where = f"{kind}.mobility[{i}]" if isinstance(ent.mobility, tuple) else f"{kind}.mobility"
                for j, p in enumerate(pts_i):
                    if not fp.is_free(np.asarray(p)):
                        raise ConfigError(source, f"{where}.waypoints[{j}]",
                                          f"waypoint {tuple(p)} is inside a wall or outside the floor",
                                          "move it into free space")
        for i, p in enumerate(pts):
            if not fp.is_free(np.asarray(p)):
                where = "inside a wall" if fp.in_outline(np.asarray(p)) else "outside the floor outline"
                raise ConfigError(source, f"{kind}.positions[{i}]", f"{tuple(p)} is {where}",
                                  "move it into free space")


def parse_scene(raw: dict, source: str = "<scene>") -> Scene:
    """Validate a raw dict into a :class:`Scene` (schema + geometry)."""
    check_tree(raw, source)
    try:
        scene = Scene.model_validate(raw)
    except ValidationError as err:
        raise _pydantic_error(source, err, raw) from None
    validate_geometry(scene, source)
    return scene


def load_scene(arg: str | Path, overrides: dict | None = None, sources: dict | None = None) -> Scene:
    """Load a built-in scene by name or a scene file by path, with optional dotted-key
    ``overrides`` (``{"radio.tx_power_dbm": 20}``), validated as one. An error in an
    overridden field names the option that set it (``sources[key]``, default ``--set``),
    not the scene file."""
    path = resolve(arg)
    raw = read_raw(path)
    if not overrides:
        return parse_scene(raw, str(path))
    raw = apply_overrides(raw, overrides, sources=sources)
    try:
        return parse_scene(raw, str(path))
    except ConfigError as e:
        src = override_source(e.field, overrides, sources)
        if src is None:
            raise
        raise ConfigError(src, e.field, e.problem, e.fix) from None


def override_source(field: str, overrides: dict, sources: dict | None = None,
                    default: str = "--set") -> str | None:
    """The option that set ``field`` (``waveguides[0].pas``) or a field containing it,
    or None when no override touches it."""
    norm = re.sub(r"\[(\d+)\]", r".\1", field)
    for key in overrides:
        if norm == key or norm.startswith(key + ".") or key.startswith(norm + "."):
            return (sources or {}).get(key, default)
    return None


def _index(node: list, part: str, key: str, source: str, done: str) -> int:
    try:
        i = int(part)
    except ValueError:
        raise ConfigError(source, key, f"{done or '(top level)'} is a list; {part!r} is not an index",
                          f"use an index 0…{len(node) - 1}, e.g. {done}.0") from None
    if not 0 <= i < len(node):
        raise ConfigError(source, key, f"index {i} is out of range: {done} has {len(node)} entries",
                          f"use an index 0…{len(node) - 1}" if node else f"{done} is empty: set {done} itself")
    return i


def apply_overrides(raw: dict, overrides: dict, source: str = "--set", sources: dict | None = None) -> dict:
    """Set dotted keys (``simulation.seed``, ``waveguides.0.pas``) in a raw scene dict.
    A bad path (an index out of range or not an integer, a key inside a number) is a
    :class:`ConfigError` naming the option (``sources[key]``, default ``source``)."""
    raw = copy.deepcopy(raw)
    for key, value in overrides.items():
        src = (sources or {}).get(key, source)
        parts = key.split(".")
        if not key or any(not p.strip() for p in parts):
            raise ConfigError(src, key or "(key)", "empty name in the dotted path",
                              "write the path as section.key, e.g. radio.tx_power_dbm=20")
        node, done = raw, ""
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            if isinstance(node, list):
                i = _index(node, part, key, src, done)
                if last:
                    node[i] = value
                else:
                    node = node[i]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                raise ConfigError(src, key, f"{done} is a value ({node!r}), not a table",
                                  f"set {done} itself, or check the path in docs/scenes.md")
            done = f"{done}.{part}" if done else part
    return raw


def scene_hash(scene: Scene) -> str:
    """Stable content hash of a validated scene (for caches)."""
    return hashlib.sha256(json.dumps(scene.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]
