"""Build a scene's transmitter from its ``[hardware]`` section (docs/scenes.md)."""

from __future__ import annotations

import numpy as np

from twin.hardware.arrays import FixedArray, ula_offsets
from twin.hardware.base import Transmitter
from twin.hardware.pass_deployment import pass_from_scene

KINDS = ("pass", "ula", "hybrid", "subarray-ula")


def build_transmitter(scene, floor, spec=None) -> Transmitter:
    """The transmitter of ``scene`` (its ``[hardware]``, or ``spec``: a Hardware model or a
    dict of its fields overriding the scene's, as a preset gives). Defaults follow the
    papers (MODEL §2.6): a BS array sits at the sensing receiver's (x, y), at the guides'
    mean height, along the receiver's axis, with λ/2 spacing and one RF chain per
    waveguide; a sub-array ULA (paper 001 baseline 1) is centred on the first waveguide,
    along it, with one sub-array per cluster of that guide."""
    hw = scene.hardware
    if spec is not None:
        fields = spec if isinstance(spec, dict) else spec.model_dump(exclude_unset=True)
        hw = hw.model_copy(update=dict(fields))
    if hw.kind == "pass":
        return pass_from_scene(scene, floor)
    dep = pass_from_scene(scene, None)
    lam = scene.radio.wavelength_m
    spacing = hw.spacing_m or lam / 2
    if hw.kind == "subarray-ula":
        n_sub = max(len(dep.cluster_bounds[0]), 1)
        per = int(np.sum(dep.cluster[0] == 0)) if dep.cluster_bounds[0] else int(dep.installed[0].sum())
        per = hw.elements_per_rf or per
        centre = (np.asarray(hw.position, float) if hw.position is not None
                  else dep.feed[0] + 0.5 * dep.length[0] * dep.direction[0])
        axis = np.asarray(hw.axis, float) if hw.axis is not None else dep.direction[0]
        offsets = ula_offsets(1, n_sub * per, spacing)
        cluster = (np.arange(n_sub * per) // per)[None, :]
        return FixedArray(centre, axis / np.linalg.norm(axis), offsets, cluster, scene.radio.fc_hz,
                          floor, kind="subarray-ula")
    n_rf = hw.rf_chains or dep.n_guides
    per = hw.elements_per_rf or (1 if hw.kind == "ula" else dep.max_pas)
    sn = scene.sensing
    centre = (np.asarray(hw.position, float) if hw.position is not None
              else np.array([sn.position[0], sn.position[1], float(np.mean(dep.feed[:, 2]))]))
    axis = np.asarray(hw.axis if hw.axis is not None else sn.axis, float)
    offsets = ula_offsets(n_rf, per, spacing)
    return FixedArray(centre, axis / np.linalg.norm(axis), offsets, -np.ones(offsets.shape, int),
                      scene.radio.fc_hz, floor, kind=hw.kind)
