"""Scene files: schema, loading, built-in scenes (docs/scenes.md)."""

from twin.scene.loader import (apply_overrides, builtin_scenes, load_scene, parse_scene, read_raw,
                               resolve, scene_hash)
from twin.scene.schema import Scene

__all__ = ["Scene", "apply_overrides", "builtin_scenes", "load_scene", "parse_scene", "read_raw",
           "resolve", "scene_hash"]
