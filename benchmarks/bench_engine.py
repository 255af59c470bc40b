"""Engine throughput: simulated frames per wall-clock second on the office scene with the
foundation policies, with and without writing traces, and the wall time spent inside the
trace writer (``TraceWriter.add`` / ``end_frame`` / ``flush``) per frame.

    python benchmarks/bench_engine.py [--frames 500] [--repeat 3]

A shared machine is noisy: each configuration runs ``--repeat`` times and the median is
printed (with the spread).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

from twin.engine import Simulation
from twin.scene import load_scene
from twin.traces.writer import TraceWriter

_spent = [0.0]


def _timed(method):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            _spent[0] += time.perf_counter() - t0
    return wrapper


for _name in ("add", "end_frame", "flush"):
    setattr(TraceWriter, _name, _timed(getattr(TraceWriter, _name)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    scene = load_scene("office")
    sim = scene.simulation
    print(f"office: {args.frames} frames × {sim.slots_per_frame} slots, "
          f"{scene.users.n} users, {len(scene.waveguides)} guides; median of {args.repeat}")
    for policy in ("uniform", "follow"):
        for traces in (False, True):
            rates, writer_ms = [], []
            for _ in range(args.repeat):
                out = tempfile.mkdtemp() if traces else None
                _spent[0] = 0.0
                t0 = time.perf_counter()
                Simulation(scene, out, policy=policy, frames=args.frames).run()
                dt = time.perf_counter() - t0
                if out:
                    shutil.rmtree(out)
                rates.append(args.frames / dt)
                writer_ms.append(_spent[0] / args.frames * 1e3)
            med = statistics.median(rates)
            extra = f", writer {statistics.median(writer_ms):.2f} ms/frame" if traces else ""
            print(f"  {policy:<8} traces={'on ' if traces else 'off'}  {med:7.0f} frames/s "
                  f"(min {min(rates):.0f}, max {max(rates):.0f}; {1e3 / med:.2f} ms/frame{extra})")


if __name__ == "__main__":
    main()
