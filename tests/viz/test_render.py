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
    # a metre scale on the floor's bounds and a legend of the marker colours
    assert p.renderer.cube_axes_actor is not None
    assert p.renderer.cube_axes_actor.GetXTitle() == "x [m]"
    assert p.legend is not None
    p.close()


def test_render_has_link_legend_and_separate_palettes(run10):
    """The legend names the three link colours; the wall-loss bar (grey ramp) and the
    power bar (viridis) use different palettes, and the bars do not overlap."""
    import pyvista as pv

    from viz.colors import LINK_LABELS
    from viz.render import RunData
    from viz.scene3d import POWER_BAR, WALL_BAR, add_state, add_static

    headless.ensure_offscreen()
    data = RunData.load(run10)
    p = pv.Plotter(off_screen=True, window_size=(320, 240))
    add_static(p, data.world)
    clim = add_state(p, data.world, data.state(5), beam="total", beam_nx=20)
    entries = [p.legend.GetEntryString(i) for i in range(p.legend.GetNumberOfEntries())]
    assert [lab for lab, _ in LINK_LABELS] == entries[:3]
    assert clim[1] - clim[0] == 40.0 and clim[1] % 5 == 0
    bars = {b.GetTitle().strip(): b for b in p.scalar_bars.values()}
    wall, power = bars["wall loss [dB]"], bars["received power [dBm]"]
    lut_w, lut_p = wall.GetLookupTable(), power.GetLookupTable()
    top_w = np.array(lut_w.GetTableValue(lut_w.GetNumberOfTableValues() - 1)[:3])
    top_p = np.array(lut_p.GetTableValue(lut_p.GetNumberOfTableValues() - 1)[:3])
    assert np.ptp(top_w) < 0.05 and top_w.mean() < 0.2     # grey ramp ends black
    assert top_p[0] > 0.8 and top_p[1] > 0.8 and top_p[2] < 0.3  # viridis ends yellow
    w_lo, w_hi = WALL_BAR["position_y"], WALL_BAR["position_y"] + WALL_BAR["height"]
    p_lo, p_hi = POWER_BAR["position_y"], POWER_BAR["position_y"] + POWER_BAR["height"]
    assert p_hi + 0.08 < w_lo or w_hi + 0.08 < p_lo             # apart, with room for a title
    p.close()


def test_render_command_writes_the_requested_png(run10, tmp_path):
    from viz.render import render_run

    out = render_run(run10, tmp_path / "r.png", frame=4, window=(320, 240), beam_nx=40)
    img = imageio.imread(out)
    assert img.shape[:2] == (240, 320) and img.std() > 10


def test_animation_of_a_10_frame_run_has_10_frames(run10, tmp_path):
    from viz.render import animate_runs

    from PIL import Image

    out = animate_runs([run10], tmp_path / "a.gif", window=(240, 160), beam_nx=24, progress=False, fps=5)
    assert len(imageio.mimread(out)) == 10
    with Image.open(out) as gif:                # the frame delay is written: 1/5 s (GIF: in 10 ms units)
        gif.seek(3)
        assert gif.info["duration"] == 200
    side = animate_runs([run10, run10], tmp_path / "b.gif", window=(200, 120), beam_nx=16,
                        max_frames=3, progress=False)
    frames = imageio.mimread(side)
    assert len(frames) == 3 and frames[0].shape[1] == 400
    for img in frames:                          # both panels drawn in every frame
        left, right = img[:, :200, :3].astype(float), img[:, 200:, :3].astype(float)
        assert left.std() > 10 and right.std() > 10
        # the same run twice: the same picture (scalar bars are drawn once, in the left panel)
        assert np.median(np.abs(left - right)) < 1


def test_missing_opengl_is_a_clear_error_not_a_crash(monkeypatch):
    monkeypatch.setattr(headless, "_chosen", None)
    monkeypatch.setattr(headless, "_PROBE", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(ConfigError, match="libosmesa6") as e:
        headless.ensure_offscreen()
    assert "signal 11" in str(e.value)


def test_fixed_array_run_renders_its_beam_map(tmp_path):
    """Fixed-array policies (mimo-isac) have no PAs to move and their BS array is not
    traced: the renderer rebuilds it by replaying the decision. The rebuilt channel with
    the traced W, R_s reproduces the traced SINRs, and the PNG has the beam layer."""
    from twin.physics import sinr_downlink
    from viz.render import RunData, render_run

    Simulation(load_scene("paper000"), tmp_path / "run", policy="mimo-isac", frames=2).run()
    data = RunData.load(tmp_path / "run")
    st = data.state(1)
    assert st.channel is not None and st.W is not None
    u = data.users[data.users.frame == 1]
    u = u[u.time_s == u.time_s.max()].sort_values("user")
    sinr = sinr_downlink(st.channel(st.users), st.W, data.world.noise_w, st.Rs)
    assert np.allclose(10 * np.log10(sinr), u.sinr_db.to_numpy(), atol=0.01)
    out = render_run(tmp_path / "run", tmp_path / "m.png", window=(320, 240), beam_nx=30, beam_oversample=1)
    assert imageio.imread(out).std() > 10


def test_html_export_of_a_run_and_of_a_scene(run10, tmp_path):
    from viz.render import export_html

    for src, name in ((run10, "run.html"), ("paper000", "scene.html")):
        out = export_html(src, tmp_path / name)
        text = out.read_text(errors="ignore")
        assert out.stat().st_size > 100_000 and "<html" in text.lower()


def test_render_command_rejects_bad_input_clearly(run10, tmp_path):
    from viz.cli_commands import cmd_render

    with pytest.raises(ConfigError, match="does not exist"):
        cmd_render(str(tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="scene.json"):
        cmd_render(str(run10), side_by_side_with=str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="--html"):
        cmd_render(str(run10), html=str(tmp_path / "page.png"))
    with pytest.raises(ConfigError, match="camera"):
        cmd_render(str(run10), camera="fisheye")
    with pytest.raises(ConfigError, match=r"\.gif or \.mp4"):
        cmd_render(str(run10), animate=str(tmp_path / "a.avi"))
    with pytest.raises(ConfigError, match="outside the run"):
        cmd_render(str(run10), frame=10, out=str(tmp_path / "x.png"))


def test_side_by_side_png_draws_both_runs(run10, tmp_path):
    from viz.render import render_run

    out = render_run(run10, tmp_path / "p.png", frame=3, side_by_side_with=run10, window=(200, 150),
                     beam_nx=20, beam_oversample=1)
    img = imageio.imread(out)[..., :3].astype(float)
    assert img.shape[:2] == (150, 400)
    assert img[:, :200].std() > 10 and img[:, 200:].std() > 10


def test_show_in_jupyter_without_the_extra_says_what_to_install(run10, monkeypatch):
    """The interactive Jupyter view needs the `jupyter` extra; without it one line names
    it (and the static fallback), and ``backend="static"`` shows a real picture."""
    from viz import render

    monkeypatch.setattr(render, "_in_jupyter", lambda: True)
    monkeypatch.setattr(render, "JUPYTER_MODULES", ("ipywidgets", "no_such_module_for_pass_twin"))
    with pytest.raises(ConfigError, match=r"pass-twin\[jupyter\]") as e:
        render.show(run10)
    assert "no_such_module_for_pass_twin" in str(e.value) and "static" in str(e.value)
    img = render.show(run10, backend="static", window=(240, 160))
    arr = imageio.imread(img.data)
    assert arr.shape[:2] == (160, 240) and arr.std() > 10
