"""A controller on a static drop (the papers' figures): decide once for given user and
target positions, then evaluate the decision with the elements at their targets (PAs
arrived). The figure reproductions define every scheme as a :class:`Scheme` — a preset
plus fixed parameters, labelled by the preset's ``label`` — so a scheme is defined in
one place: its preset (``twin/controller/presets.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from twin.controller.controller import Controller, ControllerSpec, resolve
from twin.controller.decision import Decision, Observation
from twin.hardware import HardwareState
from twin.physics.sinr import rate_bps_hz, sinr_downlink


@dataclass(frozen=True)
class Scheme:
    """A figure's scheme: ``preset`` (a name of ``PRESETS``) with fixed ``params`` (the
    preset's own names or ``role.param``, as ``--param`` takes them). Its label is the
    preset's, followed by ``suffix`` (e.g. "-T4", "-30") for the parameters a figure
    varies."""

    preset: str
    params: dict = field(default_factory=dict)
    suffix: str = ""

    @property
    def label(self) -> str:
        from twin.controller.presets import PRESETS

        return PRESETS[self.preset].label + self.suffix

    def spec(self) -> ControllerSpec:
        """The resolved composition: stages, validated stage parameters, hardware."""
        return resolve(self.preset, dict(self.params), source=f"scheme {self.label}")

    def param(self, role: str, name: str):
        """The validated value of stage parameter ``role.name``."""
        return self.spec().params[role][name]

    def controller(self, scene_or_world) -> Controller:
        """The scheme's controller on a scene (its World built with the preset's
        hardware) or on a given World (whose transmitter it then uses)."""
        from twin.world import World

        spec = self.spec()
        world = scene_or_world if isinstance(scene_or_world, World) else World(scene_or_world,
                                                                               hardware=spec.hardware)
        return Controller(world, spec, source=f"scheme {self.label}")


@dataclass
class Snapshot:
    """A decided drop: the controller, its world, the decision."""

    controller: Controller
    decision: Decision

    @property
    def world(self):
        return self.controller.world

    def states(self):
        """(duration_s, HardwareState) per slot with the elements at their targets."""
        d, tx = self.decision, self.world.tx
        return [(p.duration_s, HardwareState(np.asarray(d.pa_target, float), np.asarray(p.active, bool) & tx.installed,
                                             d.analog)) for p in d.slots]


def controller_for(policy: str, scene, params: dict | None = None) -> Controller:
    """The preset's controller (with its hardware) on ``scene``."""
    from twin.world import World

    spec = resolve(policy, params or {}, source=f"scheme {policy}")
    return Controller(World(scene, hardware=spec.hardware), spec, source=f"scheme {policy}")


def decide_once(controller: Controller, users, targets=None, *, start=None, previous: Decision | None = None,
                rng: np.random.Generator | None = None, frame: int = 0) -> Snapshot:
    """Run the controller's stages once on a static drop: users (K,3), targets (T,3);
    ``start``: the elements' coordinates (N,M) before deciding (default: initial)."""
    tx = controller.world.tx
    st = tx.initial_state()
    if start is not None:
        st = st.with_(s=np.asarray(start, float))
    targets = np.zeros((0, 3)) if targets is None else np.atleast_2d(np.asarray(targets, float))
    obs = Observation(0.0, frame, st, np.atleast_2d(np.asarray(users, float)), targets, previous,
                      rng if rng is not None else np.random.default_rng(0))
    return Snapshot(controller, controller.decide(obs))


def sum_rate(snap: Snapshot, users) -> float:
    """Downlink sum rate (bit/s/Hz) of the first slot, elements arrived (MODEL §3.1)."""
    w = snap.world
    (_, st), p = snap.states()[0], snap.decision.slots[0]
    sinr = sinr_downlink(w.tx.channel_to(st, np.atleast_2d(users)), p.W, w.noise_w, p.Rs)
    return float(np.sum(rate_bps_hz(sinr)))


def frame_rcrb(snap: Snapshot, target) -> float:
    """√tr CRB (m) of the target from all the frame's slots, elements arrived (MODEL §3.3)."""
    from twin.engine.evaluator import Evaluator

    ev = Evaluator(snap.world)
    return ev.frame_rcrb([(dur, st, p.W, p.Rs) for (dur, st), p in zip(snap.states(), snap.decision.slots)],
                         target)


def sensing_weights(snap: Snapshot, target) -> tuple[np.ndarray, np.ndarray]:
    """Cluster weights w_c and look angles (MODEL §3.4) of the decided frame."""
    from twin.engine.evaluator import Evaluator

    return Evaluator(snap.world).cluster_weights(snap.states(), target)
