"""Provenance of a run directory: what made it, so a figure can be traced back.

The engine calls :func:`start_run` when it opens a run directory (the record goes into
``meta.json`` under ``provenance``, and ``run.log`` starts) and :func:`finish_run` when
the run ends. The record holds the command line, the pass-twin version, the git commit
(and whether the checkout had uncommitted changes) when the package runs from a git
checkout, the Python and key dependency versions, the host platform, the scene's
content hash and the seed."""

from __future__ import annotations

import logging
import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

#: distributions whose versions decide the numbers or the files a run produces
KEY_DEPENDENCIES = ("numpy", "scipy", "cvxpy", "clarabel", "simpy", "shapely", "pyvista",
                    "pyarrow", "pandas", "pydantic")

LOG_NAME = "run.log"
logger = logging.getLogger("twin")


def dependency_versions() -> dict[str, str | None]:
    """Installed version of each key dependency (None when not installed)."""
    return dict(_dependency_versions())


@lru_cache(maxsize=1)
def _dependency_versions() -> tuple:
    """Looked up once per process (importlib.metadata scans every installed distribution:
    ~60 ms, which a short run paid on every start)."""
    out = []
    for name in KEY_DEPENDENCIES:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, None))
    return tuple(out)


@lru_cache(maxsize=1)
def git_state(path: str | None = None) -> dict | None:
    """``{"commit", "dirty"}`` of the git checkout holding the package, or None when the
    package is not in a checkout (an installed wheel) or git is unavailable."""
    root = Path(path) if path else Path(__file__).resolve().parent
    try:
        def git(*args):
            return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def collect(*, scene_hash: str | None = None, seed: int | None = None,
            argv: list[str] | None = None) -> dict:
    """The provenance record of a run started now by this process."""
    from twin import __version__

    return {
        "command": list(sys.argv if argv is None else argv),
        "version": __version__,
        "git": git_state(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dependencies": dependency_versions(),
        "scene_hash": scene_hash,
        "seed": seed,
    }


class _RunLogHandler(logging.FileHandler):
    """The ``run.log`` handler of one run directory."""


def start_run(run_dir, *, scene, seed: int, policy: str, frames: int) -> dict:
    """Open ``run_dir/run.log`` (the ``twin`` logger at INFO and above goes there), log
    the start, and return the provenance record for ``meta.json``.

    A process runs one simulation at a time: a run log left open by a run that raised is
    closed here first."""
    from twin.scene import scene_hash

    _close_run_logs()
    record = collect(scene_hash=scene_hash(scene), seed=seed)
    handler = _RunLogHandler(Path(run_dir) / LOG_NAME, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    git = record["git"]
    logger.info("run started: scene %s (hash %s), policy %s, %d frames, seed %d",
                getattr(scene, "name", "?"), record["scene_hash"], policy, frames, seed)
    logger.info("pass-twin %s%s; command: %s", record["version"],
                f", git {git['commit'][:12]}{' (dirty)' if git['dirty'] else ''}" if git else "",
                " ".join(record["command"]))
    return record


def finish_run(summary: dict | None = None) -> None:
    """Log the end of the run (with its headline numbers) and close ``run.log``."""
    if summary is not None:
        logger.info("run completed: %s frames, mean rate %s bit/s/Hz, outage fraction %s, "
                    "frame status %s", summary.get("frames"), summary.get("mean_rate_bps_hz"),
                    summary.get("outage_fraction"), summary.get("status_counts"))
    _close_run_logs()


def _close_run_logs() -> None:
    for h in [h for h in logger.handlers if isinstance(h, _RunLogHandler)]:
        logger.removeHandler(h)
        h.close()
