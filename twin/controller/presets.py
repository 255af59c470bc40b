"""Presets: named compositions of stages (with their hardware where they need one). Every
controller of the three papers and their baselines is a preset; the figure
reproductions name their schemes after them (``label``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    """name; stages {role: stage name}; params {role: {param: value}}; hardware: fields of
    ``[hardware]`` the preset needs (None: the scene's); example_scene: the built-in scene
    it is meant for; aliases: the preset's own parameter names (kept from the policies
    they replace) → targets ``"role"`` (the value names that role's stage) or
    ``"role.param"``; label: the scheme name used in the papers' figures."""

    name: str
    description: str
    stages: dict
    params: dict = field(default_factory=dict)
    hardware: dict | None = None
    example_scene: str = "office"
    aliases: dict = field(default_factory=dict)
    label: str = ""


_LINEAR = {"beamformer": ("beamform",), "predict": ("beamform.predict",)}
_CRB = {"sinr_margin_db": ("position.sinr_margin_db", "beamform.sinr_margin_db")}
_AO = {"max_iter": ("position.max_iter",), "first_max_iter": ("position.first_max_iter",),
       "grid": ("position.grid",), "mode": ("position.mode",), "reuse": ("beamform.reuse",),
       "fast_sdr": ("position.fast_sdr", "beamform.fast_sdr"), **_CRB}
_OUTAGE = {"T": ("select.T",), "objective": ("select.objective",), "s_grid": ("select.s_grid",),
           "decay": ("select.decay",), "method": ("select.method",)}


def _st(select="all", position="hold", schedule="all", beamform="zf") -> dict:
    return {"select": select, "position": position, "schedule": schedule, "beamform": beamform}


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("pipeline", "a free composition: pick the stages with --param role=stage", _st()),
    Preset("uniform", "PAs evenly spread and fixed; linear beamformer per slot", _st(position="uniform"),
           aliases=_LINEAR, label="Uniform"),
    Preset("follow", "PAs slide to the along-guide projections of the nearest users; linear beamformer",
           _st(position="follow"), aliases=_LINEAR, label="Follow"),
    Preset("elementwise", "paper 002: element-wise PA positions (rank-one updates) + linear beamformer",
           _st(position="elementwise"), example_scene="paper002", label="PASS",
           aliases={"beamformer": ("beamform", "position.kind"), "link": ("position.link",),
                    "Q": ("position.Q",), "eps": ("position.eps",), "warm_start": ("position.warm_start",)}),
    Preset("hmimo", "paper 002 baseline: hybrid MIMO (N RF chains × M antennas) at the BS, analog phases "
                    "on the users", _st(position="analog-steer"),
           params={"position": {"rule": "user-cycle"}, "beamform": {"predict": False}},
           hardware={"kind": "hybrid"}, example_scene="paper002", aliases={"beamformer": ("beamform",)},
           label="hMIMO"),
    Preset("isac-crb", "paper 000: CRB-minimising ISAC, SDR + penalty/SCA/element-wise PA positions "
                       "(continuous)", _st(position="crb-ao", beamform="crb-sdr"),
           example_scene="paper000", aliases=_AO, label="Continuous-PASS"),
    Preset("isac-crb-paper", "paper 000 Algorithm 4 as published: SDR ↔ penalty positioning from the current "
                             "PAs (no continuation, no extra element-wise steps; warm frames: one penalty step "
                             "within the PAs' reach)",
           _st(position="crb-ao", beamform="crb-sdr"),
           params={"position": {"variant": "paper", "track_steps": "penalty"}},
           example_scene="paper000", aliases=_AO, label="Algorithm-4"),
    Preset("isac-crb-discrete", "paper 000 Discrete-PASS-Z: PAs on the Z+1 lattice of each guide",
           _st(position="crb-ao", beamform="crb-sdr"), params={"position": {"Z": 30}},
           example_scene="paper000", aliases={**_AO, "Z": ("position.Z",)}, label="Discrete-PASS"),
    Preset("isac-crb-uniform", "paper 000 Uniform-PASS: PAs evenly spread and fixed, CRB SDR beamforming",
           _st(position="uniform", beamform="crb-sdr"), example_scene="paper000",
           aliases={"sinr_margin_db": ("beamform.sinr_margin_db",)}, label="Uniform-PASS"),
    Preset("mimo-isac", "paper 000 MIMO: N-antenna fully digital λ/2 ULA at the BS, CRB SDR beamforming",
           _st(beamform="crb-sdr"), hardware={"kind": "ula"}, example_scene="paper000",
           aliases={"sinr_margin_db": ("beamform.sinr_margin_db",)}, label="MIMO"),
    Preset("mmimo-isac", "paper 000 mMIMO: N RF chains × M antennas (partially connected hybrid), analog "
                         "phases by rule, CRB SDR beamforming", _st(position="analog-steer", beamform="crb-sdr"),
           hardware={"kind": "hybrid"}, example_scene="paper000",
           aliases={"analog": ("position.rule",), "sinr_margin_db": ("beamform.sinr_margin_db",)}, label="mMIMO"),
    Preset("clustered-outage", "paper 001: clustered PAs, schedule minimising the sensing outage s.t. R_min",
           _st("outage-schedule", "cluster-focus", "all", "mrt"), params={"beamform": {"predict": False}},
           example_scene="paper001", aliases=_OUTAGE, label="Proposed"),
    Preset("clustered-mm", "paper 001's own method: AO of relaxed cluster selection (log-det, big-M, penalty), "
                           "continuous intra-cluster PA positions and relaxed user scheduling, outer grid over s",
           _st("outage-schedule", "cluster-focus", "all", "mrt"),
           params={"select": {"method": "mm"}, "beamform": {"predict": False}},
           example_scene="paper001", aliases=_OUTAGE, label="Proposed-MM"),
    Preset("clustered-baseline1", "paper 001 baseline 1: fixed ULA split into sub-arrays (no antenna motion)",
           _st("outage-schedule", "hold", "all", "mrt"), params={"beamform": {"predict": False}},
           hardware={"kind": "subarray-ula"}, example_scene="paper001", aliases=_OUTAGE, label="Baseline-1"),
    Preset("clustered-baseline2", "paper 001 baseline 2: the same cluster in every slot",
           _st("outage-schedule", "cluster-focus", "all", "mrt"),
           params={"select": {"rule": "same-cluster"}, "beamform": {"predict": False}},
           example_scene="paper001", aliases=_OUTAGE, label="Baseline-2"),
    Preset("clustered-baseline3", "paper 001 baseline 3: equal slot durations",
           _st("outage-schedule", "cluster-focus", "all", "mrt"),
           params={"select": {"rule": "equal-durations"}, "beamform": {"predict": False}},
           example_scene="paper001", aliases=_OUTAGE, label="Baseline-3"),
    Preset("clustered-baseline4", "paper 001 baseline 4: one PA per cluster",
           _st("outage-schedule", "cluster-focus", "all", "mrt"),
           params={"select": {"pas_per_cluster": 1}, "beamform": {"predict": False}},
           example_scene="paper001", aliases=_OUTAGE, label="Baseline-4"),
    Preset("clustered-nobf", "paper 001 Fig. 6 variant: PAs evenly spread in their cluster (no intra-cluster "
                             "beamforming)", _st("outage-schedule", "uniform", "all", "mrt"),
           params={"beamform": {"predict": False}}, example_scene="paper001", aliases=_OUTAGE,
           label="No-beamforming"),
    Preset("los-follow", "PAs slide (within reach) to where they see their user past the walls, moving only "
                         "to restore a lost line of sight (hysteresis 200 dB); linear beamformer",
           _st(position="los-follow"), params={"position": {"hysteresis_db": 200.0}},
           aliases={**_LINEAR, "travel_penalty_db_per_m": ("position.travel_penalty_db_per_m",),
                    "hysteresis_db": ("position.hysteresis_db",), "max_speed_m_s": ("position.max_speed_m_s",)},
           example_scene="warehouse", label="LoS-follow"),
)}

#: parameters that became scene requirements: name -> the scene field that replaces it
MOVED_TO_SCENE = {"R_min": "requirements.r_min_bps_hz", "threshold_db": "requirements.sensing_threshold_db"}
