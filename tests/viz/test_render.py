"""Headless 3D rendering: a real picture, the PA where the camera says it is, an
animation with one image per frame, and a clear error where OpenGL is missing."""

import imageio.v2 as imageio
import numpy as np
import pytest

from twin.engine import Simulation
from twin.errors import ConfigError
from twin.scene import load_scene
from viz import headless
from viz.colors import PA_ACTIVE


@pytest.fixture(scope="module")
def run10(tmp_path_factory):
    out = tmp_path_factory.mktemp("run10")
    Simulation(load_scene("office"), out, frames=10).run()
    return out


def test_rendered_png_is_a_real_picture_with_the_pa_in_its_colour(run10, tmp_path):
    import pyvista as pv
    import vtk

    from viz.render import RunData
    from viz.scene3d import add_state, add_static, set_camera

    headless.ensure_offscreen()
    data = RunData.load(run10)
    st = data.state(None)
    p = pv.Plotter(off_screen=True, window_size=(640, 480))
    add_static(p, data.world)
    add_state(p, data.world, st, beam=None, links=False)
    st_text = ""
    set_camera(p, data.world, "top")
    p.render()
    img = p.screenshot(return_img=True)
    assert img.shape[:2] == (480, 640)
    assert img.std() > 10                       # not blank
    dep = data.world.deployment
    n, m = 0, 2                                 # a ceiling PA away from the labels
    pos = dep.positions(st.s)[n, m]
    coord = vtk.vtkCoordinate()
    coord.SetCoordinateSystemToWorld()
    coord.SetValue(*pos)
    x, y = coord.GetComputedDisplayValue(p.renderer)
    pixel = img[480 - 1 - int(y), int(x), :3].astype(int)
    assert np.all(np.abs(pixel - np.array(PA_ACTIVE) * 255) <= 12), pixel
    p.close()


def test_render_command_writes_the_requested_png(run10, tmp_path):
    from viz.render import render_run

    out = render_run(run10, tmp_path / "r.png", frame=4, window=(320, 240), beam_nx=40)
    img = imageio.imread(out)
    assert img.shape[:2] == (240, 320) and img.std() > 10


def test_animation_of_a_10_frame_run_has_10_frames(run10, tmp_path):
    from viz.render import animate_runs

    out = animate_runs([run10], tmp_path / "a.gif", window=(240, 160), beam_nx=24, progress=False)
    assert len(imageio.mimread(out)) == 10
    side = animate_runs([run10, run10], tmp_path / "b.gif", window=(200, 120), beam_nx=16,
                        max_frames=3, progress=False)
    frames = imageio.mimread(side)
    assert len(frames) == 3 and frames[0].shape[1] == 400


def test_missing_opengl_is_a_clear_error_not_a_crash(monkeypatch):
    monkeypatch.setattr(headless, "_chosen", None)
    monkeypatch.setattr(headless, "_PROBE", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(ConfigError, match="libosmesa6") as e:
        headless.ensure_offscreen()
    assert "signal 11" in str(e.value)
