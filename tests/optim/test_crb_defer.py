"""isac-crb in the engine (issue 13, fourth round): with pilot knowledge every slot is
re-beamformed at its pilot before it radiates, so the decision's per-slot SDRs are left to
those re-beamformings (``beamform.defer``). The traces must be those of solving them all,
with fewer SDRs solved; a re-beamforming without a feasible SDR must still radiate what a
full decision would have planned."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twin.controller.controller import Controller
from twin.controller.stages.beamform import CrbSdr
from twin.engine import Simulation
from twin.optim.result import Status
from twin.scene import load_scene

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from test_engine_caches import Eager, _tables  # noqa: E402


@pytest.mark.parametrize("overrides, some_completed", [
    ({}, False),                                                        # a pilot before every slot's sample
    ({"simulation.samples_per_slot": 3, "csi.period_s": 0.004}, True),  # some slots radiate before their refresh
])
def test_deferred_slot_sdrs_write_the_traces_of_solving_them_all(tmp_path, monkeypatch, crb_sdr_calls, overrides,
                                                                  some_completed):
    sc = load_scene("office", overrides)
    counts = {"deferred": 0, "completed": 0}
    orig = Controller.complete_beams

    def spy(self, decision, skip=()):
        counts["deferred"] += len(self.deferred)
        counts["completed"] += len([j for j in self.deferred if j not in skip])
        return orig(self, decision, skip)

    monkeypatch.setattr(Controller, "complete_beams", spy)
    Simulation(sc, tmp_path / "deferred", policy="isac-crb", frames=3).run()
    monkeypatch.setattr(Controller, "complete_beams", orig)
    n_deferred = len(crb_sdr_calls)
    crb_sdr_calls.clear()
    Eager(sc, tmp_path / "eager", policy="isac-crb", frames=3).run()
    n_eager = len(crb_sdr_calls)
    assert counts["deferred"] == 20                # frames 1-2 × 10 slots (the first frame decides eagerly)
    assert (0 < counts["completed"] < 20) if some_completed else counts["completed"] == 0
    assert n_eager - n_deferred == counts["deferred"] - counts["completed"]   # the SDRs nobody used
    ta, tb = _tables(tmp_path / "deferred"), _tables(tmp_path / "eager")
    for name in ta:                    # completed slots carry their R_s too (users' SINR, targets' RCRB)
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True, obj=name)
    info = pd.read_parquet(tmp_path / "deferred" / "frames.parquet")["info"]
    assert sum('"deferred": true' in str(i) for i in info) == 2


def test_a_refresh_without_feasible_sdr_radiates_the_planned_fallback(tmp_path, monkeypatch, crb_sdr_calls):
    """A deferred slot has no planned beams to keep; when its re-beamforming's SDR fails it
    takes what a full decision would have planned there (the positioning stage's SDR
    at the decided positions when the slot's own SDR fails too)."""
    sim = Simulation(load_scene("office"), None, policy="isac-crb", frames=2)
    sim.run()
    ctl = sim.controller
    bf = ctl.ctx.stages["beamform"]
    obs = sim._observe(2, 0.2)
    obs = type(obs)(**{**vars(obs), "previous": sim.decision})
    d = ctl.decide(obs, defer_beams=True)
    assert ctl.deferred_slots(d) == tuple(range(10)) and d.info.get("deferred") is True
    plan = ctl._last[1]
    hint = plan.hints["sdr_at_target"][1]
    orig = CrbSdr._solve

    def failing(self, o, p, j, cache):
        res, idx, H, t = orig(self, o, p, j, cache)
        return type(res)(res.solution, float("inf"), 0, 0.0, Status.INFEASIBLE, (), {}), idx, H, t

    monkeypatch.setattr(CrbSdr, "_solve", failing)
    new = ctl.refresh(d, 4, obs.csi)
    assert ctl.deferred_slots(new) == tuple(j for j in range(10) if j != 4)
    W = new.slots[4].W
    assert W is not None and np.all(np.isfinite(W))
    assert np.array_equal(W, hint.W) and np.array_equal(new.slots[4].Rs, hint.Rs)
    assert bf._deferred[1] is plan
    # nothing is deferred without pilot knowledge (every slot's SDR is what radiates) or
    # with defer = false: run() solves them as before
    crb_sdr_calls.clear()                          # count from here
    monkeypatch.setattr(CrbSdr, "_solve", orig)
    no_pilots = type(obs)(**{**vars(obs), "csi": None})
    d2 = ctl.decide(no_pilots, defer_beams=True)
    assert ctl.deferred_slots(d2) == () and all(p.W is not None for p in d2.slots) and len(crb_sdr_calls) > 0
    monkeypatch.setitem(bf.p, "defer", False)
    d3 = ctl.decide(obs, defer_beams=True)
    assert ctl.deferred_slots(d3) == () and all(p.W is not None for p in d3.slots)
