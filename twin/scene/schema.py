"""Scene schema: typed, immutable, validated (docs/scenes.md documents every field).

Scene files use engineering units named in the key (``carrier_ghz``, ``tx_power_dbm``,
``length_m``); the derived SI values (``fc_hz``, ``power_w``…) are properties, so the
conversion happens in one place (twin.units).

Hostile input is refused here, generically: no field accepts NaN or ±inf
(``allow_inf_nan=False`` on every model), counts are strict integers (``pas = true`` or
``2.0`` is an error, not 1 PA), and sizes are capped by the limits below so that a run
cannot hang at frame 0 (docs/scenes.md, "Limits"). New integer fields should use
:data:`Count`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, field_validator, model_validator

from twin.units import dbm_to_w, db_to_lin, wavelength

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]
#: A count: a strict integer (a boolean or a float is refused, not converted; numpy
#: integers from library callers are accepted).
Count = Annotated[int, Strict(), BeforeValidator(lambda v: int(v) if isinstance(v, np.integer) else v)]

#: Size limits (docs/scenes.md, "Limits"): beyond them a frame takes minutes or the
#: memory of the machine (1000 users ≈ 3 s per frame with the uniform policy).
MAX_USERS = 1000
MAX_TARGETS = 1000
MAX_BLOCKERS = 1000
MAX_WAVEGUIDES = 256
MAX_PAS_PER_GUIDE = 1024
MAX_ELEMENTS = 1024
MAX_SLOTS_PER_FRAME = 1000
MAX_SAMPLES_PER_SLOT = 100
#: slots_per_frame × samples_per_slot: evaluations of the channel in one frame.
MAX_EVALUATIONS_PER_FRAME = 1000
MAX_FRAMES = 10_000_000
#: Seeds fit a signed 64-bit integer (Parquet and pandas columns of compare/sweep tables).
MAX_SEED = 2**63 - 1
MAX_POINTS = 10_000
#: Ranges of physical values whose SI conversion would overflow or underflow (10^(dBm/10))
#: or that make a frame never end (a walker faster than this crosses the floor in an instant).
MAX_ABS_DBM = 200.0
MAX_ABS_DB = 100.0
MAX_SPEED_M_S = 100.0
MAX_FRAME_S = 60.0

Dbm = Annotated[float, Field(ge=-MAX_ABS_DBM, le=MAX_ABS_DBM)]
Db = Annotated[float, Field(ge=-MAX_ABS_DB, le=MAX_ABS_DB)]

#: Wall penetration loss presets at f in GHz (MODEL §2.5; 3GPP TR 38.901 Table 7.4.3-1,
#: plasterboard from ITU-R P.2040 stud-wall figures).
MATERIALS = {
    "glass": lambda f: 2.0 + 0.2 * f,
    "irr_glass": lambda f: 23.0 + 0.3 * f,
    "wood": lambda f: 4.85 + 0.12 * f,
    "concrete": lambda f: 5.0 + 4.0 * f,
    "plasterboard": lambda f: 6.0,
}
#: A wall whose loss reaches this is treated as opaque (MODEL §2.5: concrete ≈ 117 dB).
OPAQUE_DB = 100.0


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Radio(Model):
    carrier_ghz: float = Field(28.0, ge=0.1, le=300)
    noise_dbm: Dbm = -90.0
    sensing_noise_dbm: Dbm = -90.0
    tx_power_dbm: Dbm = 30.0
    user_tx_power_dbm: Dbm = 20.0

    @property
    def fc_hz(self) -> float:
        return self.carrier_ghz * 1e9

    @property
    def wavelength_m(self) -> float:
        return wavelength(self.fc_hz)

    @property
    def noise_w(self) -> float:
        return float(dbm_to_w(self.noise_dbm))

    @property
    def sensing_noise_w(self) -> float:
        return float(dbm_to_w(self.sensing_noise_dbm))

    @property
    def power_w(self) -> float:
        return float(dbm_to_w(self.tx_power_dbm))

    @property
    def user_power_w(self) -> float:
        return float(dbm_to_w(self.user_tx_power_dbm))


class Wall(Model):
    points: tuple[Vec2, ...] = Field(min_length=2, max_length=MAX_POINTS)
    thickness_m: float = Field(0.1, gt=0)
    height_m: float = Field(3.0, gt=0)
    material: Literal["glass", "irr_glass", "wood", "concrete", "plasterboard"] | None = None
    loss_db: float | None = Field(None, ge=0)
    opaque: bool = False
    closed: bool = False
    name: str = ""

    @model_validator(mode="after")
    def _one_loss(self):
        given = sum(x is not None and x is not False for x in (self.material, self.loss_db, self.opaque or None))
        if given != 1:
            raise ValueError("give exactly one of material, loss_db or opaque = true")
        if self.closed and len(self.points) < 3:
            raise ValueError(f"a closed wall (polygon) needs at least 3 points, got {len(self.points)}")
        return self

    def loss_at(self, fc_ghz: float) -> float:
        """Penetration loss in dB at ``fc_ghz`` (inf when opaque)."""
        if self.opaque:
            return float("inf")
        loss = MATERIALS[self.material](fc_ghz) if self.material else float(self.loss_db)
        return float("inf") if loss >= OPAQUE_DB else loss


class Floor(Model):
    outline: tuple[Vec2, ...] = Field(min_length=3, max_length=MAX_POINTS)
    walls: tuple[Wall, ...] = Field((), max_length=MAX_POINTS)
    ue_height_m: float = Field(0.0, ge=0)
    ceiling_m: float = Field(3.0, gt=0)

    @model_validator(mode="after")
    def _heights(self):
        if self.ue_height_m >= self.ceiling_m:
            raise ValueError(f"ue_height_m = {self.ue_height_m} is not below ceiling_m = {self.ceiling_m}")
        return self


class Cluster(Model):
    center_m: float = Field(ge=0)
    aperture_m: float = Field(gt=0)
    pas: Count = Field(1, ge=1, le=MAX_PAS_PER_GUIDE)


class Waveguide(Model):
    name: str = ""
    feed: Vec3
    direction: Vec3 = (1.0, 0.0, 0.0)
    length_m: float = Field(gt=0)
    n_eff: float = Field(1.4, ge=1.0, le=10.0)
    attenuation_db_per_m: float = Field(0.0, ge=0)
    #: the same loss as an amplitude decay e^{−α s} in Np/m (paper 001's "0.18"); given,
    #: it sets attenuation_db_per_m = (20/ln 10)·α ≈ 8.686·α (MODEL §2.2)
    attenuation_np_per_m: float | None = Field(None, ge=0)
    pas: Count = Field(1, ge=1, le=MAX_PAS_PER_GUIDE)
    min_spacing_m: float | None = Field(None, gt=0)
    speed_m_s: float = Field(0.5, gt=0)
    initial_m: tuple[float, ...] | None = Field(None, max_length=MAX_PAS_PER_GUIDE)
    clusters: tuple[Cluster, ...] = Field((), max_length=MAX_PAS_PER_GUIDE)
    #: "slide": PAs move along the guide at speed_m_s; "activate": PAs are pre-installed
    #: (installed_m, or installed_count spread evenly) and ``pas`` of them radiate at a
    #: time, switched after switching_delay_s (MODEL §5)
    actuation: Literal["slide", "activate"] = "slide"
    installed_m: tuple[float, ...] | None = Field(None, min_length=1, max_length=MAX_PAS_PER_GUIDE)
    installed_count: Count | None = Field(None, ge=1, le=MAX_PAS_PER_GUIDE)
    switching_delay_s: float = Field(0.0, ge=0, le=MAX_FRAME_S)

    @field_validator("direction")
    @classmethod
    def _nonzero(cls, v):
        if np.linalg.norm(v) == 0:
            raise ValueError("direction must be a non-zero vector")
        return v

    @model_validator(mode="before")
    @classmethod
    def _attenuation_unit(cls, data):
        """attenuation_np_per_m (amplitude, Np/m) → attenuation_db_per_m (power, dB/m)."""
        if not isinstance(data, dict) or data.get("attenuation_np_per_m") is None:
            return data
        a = data["attenuation_np_per_m"]
        db = data.get("attenuation_db_per_m")
        if db is not None and isinstance(a, (int, float)) and isinstance(db, (int, float)) \
                and np.isclose(float(db), 20.0 / np.log(10.0) * float(a), rtol=1e-12, atol=0.0):
            return data     # a validated scene dumped and read again: both, and consistent
        if db is not None:
            raise ValueError("attenuation_db_per_m and attenuation_np_per_m both given: give the in-guide "
                             "loss once, in dB/m (power) or in Np/m (amplitude e^(-alpha s))")
        if isinstance(a, (int, float)) and not isinstance(a, bool) and a >= 0:
            data = {**data, "attenuation_db_per_m": 20.0 / np.log(10.0) * float(a)}
        return data

    @model_validator(mode="after")
    def _clusters(self):
        if self.clusters and sum(c.pas for c in self.clusters) != self.pas:
            raise ValueError(f"pas = {self.pas} but the clusters hold "
                             f"{sum(c.pas for c in self.clusters)} PAs; make them agree")
        if self.initial_m is not None and len(self.initial_m) != self.pas:
            raise ValueError(f"initial_m has {len(self.initial_m)} entries for {self.pas} PAs")
        if self.actuation == "slide":
            if self.installed_m is not None or self.installed_count is not None:
                raise ValueError('installed_m / installed_count need actuation = "activate"')
            return self
        if (self.installed_m is None) == (self.installed_count is None):
            raise ValueError('actuation = "activate" needs exactly one of installed_m or installed_count')
        if self.clusters:
            raise ValueError('actuation = "activate" replaces clusters: list the installed positions in '
                             'installed_m instead')
        pts = self.stations
        if len(pts) < self.pas:
            raise ValueError(f"{len(pts)} installed positions cannot hold pas = {self.pas} radiating PAs")
        if pts.min() < 0 or pts.max() > self.length_m:
            raise ValueError(f"installed_m must lie on the guide, in [0, {self.length_m:g}] m")
        if np.any(np.diff(pts) <= 0):
            raise ValueError("installed_m must be strictly increasing")
        if self.initial_m is not None and not all(np.isclose(pts, x).any() for x in self.initial_m):
            raise ValueError("initial_m of an activation guide must be installed positions")
        return self

    @property
    def stations(self) -> np.ndarray | None:
        """Installed positions (P,) m of an activation guide, None for a sliding one."""
        if self.actuation != "activate":
            return None
        if self.installed_m is not None:
            return np.asarray(self.installed_m, float)
        c = self.installed_count
        return self.length_m * (np.arange(c) + 0.5) / c


class Sensing(Model):
    position: Vec3 = (0.0, 0.0, 0.0)
    axis: Vec3 = (0.0, 1.0, 0.0)
    elements: Count = Field(8, ge=1, le=MAX_ELEMENTS)
    spacing_m: float | None = Field(None, gt=0, le=10.0)
    snapshots: Count = Field(256, ge=1)

    @field_validator("axis")
    @classmethod
    def _nonzero(cls, v):
        if np.linalg.norm(v) == 0:
            raise ValueError("axis must be a non-zero vector")
        return v


class Mobility(Model):
    model: Literal["static", "random_waypoint", "waypoints"] = "static"
    speed_m_s: float | tuple[float, float] = 1.0
    pause_s: float | tuple[float, float] = 0.0
    waypoints: tuple[Vec2, ...] = Field((), max_length=MAX_POINTS)
    loop: bool = True

    @model_validator(mode="after")
    def _check(self):
        lo, hi = self.speed_range
        if lo <= 0 or hi < lo:
            raise ValueError("speed_m_s must be > 0 (a number or [min, max] with min ≤ max)")
        if hi > MAX_SPEED_M_S:
            raise ValueError(f"speed_m_s = {hi:g} is over the limit of {MAX_SPEED_M_S:g} m/s")
        lo, hi = self.pause_range
        if lo < 0 or hi < lo:
            raise ValueError("pause_s must be ≥ 0 (a number or [min, max] with min ≤ max)")
        if self.model == "waypoints" and len(self.waypoints) < 1:
            raise ValueError("mobility model 'waypoints' needs a waypoints list")
        return self

    @property
    def speed_range(self) -> tuple[float, float]:
        s = self.speed_m_s
        return (float(s), float(s)) if isinstance(s, (int, float)) else (float(s[0]), float(s[1]))

    @property
    def pause_range(self) -> tuple[float, float]:
        s = self.pause_s
        return (float(s), float(s)) if isinstance(s, (int, float)) else (float(s[0]), float(s[1]))


class Entities(Model):
    count: Count | None = Field(None, ge=1)
    positions: tuple[Vec2, ...] | None = Field(None, min_length=1)
    mobility: Mobility | tuple[Mobility, ...] = Mobility()

    @model_validator(mode="after")
    def _count(self):
        if self.count is None and self.positions is None:
            raise ValueError("give count or positions")
        if self.count is not None and self.positions is not None and len(self.positions) != self.count:
            raise ValueError(f"count = {self.count} but {len(self.positions)} positions given")
        if isinstance(self.mobility, tuple) and len(self.mobility) != self.n:
            raise ValueError(f"mobility lists {len(self.mobility)} models for {self.n} entities")
        return self

    @property
    def n(self) -> int:
        return self.count if self.count is not None else len(self.positions)

    def mobility_of(self, i: int) -> Mobility:
        return self.mobility[i] if isinstance(self.mobility, tuple) else self.mobility


class Users(Entities):
    count: Count | None = Field(None, ge=1, le=MAX_USERS)
    positions: tuple[Vec2, ...] | None = Field(None, min_length=1, max_length=MAX_USERS)
    sinr_target_db: Db | tuple[Db, ...] = 6.0
    #: the users' own bodies block the other users' links (MODEL §5.1), as cylinders of
    #: body_radius_m × body_height_m centred on each user
    self_blocking: bool = False
    body_radius_m: float = Field(0.2, gt=0, le=5.0)
    body_height_m: float = Field(1.7, gt=0, le=10.0)

    @model_validator(mode="after")
    def _targets(self):
        if isinstance(self.sinr_target_db, tuple) and len(self.sinr_target_db) != self.n:
            raise ValueError(f"sinr_target_db lists {len(self.sinr_target_db)} values for {self.n} users")
        return self

    @property
    def sinr_target_lin(self) -> np.ndarray:
        return np.broadcast_to(db_to_lin(np.asarray(self.sinr_target_db, float)), (self.n,)).copy()


class Targets(Entities):
    count: Count | None = Field(None, ge=1, le=MAX_TARGETS)
    positions: tuple[Vec2, ...] | None = Field(None, min_length=1, max_length=MAX_TARGETS)
    rcs_m2: float = Field(1.0, gt=0, le=1e6)
    rcs_decay_per_rad: float = Field(0.0, ge=0)


class Blockers(Entities):
    """People who block links (MODEL §5.1, 3GPP TR 38.901 §7.6.4.2 blockage model B):
    vertical cylinders of ``radius_m`` and ``height_m`` standing on the floor, placed and
    moved like users (count or positions, mobility)."""

    count: Count | None = Field(None, ge=1, le=MAX_BLOCKERS)
    positions: tuple[Vec2, ...] | None = Field(None, min_length=1, max_length=MAX_BLOCKERS)
    radius_m: float = Field(0.2, gt=0, le=5.0)
    height_m: float = Field(1.7, gt=0, le=10.0)


class Hardware(Model):
    """The radiating hardware (MODEL §1, §2.6): ``pass`` (the scene's waveguides with
    PAs), ``ula`` (fully digital BS array, paper 000 MIMO), ``hybrid`` (N RF chains × M
    elements behind phase shifters, paper 000 mMIMO / paper 002 hMIMO) or
    ``subarray-ula`` (a fixed ULA on the first waveguide split into switched sub-arrays,
    paper 001 baseline 1). Array defaults: at the sensing receiver's (x, y) and the guides'
    height, along its axis, λ/2 spacing, one RF chain per waveguide, M = PAs per guide."""

    kind: Literal["pass", "ula", "hybrid", "subarray-ula"] = "pass"
    position: Vec3 | None = None
    axis: Vec3 | None = None
    rf_chains: Count | None = Field(None, ge=1, le=256)
    elements_per_rf: Count | None = Field(None, ge=1, le=1024)
    spacing_m: float | None = Field(None, gt=0, le=10.0)

    @field_validator("axis")
    @classmethod
    def _axis(cls, v):
        if v is not None and np.linalg.norm(v) == 0:
            raise ValueError("axis must be a non-zero vector")
        return v


class Requirements(Model):
    """What every run of the scene is judged against, whatever controller runs (MODEL
    §3.1, §3.4, §3.5): SINR targets γ_k (dB; None: ``users.sinr_target_db``), the minimum
    average rate R_min (bit/s/Hz, paper 001 C1) and the sensing SNR threshold Γ_th (dB,
    paper 001 Table I)."""

    sinr_target_db: float | tuple[float, ...] | None = None
    r_min_bps_hz: float = Field(1.0, ge=0)
    sensing_threshold_db: float = 10.0


ParamValue = bool | int | float | str | list


class Controller(Model):
    """The controller: a preset (``policy``) whose stages may be replaced one by one
    (``select``, ``position``, ``schedule``, ``beamform``); ``params`` holds the preset's
    parameters, per-stage tables (``params.position = {Q = 400}``) or dotted keys
    (``"position.Q" = 400``)."""

    policy: str = "uniform"
    select: str | None = None
    position: str | None = None
    schedule: str | None = None
    beamform: str | None = None
    params: dict[str, ParamValue | dict[str, ParamValue]] = {}
    observation_noise_m: float = Field(0.0, ge=0, le=1000.0)
    latency_s: float | Literal["measured"] = 0.0
    compute_speedup: float = Field(1.0, gt=0, le=1e9)

    @field_validator("latency_s")
    @classmethod
    def _latency(cls, v):
        if isinstance(v, (int, float)) and not (0.0 <= v < 3600.0):
            raise ValueError("latency_s must be 0 ≤ latency < 3600 s, or \"measured\"")
        return v

    @property
    def stage_overrides(self) -> dict[str, str]:
        return {r: getattr(self, r) for r in ("select", "position", "schedule", "beamform")
                if getattr(self, r) is not None}


class Csi(Model):
    """What the controller knows of the channels (MODEL §5.1): ``perfect`` (true positions,
    hence the true channels at its decision time), ``position`` (channels computed from
    positions observed with ``observation_noise_m``), or ``pilot`` (every ``period_s``
    each user sends ``pilot_symbols`` uplink pilots at its transmit power; the BS forms LS
    or LMMSE estimates of the effective channel of the configuration in force).
    ``target``: the position of each target the controller uses, ``true`` (observed with
    ``observation_noise_m``) or ``estimated`` (tracked from the BS's own ML estimates of
    the previous frames' echoes); ``estimate_targets`` runs (and traces) the estimation
    even when the controller uses the true position (MODEL §5.1)."""

    model: Literal["perfect", "position", "pilot"] = "position"
    observation_noise_m: float | None = Field(None, ge=0, le=1000.0)
    period_s: float | None = Field(None, gt=0, le=60.0)
    pilot_symbols: Count | None = Field(None, ge=1, le=4096)
    estimator: Literal["ls", "lmmse"] = "lmmse"
    # `--set csi.target=true` reads TOML's boolean true: the same choice
    target: Annotated[Literal["true", "estimated"], BeforeValidator(lambda v: "true" if v is True else v)] = "true"
    estimate_targets: bool = False


class Simulation(Model):
    frames: Count | None = Field(None, ge=1, le=MAX_FRAMES)
    duration_s: float | None = Field(None, gt=0)
    frame_s: float = Field(0.1, gt=0, le=MAX_FRAME_S)
    slots_per_frame: Count = Field(1, ge=1, le=MAX_SLOTS_PER_FRAME)
    #: paper 001: every slot of a frame activates a different cluster (each slot a new
    #: look angle at the target), so slots_per_frame ≤ the clusters
    distinct_clusters: bool = False
    #: paper 001 τ_min: the shortest slot (s; None: 5 % of frame_s)
    min_slot_s: float | None = Field(None, gt=0)
    samples_per_slot: Count = Field(1, ge=1, le=MAX_SAMPLES_PER_SLOT)
    seed: Count = Field(0, ge=0, le=MAX_SEED)
    flush_frames: Count = Field(200, ge=1)

    @property
    def n_frames(self) -> int:
        if self.frames is not None:
            return self.frames
        if self.duration_s is not None:
            return max(1, int(round(self.duration_s / self.frame_s)))
        return 100


class Scene(Model):
    name: str = "scene"
    description: str = ""
    radio: Radio = Radio()
    floor: Floor
    waveguides: tuple[Waveguide, ...] = Field(min_length=1, max_length=MAX_WAVEGUIDES)
    sensing: Sensing = Sensing()
    users: Users
    targets: Targets | None = None
    blockers: Blockers | None = None
    hardware: Hardware = Hardware()
    requirements: Requirements = Requirements()
    controller: Controller = Controller()
    csi: Csi = Csi()
    simulation: Simulation = Simulation()

    @model_validator(mode="after")
    def _requirements(self):
        g = self.requirements.sinr_target_db
        if isinstance(g, tuple) and len(g) != self.users.n:
            raise ValueError(f"requirements.sinr_target_db lists {len(g)} values for {self.users.n} users")
        return self

    @property
    def observation_noise_m(self) -> float:
        """σ of the observed positions: ``csi.observation_noise_m`` if given, else
        ``controller.observation_noise_m``; 0 with perfect CSI."""
        if self.csi.model == "perfect":
            return 0.0
        v = self.csi.observation_noise_m
        return float(self.controller.observation_noise_m if v is None else v)

    @property
    def sinr_target_lin(self) -> np.ndarray:
        """γ_k (K,) linear: ``requirements.sinr_target_db``, else ``users.sinr_target_db``."""
        g = self.requirements.sinr_target_db
        if g is None:
            return self.users.sinr_target_lin
        return np.broadcast_to(db_to_lin(np.asarray(g, float)), (self.users.n,)).copy()
