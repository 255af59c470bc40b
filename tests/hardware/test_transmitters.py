"""One transmitter abstraction for every radiating hardware (MODEL §2.3, §2.5, §2.6, §3.3):
the analytic target gradient is the derivative of the channel, walls block every kind
the same way, and the PASS transmitter is the paper's channel."""

import numpy as np
import pytest

from twin.hardware import HardwareState
from twin.physics import pass_channel
from twin.scene import load_scene
from twin.world import World

KINDS = [("office", None), ("paper000", None), ("paper000", {"kind": "ula"}),
         ("paper000", {"kind": "hybrid"}), ("paper001", {"kind": "subarray-ula"}),
         ("office", {"kind": "hybrid", "elements_per_rf": 3})]


def _state(tx, rng):
    st = tx.initial_state()
    if tx.steerable:        # arbitrary analog phases: the gradient must hold for any state
        st = st.with_(analog=np.exp(1j * rng.uniform(0, 2 * np.pi, tx.shape)) / np.sqrt(tx.shape[1]))
    return st


@pytest.mark.parametrize("scene,hw", KINDS)
def test_target_gradient_is_the_derivative_of_the_channel(scene, hw):
    world = World(load_scene(scene), hardware=hw)
    tx = world.tx
    rng = np.random.default_rng(1)
    st = _state(tx, rng)
    q = np.array([7.3, 2.1, world.ue_height])        # clear of the office's walls
    h, dh = tx.target_channel(st, q)
    assert np.allclose(h, tx.channel_to(st, q[None])[:, 0], rtol=1e-12, atol=0)
    eps = 1e-7
    for i in (0, 1):
        e = np.zeros(3)
        e[i] = eps
        fd = (tx.channel_to(st, (q + e)[None])[:, 0] - tx.channel_to(st, (q - e)[None])[:, 0]) / (2 * eps)
        assert np.allclose(dh[i], fd, rtol=1e-5, atol=1e-9 * np.abs(dh[i]).max())


@pytest.mark.parametrize("hw", [None, {"kind": "ula"}, {"kind": "hybrid"}])
def test_walls_block_every_kind_of_hardware(hw):
    """Behind the office's concrete core every element's link is blocked, whatever the
    hardware (fixed arrays used to ignore the walls); in the open the channel is not zero."""
    world = World(load_scene("office"), hardware=hw)
    tx = world.tx
    st = tx.initial_state()
    behind, open_ = np.array([[2.0, 1.5, 0.0]]), np.array([[9.0, 5.0, 0.0]])
    loss = tx.los_loss_db(st, behind)
    terms = tx.terms_to(st, behind)[..., 0]
    blocked = np.zeros(tx.shape, bool)
    blocked[np.asarray(st.active, bool) & tx.installed] = ~np.isfinite(loss[:, 0])
    assert blocked.any()
    assert np.all(terms[blocked] == 0)
    assert np.abs(tx.channel_to(st, open_)).max() > 0


def test_pass_transmitter_is_the_papers_channel():
    world = World(load_scene("paper000"))        # open room: b = 1
    tx, rng = world.tx, np.random.default_rng(0)
    s = tx.legalize(rng.uniform(0, tx.length[:, None], tx.shape))
    pts = np.column_stack([rng.uniform(5, 20, 5), rng.uniform(-7, 7, 5), np.zeros(5)])
    H = tx.channel_to(HardwareState(s, tx.installed), pts)
    ref = pass_channel(tx.feed, tx.direction, s, pts, tx.fc, n_eff=tx.n_eff, attenuation_db_per_m=tx.attenuation)
    assert np.array_equal(H, ref)


def test_subarray_ula_radiates_from_its_active_subarray_only():
    """Paper 001 baseline 1: C sub-arrays of N_c elements at λ/2 centred on the guide; the
    active one shares the power equally (1/√N_c)."""
    world = World(load_scene("paper001"), hardware={"kind": "subarray-ula"})
    tx = world.tx
    C = len(world.deployment.cluster_bounds[0])
    nc = tx.shape[1] // C
    pos = tx.positions()
    assert np.allclose(np.diff(pos[0, :, 0]), world.wavelength / 2)
    assert np.isclose(pos[0, :, 0].mean(), 5.0)                       # centred on the 10 m guide
    q = np.array([[6.0, 3.0, 0.0]])
    from twin.physics import free_space_gain
    for c in (0, C - 1):
        st = HardwareState(tx.offsets, tx.cluster == c)
        sel = pos[0, tx.cluster[0] == c]
        expected = free_space_gain(sel, q, tx.fc).sum() / np.sqrt(nc)
        assert np.isclose(tx.channel_to(st, q)[0, 0], expected, rtol=1e-12)
    assert len(tx.cluster_centres()) == C


def test_uniform_layout_is_computed_once_and_handed_out_as_a_copy():
    import dataclasses

    dep = World(load_scene("office")).deployment
    first = dep.uniform_positions()
    assert np.array_equal(first, dep._uniform_positions())            # the formula's values
    m = int(dep.installed[0].sum())
    assert np.allclose(first[0, :m], dep.length[0] * (np.arange(m) + 0.5) / m)
    first[:] = -1.0                                                    # a caller edits its copy
    again = dep.uniform_positions()
    assert np.array_equal(again, dep._uniform_positions()) and (again >= 0).all()
    shorter = dataclasses.replace(dep, length=dep.length / 2)          # a new deployment: its own layout
    assert np.allclose(shorter.uniform_positions()[0, :m], again[0, :m] / 2)
