"""User scheduling (issue 12 item 3, MODEL §5.1): round-robin and proportional fair serve
at most one user per RF chain per slot when users outnumber the chains; round-robin is
equal over a frame; proportional fair favours the user with the lower averaged
throughput; on office with twice as many users as guides both beat serving everyone on
outage and on the 5th-percentile long-run throughput; the summary's per-user throughput
counts unserved slots as 0 and weighs samples by their slot's duration."""

import numpy as np
import pytest

from twin.controller import Controller, resolve
from twin.controller.decision import Observation
from twin.controller.stage import Plan
from twin.engine import Simulation
from twin.scene import load_scene
from twin.traces import read_table, summarize
from twin.world import World

K8 = {"users.count": 8}


@pytest.fixture(scope="module")
def crowded():
    """office with 8 users on its 4 guides (K = 2 N), users dropped at random."""
    return load_scene("office", K8)


def _controller(scene, schedule, **params):
    spec = resolve("uniform", {"schedule": schedule, **{f"schedule.{k}": v for k, v in params.items()}})
    return Controller(World(scene), spec)


def _obs(ctl, seed=3):
    w = ctl.world
    rng = np.random.default_rng(seed)
    users = np.column_stack([w.floor.sample_free(rng, w.n_users), np.full(w.n_users, w.ue_height)])
    return Observation(0.0, 0, w.tx.initial_state(), users, np.zeros((0, 3)), None, rng)


def _plan(ctl, obs, slots=10, users=None):
    tx = ctl.tx
    return Plan(durations=[0.01] * slots, active=[tx.installed.copy() for _ in range(slots)],
                users=[users] * slots, pa_target=tx.uniform_positions(), analog=None)


def test_round_robin_serves_every_user_equally_often_over_a_frame(crowded, tmp_path):
    """K = 2N: 4 users per slot, each user in every other slot, the cycle carried on
    across frames; unserved users get a zero beam column and no SINR outage."""
    Simulation(crowded, tmp_path, policy="uniform", policy_params={"schedule": "round-robin"}, frames=3,
               seed=2).run()
    u = read_table(tmp_path, "users")
    per_slot = u.groupby(["frame", "slot", "time_s"]).scheduled.sum()
    assert (per_slot == 4).all()
    n = u.groupby(["frame", "slot"]).time_s.nunique().iloc[0]          # samples per slot
    per_frame = u.groupby(["frame", "user"]).scheduled.sum()
    assert (per_frame == 5 * n).all()                                 # 10 slots: 5 each
    first = u[(u.frame == 0) & (u.slot == 0)].sort_values("user").scheduled.to_numpy()
    second = u[(u.frame == 0) & (u.slot == 1)].sort_values("user").scheduled.to_numpy()
    assert np.array_equal(first, ~second)                      # halves alternate
    assert not u[~u.scheduled].outage.any() and (u[~u.scheduled].rate_bps_hz == 0).all()
    from twin.traces import beams_of_frame
    W, _ = beams_of_frame(tmp_path, 1, 3)
    served = u[(u.frame == 1) & (u.slot == 3)].sort_values("user").scheduled.to_numpy()
    assert np.all(np.abs(W[:, ~served]) == 0) and np.all(np.linalg.norm(W[:, served], axis=0) > 0)


def test_round_robin_cycles_within_what_select_allowed(crowded):
    ctl = _controller(crowded, "round-robin")
    obs = _obs(ctl)
    plan = _plan(ctl, obs, slots=4, users=(1, 2, 4, 5, 6, 7))       # select allowed six users
    ctl.ctx.stages["schedule"].run(obs, plan)
    assert plan.users == [(1, 2, 4, 5), (1, 2, 6, 7), (4, 5, 6, 7), (1, 2, 4, 5)]


def test_no_more_users_than_chains_serves_everyone_like_all():
    scene = load_scene("office")                     # 4 users, 4 guides
    for name in ("round-robin", "proportional-fair"):
        ctl = _controller(scene, name)
        obs = _obs(ctl)
        plan = _plan(ctl, obs)
        ctl.ctx.stages["schedule"].run(obs, plan)
        assert plan.users == [None] * 10


def test_proportional_fair_serves_at_most_n_rf_and_favours_the_lower_average(crowded):
    for rate in ("zf", "single-user"):
        ctl = _controller(crowded, "proportional-fair", rate=rate, t_c=50.0)
        pf = ctl.ctx.stages["schedule"]
        obs = _obs(ctl)
        plan = _plan(ctl, obs, slots=1)
        pf.avg = np.full(8, 5.0)
        pf.avg[6] = 0.05                             # user 6 has had little throughput lately
        pf.run(obs, plan)
        assert len(plan.users[0]) <= ctl.tx.n_rf and 6 in plan.users[0], (rate, plan.users)
        plan = _plan(ctl, obs, slots=1)
        pf.avg = np.full(8, 0.05)
        pf.avg[6] = 5.0                              # now it has had a hundred times more
        before = pf.avg.copy()
        pf.run(obs, plan)
        served = np.zeros(8, bool)
        served[list(plan.users[0])] = True
        assert 6 not in plan.users[0] and served.sum() <= 4, (rate, plan.users)
        # R̄ update: unserved users decay by (1 − 1/t_c), served ones gain r_k / t_c > 0
        assert np.allclose(pf.avg[~served], before[~served] * (1 - 1 / 50.0))
        assert np.all(pf.avg[served] > before[served] * (1 - 1 / 50.0))


def test_proportional_fair_leaves_out_a_user_zero_forcing_cannot_separate(crowded):
    """Two users at the same spot have parallel channels: ZF of both would spend all the
    power separating them, so PF (rate = zf) serves at most one of them in a slot."""
    ctl = _controller(crowded, "proportional-fair")
    obs = _obs(ctl)
    users = obs.users.copy()
    users[5] = users[2] + [1e-5, 0.0, 0.0]             # a hundredth of a millimetre apart
    obs = Observation(0.0, 0, obs.state, users, obs.targets, None, obs.rng)
    pf = ctl.ctx.stages["schedule"]
    pf.avg = np.ones(8)
    plan = _plan(ctl, obs, slots=6)
    pf.run(obs, plan)
    assert all(not {2, 5} <= set(s) for s in plan.users) and all(len(s) <= 4 for s in plan.users)


def test_schedulers_beat_serving_everyone_on_office_with_twice_the_users(crowded):
    """K = 8 > N = 4: serving all makes ZF fall back to MMSE with eight users on four
    chains, and the interference puts most samples in outage; PF and round-robin serve
    four at a time and lose far fewer, and their 5th-percentile long-run throughput
    (unserved slots counting 0) is higher too."""
    out = {}
    for name in ("all", "proportional-fair", "round-robin"):
        out[name] = Simulation(crowded, None, policy="uniform", policy_params={"schedule": name},
                               frames=6, seed=1).run()
    for name in ("proportional-fair", "round-robin"):
        assert out[name]["outage_fraction"] < 0.5 * out["all"]["outage_fraction"], out
        assert out[name]["p5_user_throughput_bps_hz"] > out["all"]["p5_user_throughput_bps_hz"], out
        assert out[name]["scheduled_fraction"] == pytest.approx(0.5)
    assert out["all"]["scheduled_fraction"] == 1.0


def test_user_throughput_counts_unserved_slots_and_weighs_slot_durations(tmp_path):
    from twin.traces import TraceWriter
    from twin.traces.writer import dumps_json

    (tmp_path / "meta.json").write_text(dumps_json({"frame_s": 0.1, "slots_per_frame": 2}))
    w = TraceWriter(tmp_path)
    # frame 0: slot 0 lasts 0.09 s, slot 1 0.01 s (written as "0.09-0.01"); frame 1: two
    # tiny slots whose durations carry exponents ("5e-05-5e-05")
    for f, durs in ((0, "0.09-0.01"), (1, "5e-05-5e-05")):
        w.add("frames", frame=f, time_s=0.1 * f, policy="p", status="ok", solve_time_s=0.0, info="{}",
              decided_s=0.0, in_force_s=0.0, csi_nmse_db=np.nan, csi_age_s=np.nan,
              sensing_outage_exact=np.nan, sensing_outage_chernoff=np.nan, sensing_outage_mc=np.nan,
              frame_rcrb_m=np.nan, active_clusters="", slot_durations_s=durs)
    # user 0 served in slot 0 only (rate 2), user 1 in slot 1 only (rate 4), both frames
    for f in (0, 1):
        for j in (0, 1):
            w.add("users", time_s=0.1 * f + 0.05 * j, frame=f, slot=j, user=np.array([0, 1]),
                  x=np.zeros(2), y=np.zeros(2), sinr_db=np.zeros(2), sinr_target_db=np.zeros(2),
                  rate_bps_hz=np.array([2.0, 0.0]) if j == 0 else np.array([0.0, 4.0]),
                  outage=np.zeros(2, bool), los_pas=np.zeros(2, np.int32), link_loss_db=np.zeros(2),
                  body_loss_db=np.zeros(2), scheduled=np.array([j == 0, j == 1]))
    w.flush()
    s = summarize(tmp_path)
    T = 0.1 + 1e-4
    thr = np.array([2.0 * (0.09 + 5e-5) / T, 4.0 * (0.01 + 5e-5) / T])
    assert s["mean_user_throughput_bps_hz"] == pytest.approx(thr.mean(), rel=1e-12)
    assert s["p5_user_throughput_bps_hz"] == pytest.approx(np.percentile(thr, 5), rel=1e-12)
    assert s["scheduled_fraction"] == 0.5 and s["mean_rate_bps_hz"] == pytest.approx(1.5)


def test_predicted_zf_rate_is_the_rate_of_the_zf_precoder(crowded):
    """The closed form P / (σ² tr (HᴴH)⁻¹) equals the SINR of linear_precoder('zf')."""
    from twin.optim.linear import linear_precoder
    from twin.physics.sinr import rate_bps_hz, sinr_downlink

    ctl = _controller(crowded, "proportional-fair")
    obs = _obs(ctl)
    pf, w = ctl.ctx.stages["schedule"], ctl.world
    H = pf.channel(obs, _plan(ctl, obs, slots=1), 0)
    for S in ([0], [1, 6], [0, 3, 5, 7]):
        W = linear_precoder(H[:, S], w.power_w, "zf", w.noise_w)
        ref = rate_bps_hz(sinr_downlink(H[:, S], W, w.noise_w))
        assert np.allclose(pf.set_rates(H, S), ref, rtol=1e-9)


def test_a_held_decision_keeps_serving_whom_its_beams_serve(crowded):
    """When the controller falls back to the previous decision, the users its slot-0
    beams serve stay the scheduled ones: the others have zero beam columns and must not
    count as served users in outage."""
    ctl = _controller(crowded, "round-robin")
    obs = _obs(ctl)
    d = ctl.decide(obs)
    assert d.slots[0].users is not None and len(d.slots[0].users) == 4
    held = ctl.fallback(Observation(0.1, 1, obs.state, obs.users, obs.targets, d, obs.rng), "test")
    assert held.status == "held-previous"
    assert all(s.users == d.slots[0].users for s in held.slots)
    idle = np.setdiff1d(np.arange(8), d.slots[0].users)
    assert np.all(held.slots[0].W[:, idle] == 0)
