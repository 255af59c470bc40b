"""Issue 12 item 6: compare tables count each policy's frames by status."""

import numpy as np
import pandas as pd

from twin.controller import stage
from twin.controller.stages.beamform import Zf
from twin.experiments.compare import compare


@stage
class _EveryThirdFails(Zf):
    """A beamform stage that raises on every third frame."""

    name = "test-every-third-fails"

    def run(self, obs, plan):
        if obs.frame % 3 == 2:
            raise np.linalg.LinAlgError("singular matrix")
        super().run(obs, plan)


def test_compare_tables_count_frames_by_status(tmp_path):
    df = compare("paper000", "uniform,uniform:beamform=test-every-third-fails", seeds=2, out=tmp_path,
                 frames=6, backend="serial", progress=False)
    t = df.set_index(["policy", "seed"])
    failing = "uniform:beamform=test-every-third-fails"
    assert (t.loc[failing, "status_held-previous"] == 2).all()
    assert (t.loc[failing, "status_ok"] == 4).all()
    assert (t.loc["uniform", "status_ok"] == 6).all() and (t.loc["uniform", "status_held-previous"] == 0).all()
    csv = pd.read_csv(tmp_path / "comparison.csv")
    assert {"status_ok", "status_held-previous"} <= set(csv.columns)
    md = (tmp_path / "comparison.md").read_text()
    assert "| policy | held-previous | ok |" in md and f"| {failing} | 4 | 8 |" in md
    assert "| uniform | 0 | 12 |" in md
