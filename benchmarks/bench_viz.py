"""Issue 6 benchmark: time per animation frame at 1280×720 with the beam map at 200×200
samples, and the beam-map computation alone (vectorised over the grid).

    python benchmarks/bench_viz.py [--frames 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from twin.beammap import beam_map
from twin.engine import Simulation
from twin.scene import load_scene
from viz.render import RunData, animate_runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=10)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    Simulation(load_scene("office"), tmp / "run", frames=args.frames).run()
    data = RunData.load(tmp / "run")
    st = data.state(None)
    dep = data.world.deployment
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        beam_map(data.world, st.s, st.active & dep.installed, st.W, st.Rs, "total", nx=200, ny=200)
        times.append(time.perf_counter() - t0)
    print(f"beam map 200×200 (office, {dep.installed.sum()} PAs, {len(data.world.floor.walls)} walls, "
          f"blockage on): median {np.median(times) * 1e3:.0f} ms")
    from viz.headless import ensure_offscreen
    t0 = time.perf_counter()
    cls = ensure_offscreen()
    print(f"OpenGL probe (child process, once per process): {time.perf_counter() - t0:.2f} s -> {cls}")
    for beam, label in (("total", "with the beam map 200 wide"), (None, "without the beam layer")):
        t0 = time.perf_counter()
        animate_runs([tmp / "run"], tmp / "a.mp4", window=(1280, 720), beam_nx=200, beam=beam,
                     progress=False)
        dt = time.perf_counter() - t0
        print(f"animation 1280×720 MP4, {label}, {args.frames} frames: {dt / args.frames:.2f} s/frame")

if __name__ == "__main__":
    main()
