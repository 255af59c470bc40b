"""Offscreen rendering without a display: pick a working VTK OpenGL window class in a
child process, so a machine without EGL or OSMesa gets a clear message instead of a
segfault in the caller (without EGL or OSMesa VTK crashes with signal 11)."""

from __future__ import annotations

import os
import subprocess
import sys

from twin.errors import ConfigError

_PROBE = """
import pyvista as pv
p = pv.Plotter(off_screen=True, window_size=(32, 32))
p.add_mesh(pv.Sphere())
p.render()
img = p.screenshot(return_img=True)
assert img.shape[:2] == (32, 32) and img.max() > 0
print("ok")
"""

_CANDIDATES = ("vtkEGLRenderWindow", "vtkOSOpenGLRenderWindow")
_chosen: str | None = None

INSTALL_HINT = ("install an offscreen OpenGL library: `apt-get install libegl1 libgl1-mesa-dri libgbm1` "
                "(EGL with Mesa's software renderer) or `apt-get install libosmesa6` (OSMesa)")


def ensure_offscreen() -> str:
    """Make pyvista render offscreen in this process; returns the VTK window class used.

    With a display (``DISPLAY`` set) nothing is changed. Otherwise EGL, then OSMesa, is
    tried in a child process; if neither works a ConfigError names the packages."""
    global _chosen
    if _chosen is not None:
        return _chosen
    if os.environ.get("DISPLAY") and not os.environ.get("PASS_TWIN_FORCE_OFFSCREEN"):
        _chosen = "display"
        return _chosen
    preset = os.environ.get("VTK_DEFAULT_OPENGL_WINDOW")
    errors = []
    for cls in ([preset] if preset else []) + [c for c in _CANDIDATES if c != preset]:
        env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": cls}
        env.pop("DISPLAY", None)
        try:
            r = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                               text=True, timeout=120)
        except subprocess.TimeoutExpired:
            errors.append(f"{cls}: timed out")
            continue
        if r.returncode == 0 and "ok" in r.stdout:
            os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = cls
            _chosen = cls
            return cls
        sig = f"killed by signal {-r.returncode}" if r.returncode < 0 else f"exit {r.returncode}"
        errors.append(f"{cls}: {sig}")
    raise ConfigError("render", "(OpenGL)", "no offscreen OpenGL found (" + "; ".join(errors) + ")",
                      INSTALL_HINT)
