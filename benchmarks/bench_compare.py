"""Issue 7 benchmark: parallel efficiency of a 2-policy × 8-seed compare on the local
process backend against running the same tasks one after another, and the per-task
overhead of the Dask backend (2-worker LocalCluster) against the local one.

    python benchmarks/bench_compare.py [--frames 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from twin.experiments.compare import compare


def timed(backend, frames, seeds=8):
    out = tempfile.mkdtemp(prefix="bench-compare-")
    try:
        t0 = time.perf_counter()
        compare("office", "follow,uniform", seeds=seeds, out=out, frames=frames, backend=backend,
                progress=False)
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    cores = os.cpu_count()
    timed("serial", 2, seeds=1)            # warm imports and caches
    serial = timed("serial", args.frames)
    local = timed(None, args.frames)
    dask = timed("dask-local", args.frames)
    tasks = 16
    eff = serial / (local * min(cores, tasks))
    print(f"16 tasks of {args.frames} frames on {cores} cores")
    print(f"  serial       {serial:7.2f} s  ({serial / tasks * 1e3:.0f} ms/task)")
    print(f"  local procs  {local:7.2f} s  speed-up {serial / local:.2f}x, parallel efficiency {eff:.0%}")
    print(f"  dask local   {dask:7.2f} s  overhead vs local {(dask - local) / tasks * 1e3:+.0f} ms/task "
          f"(includes starting the LocalCluster)")


if __name__ == "__main__":
    main()
