"""Dask speed-up of a figure: ``pass-twin figure NAME --dask local --workers n`` for n = 1
and 2, interleaved, each from an empty drop cache.

Usage: ``python benchmarks/bench_figure_dask.py [NAME] [--quick] [--repeat R]``
(default: paper001-power --quick, 2 repeats).

Per run it prints the wall time, the CPU seconds each worker process spent (getrusage
of the worker, before/after), and the machine's load average. On a shared machine the
wall ratio is what the other processes leave; the CPU columns are not: with n workers
the figure cannot finish before its busiest worker's CPU time, so
``cpu(1 worker) / max cpu(2 workers)`` is the speed-up an idle 2-core machine gives
(load balance and per-worker set-up included), and ``sum cpu(2) / cpu(1)`` the work
the second worker adds (set-ups built twice)."""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _warm() -> bool:
    import twin.experiments.figures as f   # import cost is not the figure's

    f.available()
    return True


def one(name: str, quick: bool, workers: int) -> dict:
    from twin.experiments.figures import dask_client, last_counts, run_figure

    with dask_client("local", workers) as client:
        client.run(_warm)
        cpu0 = client.run(_cpu)
        load0 = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            run_figure(name, out, quick=quick, cache=True, client=client)
            wall = time.perf_counter() - t0
        cpu = {w: c - cpu0[w] for w, c in client.run(_cpu).items()}
    return {"workers": workers, "wall": wall, "cpu": sorted(cpu.values()), "load": (load0 + os.getloadavg()[0]) / 2,
            "drops": last_counts()["computed"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", nargs="?", default="paper001-power")
    ap.add_argument("--quick", action="store_true", default=None)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args(argv)
    quick = True if a.quick is None else a.quick
    print(f"{a.name} quick={quick} on {os.cpu_count()} cores")
    print(f"{'workers':>7} {'drops':>5} {'wall s':>8} {'cpu per worker s':>22} {'load':>5}")
    runs = {1: [], 2: []}
    for _ in range(a.repeat):
        for n in (1, 2):
            r = one(a.name, quick, n)
            runs[n].append(r)
            cpus = " ".join(f"{c:.1f}" for c in r["cpu"])
            print(f"{n:>7} {r['drops']:>5} {r['wall']:>8.1f} {cpus:>22} {r['load']:>5.1f}", flush=True)
    import statistics as st

    c1 = st.median(r["cpu"][0] for r in runs[1])
    c2max = st.median(max(r["cpu"]) for r in runs[2])
    c2sum = st.median(sum(r["cpu"]) for r in runs[2])
    w1, w2 = st.median(r["wall"] for r in runs[1]), st.median(r["wall"] for r in runs[2])
    print(f"wall speed-up 2 vs 1 workers: {w1 / w2:.2f}x (shared machine, load above)")
    print(f"CPU speed-up (cpu 1 worker / busiest of 2): {c1 / c2max:.2f}x; "
          f"work added by the second worker: {c2sum / c1 - 1:+.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
