"""Engine throughput: simulated frames per wall-clock second on the office scene with the
foundation policies, with and without writing traces.

    python benchmarks/bench_engine.py [--frames 500]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

from twin.engine import Simulation
from twin.scene import load_scene


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=500)
    args = ap.parse_args()
    scene = load_scene("office")
    sim = scene.simulation
    print(f"office: {args.frames} frames × {sim.slots_per_frame} slots, "
          f"{scene.users.n} users, {len(scene.waveguides)} guides")
    for policy in ("uniform", "follow"):
        for traces in (False, True):
            out = tempfile.mkdtemp() if traces else None
            t0 = time.perf_counter()
            Simulation(scene, out, policy=policy, frames=args.frames).run()
            dt = time.perf_counter() - t0
            if out:
                shutil.rmtree(out)
            print(f"  {policy:<8} traces={'on ' if traces else 'off'}  {args.frames / dt:7.0f} frames/s "
                  f"({dt / args.frames * 1e3:.2f} ms/frame)")


if __name__ == "__main__":
    main()
