"""Scene options for paper 001's lost readings (issue 14 item 1, docs/paper001.md):
attenuation in Np/m (the paper's amplitude loss e^{−α d}), every slot a distinct cluster,
the shortest slot τ_min. Strict validation: one line naming the field and the fix."""

import numpy as np
import pytest

from twin.errors import ConfigError
from twin.physics.channel import guide_response
from twin.problems import cluster_setup
from twin.scene import load_scene
from twin.world import World


def test_np_per_m_is_the_papers_amplitude_loss():
    scene = load_scene("paper001")
    g = scene.waveguides[0]
    assert g.attenuation_np_per_m == 0.18
    s = np.array([[0.5, 9.5]])
    f = np.abs(guide_response(s, scene.radio.carrier_ghz * 1e9, g.n_eff, g.attenuation_db_per_m))[0]
    assert np.isclose(f[1] / f[0], np.exp(-0.18 * 9.0), rtol=1e-12)       # e^{−α Δd}: 14.9 dB less power
    db = load_scene("paper001", {"waveguides.0.attenuation_np_per_m": None, "waveguides.0.attenuation_db_per_m": 0.18})
    f_db = np.abs(guide_response(s, 30e9, 1.4, db.waveguides[0].attenuation_db_per_m))[0]
    assert np.isclose(20 * np.log10(f_db[0] / f_db[1]), 0.18 * 9.0)        # the dB/m reading: 1.6 dB


@pytest.mark.parametrize("over, field", [
    ({"waveguides.0.attenuation_db_per_m": 0.5}, "waveguides[0]"),
    ({"simulation.distinct_clusters": True, "simulation.slots_per_frame": 11}, "simulation.distinct_clusters"),
    ({"simulation.min_slot_s": 0.003}, "simulation.min_slot_s"),
])
def test_bad_readings_are_one_line_errors(over, field):
    with pytest.raises(ConfigError) as e:
        load_scene("paper001", over)
    msg = str(e.value)
    assert field in msg and "\n" not in msg and "fix" in msg


def test_distinct_clusters_and_min_slot_reach_the_problem():
    w = World(load_scene("paper001", {"simulation.distinct_clusters": True, "simulation.min_slot_s": 0.0004}))
    setup = cluster_setup(w)
    assert setup.distinct_clusters and np.isclose(setup.tau_min_frac, 0.0004 / 0.008)
    assert not cluster_setup(World(load_scene("paper001"))).distinct_clusters


def test_a_scene_in_np_per_m_survives_its_own_dump():
    """A validated scene carries both fields (the Np/m given, the dB/m derived); runs and
    sweeps re-validate the dump, which must give the same scene, not a 'both given' error."""
    from twin.scene.schema import Scene

    scene = load_scene("paper001")
    again = Scene.model_validate(scene.model_dump())
    assert again == scene
    assert np.isclose(again.waveguides[0].attenuation_db_per_m, 20 / np.log(10) * 0.18, rtol=1e-12)
