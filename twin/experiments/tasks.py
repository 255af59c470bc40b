"""Independent run tasks with a result cache, executed on local processes or Dask.

A task is one (scene, policy, seed) run; its result is the run summary. Results are
cached as ``DIR/runs/<scene-hash>/<policy-label>/seed-<n>/summary.json`` (the run's
traces sit beside it), so a rerun or an interrupted study skips finished tasks."""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from twin.errors import ConfigError


@dataclass(frozen=True)
class PolicySpec:
    """``name`` or ``name:key=value:key=value`` (values read as TOML: numbers, booleans,
    strings)."""

    label: str
    name: str
    params: dict = field(default_factory=dict, hash=False)

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


@dataclass(frozen=True)
class Task:
    scene_json: str          # validated scene, JSON (with overrides applied)
    scene_hash: str
    policy: PolicySpec
    seed: int
    frames: int | None
    out_root: str
    point: tuple = ()        # sweep grid point ((key, value), ...)

    @property
    def run_dir(self) -> Path:
        label = re.sub(r"[^A-Za-z0-9_.=-]+", "_", self.policy.label)
        return Path(self.out_root) / "runs" / self.scene_hash / label / f"seed-{self.seed}"


def run_task(task: Task) -> dict:
    """Run one task (or return its cached summary)."""
    from twin.engine import Simulation
    from twin.scene.schema import Scene

    cached = task.run_dir / "summary.json"
    if cached.exists():
        summary = json.loads(cached.read_text())
        if summary.get("completed"):
            return summary
    scene = Scene.model_validate(json.loads(task.scene_json))
    sim = Simulation(scene, task.run_dir, policy=task.policy.name, policy_params=task.policy.params,
                     frames=task.frames, seed=task.seed)
    return sim.run()


def execute(tasks: list[Task], backend: str | None = None, workers: int | None = None,
            progress: bool = True) -> list[dict]:
    """Run tasks (cached ones are skipped) and return their summaries in task order.

    backend: None or "local" (processes over all cores), "serial", or a Dask scheduler
    address ("local" via ``dask="local"`` starts a 2-worker LocalCluster).
    """
    from tqdm import tqdm

    results: list[dict | None] = [None] * len(tasks)
    todo = []
    for i, t in enumerate(tasks):
        cached = t.run_dir / "summary.json"
        if cached.exists():
            s = json.loads(cached.read_text())
            if s.get("completed"):
                results[i] = s
                continue
        todo.append(i)
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="run", disable=not progress,
               desc="runs")
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
    return results


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
