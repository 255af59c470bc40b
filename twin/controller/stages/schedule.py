"""``schedule`` stages: which users are served in which slot (MODEL §5.1, Scheduling).

A slot radiates from at most as many RF chains as it has active (N for a PASS with every
guide on); a linear precoder separates at most that many users. When more users are
eligible than the slot has RF chains, ``round-robin`` and ``proportional-fair`` pick at
most that many, always among the users the ``select`` stage allowed for the slot
(``plan.users[j]``, None = everyone). With no more users than RF chains they serve
everyone, as ``all`` does. An unserved user gets a zero beam column: its rate in that
slot is 0 (it counts in its throughput) and it is not in outage (MODEL §3.5, §5.1)."""

from __future__ import annotations

import numpy as np

from twin.controller.params import Param
from twin.controller.stage import Stage, stage


@stage
class ScheduleAll(Stage):
    """Serve every user in every slot, or the users the ``select`` stage assigned to a
    slot (paper 001 serves one user per slot)."""

    role, name = "schedule", "all"
    description = "every user in every slot (or whom the select stage assigned)"

    def run(self, obs, plan):
        plan.users = [u for u in plan.users]


class _Limited(Stage):
    """Shared by the schedulers that serve at most as many users as a slot has RF chains."""

    role = "schedule"

    def eligible(self, plan, j) -> np.ndarray:
        """The users the select stage allowed in slot j (sorted indices)."""
        K = self.ctx.world.n_users
        return np.arange(K) if plan.users[j] is None else np.unique(np.asarray(plan.users[j], int))

    def chains(self, plan, j) -> int:
        """RF chains radiating in slot j: chains with at least one active installed element
        (all N with every guide on; one in a paper 001 cluster slot), at least 1."""
        tx = self.ctx.tx
        act = np.asarray(plan.active[j], bool) & tx.installed
        return max(1, min(int(tx.n_rf), int(np.count_nonzero(act.any(axis=1)))))


@stage
class RoundRobin(_Limited):
    """Round-robin (MODEL §5.1): the eligible users in cyclic order, as many per slot as
    the slot has RF chains; the cycle continues across slots and frames (with K = 2N
    every user is served in every other slot)."""

    name = "round-robin"
    description = "users in cyclic order, at most one per RF chain per slot"

    def __init__(self, ctx, p):
        super().__init__(ctx, p)
        self.next = 0                       # the user the cycle resumes at

    def run(self, obs, plan):
        K = self.ctx.world.n_users
        for j in range(plan.n_slots):
            cand, n = self.eligible(plan, j), self.chains(plan, j)
            if cand.size <= n:
                continue                    # everyone eligible is served, as with `all`
            order = np.r_[cand[cand >= self.next], cand[cand < self.next]]
            pick = order[:n]
            plan.users[j] = tuple(int(k) for k in np.sort(pick))
            self.next = (int(pick[-1]) + 1) % K


@stage
class ProportionalFair(_Limited):
    """Proportional-fair scheduling (MODEL §5.1). Per slot, from the controller's channel
    knowledge for that slot (the beamform stage's: the pilot estimate predicted to the
    slot, or the channel of the observed positions with the PAs where they will be), the
    predicted rate ``r_k`` of every eligible user; the users served maximise
    ``Σ_{k∈S} r_k(S) / R̄_k``, chosen greedily one at a time up to the slot's RF chains
    (with ``fill``, every chain serves someone unless ZF cannot separate one more user; a
    slot serving fewer users also illuminates a sensing target from fewer beams;
    ``rate = "zf"``: ``r_k(S)`` the rate under the zero-forcing precoder of the set S, so a
    user whose channel is nearly parallel to one already chosen is not added; ``rate =
    "single-user"``: the N largest ``log2(1 + P‖h_k‖²/σ²) / R̄_k``). After each slot
    ``R̄_k ← (1 − 1/t_c) R̄_k + r_k·[k served]/t_c`` with the predicted rates, the averaging
    time constant ``t_c`` in slots (the window the scheduler is fair over)."""

    name = "proportional-fair"
    description = "argmax of predicted rate / averaged throughput, at most one user per RF chain per slot"
    params = {
        "t_c": Param(100.0, "averaging time constant of the throughput R̄_k (100 slots = 1 s on office)",
                     "slots", lo=1.0, hi=1e6),
        "fill": Param(True, "serve as many users as the slot has RF chains (false: stop adding users "
                            "once the PF objective would fall, which can leave chains idle)"),
        "rate": Param("zf", "predicted rate of a candidate set: under zero forcing of the set (greedy) or "
                            "each user's single-user rate", choices=("zf", "single-user")),
    }

    #: R̄ of a user never served yet (bit/s/Hz): small, so a new user is served first
    R_FLOOR = 1e-6

    def __init__(self, ctx, p):
        super().__init__(ctx, p)
        self.avg = np.full(ctx.world.n_users, self.R_FLOOR)

    def channel(self, obs, plan, j) -> np.ndarray:
        """H (N,K) the controller expects in slot j (all users)."""
        K = self.ctx.world.n_users
        bf = self.ctx.stages.get("beamform")
        if hasattr(bf, "slot_channel"):
            return bf.slot_channel(obs, plan, j, np.arange(K), True, True)[0]
        return self.ctx.tx.channel_to(self.slot_state(obs, plan, j), obs.users)

    def zf_rates(self, Hs) -> np.ndarray:
        """Rate of every user of the sets ``Hs`` (..., N, s) served together by the zero
        forcing precoder at full power (MODEL §4.1): ``W = c H (HᴴH)⁻¹`` with ``‖W‖_F² = P``
        gives ``HᴴW = c I``, so every user of the set has ``SINR = P / (σ² tr (HᴴH)⁻¹)``;
        a set ZF cannot separate (singular HᴴH) gets 0. Returns (...,) one rate per set."""
        w = self.ctx.world
        lam = np.linalg.eigvalsh(np.swapaxes(Hs.conj(), -1, -2) @ Hs)
        scale = np.max(lam, axis=-1, keepdims=True)
        ok = np.all(lam > 1e-12 * scale, axis=-1) & (scale[..., 0] > 0)
        tr_inv = np.sum(1.0 / np.where(lam > 0, lam, 1.0), axis=-1)
        return np.where(ok, np.log2(1.0 + w.power_w / (w.noise_w * np.where(ok, tr_inv, 1.0))), 0.0)

    def set_rates(self, H, S) -> np.ndarray:
        """Predicted rates (|S|,) of the users S served together (ZF, full power)."""
        return np.full(len(S), float(self.zf_rates(H[:, list(S)])))

    def choose(self, H, cand, n) -> tuple[np.ndarray, np.ndarray]:
        """(served users, their predicted rates) for one slot."""
        w = self.ctx.world
        weight = 1.0 / np.maximum(self.avg, self.R_FLOOR)
        if self.p["rate"] == "single-user":
            r = np.log2(1.0 + w.power_w * np.sum(np.abs(H[:, cand]) ** 2, axis=0) / w.noise_w)
            top = np.argsort(-(r * weight[cand]), kind="stable")[:n]
            return cand[top], r[top]
        S, best, rate = [], -np.inf, 0.0
        while len(S) < n:
            rest = np.array([k for k in cand if k not in S], int)
            if rest.size == 0:
                break
            sets = np.array([S + [k] for k in rest], int)                  # (C, |S|+1)
            r = self.zf_rates(np.moveaxis(H[:, sets], 0, -2))               # (C,)
            val = r * weight[sets].sum(axis=1)
            i = int(np.argmax(val))
            if val[i] <= 0.0 or (not self.p["fill"] and val[i] <= best):
                break                       # ZF cannot separate more / the PF objective would fall
            best, S, rate = float(val[i]), [int(k) for k in sets[i]], float(r[i])
        return np.asarray(S, int), np.full(len(S), rate)

    def run(self, obs, plan):
        K = self.ctx.world.n_users
        beta = 1.0 / self.p["t_c"]
        for j in range(plan.n_slots):
            cand, n = self.eligible(plan, j), self.chains(plan, j)
            if cand.size <= n:
                served, r = cand, None      # everyone eligible is served, as with `all`
            else:
                H = self.channel(obs, plan, j)
                served, r = self.choose(H, cand, n)
                order = np.argsort(served)
                served, r = served[order], r[order]
                plan.users[j] = tuple(int(k) for k in served)
            if r is None:                   # |served| ≤ RF chains: ZF separates them
                r = self.set_rates(self.channel(obs, plan, j), served)
            got = np.zeros(K)
            got[served] = r
            self.avg = (1.0 - beta) * self.avg + beta * got
        plan.info["pf_min_avg_rate_bps_hz"] = float(np.min(self.avg))
