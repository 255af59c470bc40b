"""Shared set-up of the CRB positioning tests: the paper000 world with its layout, CRB
set-up and SDR (N = 4, K = 3), and seeded drops of 3 users and a target."""

import numpy as np
import pytest

from twin.optim.crb_positioning import PassLayout
from twin.optim.sdr import CrbSdr
from twin.problems import crb_setup
from twin.scene import load_scene
from twin.world import World


@pytest.fixture(scope="module")
def paper000_crb():
    """(world, PassLayout, CrbSetup, CrbSdr) of the paper000 scene."""
    w = World(load_scene("paper000"))
    return w, PassLayout(w.deployment, w.floor), crb_setup(w), CrbSdr(4, 3)


def paper000_drop(seed):
    """Users (3,3) and target (3,) drawn in the paper000 service area on stream ``seed``."""
    rng = np.random.default_rng(seed)
    users = np.column_stack([rng.uniform(5, 20, 3), rng.uniform(-7.5, 7.5, 3), np.zeros(3)])
    return users, np.array([rng.uniform(5, 20), rng.uniform(-7.5, 7.5), 0.0])


@pytest.fixture(scope="module")
def crb_drop():
    """:func:`paper000_drop`, for tests to call with a seed."""
    return paper000_drop
