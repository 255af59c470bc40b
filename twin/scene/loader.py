"""Load a scene (built-in name or path; TOML, or YAML with the same schema), validate it
and report bad input as one :class:`~twin.errors.ConfigError` naming file, field, fix."""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import tomllib
from pathlib import Path

import numpy as np
import yaml
from pydantic import ValidationError

from twin.errors import ConfigError
from twin.scene.schema import Scene

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
        return p
    scenes = builtin_scenes()
    if str(arg) in scenes:
        return scenes[str(arg)]
    close = difflib.get_close_matches(str(arg), scenes, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(str(arg), "(scene)", "not a built-in scene nor a file",
                      f"{hint}built-in scenes: {', '.join(scenes)}; or give a path to a .toml/.yaml file")


def read_raw(path: Path) -> dict:
    """Parse a TOML or YAML file into a dict; syntax errors name the file and line."""
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), "(syntax)", f"malformed TOML: {e}",
                          "fix the syntax at that line (strings need quotes, tables [name])") from None
    except yaml.YAMLError as e:
        raise ConfigError(str(path), "(syntax)", f"malformed YAML: {e}", "fix the syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(top level)", "a scene must be a table of sections", "")
    return data


def _field_path(loc) -> str:
    parts = []
    for x in loc:
        if isinstance(x, int):
            parts.append(f"[{x}]")
        elif x in ("float", "int", "str", "bool", "tuple[float, float]", "list", "dict") or "[" in str(x):
            continue  # pydantic union-branch labels
        else:
            parts.append(("." if parts else "") + str(x))
    return "".join(parts) or "(top level)"


def _pydantic_error(source: str, err: ValidationError, raw: dict) -> ConfigError:
    e = err.errors()[0]
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
    msg = e["msg"].replace("Value error, ", "")
    return ConfigError(source, field, f"{msg} (got {value!r})" if "input" in e and not isinstance(value, dict) else msg, fix)


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
    """Cross-field checks that need geometry: walls inside the outline, entities not in a
    wall and inside the floor, PAs fit their guide at the minimum spacing (MODEL §1)."""
    from twin.geometry.floorplan import FloorPlan

    fp = FloorPlan.from_scene(scene)
    for i, w in enumerate(scene.floor.walls):
        if not fp.wall_inside_outline(i):
            raise ConfigError(source, f"floor.walls[{i}].points", f"wall {w.name or i} lies outside the outline",
                              "move its points inside floor.outline")
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
    for kind in ("users", "targets"):
        ent = getattr(scene, kind)
        if ent is None:
            continue
        pts = list(ent.positions or [])
        for i in range(ent.n):
            m = ent.mobility_of(i)
            if m.model == "waypoints":
                pts_i = list(m.waypoints)
                for j, p in enumerate(pts_i):
                    if not fp.is_free(np.asarray(p)):
                        raise ConfigError(source, f"{kind}.mobility.waypoints[{j}]",
                                          f"waypoint {tuple(p)} is inside a wall or outside the floor",
                                          "move it into free space")
        for i, p in enumerate(pts):
            if not fp.is_free(np.asarray(p)):
                where = "inside a wall" if fp.in_outline(np.asarray(p)) else "outside the floor outline"
                raise ConfigError(source, f"{kind}.positions[{i}]", f"{tuple(p)} is {where}",
                                  "move it into free space")


def parse_scene(raw: dict, source: str = "<scene>") -> Scene:
    """Validate a raw dict into a :class:`Scene` (schema + geometry)."""
    try:
        scene = Scene.model_validate(raw)
    except ValidationError as err:
        raise _pydantic_error(source, err, raw) from None
    validate_geometry(scene, source)
    return scene


def load_scene(arg: str | Path, overrides: dict | None = None) -> Scene:
    """Load a built-in scene by name or a scene file by path, with optional dotted-key
    ``overrides`` (``{"radio.tx_power_dbm": 20}``), validated as one."""
    path = resolve(arg)
    raw = read_raw(path)
    if overrides:
        raw = apply_overrides(raw, overrides, str(path))
    return parse_scene(raw, str(path))


def apply_overrides(raw: dict, overrides: dict, source: str = "--set") -> dict:
    """Set dotted keys (``simulation.seed``, ``waveguides.0.pas``) in a raw scene dict."""
    raw = copy.deepcopy(raw)
    for key, value in overrides.items():
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            if isinstance(node, list):
                node = node[int(part)]
            else:
                node = node.setdefault(part, {})
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return raw


def scene_hash(scene: Scene) -> str:
    """Stable content hash of a validated scene (for caches)."""
    return hashlib.sha256(json.dumps(scene.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]
