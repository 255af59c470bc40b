"""Independent run tasks with a result cache, executed on local processes or Dask.

A task is one (scene, policy, seed, frames) run; its result is the run summary. The
cache key (:func:`Task.key`) hashes every input of the run: the validated scene's
content hash (overrides applied), the frames actually simulated, the policy name and its
parameters, the seed, the replicate number of a policy listed twice (an A/A check runs
twice), and the pass-twin version. Results live in
``DIR/runs/<scene-hash>/<policy-label>/seed-<n>-<key>/`` (``summary.json`` beside the
run's traces, ``task.json`` holding the key and its inputs), so a rerun or an
interrupted study skips finished tasks, and a task whose inputs changed (``--frames``,
``--set``, parameters, a new version) gets its own directory instead of a stale result."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from twin.errors import ConfigError


@dataclass(frozen=True)
class PolicySpec:
    """``name`` or ``name:key=value:key=value`` (values read as TOML: numbers, booleans,
    strings). ``replicate`` numbers repeated identical specs (``uniform,uniform`` →
    labels ``uniform`` and ``uniform#2``)."""

    label: str
    name: str
    params: dict = field(default_factory=dict, hash=False)
    replicate: int = 0

    @classmethod
    def parse(cls, text: str) -> "PolicySpec":
        from twin.scene.values import parse_value

        parts = [p for p in text.strip().split(":") if p]
        if not parts:
            raise ConfigError("--policies", text, "empty policy", "e.g. --policies follow,uniform:beamformer=mmse")
        params = {}
        for p in parts[1:]:
            if "=" not in p:
                raise ConfigError("--policies", text, f"policy parameter {p!r} is not key=value",
                                  "write name:key=value")
            k, v = p.split("=", 1)
            params[k] = parse_value(v)
        return cls(text.strip(), parts[0], params)


def label_replicates(specs: list[PolicySpec]) -> list[PolicySpec]:
    """Give a policy listed more than once distinct labels (``uniform``, ``uniform#2``, …)
    and replicate numbers, so an A/A comparison runs each copy and tables stay unique."""
    seen: dict[str, int] = {}
    out = []
    for s in specs:
        n = seen.get(s.label, 0)
        seen[s.label] = n + 1
        out.append(s if n == 0 else PolicySpec(f"{s.label}#{n + 1}", s.name, s.params, n))
    return out


@dataclass(frozen=True)
class Task:
    scene_json: str          # validated scene, JSON (with overrides applied)
    scene_hash: str
    policy: PolicySpec
    seed: int
    frames: int | None
    out_root: str
    point: tuple = ()        # sweep grid point ((key, value), ...)

    @cached_property
    def n_frames(self) -> int:
        """Frames the run simulates (``frames`` or the scene's own count)."""
        if self.frames is not None:
            return int(self.frames)
        from twin.scene.schema import Scene
        return Scene.model_validate(json.loads(self.scene_json)).simulation.n_frames

    @cached_property
    def inputs(self) -> dict:
        """Everything the run's result depends on (the cache key's preimage)."""
        from twin import __version__
        return {"scene_hash": self.scene_hash, "frames": self.n_frames, "policy": self.policy.name,
                "params": self.policy.params, "seed": int(self.seed),
                "replicate": self.policy.replicate, "version": __version__}

    @cached_property
    def key(self) -> str:
        blob = json.dumps(self.inputs, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def run_dir(self) -> Path:
        label = re.sub(r"[^A-Za-z0-9_.=-]+", "_", self.policy.label)
        return Path(self.out_root) / "runs" / self.scene_hash / label / f"seed-{self.seed}-{self.key}"


def cached_summary(task: Task) -> dict | None:
    """The summary of a finished run of exactly this task, else None."""
    d = task.run_dir
    try:
        stamp = json.loads((d / "task.json").read_text())
        summary = json.loads((d / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("key") != task.key or not summary.get("completed"):
        return None
    return summary


def run_task(task: Task) -> dict:
    """Run one task (or return its cached summary)."""
    from twin.engine import Simulation
    from twin.scene.schema import Scene

    cached = cached_summary(task)
    if cached is not None:
        return cached
    stamp = task.run_dir / "task.json"
    stamp.unlink(missing_ok=True)                       # a rerun invalidates the old stamp first
    scene = Scene.model_validate(json.loads(task.scene_json))
    sim = Simulation(scene, task.run_dir, policy=task.policy.name, policy_params=task.policy.params,
                     frames=task.n_frames, seed=task.seed)
    summary = sim.run()
    tmp = stamp.with_name(".task.json.tmp")
    tmp.write_text(json.dumps({"key": task.key, "label": task.policy.label, "point": list(task.point),
                               **task.inputs}, indent=2, default=str))
    tmp.replace(stamp)
    return summary


@dataclass
class Execution:
    """Summaries in task order, and how many came from the cache."""

    results: list[dict]
    reused: int

    def report(self) -> str:
        return f"{self.reused} of {len(self.results)} runs reused from the cache"


def execute(tasks: list[Task], backend: str | None = None, workers: int | None = None,
            progress: bool = True) -> Execution:
    """Run tasks (cached ones are skipped) and return their summaries in task order.

    backend: None or "local" (processes over all cores), "serial", or a Dask scheduler
    address ("dask-local" starts a 2-worker LocalCluster).
    """
    from tqdm import tqdm

    results: list[dict | None] = [None] * len(tasks)
    todo = []
    for i, t in enumerate(tasks):
        s = cached_summary(t)
        if s is not None:
            results[i] = s
        else:
            todo.append(i)
    reused = len(tasks) - len(todo)
    bar = tqdm(total=len(tasks), initial=reused, unit="run", disable=not progress, desc="runs")
    try:
        if not todo:
            pass
        elif backend in (None, "local") and (workers or os.cpu_count() or 1) > 1 and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
                futs = {pool.submit(run_task, tasks[i]): i for i in todo}
                for fut in as_completed(futs):
                    results[futs[fut]] = fut.result()
                    bar.update(1)
        elif backend in (None, "local", "serial"):
            for i in todo:
                results[i] = run_task(tasks[i])
                bar.update(1)
        else:
            _execute_dask(tasks, todo, results, backend, bar)
    finally:
        bar.close()
    return Execution(results, reused)


def summary_value(summary: dict, key: str) -> float:
    """A numeric summary field; missing or null (JSON for NaN) gives NaN."""
    v = summary.get(key)
    return math.nan if v is None else float(v)


def _execute_dask(tasks, todo, results, address, bar):
    from distributed import Client, LocalCluster, as_completed as dask_completed

    cluster = None
    if address == "dask-local":
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                               processes=True)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout="10s")
        except OSError as e:
            raise ConfigError("--dask", address, f"cannot reach a Dask scheduler: {e}",
                              "start one (dask scheduler) or use --dask local") from None
    try:
        futs = client.map(run_task, [tasks[i] for i in todo], pure=False)
        index = {f.key: i for f, i in zip(futs, todo)}
        for fut in dask_completed(futs):
            results[index[fut.key]] = fut.result()
            bar.update(1)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
