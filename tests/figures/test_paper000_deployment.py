"""Paper 000 §IV findings in N (waveguides) and M (PAs per waveguide): every scheme's
RCRB falls at every step, and the orderings of the power sweep hold at every point. These
sweeps change the deployment, so they rely on the optimiser alone (coarse-to-fine
continuation from the uniform layout); sizes and measured margins are in
test_paper000_findings.py."""

import numpy as np
import pytest

from paper000_checks import table, trend

pytestmark = pytest.mark.slow


def test_rcrb_falls_with_waveguides(size):
    trend(table("paper000-waveguides", size), -1)


def test_rcrb_falls_with_pas(size):
    t = table("paper000-pas", size)
    trend(t, -1, [s for s in t.columns if s != "MIMO"])
    assert np.ptp(t["MIMO"].to_numpy()) == 0          # MIMO has no PAs: M does not enter
