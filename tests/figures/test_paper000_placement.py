"""Paper 000's BS-side baselines against the transmit array's placement and spacing
(issue 14 item 5; the paper does not state them). With the receive array at the origin
and the target 5-20 m away, range enters the CRB through the wavefront curvature across
the transmit aperture (MODEL §2.4, §3.3): a wider aperture or an array inside the area
must give a lower RCRB."""

import numpy as np

from twin.experiments.figures import available


def test_wider_spacing_and_placement_in_the_area_lower_the_baselines_rcrb():
    df = available()["paper000-placement"].func(quick=True, seed=0)
    med = df.pivot(index="spacing_lambda", columns="scheme", values="median_m").sort_index()
    for label in ("MIMO", "mMIMO"):
        at_rx = med[f"{label} @ receiver"].to_numpy()
        assert np.all(np.diff(at_rx) < 0), (label, at_rx)          # λ/2 → 2λ → 10λ
        assert np.all(med[f"{label} @ area centre"] < 0.1 * med[f"{label} @ receiver"]), label
    # the 200× of the issue: the default placement against the area centre, λ/2 MIMO
    assert med.loc[0.5, "MIMO @ receiver"] > 100 * med.loc[0.5, "MIMO @ area centre"]
    assert (df.feasible >= 2).all()
