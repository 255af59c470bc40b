"""CPU that ``--dask local`` spends in the figure process itself while its workers compute:
the scheduler's and the nannies' monitors share this process's event loop, so what they
take is a core the two workers cannot use. Two single-threaded workers spin on one long
task each; the process's CPU over that time is read with Dask's default monitor settings
and with :data:`twin.experiments.figures.drops.QUIET_LOOP` (what ``dask_client`` sets).

    python benchmarks/bench_dask_overhead.py [--seconds 30] [--repeat 2]

Issue 13, tenth round: 5-7 % of a core at the defaults, 1 % with the project's settings.
"""

from __future__ import annotations

import argparse
import statistics
import time


def spin(seconds: float) -> float:
    """Busy for ``seconds`` of CPU (a worker's long drop)."""
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass
    return seconds


def overhead(settings: dict, seconds: float) -> float:
    """This process's CPU per wall second while 2 local workers spin for ``seconds``."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set(settings):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=40)
        client = Client(cluster)
        try:
            futs = [client.submit(spin, seconds, pure=False) for _ in range(2)]
            time.sleep(1.0)                            # both tasks started
            c0, w0 = time.process_time(), time.perf_counter()
            client.gather(futs)
            return (time.process_time() - c0) / (time.perf_counter() - w0)
        finally:
            client.close()
            cluster.close()


def main() -> None:
    from twin.experiments.figures.drops import QUIET_LOOP

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    for name, settings in (("Dask defaults", {}), ("QUIET_LOOP", QUIET_LOOP)):
        runs = [overhead(settings, a.seconds) for _ in range(a.repeat)]
        print(f"{name:14s} figure process: {100 * statistics.median(runs):5.1f} % of a core "
              f"(runs: {', '.join(f'{100 * r:.1f}' for r in runs)})", flush=True)


if __name__ == "__main__":
    main()
