"""Issue 12 item 6: compare tables count each policy's frames by status."""

import numpy as np
import pandas as pd

from twin.experiments.compare import compare
from twin.policies.base import Decision, Policy
from twin.policies.registry import register


@register
class _EveryThirdFails(Policy):
    name = "test-every-third-fails"
    params = {}

    def decide(self, obs):
        if obs.frame % 3 == 2:
            raise np.linalg.LinAlgError("singular matrix")
        dep = self.world.deployment
        from twin.policies.basic import beamformer_for
        return Decision(dep.uniform_positions(), dep.installed.copy(),
                        beamformer_for(self.world, dep.uniform_positions(), dep.installed, obs.users, "zf"))


def test_compare_tables_count_frames_by_status(tmp_path):
    df = compare("paper000", "uniform,test-every-third-fails", seeds=2, out=tmp_path, frames=6,
                 backend="serial", progress=False)
    t = df.set_index(["policy", "seed"])
    assert (t.loc["test-every-third-fails", "status_fallback"] == 2).all()
    assert (t.loc["test-every-third-fails", "status_ok"] == 4).all()
    assert (t.loc["uniform", "status_ok"] == 6).all() and (t.loc["uniform", "status_fallback"] == 0).all()
    csv = pd.read_csv(tmp_path / "comparison.csv")
    assert {"status_ok", "status_fallback"} <= set(csv.columns)
    md = (tmp_path / "comparison.md").read_text()
    assert "| policy | fallback | ok |" in md and "| test-every-third-fails | 4 | 8 |" in md
    assert "| uniform | 0 | 12 |" in md
