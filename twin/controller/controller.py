"""A controller: a preset's stages (or the user's replacements), built and checked once
before the run, then run each frame in the order select → position → schedule →
beamform (MODEL §5). A stage that cannot decide makes the controller fall back (hold
the previous decision, or keep the current PAs with ZF) and the status says so."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from twin.controller.decision import Decision, Observation, SlotPlan
from twin.controller.params import validate_params
from twin.controller.presets import MOVED_TO_SCENE, PRESETS
from twin.controller.solvers import Solvers
from twin.controller.stage import ROLES, Plan, stages
from twin.errors import ConfigError
from twin.optim.linear import linear_precoder


@dataclass(frozen=True)
class ControllerSpec:
    """A resolved composition: name, {role: stage name}, {role: params}, hardware fields
    (None: the scene's), the preset it came from."""

    name: str
    stages: dict
    params: dict
    hardware: dict | None
    preset: str


def _split(params: dict):
    """Flatten per-role tables ({"position": {"Q": 4}}) to dotted keys."""
    out = {}
    for k, v in params.items():
        if k in ROLES and isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v
    return out


def resolve(policy: str, params: dict | None = None, overrides: dict | None = None,
            source: str = "controller") -> ControllerSpec:
    """The composition named by a preset ``policy``, with stage ``overrides`` ({role:
    name}) and ``params``: ``role = stage`` (replace a stage), ``role.param = value``,
    per-role tables, or the preset's own parameter names (see ``pass-twin policies``).
    Unknown names, stages, parameters and values raise :class:`ConfigError`."""
    if policy not in PRESETS:
        close = difflib.get_close_matches(policy, list(PRESETS), n=1)
        raise ConfigError(source, "policy", f"unknown policy {policy!r}",
                          (f"did you mean {close[0]!r}? " if close else "")
                          + f"use one of: {', '.join(PRESETS)} (pass-twin policies lists them)")
    pre = PRESETS[policy]
    registry = stages()
    chosen = dict(pre.stages)
    flat = _split(dict(params or {}))
    for role in ROLES:                                     # stage replacements first
        name = (overrides or {}).get(role)
        if role in flat:
            name = flat.pop(role)
        if name is None:
            continue
        if not isinstance(name, str) or name not in registry[role]:
            close = difflib.get_close_matches(str(name), list(registry[role]), n=1)
            raise ConfigError(source, role, f"unknown {role} stage {name!r}",
                              (f"did you mean {close[0]!r}? " if close else "")
                              + f"use one of: {', '.join(registry[role])}")
        chosen[role] = name
    per_role = {r: (dict(pre.params.get(r, {})) if chosen[r] == pre.stages[r] else {}) for r in ROLES}
    for key, value in flat.items():
        if key in MOVED_TO_SCENE:
            raise ConfigError(source, f"params.{key}", f"{key} is a requirement of the scene, not a controller "
                              "parameter", f"set {MOVED_TO_SCENE[key]} in the scene (or --set {MOVED_TO_SCENE[key]}=…)")
        if key in pre.aliases:
            targets = pre.aliases[key]
            took = False
            for tgt in targets:
                role, _, pname = tgt.partition(".")
                if not pname:                                # the value names the role's stage
                    name = {"mrc": "mrt"}.get(value, value) if role == "beamform" else value
                    if name not in registry[role]:
                        raise ConfigError(source, f"params.{key}", f"unknown value {value!r}",
                                          f"use one of: {', '.join(registry[role])}")
                    if chosen[role] != name:
                        chosen[role] = name
                        per_role[role] = {}
                    took = True
                elif pname in registry[role][chosen[role]].params:
                    per_role[role][pname] = value
                    took = True
            if not took:
                raise ConfigError(source, f"params.{key}", f"{key!r} does not apply to the stages chosen "
                                  f"({', '.join(f'{r}={n}' for r, n in chosen.items())})", "drop it")
            continue
        role, dot, pname = key.partition(".")
        if not dot or role not in ROLES:
            known = sorted(pre.aliases) + [f"{r}.{p}" for r in ROLES for p in registry[r][chosen[r]].params]
            close = difflib.get_close_matches(key, known, n=1)
            raise ConfigError(source, f"params.{key}", f"policy {policy!r} has no parameter {key!r}",
                              (f"did you mean {close[0]!r}? " if close else "")
                              + f"its parameters are: {', '.join(known) or '(none)'}; or give role=stage, role.param=value")
        per_role[role][pname] = value
    for role in ROLES:
        per_role[role] = validate_params(registry[role][chosen[role]].params, per_role[role],
                                         f"{role}={chosen[role]}", source)
    return ControllerSpec(policy, chosen, per_role, pre.hardware, policy)


class ControllerContext:
    """What every stage of a run shares: the World (transmitter, radio values, scene), the
    requirements, the frame timing, the solvers, and the other stages."""

    def __init__(self, world, source: str):
        self.world = world
        self.tx = world.tx
        self.source = source
        sim = world.scene.simulation
        self.frame_s = sim.frame_s
        self.slots_per_frame = sim.slots_per_frame
        self.solvers = Solvers(world)
        self.stages: dict = {}

    def stage_name(self, role: str) -> str:
        return self.stages[role].name

    def gamma(self, margin_db: float = 0.0) -> np.ndarray:
        """SINR targets γ_k (K,) from the scene's requirements, raised by ``margin_db``."""
        return self.world.sinr_target * 10.0 ** (float(margin_db) / 10.0)


class Controller:
    """Runs a :class:`ControllerSpec`'s stages each frame (``decide``)."""

    def __init__(self, world, spec: ControllerSpec, source: str = "controller"):
        self.world = world
        self.spec = spec
        self.name = spec.name
        self.ctx = ControllerContext(world, source)
        self.deferred: tuple = ()          # slots of the last decision whose W is deferred
        self.defer_beams = False           # decide() defers the slots' beamformers (the engine's choice)
        registry = stages()
        for role in ROLES:
            self.ctx.stages[role] = registry[role][spec.stages[role]](self.ctx, spec.params[role])
        for role in ROLES:
            self.ctx.stages[role].check()

    @property
    def tx(self):
        return self.world.tx

    def describe(self) -> dict:
        return {"policy": self.name, "stages": dict(self.spec.stages),
                "params": {r: dict(p) for r, p in self.spec.params.items()}, "hardware": self.tx.kind}

    def initial_plan(self, obs: Observation) -> Plan:
        S = self.ctx.slots_per_frame
        act = np.asarray(obs.state.active, bool)
        return Plan(durations=[self.ctx.frame_s / S] * S, active=[act.copy() for _ in range(S)],
                    users=[None] * S, pa_target=np.array(obs.state.s, float),
                    analog=obs.state.analog, W=[None] * S, Rs=[None] * S)

    def decide(self, obs: Observation, defer_beams: bool | None = None) -> Decision:
        """The frame's decision. ``defer_beams`` (default: the attribute, which the engine
        sets): a beamform stage that can (``defer``) leaves its slots' W None;
        :meth:`complete_beams` computes the ones a pilot re-beamforming does not replace
        before they radiate (MODEL §5.1)."""
        defer_beams = self.defer_beams if defer_beams is None else defer_beams
        plan = self.initial_plan(obs)
        self._last = None
        self.deferred = ()
        for role in ROLES:
            st = self.ctx.stages[role]
            if role == "beamform" and defer_beams and hasattr(st, "defer") and st.defer(obs, plan):
                self.deferred = tuple(range(plan.n_slots))
            else:
                st.run(obs, plan)
            if role == "position":      # what the hardware can take (activation guides: installed positions)
                plan.pa_target = self.tx.realise(plan.pa_target)
            if plan.failed:
                return self.fallback(obs, "; ".join(plan.details))
        decision = plan.to_decision()
        self._last = (obs, plan, decision)
        return decision

    def refresh(self, decision: Decision, j: int, csi) -> Decision:
        """``decision`` with slot j re-beamformed for a newer channel estimate ``csi``
        (pilot CSI, MODEL §5.1): positions and selection stay, the beamform stage runs
        again for that slot. Unchanged if ``decision`` is not this controller's last."""
        import dataclasses

        last = getattr(self, "_last", None)
        if last is None or last[2] is not decision:
            return decision
        obs, plan, _ = last
        ready = getattr(self, "_prepared", None)
        hit = None
        if ready is not None and ready[0] is obs and ready[1] is plan:
            hit = next((r for jj, c, r in ready[2] if jj == j and c is csi), None)
        W, Rs, H, t = hit if hit is not None else \
            self.ctx.stages["beamform"].slot(dataclasses.replace(obs, csi=csi), plan, j)
        slots = list(decision.slots)
        slots[j] = _with(slots[j], W=W, Rs=Rs, H=H, csi_time_s=t)
        new = _with(decision, slots=tuple(slots))
        self._last = (obs, plan, new)
        if j in self.deferred:
            self.deferred = tuple(k for k in self.deferred if k != j)
        return new

    def deferred_slots(self, decision: Decision) -> tuple:
        """The slots of ``decision`` whose beamformers are still deferred (W None)."""
        last = getattr(self, "_last", None)
        return self.deferred if last is not None and last[2] is decision else ()

    def complete_beams(self, decision: Decision, skip=()) -> Decision:
        """``decision`` (this controller's last, decided with ``defer_beams``) with the
        deferred slots not in ``skip`` beamformed as :meth:`decide` would have: the values
        of an undeferred decision, bit for bit. The caller guarantees that every slot in
        ``skip`` is re-beamformed (:meth:`refresh`) before it radiates."""
        last = getattr(self, "_last", None)
        if last is None or last[2] is not decision or not self.deferred:
            return decision
        js = [j for j in self.deferred if j not in skip]
        self.deferred = tuple(j for j in self.deferred if j in skip)
        if not js:
            return decision
        obs, plan, _ = last
        res = self.ctx.stages["beamform"].complete(obs, plan, js)
        slots = list(decision.slots)
        for j, r in zip(js, res):       # (W, H, t), or (W, H, t, Rs) from a stage with sensing
            slots[j] = _with(slots[j], W=r[0], H=r[1], csi_time_s=r[2], **({"Rs": r[3]} if len(r) > 3 else {}))
        new = _with(decision, slots=tuple(slots))
        self._last = (obs, plan, new)
        return new

    def prepare_refresh(self, items) -> None:
        """Compute at once the re-beamformings :meth:`refresh` will be asked for, ``items``
        = ``[(slot j, knowledge), …]`` (a frame's pilots, known ahead: MODEL §5.1), when the
        beamform stage can batch them (``slots_batch``); :meth:`refresh` then takes each
        from here (the same values) while the decision's observation and plan stay."""
        self._prepared = None
        last = getattr(self, "_last", None)
        batch = getattr(self.ctx.stages["beamform"], "slots_batch", None)
        if last is None or batch is None or not items:
            return
        try:
            res = batch(last[0], last[1], items)
        except Exception:  # noqa: BLE001 - refresh computes (and reports) them one by one
            return
        self._prepared = (last[0], last[1], [(j, c, r) for (j, c), r in zip(items, res)])

    def fallback(self, obs: Observation, detail: str) -> Decision:
        """Hold the previous decision (status ``held-previous``) or, without one, keep the
        elements where they are with ZF/MMSE for the observed users (``fallback``)."""
        w, tx = self.world, self.tx
        S = self.ctx.slots_per_frame
        dur = self.ctx.frame_s / S
        prev = obs.previous
        if prev is not None and np.shape(prev.W) == (tx.n_rf, w.n_users) and np.all(np.isfinite(prev.W)):
            slot = SlotPlan(dur, prev.active.copy(), prev.W, prev.Rs, prev.slots[0].users)   # who W serves
            return Decision(prev.pa_target.copy(), (slot,) * S, prev.analog, "held-previous",
                            {"detail": detail[:300]})
        return hold_decision(w, obs, detail, S, dur)


def _with(obj, **changes):
    """``dataclasses.replace`` of a frozen :class:`SlotPlan` / :class:`Decision` (fields
    only, no ``InitVar``) without its per-call field introspection: the refreshes of a
    frame call it twice per sample."""
    return type(obj)(**{**vars(obj), **changes})


def hold_decision(world, obs: Observation, detail: str, slots: int, dur: float) -> Decision:
    """Safe fallback: elements where they are, ZF (MMSE when K > N) for the current state
    and the observed users (MODEL §4.1)."""
    tx = world.tx
    H = tx.channel_to(obs.state, obs.users)
    kind = "zf" if world.n_users <= tx.n_rf else "mmse"
    W = linear_precoder(H, world.power_w, kind, world.noise_w)
    if not np.all(np.isfinite(W)):
        W = np.zeros((tx.n_rf, world.n_users), complex)
    slot = SlotPlan(dur, np.asarray(obs.state.active, bool).copy(), W)
    return Decision(np.array(obs.state.s, float), (slot,) * slots, obs.state.analog, "fallback",
                    {"detail": detail[:300]})
