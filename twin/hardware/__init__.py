"""Radiating hardware behind one interface (MODEL §1, §2.6): :class:`Transmitter` and its
kinds — :class:`PassDeployment` (waveguides with sliding PAs), :class:`FixedArray`
(ULA, hybrid array, switched sub-array ULA) — their in-force :class:`HardwareState`,
and the kinematics of sliding PAs."""

from twin.hardware.arrays import FixedArray, analog_weights, ula_offsets
from twin.hardware.base import Transmitter
from twin.hardware.factory import KINDS, build_transmitter
from twin.hardware.kinematics import SlidingActuator, move, slide
from twin.hardware.pass_deployment import PassDeployment, pass_from_scene
from twin.hardware.state import HardwareState

__all__ = ["Transmitter", "HardwareState", "PassDeployment", "FixedArray", "build_transmitter",
           "pass_from_scene", "analog_weights", "ula_offsets", "slide", "move", "SlidingActuator", "KINDS"]
