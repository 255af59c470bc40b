"""The static model of a scene (MODEL §1): deployment arrays, floor plan, sensing
receiver, radio. Built once from a validated Scene; the engine and policies read it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.geometry.floorplan import FloorPlan
from twin.hardware import Transmitter, build_transmitter, pass_from_scene
from twin.scene.schema import Scene


@dataclass(frozen=True)
class SensingArray:
    """Receive ULA (MODEL §2.4): position (3,), axis (3,) unit, elements, spacing, snapshots."""

    position: np.ndarray
    axis: np.ndarray
    elements: int
    spacing: float
    snapshots: int


class World:
    """Scene + transmitter + floor plan + sensing receiver: everything static about a run.

    ``tx`` is the radiating hardware in force (the scene's ``[hardware]``, or ``hardware``:
    a preset's override); ``deployment`` is always the scene's PASS (its waveguides),
    which is also ``tx`` when the hardware is a PASS."""

    def __init__(self, scene: Scene, hardware=None):
        self.scene = scene
        r = scene.radio
        self.fc = r.fc_hz
        self.wavelength = r.wavelength_m
        self.noise_w = r.noise_w
        self.sensing_noise_w = r.sensing_noise_w
        self.power_w = r.power_w
        self.user_power_w = r.user_power_w
        self.floor = FloorPlan.from_scene(scene)
        self.deployment = pass_from_scene(scene, self.floor)
        if hardware is None and scene.hardware.kind == "pass":
            self.tx: Transmitter = self.deployment
        else:
            self.tx = build_transmitter(scene, self.floor, hardware)
        sn = scene.sensing
        axis = np.asarray(sn.axis, float)
        self.sensing = SensingArray(np.asarray(sn.position, float), axis / np.linalg.norm(axis),
                                    sn.elements, sn.spacing_m or self.wavelength / 2, sn.snapshots)
        self.n_users = scene.users.n
        self.n_targets = scene.targets.n if scene.targets else 0
        self.sinr_target = scene.sinr_target_lin
        req = scene.requirements
        self.r_min = float(req.r_min_bps_hz)
        self.sensing_threshold = float(10.0 ** (req.sensing_threshold_db / 10.0))
        self.ue_height = scene.floor.ue_height_m

    def initial_pa_positions(self) -> np.ndarray:
        return self.deployment.initial_positions()


