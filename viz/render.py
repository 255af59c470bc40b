"""Render runs: a PNG of one frame, an animation (GIF/MP4) of a run or of two runs side
by side, an interactive HTML export, or an interactive window (``show``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.errors import ConfigError
from twin.traces import beams_of_frame, load_run_scene, read_meta, read_table
from twin.world import World
from viz.headless import ensure_offscreen
from viz.rundir import require_run

TRAIL_S = 3.0


@dataclass
class RunData:
    """A run's tables, loaded once for rendering many frames."""

    dir: Path
    world: World
    meta: dict
    users: object
    targets: object
    pas: object
    frames: object
    beams: object
    blockers: object = None
    @classmethod
    def load(cls, run_dir) -> "RunData":
        d = require_run(run_dir)
        scene = load_run_scene(d)
        meta = read_meta(d)
        world = World(scene, hardware=meta.get("hardware_spec"))     # the hardware that ran
        data = cls(d, world, meta, read_table(d, "users"), read_table(d, "targets"), read_table(d, "pas"),
                   read_table(d, "frames"), read_table(d, "beams"), read_table(d, "blockers"))
        if data.frames.empty:
            raise ConfigError(str(d), "(run directory)", "the run has no frames yet", "run it first")
        return data

    def fixed_channel(self, s, active, frame: int, slot: int):
        """Fixed arrays: points -> (N,G) channel of the traced in-force state (element
        positions, active set and analog weights as traced); None for a PASS (drawn from
        its deployment)."""
        from twin.hardware import HardwareState
        from twin.traces.reader import analog_of_frame

        tx = self.world.tx
        if tx.movable:
            return None
        state = HardwareState(s, active, analog_of_frame(self.dir, frame, slot, self.beams))
        return lambda points: tx.channel_to(state, points)

    @property
    def n_frames(self) -> int:
        return int(self.frames.frame.max()) + 1

    def state(self, frame: int):
        from viz.scene3d import FrameState

        frame = self.n_frames - 1 if frame is None else int(frame)
        if not 0 <= frame < self.n_frames:
            raise ConfigError(str(self.dir), "--frame", f"frame {frame} is outside the run",
                              f"choose 0 … {self.n_frames - 1}")
        u = self.users[self.users.frame == frame]
        t = float(u.time_s.max()) if len(u) else float(self.frames.time_s[frame])
        u = u[u.time_s == t].sort_values("user")
        z = self.world.ue_height
        users = np.column_stack([u.x, u.y, np.full(len(u), z)])
        trails = []
        for k in u.user:
            g = self.users[(self.users.user == k) & (self.users.time_s > t - TRAIL_S) & (self.users.time_s <= t)]
            trails.append(np.column_stack([g.x, g.y, np.full(len(g), z + 0.05)]))
        tg = self.targets[self.targets.time_s == t].sort_values("target")
        targets = np.column_stack([tg.x, tg.y, np.full(len(tg), z)])
        ttrails = []
        for j in tg.target:
            g = self.targets[(self.targets.target == j) & (self.targets.time_s > t - TRAIL_S) & (self.targets.time_s <= t)]
            ttrails.append(np.column_stack([g.x, g.y, np.full(len(g), z + 0.05)]))
        dep = self.world.tx
        pa = self.pas[self.pas.time_s == t]
        s = np.zeros(dep.installed.shape)
        active = np.zeros(dep.installed.shape, bool)
        s[pa.waveguide, pa.pa] = pa.s_m
        active[pa.waveguide, pa.pa] = pa.active
        slot = int(u.slot.max()) if len(u) else 0
        W, Rs = beams_of_frame(self.dir, frame, slot, self.beams)
        rate = u.rate_bps_hz.mean() if len(u) else np.nan
        outage = u.outage.mean() if len(u) else np.nan
        rc = tg.rcrb_m.mean() if len(tg) else np.nan
        fr = self.frames.iloc[frame]
        lines = [f"{self.meta.get('scene', '')} / {self.meta.get('policy', '')}",
                 f"t = {t:7.3f} s   frame {frame}",
                 f"sum rate {u.rate_bps_hz.sum():.2f} bit/s/Hz (mean {rate:.2f})",
                 f"users in outage {outage:.0%}"]
        if np.isfinite(rc):
            lines.append(f"RCRB {rc * 1e3:.3g} mm")
        if np.isfinite(fr.get("sensing_outage_exact", np.nan)):
            lines.append(f"sensing outage {fr.sensing_outage_exact:.3g}")
        channel = self.fixed_channel(s, active, frame, slot)
        people = None
        if self.blockers is not None and len(self.blockers):
            b = self.blockers[self.blockers.time_s == t].sort_values("blocker")
            people = np.column_stack([b.x, b.y])
            body = u.body_loss_db.max() if "body_loss_db" in u else np.nan
            if np.isfinite(body) and body > 0:
                lines.append(f"max body loss {body:.1f} dB")
        return FrameState(s, active, users, targets, trails, ttrails, W, Rs, "\n".join(lines), channel,
                          people)


def _plotter(window, shape=(1, 1)):
    ensure_offscreen()
    import pyvista as pv
    return pv.Plotter(off_screen=True, window_size=window, shape=shape)


def _draw(p, data: RunData, frame, camera, beam, beam_nx, beam_oversample=1, beam_clim=None):
    """Draw one frame; returns the beam layer's colour limits (dBm) for the next frames."""
    from viz.scene3d import add_state, add_static, set_camera
    add_static(p, data.world)
    clim = add_state(p, data.world, data.state(frame), beam=beam, beam_nx=beam_nx,
                     beam_oversample=beam_oversample, beam_clim=beam_clim)
    set_camera(p, data.world, camera)
    return clim


def render_run(run_dir, out_png=None, frame=None, camera="isometric", beam="total",
               window=(1280, 720), beam_nx=160, beam_oversample=2, side_by_side_with=None,
               progress=False) -> Path:
    """PNG of one frame (default: the last) of a run; with ``side_by_side_with`` a second
    run (same scene and seed, another policy) is drawn beside it at the same frame.

    camera: isometric, top or guide; beam: a user index, "sensing", "total" or None. The
    beam layer is the received power in dBm (:func:`twin.beammap.beam_map`), ``beam_nx``
    cells across, each averaging ``beam_oversample``² samples: at 28 GHz the field varies
    within a centimetre, and the local mean shows the beam rather than aliased speckle.
    Both panels of a side-by-side picture share its colour scale. ``progress`` shows the
    stages on stderr."""
    from viz.progress import stages

    runs = [run_dir] + ([side_by_side_with] if side_by_side_with else [])
    names = ["load run", "OpenGL", *[f"draw {Path(str(r)).name}" for r in runs], "write PNG"]
    with stages("render", names, progress) as step:
        step("load run")
        datas = [RunData.load(r) for r in runs]
        if frame is None:
            frame = min(d.n_frames for d in datas) - 1
        step("OpenGL")
        p = _plotter((window[0] * len(datas), window[1]), shape=(1, len(datas)))
        clim = None
        for i, d in enumerate(datas):
            step(f"draw {d.dir.name}")
            p.subplot(0, i)
            clim = _draw(p, d, frame, camera, beam, beam_nx, beam_oversample, beam_clim=clim)
        step("write PNG")
        p.render()                       # screenshot() alone returns the previous image
        out = Path(out_png) if out_png else datas[0].dir / "render.png"
        p.screenshot(str(out))
        p.close()
    return out


def animate_runs(run_dirs, out_path, camera="isometric", beam="total", window=(1280, 720),
                 beam_nx=120, fps=10, max_frames=None, progress=True) -> Path:
    """Animation of one run, or of two runs side by side (same scene and seed), one video
    frame per simulated frame; GIF or MP4 by the extension. The GIF's frame delay is
    ``1/fps`` (written in milliseconds, as the GIF format and imageio's pillow plugin
    take it); the beam layer keeps the first frame's colour scale."""
    import imageio.v2 as imageio

    from viz.progress import frames as frame_bar

    out = Path(out_path)
    if out.suffix.lower() not in (".gif", ".mp4"):
        raise ConfigError("--animate", str(out), "unknown animation format", "use a .gif or .mp4 file name")
    datas = [RunData.load(r) for r in run_dirs]
    n = min(d.n_frames for d in datas)
    frames = range(n) if not max_frames or n <= max_frames else np.linspace(0, n - 1, max_frames).astype(int)
    width = window[0] * len(datas)
    p = _plotter((width, window[1]), shape=(1, len(datas)))
    if out.suffix.lower() == ".mp4":
        kwargs = {"fps": fps, "codec": "libx264", "quality": 7, "macro_block_size": 16}
    else:
        kwargs = {"duration": 1000.0 / fps, "loop": 0}
    clim = None
    with imageio.get_writer(str(out), **kwargs) as writer:
        for f in frame_bar(frames, "animating", progress):
            p.clear()                        # every subplot (Plotter.clear clears them all)
            for i, d in enumerate(datas):
                p.subplot(0, i)
                clim = _draw(p, d, int(f), camera, beam, beam_nx, beam_clim=clim)
            p.render()
            writer.append_data(p.screenshot(return_img=True))
    p.close()
    return out


def _world_of_scene(run_or_scene):
    from twin.scene import load_scene
    return World(load_scene(str(run_or_scene)))


def _is_run(run_or_scene) -> bool:
    return isinstance(run_or_scene, (str, Path)) and (Path(str(run_or_scene)) / "scene.json").exists()


def export_html(run_or_scene, out_html, frame=None, beam="total", progress=False) -> Path:
    """Self-contained interactive HTML (plotly, :mod:`viz.html`). A run: a time slider
    over the frames, starting at ``frame``. A scene (a built-in name or a scene file):
    the deployment at its uniform PA positions, users and targets where the scene gives
    explicit positions, no power layer."""
    if _is_run(run_or_scene):
        from viz.html import export_run_html
        return export_run_html(run_or_scene, out_html, frame=frame, progress=progress)
    from viz.html import export_scene_html
    return export_scene_html(_world_of_scene(run_or_scene), out_html)


def _add_scene_state(p, world) -> None:
    """A scene without a run: PAs at the uniform positions, all installed PAs active,
    users and targets where the scene lists explicit positions (random starts: none)."""
    from viz.scene3d import FrameState, add_state

    dep = world.deployment
    z = world.ue_height

    def _pts(entities):
        xy = getattr(entities, "positions", None) or ()
        return np.array([[q[0], q[1], z] for q in xy], float).reshape(-1, 3)

    users, targets = _pts(world.scene.users), _pts(getattr(world.scene, "targets", None))
    people = _pts(getattr(world.scene, "blockers", None))[:, :2]
    add_state(p, world, FrameState(dep.uniform_positions(), dep.installed.copy(), users, targets,
                                   blockers=people), beam=None)


JUPYTER_MODULES = ("ipywidgets", "jupyter_server_proxy", "trame_vtk", "trame_vuetify")
JUPYTER_HINT = "pip install 'pass-twin[jupyter]' (pyvista's trame backend), or show(..., backend=\"static\")"


def missing_jupyter_modules() -> list[str]:
    """Modules the interactive Jupyter view needs that are not installed."""
    import importlib.util
    return [m for m in JUPYTER_MODULES if importlib.util.find_spec(m) is None]


def show(run_or_scene, frame=None, beam="total", backend=None, window=(1024, 576)):
    """Show a run's frame (default: the last, with its beam layer) or a scene (a built-in
    name or a scene file: the deployment).

    In Jupyter: ``backend="trame"`` (default) is pyvista's interactive trame view, which
    needs the ``jupyter`` extra (``pip install 'pass-twin[jupyter]'``; without it a
    ConfigError says so); ``backend="static"`` renders offscreen and returns an
    ``IPython.display.Image`` that shows inline with no extra packages. Elsewhere: an
    interactive window where a display exists, else a ConfigError pointing to
    ``--html``."""
    from viz.scene3d import add_static, set_camera

    in_notebook = _in_jupyter()
    backend = backend or ("trame" if in_notebook else "window")
    if backend == "static":
        import tempfile

        from IPython.display import Image
        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "view.png"
            if _is_run(run_or_scene):
                render_run(run_or_scene, png, frame=frame, beam=beam, window=window, beam_nx=100)
            else:
                p = _plotter(window)
                world = _world_of_scene(run_or_scene)
                add_static(p, world)
                _add_scene_state(p, world)
                set_camera(p, world, "isometric")
                p.render()
                p.screenshot(str(png))
                p.close()
            return Image(data=png.read_bytes(), format="png")
    if backend == "trame":
        if not in_notebook:
            raise ConfigError("show", "backend", "the trame backend runs inside Jupyter",
                              "use backend=\"static\" or `pass-twin render RUN --html out.html`")
        missing = missing_jupyter_modules()
        if missing:
            raise ConfigError("show", "(jupyter)", f"the interactive view needs {', '.join(missing)}",
                              JUPYTER_HINT)
    elif backend != "window":
        raise ConfigError("show", "backend", f"unknown backend {backend!r}", "use trame, static or window")
    elif not os.environ.get("DISPLAY"):
        raise ConfigError("show", "(display)", "no display for an interactive window",
                          "use `pass-twin render RUN --html out.html` or `render_run` for a PNG")
    import pyvista as pv
    p = pv.Plotter(notebook=in_notebook)
    if _is_run(run_or_scene):
        _draw(p, RunData.load(run_or_scene), frame, "isometric", beam, 120)
    else:
        world = _world_of_scene(run_or_scene)
        add_static(p, world)
        _add_scene_state(p, world)
        set_camera(p, world, "isometric")
    if in_notebook:
        return p.show(jupyter_backend="trame")
    p.show()


def _in_jupyter() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"
