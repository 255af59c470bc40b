"""The drop map of the figure reproductions: every independent drop of a figure is one
call ``func(*args)``, cached on disk as soon as it is done and run in this process or on
Dask workers.

A figure module builds its list of drops (picklable argument tuples of a module-level
function: sweep value, drop index, seed, size, scheme list …) and calls
:func:`drop_map`; the results come back in the order of the items. While
:func:`twin.experiments.figures.run_figure` runs with a cache directory, each result is
stored under ``DIR/.drops/<figure>/<key>.pkl`` (written to a temporary file and renamed,
so a killed run never leaves a half-written entry) and looked up before it is computed:
a rerun after an interruption recomputes only the missing drops. The key hashes the
function's module and name, its arguments, the pass-twin version and a fingerprint of
the code and scenes (``twin/**.py``, ``scenes/*.toml``): any change to either starts a
fresh cache instead of reusing stale drops.

Executors: in this process (default), or a Dask ``distributed.Client`` (``--dask local``:
a LocalCluster of single-threaded worker processes, one per core; ``--dask ADDRESS``: an
existing scheduler whose workers can import this checkout's ``twin``). Dask results are
stored by this process as they arrive (``as_completed``), so the cache lives where the
figures are written."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import pickle
import re
import threading
import warnings
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from twin.errors import ConfigError

#: Seconds to wait for an existing Dask scheduler before ``--dask ADDRESS`` fails.
CONNECT_TIMEOUT_S = 10

# The running figure of this thread (set by run_figure; `pass-twin figure all --dask` runs
# the figures in threads of one process): name, cache directory, Dask client, progress bar
# switch or shared bar, the Dask priority of its tasks, the rough CPU seconds of one of its
# tasks (the shared bar's weight), and the counts of computed / cached drops of the current run.
_DEFAULT = {"figure": "", "cache": None, "client": None, "progress": False, "bar": None, "priority": 0,
            "task_s": 1.0, "computed": 0, "cached": 0}
_LOCAL = threading.local()


def _run() -> dict:
    """This thread's running-figure state."""
    st = getattr(_LOCAL, "run", None)
    if st is None:
        st = _LOCAL.run = dict(_DEFAULT)
    return st


@contextmanager
def running(figure: str, cache: Path | None = None, client=None, progress: bool = False, bar=None,
            priority: int = 0, task_s: float = 1.0):
    """Context of one figure in this thread: its drops are cached under
    ``cache/.drops/<figure>`` (None: no cache) and run on ``client`` (None: in this
    process) as Dask tasks of ``priority`` (higher first); ``bar``: a :class:`SharedBar`
    counting the drops instead of a bar of the figure's own (``progress``), each drop
    weighted by its share of ``task_s``, the rough CPU seconds of one of the figure's tasks."""
    st = _run()
    saved = dict(st)
    st.update(figure=figure, cache=Path(cache) if cache is not None else None, client=client,
              progress=bool(progress), bar=bar, priority=int(priority), task_s=float(task_s),
              computed=0, cached=0)
    try:
        yield st
    finally:
        counts = {"computed": st["computed"], "cached": st["cached"]}
        st.clear()
        st.update(saved)
        st["last"] = counts


def last_counts() -> dict:
    """{"computed": n, "cached": m} drops of the last figure run in this thread."""
    return dict(_run().get("last", {"computed": 0, "cached": 0}))


class SharedBar:
    """One progress bar for the drops of several figures running at once (threads): each
    drop map adds its drops to the total, its stored drops as done, and ticks per drop.

    The figures' drops differ in cost by up to 10⁴× (a 0.05-s placement drop, a 50-s users
    chain), so a bar counting drops would give a meaningless rate and time left (the long
    drops run first, hours predicted at the start). The bar advances instead by each drop's
    ``weight``, its rough CPU seconds (a figure's ``task_s`` shared among the drops of a
    task): its percentage and time left follow the work, and the drops done / total are
    shown beside it."""

    def __init__(self, desc: str = "all figures"):
        from tqdm import tqdm

        self._lock = threading.Lock()
        self.drops, self.total_drops = 0, 0
        # smoothing=0: the time left from the run's average rate; tqdm's default (recent
        # rate) jumped between 8 and 50 minutes left in one full run as figures whose
        # task_s is off in either direction took turns, the average stayed within 67-73
        self._bar = tqdm(total=0, desc=desc, dynamic_ncols=True, smoothing=0,
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]")
        self._bar.set_postfix_str("0/0 drops", refresh=False)

    @property
    def work(self) -> tuple[float, float]:
        """(weighted drops done, weighted drops in all) so far."""
        return float(self._bar.n), float(self._bar.total)

    def add(self, total: int, done: int, weight: float = 1.0) -> None:
        """A drop map's ``total`` drops of ``weight`` each, ``done`` of them already stored."""
        with self._lock:
            self.total_drops += int(total)
            self._bar.total += int(total) * float(weight)
            self._advance(int(done), weight)

    def tick(self, weight: float = 1.0) -> None:
        """One drop of ``weight`` done."""
        with self._lock:
            self._advance(1, weight)

    def _advance(self, drops: int, weight: float) -> None:
        self.drops += drops
        self._bar.set_postfix_str(f"{self.drops}/{self.total_drops} drops", refresh=False)
        # the weights added one drop at a time overshoot their total by rounding (15 drops
        # of 0.1: 2e-16 past 1.5), and tqdm warns when its fraction passes 1: capped
        step = min(drops * float(weight), max(0.0, float(self._bar.total) - float(self._bar.n)))
        self._bar.update(step)

    def close(self) -> None:
        with self._lock:
            self._bar.close()


# --- keys ---------------------------------------------------------------------------------
def _canon(obj) -> str:
    """A canonical text of an argument (dict order-free, arrays by content)."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return repr(obj)
    if isinstance(obj, float):
        return repr(float(obj))
    if isinstance(obj, np.generic):
        return _canon(obj.item())
    if isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        return f"nd({a.dtype.str},{a.shape},{hashlib.sha256(a.tobytes()).hexdigest()})"
    if isinstance(obj, (list, tuple)):
        inner = ",".join(_canon(x) for x in obj)
        return f"[{inner}]" if isinstance(obj, list) else f"({inner})"
    if isinstance(obj, dict):
        return "{" + ",".join(sorted(f"{_canon(k)}:{_canon(v)}" for k, v in obj.items())) + "}"
    if isinstance(obj, (set, frozenset)):
        return "set{" + ",".join(sorted(_canon(x) for x in obj)) + "}"
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return f"{type(obj).__qualname__}{_canon(fields)}"
    text = repr(obj)
    if re.search(r" at 0x[0-9a-f]+", text):
        raise TypeError(f"drop argument {text} has no stable text; pass plain values")
    return text


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the package's sources and the built-in scenes (the code a drop runs)."""
    import twin

    root = Path(twin.__file__).resolve().parent
    h = hashlib.sha256(twin.__version__.encode())
    files = sorted(root.rglob("*.py")) + sorted((root.parent / "scenes").glob("*.toml"))
    for f in files:
        h.update(str(f.relative_to(root.parent)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def drop_key(func, args: tuple) -> str:
    """Cache key of ``func(*args)``: module, name, arguments, version and code fingerprint."""
    text = f"{func.__module__}.{func.__qualname__}|{_canon(tuple(args))}|{code_fingerprint()}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def per_process(func):
    """Memoise ``func`` (a drop's set-up: scene, world, controllers) by the canonical text
    of its arguments, per process: the drops of one sweep point that a process (this one
    or a Dask worker) runs share it, as the drops of a point shared it in the old loop.
    The set-ups are stateless between drops, so sharing does not change any answer."""
    memo: dict = {}

    def wrapper(*args):
        k = _canon(args)
        if k not in memo:
            if len(memo) >= 32:
                memo.pop(next(iter(memo)))
            memo[k] = func(*args)
        return memo[k]

    wrapper.__wrapped__ = func
    wrapper.__name__, wrapper.__qualname__, wrapper.__doc__ = func.__name__, func.__qualname__, func.__doc__
    wrapper.cache_clear = memo.clear
    return wrapper


# --- the store ----------------------------------------------------------------------------
def _dir() -> Path | None:
    st = _run()
    if st["cache"] is None:
        return None
    return st["cache"] / ".drops" / (st["figure"] or "_")


def _load(path: Path):
    """(True, value) of a stored drop, (False, None) when absent or unreadable."""
    try:
        with open(path, "rb") as f:
            return True, pickle.load(f)
    except FileNotFoundError:
        return False, None
    except Exception:               # a damaged entry (disk full, foreign file): recompute it
        return False, None


def _store(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)               # atomic: the entry is whole or absent


# --- the map ------------------------------------------------------------------------------
def drop_map(func, items, desc: str = "", group: int = 1) -> list:
    """``[func(*args) for args in items]``, each result from the cache when stored, else
    computed (in this process or on the running figure's Dask client) and stored at once.
    ``func`` is a module-level function; every ``args`` a picklable tuple. On Dask, up to
    ``group`` consecutive items still to compute go to a worker as one task (a figure passes
    its sweep points per drop: the points of a drop share its geometry memo,
    :mod:`twin.optim.drop_memo`, and a task's scheduling costs are paid once); each item's
    result is still stored on its own.

    With a cache, a drop is computed once for all figures: the key names the computation
    (function, arguments, code), not the figure, so a drop that another figure has stored
    (``DIR/.drops/<other>/``) is read from there, and one that a figure running at the same
    time in this process is computing is waited for instead of computed again
    (:class:`_Shared`; e.g. the default point of paper 002's downlink sweeps over P, D_x, M
    and K, the same 400 drops four times). If that figure fails or is cancelled first,
    the drop is computed here after all."""
    items = [tuple(a) for a in items]
    d = _dir()
    keys = [drop_key(func, a) for a in items] if d is not None else [None] * len(items)
    out: list = [None] * len(items)
    todo = []
    for i, k in enumerate(keys):
        hit, value = _load(d / f"{k}.pkl") if k is not None else (False, None)
        if hit:
            out[i] = value
        else:
            todo.append(i)
    st = _run()
    shared = st["bar"]
    weight = max(st["task_s"], 1e-3) / max(1, int(group))      # a drop's share of its task's CPU (SharedBar)
    mine: dict = {}                   # key -> the _Shared entry this map owns (released in any case)
    bar = None
    try:
        waits: dict = {}              # item -> another map's _Shared entry
        if d is not None and todo:
            todo, waits = _claim(todo, keys, mine)
            todo = _from_other_figures(d, todo, keys, out, mine)
        # a drop another figure computes counts as cached here, and on the shared bar as
        # done (its owner's figure counts its work); a figure's own bar ticks it on arrival
        st["cached"] += len(items) - len(todo)
        if shared is not None:
            shared.add(len(items), len(items) - len(todo), weight)
        bar = _bar(len(items), len(items) - len(todo) - len(waits), desc) if shared is None else None

        def done(i, value):
            if keys[i] is not None:
                _store(d / f"{keys[i]}.pkl", value)
                _resolve(mine, keys[i], value)
            out[i] = value
            st["computed"] += 1
            if bar is not None:
                bar.update(1)
            elif shared is not None:
                shared.tick(weight)

        while True:
            _compute(func, items, keys, todo, done, group, st)
            late = []                 # waited-for drops whose owner stopped before computing them
            for i, e in waits.items():
                ok, value = _wait(e)
                if ok:
                    _store(d / f"{keys[i]}.pkl", value)
                    out[i] = value
                    if bar is not None:
                        bar.update(1)
                else:
                    late.append(i)
            if not late:
                break
            # claimed again: another figure may have taken them up meanwhile (then wait
            # for it) or stored them, else this map computes them (no longer cached)
            todo, waits = _claim(late, keys, mine)
            todo = _from_other_figures(d, todo, keys, out, mine)
            st["cached"] -= len(todo)
            if shared is not None:
                shared.add(0, -len(todo), weight)
    finally:
        if bar is not None:
            bar.close()
        _release(mine)
    return out


def _compute(func, items, keys, todo, done, group, st) -> None:
    client = st["client"]
    if client is None or not todo:
        first = {}                    # key -> the value of its first item (equal items: one computation)
        for i in todo:
            k = keys[i]
            if k is not None and k in first:
                done(i, first[k])
                continue
            value = func(*items[i])
            if k is not None:
                first[k] = value
            done(i, value)
    else:
        _dask_map(client, func, items, keys, todo, done, group, st["priority"])


class _Shared:
    """A drop one drop map of this process is computing, which the drop maps of other
    figures running at the same time wait for (:func:`drop_map`)."""

    def __init__(self):
        self._event = threading.Event()
        self._ok, self._value = False, None

    def resolve(self, value) -> None:
        self._ok, self._value = True, value
        self._event.set()

    def abandon(self) -> None:
        self._event.set()

    def wait(self, timeout: float | None = None) -> tuple[bool, object] | None:
        """(True, value) once computed; (False, None) if its owner stopped without it;
        None if neither happened within ``timeout`` seconds."""
        if not self._event.wait(timeout):
            return None
        return self._ok, self._value


# drop key -> _Shared, for every drop a drop map of this process is computing (all threads)
_INFLIGHT: dict = {}
_INFLIGHT_LOCK = threading.Lock()


def _claim(todo: list, keys: list, mine: dict) -> tuple[list, dict]:
    """Split the drops to compute into (still to compute here, {item: entry} another map
    is computing); the entries of the first are added to ``mine`` (key → entry owned by
    this map)."""
    waits, own = {}, []
    with _INFLIGHT_LOCK:
        for i in todo:
            k = keys[i]
            e = _INFLIGHT.get(k)
            if e is None:
                e = _INFLIGHT[k] = mine[k] = _Shared()
            if k in mine:
                own.append(i)
            else:
                waits[i] = e
    return own, waits


def _wait(e: "_Shared") -> tuple[bool, object]:
    """:meth:`_Shared.wait`, ended by :func:`cancel_all` as a drop map's Dask futures are."""
    while True:
        got = e.wait(timeout=1.0)
        if got is not None:
            return got
        if _STOP.is_set():
            raise ConfigError("--dask", "scheduler", "the run was stopped while this figure waited for a drop "
                              "another figure computes (finished drops are kept)",
                              "run the same command again: it resumes from the finished drops")


def _resolve(mine: dict, key: str, value) -> None:
    """This map's drop ``key`` is computed (and stored): its waiters get ``value``, and
    it leaves the in-flight registry (a later map finds it in the store)."""
    e = mine.pop(key, None)
    if e is None:
        return
    with _INFLIGHT_LOCK:
        if _INFLIGHT.get(key) is e:
            del _INFLIGHT[key]
    e.resolve(value)


def _release(mine: dict) -> None:
    """Drop this map's in-flight entries; those never computed are abandoned (their
    waiters compute them themselves)."""
    with _INFLIGHT_LOCK:
        for k, e in mine.items():
            if _INFLIGHT.get(k) is e:
                del _INFLIGHT[k]
    for e in mine.values():
        e.abandon()


def _from_other_figures(d: Path, todo: list, keys: list, out: list, mine: dict) -> list:
    """The drops of ``todo`` that another figure's cache (a sibling of ``d``) holds: read
    into ``out``, copied into ``d``, their entries resolved. Returns the rest."""
    others = [p for p in d.parent.iterdir() if p.is_dir() and p != d] if d.parent.is_dir() else []
    if not others:
        return todo
    names = {}
    for p in others:
        with os.scandir(p) as it:
            for f in it:
                if f.name.endswith(".pkl"):
                    names.setdefault(f.name[:-4], p)
    rest = []
    for i in todo:
        k = keys[i]
        hit, value = _load(names[k] / f"{k}.pkl") if k in names else (False, None)
        if hit:
            _store(d / f"{k}.pkl", value)
            out[i] = value
            _resolve(mine, k, value)
        else:
            rest.append(i)
    return rest


def _bar(total, initial, desc):
    st = _run()
    if not st["progress"]:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=f"{st['figure']} {desc}".strip(), leave=False, unit="drop")


def _run_group(func, *columns) -> list:
    """A Dask task of :func:`drop_map`: ``func`` on each argument tuple of a group, in order."""
    return [func(*args) for args in zip(*columns)]


def task_groups(members: dict[str, list[int]], group: int) -> list[list[str]]:
    """The Dask tasks of a drop map: ``members`` (item name → the indices of the equal items
    it answers, in item order) cut into runs whose first indices share ``index // group``,
    so that a resumed run's remaining points of one drop still go to one task and never
    mix with another drop's."""
    group = max(1, int(group))
    return [list(c) for _, c in itertools.groupby(members, key=lambda n: members[n][0] // group)]


def _dask_map(client, func, items, keys, todo, done, group: int = 1, priority: int = 0):
    from distributed import as_completed

    members: dict[str, list[int]] = {}        # item key -> the items it answers (equal items: one computation)
    fig = _run()["figure"] or "_"             # figures running at once never share a task (or its cancel)
    for i in todo:
        members.setdefault(f"{func.__name__}-{fig}-{keys[i] or drop_key(func, items[i])}", []).append(i)
    chunks = task_groups(members, group)
    futs = {client.submit(_run_group, func, *[list(c) for c in zip(*(items[members[n][0]] for n in chunk))],
                          key=chunk[0], pure=False, retries=0, priority=priority): chunk
            for chunk in chunks}
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError

    with _LIVE_LOCK:
        _LIVE.update(futs)
        stopped = _STOP.is_set()
    try:
        if stopped:                           # cancel_all ran while these were being submitted
            for f in futs:
                f.cancel()
        for fut in as_completed(list(futs)):
            try:
                value = fut.result()
            except ModuleNotFoundError as e:
                raise ConfigError("--dask", "workers", f"a worker cannot import {e.name!r}",
                                  "install this checkout on the workers (pip install -e .) "
                                  "or use --dask local") from None
            except (FutureCancelledError, CommClosedError):
                kept = f"kept in {_dir()}" if _dir() is not None else "not kept (no cache directory)"
                raise ConfigError("--dask", "scheduler", "lost the connection to the Dask scheduler "
                                  f"(finished drops are {kept})",
                                  "run the same command again: it resumes from the finished drops") from None
            for name, v in zip(futs[fut], value):
                for i in members[name]:
                    done(i, v)
    finally:
        for f in futs:
            f.cancel()
        with _LIVE_LOCK:
            _LIVE.difference_update(futs)


# the Dask futures of every drop map in flight (all threads), for cancel_all
_LIVE: set = set()
_LIVE_LOCK = threading.Lock()
_STOP = threading.Event()


def cancel_all() -> None:
    """Cancel every Dask task a drop map of this process is waiting for or is about to
    submit (until :func:`allow_tasks`): the waiting threads' drop maps then end with the
    "lost the connection" error (finished drops are kept)."""
    with _LIVE_LOCK:
        _STOP.set()
        futs = list(_LIVE)
    for f in futs:
        f.cancel()


def allow_tasks() -> None:
    """Undo :func:`cancel_all` for the drop maps that start from now on."""
    _STOP.clear()


# --- Dask clients -------------------------------------------------------------------------
_ADDRESS = re.compile(r"^((tcp|tls|inproc|ucx|ws|wss)://)?[A-Za-z0-9_.\-\[\]:]+:\d+$")


@contextmanager
def dask_client(address: str | None, workers: int | None = None):
    """A ``distributed.Client``: None → None (run in this process); "local" → a
    LocalCluster of ``workers`` (default: one per core) single-threaded worker processes;
    else the scheduler at ``address`` (host:port or tcp://host:port)."""
    if address is None:
        yield None
        return
    import dask
    import distributed  # noqa: F401 - loads its config defaults before one is overridden

    # a loaded shared machine can starve a process's event loop for longer than Dask's
    # default 30 s TCP timeout (seen: the client's link to its own LocalCluster dropped
    # at load 28 on 2 cores); drops are long, so a patient link costs nothing
    with dask.config.set({"distributed.comm.timeouts.tcp": "300s", **QUIET_LOOP}):
        with _client(address, workers) as client:
            yield client


#: Dask settings of :func:`dask_client` that only change how often its processes look at
#: themselves: with ``--dask local`` the scheduler and the workers' nannies share this
#: process's event loop, and at Dask's defaults their monitors (the loop-blocking tick
#: every 20 ms, system and memory monitors, work stealing's balancing) took 5-7 % of a core
#: with the workers busy on two long tasks and nothing else to do (1 % with these), a
#: core the workers could use: ``benchmarks/bench_dask_overhead.py``. Stealing has no work
#: here (the scheduler queues tasks and hands them to idle workers, priority first); the
#: memory limit still holds, checked once a second.
QUIET_LOOP = {"distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "10s",
              "distributed.worker.memory.monitor-interval": "1s", "distributed.scheduler.work-stealing": False}


@contextmanager
def _client(address: str, workers: int | None):
    from distributed import Client, LocalCluster

    if address == "local":
        n = int(workers or os.cpu_count() or 1)
        if n < 1:
            raise ConfigError("--workers", "N", f"{n} workers", "give at least 1")
        # one BLAS thread per worker: n workers use n cores
        env = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        with warnings.catch_warnings():   # the scheduler's HTTP routes move off a busy port 8787 by themselves
            warnings.filterwarnings("ignore", message="Port .* is already in use")
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=40, env=env)
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    if not _ADDRESS.match(address):
        raise ConfigError("--dask", "ADDRESS", f"{address!r} is not a scheduler address",
                          "give HOST:PORT or tcp://HOST:PORT of a running `dask scheduler`, or 'local'")
    try:
        client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        raise ConfigError("--dask", "ADDRESS", f"cannot reach a Dask scheduler at {address}: {msg[:160]}",
                          "start one (`dask scheduler`) and its workers, or use --dask local") from None
    try:
        yield client
    finally:
        client.close()
