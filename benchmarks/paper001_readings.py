"""Paper 001's lost parameter values (issue 14 item 1): Fig. 3 under each reading.

For each reading (scene overrides, R_min, the proposed scheme's T values and the
baselines' T), the exact outage of Proposed-T* and Baselines 1-4 on the same seeded drops
as ``paper001-power`` (``twin.experiments.figures.paper001._drop``), averaged over
``--drops`` drops at 5 / 10 / 15 / 20 dBm, and the three Fig. 3 statements checked:
proposed (largest T) below every baseline at every power; baseline 4 below baseline 3 at
every power; outage falling as T grows. Prints one row per (reading, power) and writes a
CSV with ``--out``.

    python benchmarks/paper001_readings.py [--drops 6] [--readings a,b] [--out FILE]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from twin.experiments.figures.paper001 import _drop, baselines, controller, proposed, schedule

DB = {"waveguides.0.attenuation_np_per_m": None}


def _att(unit, value=0.18):
    if unit == "db":
        return {"waveguides.0.attenuation_np_per_m": None, "waveguides.0.attenuation_db_per_m": value}
    return {"waveguides.0.attenuation_db_per_m": None, "waveguides.0.attenuation_np_per_m": value}


def _aperture(d):
    return {"waveguides.0.clusters": [{"center_m": c + 0.5, "aperture_m": d, "pas": 4} for c in range(10)]}


# name: (overrides, R_min, proposed T values, baselines' T)
def _nc(n, d=0.5):
    return {"waveguides.0.pas": 10 * n,
            "waveguides.0.clusters": [{"center_m": c + 0.5, "aperture_m": d, "pas": n} for c in range(10)]}


DIST = {"simulation.distinct_clusters": True}


def _tau(frac):
    return {"simulation.min_slot_s": frac * 0.008}


READINGS = {
    "dB/m, Rmin 2, Dc 0.5, T 2-4": ({**_att("db")}, 2.0, (2, 3, 4), 4),
    "Np/m, Rmin 2, Dc 0.5, T 2-4": ({**_att("np")}, 2.0, (2, 3, 4), 4),
    "Np/m, Rmin 1, Dc 0.5, T 2-4": ({**_att("np")}, 1.0, (2, 3, 4), 4),
    "Np/m, Rmin 4, Dc 0.5, T 2-4": ({**_att("np")}, 4.0, (2, 3, 4), 4),
    "dB/m, Rmin 4, Dc 0.5, T 2-4": ({**_att("db")}, 4.0, (2, 3, 4), 4),
    "Np/m, Rmin 2, Dc 0.1, T 2-4": ({**_att("np"), **_aperture(0.1)}, 2.0, (2, 3, 4), 4),
    "Np/m, Rmin 2, Dc 1.0, T 2-4": ({**_att("np"), **_aperture(1.0)}, 2.0, (2, 3, 4), 4),
    "Np/m, Rmin 2, Dc 0.5, T 4-8": ({**_att("np")}, 2.0, (4, 6, 8), 4),
    "Np/m, Rmin 2, Dc 0.5, noise -80": ({**_att("np"), "radio.noise_dbm": -80.0}, 2.0, (2, 3, 4), 4),
    "dB/m, Rmin 2, Dc 0.5, noise -80": ({**_att("db"), "radio.noise_dbm": -80.0}, 2.0, (2, 3, 4), 4),
    "Np/m, Rmin 2, Dc 0.02, T 2-4": ({**_att("np"), **_aperture(0.02)}, 2.0, (2, 3, 4), 4),
    "Np/m, Rmin 2, Dc 0.03, T 2-4": ({**_att("np"), **_aperture(0.03)}, 2.0, (2, 3, 4), 4),
    "Np/m, Rmin 2, Dc 0.05, T 2-4": ({**_att("np"), **_aperture(0.05)}, 2.0, (2, 3, 4), 4),
    "dB/m, Rmin 2, Dc 0.03, T 2-4": ({**_att("db"), **_aperture(0.03)}, 2.0, (2, 3, 4), 4),
    # every slot a different cluster (simulation.distinct_clusters), τ_min (min_slot_s), N_c
    "Np/m, distinct, tau 5%, Nc 4": ({**_att("np"), **DIST}, 2.0, (2, 3, 4), 4),
    "Np/m, distinct, tau 1%, Nc 4": ({**_att("np"), **DIST, **_tau(0.01)}, 2.0, (2, 3, 4), 4),
    "Np/m, distinct, tau 1%, Nc 2": ({**_att("np"), **DIST, **_tau(0.01), **_nc(2)}, 2.0, (2, 3, 4), 4),
    "dB/m, distinct, tau 1%, Nc 4": ({**_att("db"), **DIST, **_tau(0.01)}, 2.0, (2, 3, 4), 4),
    "dB/m, distinct, tau 1%, Nc 2": ({**_att("db"), **DIST, **_tau(0.01), **_nc(2)}, 2.0, (2, 3, 4), 4),
    "Np/m, distinct, tau 1%, Nc 4, T 4-8": ({**_att("np"), **DIST, **_tau(0.01)}, 2.0, (4, 6, 8), 8),
    "Np/m, distinct, tau 1%, Nc 2, T 4-8": ({**_att("np"), **DIST, **_tau(0.01), **_nc(2)}, 2.0, (4, 6, 8), 8),
    "dB/m, distinct, tau 1%, Nc 4, T 4-8": ({**_att("db"), **DIST, **_tau(0.01)}, 2.0, (4, 6, 8), 8),
    "Np/m, distinct, tau 1%, Nc 4, T 2-10": ({**_att("np"), **DIST, **_tau(0.01)}, 2.0, (2, 6, 10), 10),
    "dB/m, distinct, tau 0.1%, Nc 2, T 4-8": ({**_att("db"), **DIST, **_tau(0.001), **_nc(2)}, 2.0, (4, 6, 8), 8),
    "Np/m, distinct, tau 0.1%, Nc 2, T 4-8": ({**_att("np"), **DIST, **_tau(0.001), **_nc(2)}, 2.0, (4, 6, 8), 8),
    "Np/m, distinct, tau 1%, Nc 2, Rmin 4": ({**_att("np"), **DIST, **_tau(0.01), **_nc(2)}, 4.0, (2, 3, 4), 4),
}


def run(name, drops, powers=(5, 10, 15, 20), seed=0):
    over, r_min, Ts, Tb = READINGS[name]
    schemes = [proposed(T) for T in Ts] + baselines(Tb)
    rows = []
    for P in powers:
        ctrls = {sc.label: controller(sc, r_min, {**over, "radio.tx_power_dbm": P}) for sc in schemes}
        world = next(iter(ctrls.values())).world
        res = {k: [] for k in ctrls}
        for d in range(drops):
            target, users, _ = _drop(world, seed, d)
            for label, ctrl in ctrls.items():
                sch = schedule(ctrl, users, target)
                res[label].append(sch.outage if sch.usable else 1.0)
        rows += [{"reading": name, "tx_power_dbm": P, "scheme": k, "outage": float(np.mean(v)),
                  "drops": drops} for k, v in res.items()]
    return pd.DataFrame(rows)


def verdict(df, name):
    _, _, Ts, _ = READINGS[name]
    w = df[df.reading == name].pivot(index="tx_power_dbm", columns="scheme", values="outage")
    top = f"Proposed-T{max(Ts)}"
    below_all = all((w[top] < w[f"Baseline-{k}"]).all() for k in (1, 2, 3, 4))
    b4_b3 = bool((w["Baseline-4"] < w["Baseline-3"]).all())
    tcol = [f"Proposed-T{T}" for T in Ts]
    falls = bool(np.all(np.diff(w[tcol].to_numpy(), axis=1) <= 1e-12) and (w[tcol[-1]] < w[tcol[0]]).all())
    return below_all, b4_b3, falls, w


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drops", type=int, default=6)
    ap.add_argument("--readings", default="", help="comma-separated indices into READINGS (default: all)")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    names = list(READINGS)
    if args.readings:
        names = [names[int(i)] for i in args.readings.split(",")]
    frames = []
    for name in names:
        t0 = time.process_time()
        df = run(name, args.drops)
        frames.append(df)
        below_all, b4_b3, falls, w = verdict(df, name)
        print(f"== {name}  ({time.process_time() - t0:.0f} s CPU)  proposed<all baselines: {below_all}  "
              f"B4<B3: {b4_b3}  falls with T: {falls}")
        print(w.round(4).to_string(), flush=True)
        if args.out:
            pd.concat(frames).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
