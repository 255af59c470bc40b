"""The optimisers' problem objects built from a scene's :class:`~twin.world.World`.

``twin.optim`` takes arrays and small frozen objects of plain values and imports nothing
from the world, the scene, the engine or the policies; this module is the one place that
reads a World to build those objects (MODEL §1-§4)."""

from __future__ import annotations

import numpy as np

from twin.optim.clustered import ClusterSetup
from twin.optim.elementwise import LinkSetup
from twin.optim.isac_baselines import ArraySite
from twin.optim.layout import PassLayout
from twin.optim.sdr import CrbSetup


def pass_layout(world, blockage: bool = True) -> PassLayout:
    """The PASS geometry: deployment and floor plan (``blockage=False``: open room)."""
    return PassLayout(world.deployment, world.floor if blockage else None)


def crb_setup(world) -> CrbSetup:
    """Sensing receiver and echo model of the CRB (MODEL §2.4, §3.3)."""
    sn = world.sensing
    rcs = world.scene.targets.rcs_m2 if world.scene.targets else 1.0
    return CrbSetup(np.asarray(sn.position, float), int(sn.elements), float(world.fc),
                    tuple(np.asarray(sn.axis, float)), float(sn.spacing), float(rcs),
                    int(sn.snapshots), float(world.sensing_noise_w))


def cluster_setup(world) -> ClusterSetup:
    """Frame length, RCS statistics, sensing receiver and powers of the paper-001 problem
    (MODEL §3.4). Without a target the RCS statistics are the schema defaults (σ̄ = 1 m²,
    ϱ = 0)."""
    tg = world.scene.targets
    return ClusterSetup(t_tot=float(world.scene.simulation.frame_s),
                        rcs_mean=float(tg.rcs_m2) if tg else 1.0,
                        decay=float(tg.rcs_decay_per_rad) if tg else 0.0,
                        rx_position=np.asarray(world.sensing.position, float),
                        rx_elements=int(world.sensing.elements), power_w=float(world.power_w),
                        noise_w=float(world.noise_w), sensing_noise_w=float(world.sensing_noise_w),
                        distinct_clusters=bool(world.scene.simulation.distinct_clusters),
                        tau_min_frac=(0.05 if world.scene.simulation.min_slot_s is None
                                      else float(world.scene.simulation.min_slot_s / world.scene.simulation.frame_s)))


def array_site(world) -> ArraySite:
    """Where the BS-side baseline arrays go (paper 000 §IV-A / paper 002 §V-A, MODEL
    §2.6): centred at the sensing receiver's (x, y), at the waveguides' mean height, along
    the receive array's axis; by default N = guides RF chains × M = PAs per guide."""
    sn = world.sensing
    dep = world.deployment
    height = float(np.mean(dep.feed[:, 2]))
    centre = np.array([sn.position[0], sn.position[1], height])
    return ArraySite(centre, np.asarray(sn.axis, float), float(world.fc), int(dep.n_guides),
                     int(dep.max_pas))


def link_setup(world, kind: str, link: str = "downlink") -> LinkSetup:
    """The sum-rate set-up of paper 002 (MODEL §4.1-§4.2) for beamformer ``kind``."""
    return LinkSetup(kind, link, world.power_w, world.user_power_w, world.noise_w)
