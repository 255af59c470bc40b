"""The fourth round's shortcuts of paper 002's element-wise search give the answers of the
full computation, bit for bit: the windowed δ-clearance mask equals the full one, and a
figure drop that shares its candidate lines' terms over schemes and sweep points gives
the sum rates of drops computed alone."""

import numpy as np
import pytest

from twin.experiments.figures import paper002
from twin.optim import drop_memo
from twin.optim.legal import LegalSet


@pytest.mark.parametrize("seed", range(5))
def test_windowed_clearance_mask_equals_the_full_one(seed):
    rng = np.random.default_rng(seed)
    M, L, d = 6, 3.0, 0.05
    legal = LegalSet(np.zeros((2, M)), np.full((2, M), L), np.array([d, d]), np.ones((2, M), bool),
                     np.zeros((2, M), int))
    s = np.sort(rng.uniform(0, L, (2, M)), axis=1)
    line = np.linspace(0.0, L, 1001)
    # points exactly δ (and δ less tol) from a PA: the boundary cases of the comparison
    edge = np.sort(np.concatenate([line, s[1] + d, s[1] - d, s[1] + d - 1e-12, s[1] + 2 * d]))
    for x in (line, edge, line[200:700]):
        for m in range(M):
            np.testing.assert_array_equal(legal.clear_of_sorted(s, 1, m, x), legal.clear_of(s, 1, m, x))
    assert not legal.clear_of_sorted(s, 1, 0, line).all()          # the mask does remove points


@pytest.mark.parametrize("link", ["downlink", "uplink"])
def test_a_shared_drop_gives_the_sum_rates_of_drops_computed_alone(link, monkeypatch):
    # powers (same geometry), another K, and other PA counts (the power split ρ = 1/√M
    # changes every line term: the memo must not share them)
    points = ([({"radio.tx_power_dbm": p}, 60) for p in (-10, 10)] + [({"users.count": 3}, 60)]
              + [(paper002._all_guides("pas", m), 60) for m in (2, 6)])
    shared = [paper002.sweep_drop(over, link, q, 5, 1) for over, q in points]
    drop_memo.clear()
    monkeypatch.setattr(drop_memo, "memo", lambda name, layout, args, compute: compute())
    alone = [paper002.sweep_drop(over, link, q, 5, 1) for over, q in points]
    assert shared == alone
    assert len({tuple(r.values()) for r in shared}) >= 4            # the points differ (the BS power: downlink only)
