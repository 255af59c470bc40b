"""The figures' drop map: every drop cached as it finishes, reruns and interrupted runs
reuse the stored drops (identical CSV), Dask workers give the in-process answers."""

import dataclasses
import functools
import pickle
import re
import threading
import time

import numpy as np
import pytest

from twin.cli import main
from twin.errors import ConfigError
from twin.experiments import figures
from twin.experiments.figures import drops, paper002

FIG = "paper002-uplink-users"          # the cheapest figure (CI size: 3 points × 6 drops, < 2 s)


def _counting(monkeypatch, module, name, fail_after=None):
    """Replace module.name (a drop function) by a wrapper with the same identity (cache
    key) that counts its calls and raises after ``fail_after`` of them."""
    real = getattr(module, name)
    calls = []

    @functools.wraps(real)
    def wrapper(*args):
        if fail_after is not None and len(calls) >= fail_after:
            raise KeyboardInterrupt("simulated interruption")
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_cached_rerun_is_identical_and_computes_nothing(tmp_path):
    plain = figures.run_figure(FIG, tmp_path / "plain", quick="ci")
    first = figures.run_figure(FIG, tmp_path / "c", quick="ci", cache=True)
    n = figures.last_counts()
    assert n["cached"] == 0 and n["computed"] == 18
    stored = list((tmp_path / "c" / ".drops" / FIG).glob("*.pkl"))
    assert len(stored) == 18
    csv1 = (tmp_path / "c" / f"{FIG}.csv").read_bytes()
    again = figures.run_figure(FIG, tmp_path / "c", quick="ci", cache=True)
    assert figures.last_counts() == {"computed": 0, "cached": 18}
    assert (tmp_path / "c" / f"{FIG}.csv").read_bytes() == csv1 == (tmp_path / "plain" / f"{FIG}.csv").read_bytes()
    assert first.equals(again) and plain.equals(first)


def test_interrupted_figure_resumes_with_only_the_missing_drops(tmp_path, monkeypatch):
    ref = figures.run_figure(FIG, tmp_path / "ref", quick="ci")
    calls = _counting(monkeypatch, paper002, "sweep_drop", fail_after=7)
    with pytest.raises(KeyboardInterrupt):
        figures.run_figure(FIG, tmp_path / "out", quick="ci", cache=True)
    assert len(calls) == 7
    assert len(list((tmp_path / "out" / ".drops" / FIG).glob("*.pkl"))) == 7
    assert not (tmp_path / "out" / f"{FIG}.csv").exists()
    monkeypatch.undo()                                            # the real function, a fresh counter
    calls = _counting(monkeypatch, paper002, "sweep_drop")
    df = figures.run_figure(FIG, tmp_path / "out", quick="ci", cache=True)
    assert len(calls) == 18 - 7
    assert figures.last_counts() == {"computed": 11, "cached": 7}
    assert (tmp_path / "out" / f"{FIG}.csv").read_bytes() == (tmp_path / "ref" / f"{FIG}.csv").read_bytes()
    assert df.equals(ref)


def test_a_damaged_entry_is_recomputed_and_no_temporary_file_is_left(tmp_path, monkeypatch):
    figures.run_figure(FIG, tmp_path, quick="ci", cache=True)
    entries = sorted((tmp_path / ".drops" / FIG).glob("*.pkl"))
    entries[3].write_bytes(entries[3].read_bytes()[:10])          # a truncated pickle
    calls = _counting(monkeypatch, paper002, "sweep_drop")
    figures.run_figure(FIG, tmp_path, quick="ci", cache=True)
    assert len(calls) == 1
    assert isinstance(pickle.loads(entries[3].read_bytes()), dict)
    assert not list((tmp_path / ".drops").rglob("*.tmp"))


def test_drop_keys_follow_arguments_and_code_not_dict_order(monkeypatch):
    f = paper002.sweep_drop
    a = drops.drop_key(f, ({"x": 1, "y": [2.0, 3]}, "downlink", 200, 0, 1))
    assert a == drops.drop_key(f, ({"y": [2.0, 3], "x": 1}, "downlink", 200, 0, 1))
    assert a != drops.drop_key(f, ({"x": 1, "y": [2.0, 3]}, "downlink", 200, 0, 2))
    assert a != drops.drop_key(paper002.drop_rates, ({"x": 1, "y": [2.0, 3]}, "downlink", 200, 0, 1))
    arr = np.arange(2000.0)
    b = arr.copy()
    b[1000] += 1e-9                                               # differs only where repr elides
    assert drops.drop_key(f, (arr,)) != drops.drop_key(f, (b,))
    with pytest.raises(TypeError):
        drops.drop_key(f, (object(),))
    monkeypatch.setattr(drops, "code_fingerprint", lambda: "edited")
    assert a != drops.drop_key(f, ({"x": 1, "y": [2.0, 3]}, "downlink", 200, 0, 1))


def test_figure_cli_reports_drops_and_resumes(tmp_path, capsys):
    assert main(["figure", FIG, "--quick", "--out", str(tmp_path)]) == 0
    assert "18 drops computed, 0 from" in capsys.readouterr().err
    csv = (tmp_path / f"{FIG}.csv").read_bytes()
    (tmp_path / f"{FIG}.csv").unlink()
    assert main(["figure", FIG, "--quick", "--out", str(tmp_path)]) == 0
    assert "0 drops computed, 18 from" in capsys.readouterr().err
    assert (tmp_path / f"{FIG}.csv").read_bytes() == csv


@pytest.mark.parametrize("argv, flag", [
    (["--dask", "not an address"], "--dask"),
    (["--dask", "127.0.0.1:1"], "--dask"),
    (["--workers", "2"], "--workers"),
])
def test_bad_dask_options_give_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, flag):
    monkeypatch.setattr(drops, "CONNECT_TIMEOUT_S", 1)
    assert main(["figure", FIG, "--quick", "--out", str(tmp_path)] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"pass-twin: error: {flag}"), err
    assert not (tmp_path / f"{FIG}.csv").exists()


def test_dask_tasks_group_the_points_of_a_drop_even_after_a_resume():
    # 3 points per drop; items 0 and 6-7 were cached before: what is left of drop 0 (1-2)
    # is one task, drop 1 (3-5) another, drop 2's last point (8) a third
    members = {f"x{i}": [i] for i in (1, 2, 3, 4, 5, 8)}
    assert drops.task_groups(members, 3) == [["x1", "x2"], ["x3", "x4", "x5"], ["x8"]]
    assert drops.task_groups(members, 1) == [[n] for n in members]


def _double(x):
    return 2 * x


def test_shared_bar_advances_by_each_drops_share_of_its_figures_task_cpu(tmp_path):
    """The one bar of `figure all --dask` weighs a drop by its figure's ``task_s`` over the
    drops of a task, so its percentage and time left follow the work, not the drop count:
    3 drops of 4-s tasks are 12 units, a 1-s task's 2 points 0.5 each; a stored drop
    counts as done when its map starts."""
    bar = drops.SharedBar("test")
    try:
        with drops.running("long", bar=bar, task_s=4.0):
            assert drops.drop_map(_double, [(1,), (2,), (3,)]) == [2, 4, 6]
        assert bar.work == (12.0, 12.0) and (bar.drops, bar.total_drops) == (3, 3)
        with drops.running("short", tmp_path, bar=bar, task_s=1.0):
            drops.drop_map(_double, [(5,)], group=2)                  # computed and stored
        with drops.running("short", tmp_path, bar=bar, task_s=1.0):
            added = []
            real_add = bar.add
            bar.add = lambda total, done, weight=1.0: (added.append((total, done, weight)), real_add(total, done, weight))
            assert drops.drop_map(_double, [(4,), (5,), (6,), (7,)], group=2) == [8, 10, 12, 14]
        assert added == [(4, 1, 0.5)]                                 # (5,) was found stored
        assert bar.work == (14.5, 14.5) and (bar.drops, bar.total_drops) == (8, 8)
    finally:
        bar.close()


def test_shared_bar_never_passes_its_total_by_rounding():
    """15 drops of weight 0.1 added one at a time sum to 2e-16 past their total of 1.5
    (the full run's bar ended with tqdm's "clamping frac to range [0, 1]" warning): the
    bar stops at its total, so no warning, and the drops are all counted."""
    import warnings

    bar = drops.SharedBar("test")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for n, w in ((15, 0.1), (400, 0.7 / 3), (7, 0.35 / 6)):
                bar.add(n, 0, w)
                for _ in range(n):
                    bar.tick(w)
                done, total = bar.work
                assert done <= total and done == pytest.approx(total, rel=1e-12)
            bar.close()
        assert bar.drops == bar.total_drops == 422
    finally:
        bar.close()


def test_a_drop_another_figure_stored_is_read_from_its_cache_not_computed(tmp_path, monkeypatch):
    """paper002-uplink-users (K = 2, 4, 6 at CI size) and paper002-uplink-pas (M = 1, 4, 8)
    both pass through the scene itself (K = M = 4): those 6 drops are the same computation
    (one key), so the second figure reads them from the first's cache and stores them in
    its own; its CSV is the one it gives alone."""
    alone = figures.run_figure("paper002-uplink-pas", tmp_path / "alone", quick="ci")
    figures.run_figure(FIG, tmp_path / "out", quick="ci", cache=True)
    calls = _counting(monkeypatch, paper002, "sweep_drop")
    df = figures.run_figure("paper002-uplink-pas", tmp_path / "out", quick="ci", cache=True)
    assert figures.last_counts() == {"computed": 12, "cached": 6}
    assert len(calls) == 12 and all(c[0] is not None for c in calls)      # the default point: not computed
    assert len(list((tmp_path / "out" / ".drops" / "paper002-uplink-pas").glob("*.pkl"))) == 18
    assert df.equals(alone)


def test_default_points_are_one_drop_whatever_override_names_them():
    """A sweep point at the scene's own value has no overrides (the same drop key in every
    figure), and its drop gives what the explicit override gives."""
    for ov in ({"radio.tx_power_dbm": 20}, paper002._side(10.0), {"users.count": 4},
               {f"waveguides.{n}.pas": 4 for n in range(4)}, {"radio.user_tx_power_dbm": 10.0}):
        assert paper002._canonical(ov) is None
    assert paper002._canonical({"radio.tx_power_dbm": 25}) == {"radio.tx_power_dbm": 25}
    drop = paper002.sweep_drop
    assert drop({"users.count": 4}, "downlink", 50, 0, 3) == drop(None, "downlink", 50, 0, 3)
    from twin.experiments.figures import paper000
    assert paper000.canonical_kw({"guides": 4}) == paper000.canonical_kw({"pas": 4}) == {}
    assert paper000.canonical_kw({"guides": 5}) == {"guides": 5}


_CALLS: list = []
_GATE = threading.Event()
_ENDED: set = set()            # the figures of the running _two_figures that have returned


def _gated(x, fail=False):
    """A drop of the sharing tests: x², recorded; drop 1 first waits for ``_GATE`` (and
    then raises when ``fail``), so a test decides when figure "a" gets past it."""
    if x == 1:
        assert _GATE.wait(60)
        if fail:
            raise RuntimeError("owner failed")
    _CALLS.append(x)
    return x * x


def _until(cond, what):
    deadline = time.monotonic() + 60
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _two_figures(tmp_path, first, second, between=None, bar=None):
    """Figures "a" (drops ``first``, drop 1 first) and "b" (``second``) in two threads:
    b starts once a has claimed its drops, and a gets past drop 1 once b has computed its
    own drop 3 (so b has claimed everything and waits for what a holds); ``between()``
    runs at that moment. Returns (results, errors, counts) by figure."""
    res, err, counts = {}, {}, {}
    _CALLS.clear()
    _GATE.clear()
    _ENDED.clear()

    def run(name, items):
        try:
            with drops.running(name, tmp_path, bar=bar):
                res[name] = drops.drop_map(_gated, items)
        except Exception as e:        # noqa: BLE001 - reported to the test
            err[name] = e
        counts[name] = drops._run()["last"]
        _ENDED.add(name)

    ta = threading.Thread(target=run, args=("a", first))
    tb = threading.Thread(target=run, args=("b", second))
    ta.start()
    _until(lambda: drops.drop_key(_gated, first[-1]) in drops._INFLIGHT, "a claims its drops")
    tb.start()
    _until(lambda: 3 in _CALLS, "b computes its own drop")
    if between is not None:
        between()
    _GATE.set()
    ta.join()
    tb.join()
    return res, err, counts


def test_figures_running_at_once_compute_a_shared_drop_once(tmp_path):
    """Figure b needs drop (2,) while figure a holds it: b waits for a's result instead of
    computing it again, and both caches hold it."""
    res, err, counts = _two_figures(tmp_path, [(1,), (2,)], [(2,), (3,)])
    assert not err and res == {"a": [1, 4], "b": [4, 9]}
    assert sorted(_CALLS) == [1, 2, 3]
    assert counts["b"] == {"computed": 1, "cached": 1}
    key = drops.drop_key(_gated, (2,))
    assert all((tmp_path / ".drops" / f / f"{key}.pkl").exists() for f in "ab")
    assert not drops._INFLIGHT


def test_a_shared_drop_whose_owner_fails_is_computed_by_the_figure_waiting_for_it(tmp_path):
    """Figure a fails on its first drop, before the drop (2,) that b waits for: a's claim
    is released and b computes (2,) itself."""
    bar = drops.SharedBar("test")
    try:
        res, err, counts = _two_figures(tmp_path, [(1, True), (2,)], [(2,), (3,)], bar=bar)
    finally:
        bar.close()
    assert isinstance(err.get("a"), RuntimeError) and res == {"b": [4, 9]}
    assert sorted(_CALLS) == [2, 3]
    assert counts["b"] == {"computed": 2, "cached": 0}
    # the shared bar: b's two drops done once each (the one it waited for was taken back
    # when a gave up, then ticked when b computed it); a's two never
    assert (bar.drops, bar.total_drops) == (2, 4) and bar.work == (2.0, 4.0)
    assert not drops._INFLIGHT


def test_a_figure_waiting_for_a_shared_drop_stops_with_the_run(tmp_path):
    """cancel_all (Ctrl-C, `figure all`) ends a figure that waits for another's drop with
    the resumable error, as it ends the figures waiting for Dask futures."""
    try:
        res, err, _ = _two_figures(tmp_path, [(1,), (2,)], [(2,), (3,)],
                                   between=lambda: (drops.cancel_all(), _until(lambda: "b" in _ENDED, "b stops")))
    finally:
        drops.allow_tasks()
    assert isinstance(err["b"], ConfigError) and "resumes" in str(err["b"])
    assert res == {"a": [1, 4]} and not drops._INFLIGHT


def test_a_drop_map_that_fails_before_computing_leaves_no_claim(tmp_path, monkeypatch):
    """Whatever fails between claiming drops and computing them (here: reading another
    figure's store), the claims are released: no later figure waits for them forever."""
    def broken(*a):
        raise OSError("disk gone")

    monkeypatch.setattr(drops, "_from_other_figures", broken)
    with pytest.raises(OSError), drops.running("a", tmp_path):
        drops.drop_map(_double, [(7,), (8,)])
    assert not drops._INFLIGHT


@pytest.mark.slow          # a LocalCluster of 2 processes: ~10 s idle, a minute on a loaded machine
def test_dask_local_two_workers_give_the_in_process_csv(tmp_path, capsys):
    assert main(["figure", FIG, "--quick", "--out", str(tmp_path / "a")]) == 0
    assert main(["figure", FIG, "--quick", "--out", str(tmp_path / "b"), "--dask", "local", "--workers", "2"]) == 0
    assert "18 drops computed" in capsys.readouterr().err
    assert (tmp_path / "a" / f"{FIG}.csv").read_bytes() == (tmp_path / "b" / f"{FIG}.csv").read_bytes()
    # the 3 points of a drop ran as one Dask task, yet every point was stored on its own
    assert len(list((tmp_path / "b" / ".drops" / FIG).glob("*.pkl"))) == 18


@pytest.mark.slow          # a LocalCluster of 2 processes
def test_figures_at_once_on_dask_give_the_in_process_csvs_longest_tasks_first(tmp_path, monkeypatch, capsys):
    """`figure all --dask`: the figures run together in threads sharing one cluster; each
    CSV is the in-process one byte for byte, the figure with the longer tasks gets the
    higher Dask priority, and a figure that raises is reported without stopping the others."""
    names = [FIG, "paper002-users", "paper001-heatmap"]
    for n in names[:2]:
        figures.run_figure(n, tmp_path / "ref", quick="ci")
    specs = {n: s for n, s in figures.available().items() if n in names}
    specs[FIG] = dataclasses.replace(specs[FIG], task_s=9.0)
    specs["paper001-heatmap"] = dataclasses.replace(
        specs["paper001-heatmap"], func=lambda quick, seed: (_ for _ in ()).throw(RuntimeError("broken figure")))
    monkeypatch.setattr(figures, "available", lambda: dict(specs))
    seen = []
    real = drops._dask_map

    def spy(client, func, items, keys, todo, done, group=1, priority=0):
        seen.append((drops._run()["figure"], priority))
        return real(client, func, items, keys, todo, done, group, priority)

    monkeypatch.setattr(drops, "_dask_map", spy)
    with pytest.raises(RuntimeError, match="broken figure"):
        main(["figure", "all", "--quick", "--out", str(tmp_path / "out"), "--dask", "local", "--workers", "2"])
    err = capsys.readouterr().err
    assert "paper001-heatmap: failed" in err and f"{FIG}: done" in err and "paper002-users: done" in err
    # the run's summary: its CPU (this process and the workers) within what 3 processes can spend
    t = r"(?:(\d+) min )?([\d.]+) s"
    m = re.search(rf"3 figures: {t} wall, {t} CPU \(this process and 2 workers\)", err)
    assert m, err
    wall, cpu = (60 * float(m[i] or 0) + float(m[i + 1]) for i in (1, 3))
    assert 0 < cpu <= 3 * wall + 0.1
    prio = dict(seen)
    assert prio[FIG] > prio["paper002-users"]
    for n in names[:2]:
        assert (tmp_path / "out" / f"{n}.csv").read_bytes() == (tmp_path / "ref" / f"{n}.csv").read_bytes()
    # the rerun keeps the finished figures and reports only the broken one again
    with pytest.raises(RuntimeError, match="broken figure"):
        main(["figure", "all", "--quick", "--out", str(tmp_path / "out"), "--dask", "local", "--workers", "2"])
    err = capsys.readouterr().err
    assert f"{FIG}: already in" in err and "[1/1] paper001-heatmap: failed" in err
