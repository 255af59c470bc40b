"""Is this a run directory? The viz commands ask before reading anything, so a folder
that merely holds a ``scene.json`` (a scene exported by hand, a stray copy) gets one line
instead of a traceback or an empty picture."""

from __future__ import annotations

import json
from pathlib import Path

from twin.errors import ConfigError

FIX = "give the --out directory of a `pass-twin run`"


def require_run(run_dir) -> Path:
    """The run directory as a Path, or a ConfigError naming what is missing: a readable
    ``scene.json`` holding a valid scene, and a ``frames`` table with at least one part."""
    d = Path(run_dir)
    if not d.is_dir():
        what = "does not exist" if not d.exists() else "is a file, not a run directory"
        raise ConfigError(str(d), "(run directory)", what, FIX)
    scene = d / "scene.json"
    if not scene.is_file():
        raise ConfigError(str(d), "(run directory)", "not a pass-twin run directory (no scene.json)", FIX)
    try:
        payload = json.loads(scene.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(str(scene), "(run directory)", f"not a run's scene.json ({type(e).__name__})", FIX) from None
    from pydantic import ValidationError

    from twin.scene.schema import Scene
    try:
        Scene.model_validate(payload)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "(top level)"
        raise ConfigError(str(scene), where, f"not a run's scene.json ({first.get('msg', 'invalid')})", FIX) from None
    frames = d / "frames.parquet"
    if not frames.is_dir() or not any(frames.glob("part-*.parquet")):
        raise ConfigError(str(d), "(run directory)", "holds a scene.json but no traced frames (frames.parquet)",
                          "run the scene into it first, or " + FIX)
    return d
