"""Real time: does each controller keep up with the deployment it mirrors (issue 13)?

For every preset (``twin.controller.PRESETS``), on ``office`` and on the preset's example
scene, runs ``--frames`` frames with traces on (a run directory under a temporary
directory) and prints

- the real-time factor RTF = simulated time / wall time of the whole run (≥ 1: the twin
  keeps up; the engine goal is ≥ 20 for the linear presets on ``office``);
- the controller's mean and p95 wall time per frame (the frames trace's
  ``solve_time_s``: the decision only, not the evaluator) against the frame length.

    python benchmarks/bench_realtime.py [--frames 20] [--repeat 1] [--presets a,b] [--scenes office,example]

A combination that refuses to build (a preset that needs targets on a scene without
them, …) is listed with the one-line reason. A shared machine is noisy: with
``--repeat R`` each figure is the median over R runs.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np


def _run(scene, policy, frames):
    from twin.engine import Simulation
    from twin.traces.reader import read_column

    out = tempfile.mkdtemp(prefix="bench_rt_")
    try:
        sim = Simulation(scene, out, policy=policy, frames=frames)
        t0 = time.perf_counter()
        sim.run()
        wall = time.perf_counter() - t0
        solve = read_column(out, "frames", "solve_time_s")
        solve = solve[np.isfinite(solve)]
        return wall, solve
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main(argv=None):
    from twin.controller import PRESETS
    from twin.errors import ConfigError
    from twin.scene import load_scene

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=20, help="frames per run (default 20)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per combination; medians are printed")
    ap.add_argument("--presets", default="", help="comma-separated preset names (default: all)")
    ap.add_argument("--scenes", default="office,example",
                    help="comma-separated: 'office', 'example' (the preset's own scene) or scene names")
    args = ap.parse_args(argv)
    names = [p for p in args.presets.split(",") if p] or [p for p in PRESETS if p != "pipeline"]
    unknown = [p for p in names if p not in PRESETS]
    if unknown:
        print(f"--presets: unknown preset {unknown[0]!r}; choose from {', '.join(PRESETS)}", file=sys.stderr)
        return 2
    scenes = {}
    print(f"{args.frames} frames per run, median of {args.repeat}; traces on")
    print(f"{'preset':<22} {'scene':<9} {'frame ms':>8} {'RTF':>7} {'ctl mean ms':>11} {'ctl p95 ms':>10}"
          f" {'p95/frame':>9}")
    for name in names:
        wanted = []
        for s in args.scenes.split(","):
            s = PRESETS[name].example_scene if s == "example" else s
            if s not in wanted:
                wanted.append(s)
        for sname in wanted:
            scene = scenes.setdefault(sname, load_scene(sname))
            frame_ms = scene.simulation.frame_s * 1e3
            rtf, mean, p95 = [], [], []
            try:
                for _ in range(args.repeat):
                    wall, solve = _run(scene, name, args.frames)
                    rtf.append(args.frames * scene.simulation.frame_s / wall)
                    mean.append(float(np.mean(solve)) * 1e3 if solve.size else float("nan"))
                    p95.append(float(np.percentile(solve, 95)) * 1e3 if solve.size else float("nan"))
            except ConfigError as exc:
                print(f"{name:<22} {sname:<9} refuses to build: {exc}")
                continue
            r, m, p = (statistics.median(x) for x in (rtf, mean, p95))
            print(f"{name:<22} {sname:<9} {frame_ms:8.1f} {r:7.2f} {m:11.1f} {p:10.1f} {p / frame_ms:9.2f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
