"""Real time: does each controller keep up with the deployment it mirrors (issue 13)?

For every preset (``twin.controller.PRESETS``), on ``office`` and on the preset's example
scene, runs ``--frames`` frames with traces on (a run directory under a temporary
directory) and prints

- the real-time factor RTF = simulated time / wall time of the whole run (≥ 1: the twin
  keeps up; the engine goal is ≥ 20 for the linear presets on ``office``);
- the controller's mean and p95 wall time per frame (the frames trace's
  ``solve_time_s``: the decision only, not the evaluator) against the frame length;
- the same two figures in CPU time of this process (``time.process_time``): on a shared,
  overloaded machine wall times measure the neighbours as much as the code, CPU times
  much less so (RTF cpu = simulated time / CPU time of the run);
- "+slots": the controller's whole CPU per frame, the decision plus the frame's per-slot
  re-beamformings at the pilots (``Controller.refresh``, ``prepare_refresh``,
  ``complete_beams``): work a policy defers to the slots still is the controller's work;
- "slot p95": the 95th percentile CPU of one pilot's re-beamforming (a ``refresh`` call,
  plus its share of the frame's ``prepare_refresh`` where a stage computes a frame's pilots
  in one batch) against the slot length (frame / ``slots_per_frame``): a pilot's
  re-beamforming has to be ready before its slot radiates, so on a controller that gives
  the per-slot work its own core (the decision on one, the pilots on the other) this and
  the decision's p95 against the frame are the two deadlines; "+slots" is both on one core
  ("-" where no pilot re-beamformed a slot).

    python benchmarks/bench_realtime.py [--frames 20] [--repeat 1] [--presets a,b] [--scenes office,example]
                                        [--set scene.key=value …] [--param role.param=value …] [--walking]
                                        [--warmup 0]

``--warmup K`` leaves the first K frames out of the controller's mean and p95 (the
"once warm" figures: a cold first frame is a search, the next ones track); the RTF
always covers the whole run.

``--walking`` sets every scene's users walking (``users.mobility`` = random waypoint at
0.6-1.4 m/s without pauses, the ``office`` scene's walkers): on ``paper001``, whose users
stand still, it is the moving-users case of issue 13 (no frame can reuse the previous
decision).

A combination that refuses to build (a preset that needs targets on a scene without
them, …) is listed with the one-line reason. A shared machine is noisy: with
``--repeat R`` each figure is the median over R runs, and "min p95" is the 95th
percentile over frames of each frame's least "+slots" CPU in the R runs (a run replays
the same frames, so a frame's least time is its own cost with the least interference from
the rest of the machine; "-" for one run; not meaningful with ``controller.latency_s =
"measured"``, where a run's held frames depend on its timing).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np


_cpu: list = []      # CPU of each Controller.decide call (one per frame)
_slot_cpu: list = []  # per frame: CPU of the per-slot calls (refresh, prepare_refresh, complete_beams) after it
_slot_each: list = []  # (frame index, CPU) of each pilot re-beamforming (refresh)
_prep_share: dict = {}  # frame index -> CPU of its prepare_refresh per pilot it prepared
_depth = [0]

#: ``--walking``: the users' mobility (random waypoint at walking speed, no pauses)
WALKING = {"model": "random_waypoint", "speed_m_s": [0.6, 1.4], "pause_s": 0.0}


def _cpu_timed(method, slot=False):
    """``method`` timed in CPU: a decision opens a frame's entry in ``_cpu`` (and an empty
    slot entry), a per-slot call adds to the frame's slot entry; nested calls count once.
    ``refresh`` calls are also kept one by one, and a ``prepare_refresh`` as its CPU per
    pilot (its items), for "slot p95"."""
    name = method.__name__

    def wrapper(*args, **kwargs):
        _depth[0] += 1
        c0 = time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            _depth[0] -= 1
            dt = time.process_time() - c0
            if _depth[0] == 0:
                if not slot:
                    _cpu.append(dt)
                    _slot_cpu.append(0.0)
                elif _slot_cpu:
                    frame = len(_slot_cpu) - 1
                    _slot_cpu[-1] += dt
                    if name == "refresh":
                        _slot_each.append((frame, dt))
                    elif name == "prepare_refresh" and args[1:] and len(args[1]):
                        _prep_share[frame] = _prep_share.get(frame, 0.0) + dt / len(args[1])
    wrapper._bench = True
    return wrapper


def _run(scene, policy, frames, params=None):
    from twin.engine import Simulation
    from twin.traces.reader import read_column

    out = tempfile.mkdtemp(prefix="bench_rt_")
    try:
        sim = Simulation(scene, out, policy=policy, frames=frames, policy_params=params or None)
        _cpu.clear()
        _slot_cpu.clear()
        _slot_each.clear()
        _prep_share.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        sim.run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        solve = read_column(out, "frames", "solve_time_s")
        solve = solve[np.isfinite(solve)]
        each = np.array([(f, dt + _prep_share.get(f, 0.0)) for f, dt in _slot_each], float).reshape(-1, 2)
        return wall, solve, cpu, np.array(_cpu), np.array(_cpu) + np.array(_slot_cpu), each
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _mean_p95(x):
    """Mean and 95th percentile (ms) of times in seconds."""
    if not np.size(x):
        return float("nan"), float("nan")
    return float(np.mean(x)) * 1e3, float(np.percentile(x, 95)) * 1e3


def main(argv=None):
    from twin.cli import int_at_least
    from twin.controller import PRESETS, Controller
    from twin.errors import ConfigError

    if not getattr(Controller.decide, "_bench", False):
        Controller.decide = _cpu_timed(Controller.decide)
        for name in ("refresh", "prepare_refresh", "complete_beams"):
            setattr(Controller, name, _cpu_timed(getattr(Controller, name), slot=True))
    from twin.scene import load_scene

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=20, help="frames per run (default 20)")
    ap.add_argument("--repeat", type=lambda v: int_at_least(v, 1, "--repeat"), default=1,
                    help="runs per combination (≥ 1); medians are printed")
    ap.add_argument("--presets", default="", help="comma-separated preset names (default: all)")
    ap.add_argument("--scenes", default="office,example",
                    help="comma-separated: 'office', 'example' (the preset's own scene) or scene names")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="scene override for every scene, e.g. csi.model=perfect (repeatable)")
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                    help="controller parameter for every preset, e.g. beamform.predict=false (repeatable)")
    ap.add_argument("--warmup", type=int, default=0,
                    help="frames left out of the controller's mean/p95 (default 0: all)")
    ap.add_argument("--walking", action="store_true",
                    help="users walk (random waypoint 0.6-1.4 m/s, no pauses) on every scene")
    args = ap.parse_args(argv)
    from twin.scene.values import parse_assignments
    try:
        overrides = ({"users.mobility": dict(WALKING)} if args.walking else {}) | parse_assignments(args.set, "--set")
        params = parse_assignments(args.param, "--param")
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    names = [p for p in args.presets.split(",") if p] or [p for p in PRESETS if p != "pipeline"]
    unknown = [p for p in names if p not in PRESETS]
    if unknown:
        print(f"--presets: unknown preset {unknown[0]!r}; choose from {', '.join(PRESETS)}", file=sys.stderr)
        return 2
    scenes = {}
    print(f"{args.frames} frames per run, median of {args.repeat}; traces on"
          + (f"; controller statistics without the first {args.warmup} frames" if args.warmup else "")
          + (f"; --set {overrides}" if overrides else "") + (f"; --param {params}" if params else ""))
    print(f"{'preset':<22} {'scene':<9} {'frame ms':>8} {'RTF':>7} {'ctl mean ms':>11} {'ctl p95 ms':>10}"
          f" {'p95/frame':>9} | {'RTF cpu':>7} {'cpu mean ms':>11} {'cpu p95 ms':>10}"
          f" | {'+slots mean':>11} {'+slots p95':>10} {'min p95':>8} | {'slot ms':>7} {'slot p95':>8}")
    for name in names:
        wanted = []
        for s in args.scenes.split(","):
            s = PRESETS[name].example_scene if s == "example" else s
            if s not in wanted:
                wanted.append(s)
        for sname in wanted:
            try:
                scene = scenes[sname] if sname in scenes else scenes.setdefault(sname, load_scene(sname, overrides))
            except ConfigError as exc:
                print(f"{name:<22} {sname:<9} scene refused: {exc}")
                continue
            frame_ms = scene.simulation.frame_s * 1e3
            slot_ms = frame_ms / scene.simulation.slots_per_frame
            cols = [[] for _ in range(9)]
            totals = []
            try:
                for _ in range(args.repeat):
                    wall, solve, cpu, ctl, total, each = _run(scene, name, args.frames, params)
                    solve, ctl, total = solve[args.warmup:], ctl[args.warmup:], total[args.warmup:]
                    each = each[each[:, 0] >= args.warmup, 1]
                    totals.append(total)
                    sim_s = args.frames * scene.simulation.frame_s
                    for col, val in zip(cols, (sim_s / wall, *_mean_p95(solve), sim_s / cpu, *_mean_p95(ctl),
                                               *_mean_p95(total), _mean_p95(each)[1])):
                        col.append(val)
            except ConfigError as exc:
                print(f"{name:<22} {sname:<9} refuses to build: {exc}")
                continue
            r, m, p, rc, mc, pc, mt, pt, ps = (statistics.median(x) for x in cols)
            slot = f"{ps:8.1f}" if np.isfinite(ps) else f"{'-':>8}"
            same = len(totals) > 1 and len({len(t) for t in totals}) == 1 and len(totals[0])
            least = f"{_mean_p95(np.min(totals, axis=0))[1]:8.1f}" if same else f"{'-':>8}"
            print(f"{name:<22} {sname:<9} {frame_ms:8.1f} {r:7.2f} {m:11.1f} {p:10.1f} {p / frame_ms:9.2f} | "
                  f"{rc:7.2f} {mc:11.1f} {pc:10.1f} | {mt:11.1f} {pt:10.1f} {least} | {slot_ms:7.1f} {slot}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
