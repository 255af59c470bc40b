"""Controllers as compositions of stages (select → position → schedule → beamform) over
one transmitter abstraction; presets name the papers' schemes and baselines."""

from twin.controller.controller import Controller, ControllerSpec, hold_decision, resolve
from twin.controller.decision import STATUSES, Decision, Observation, SlotPlan, worst_status
from twin.controller.params import Param
from twin.controller.presets import PRESETS, Preset
from twin.controller.stage import ROLES, Plan, Stage, stage, stages

__all__ = ["Controller", "ControllerSpec", "resolve", "hold_decision", "Decision", "Observation",
           "SlotPlan", "STATUSES", "worst_status", "Param", "PRESETS", "Preset", "ROLES", "Plan", "Stage",
           "stage", "stages"]
