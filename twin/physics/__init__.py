"""MODEL §2-§3 (docs/model.md) as pure vectorised functions (public math API: MODEL §6)."""

from twin.physics.channel import (array_channel, free_space_gain, guide_response,
                                  pa_channel_terms, pa_positions, pass_channel,
                                  power_split_factor)
from twin.physics.outage import (chernoff_log_bound, outage_eigenvalues,
                                 outage_monte_carlo, outage_probability, rcs_covariance)
from twin.physics.sensing import (crb_from_channel, crb_position, look_sin, radar_gain, reflection_coefficient,
                              root_crb,
                                  target_channel_and_gradient, ula_steering)
from twin.physics.sinr import rate_bps_hz, sinr_downlink, sinr_uplink, uplink_sum_rate_sic

__all__ = [
    "array_channel", "free_space_gain", "guide_response", "pa_channel_terms", "pa_positions",
    "pass_channel", "power_split_factor", "chernoff_log_bound", "outage_eigenvalues",
    "outage_monte_carlo", "outage_probability", "rcs_covariance", "crb_position", "look_sin",
    "radar_gain", "reflection_coefficient", "crb_from_channel", "root_crb", "target_channel_and_gradient", "ula_steering",
    "rate_bps_hz", "sinr_downlink", "sinr_uplink", "uplink_sum_rate_sic",
]
