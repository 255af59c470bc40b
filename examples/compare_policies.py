"""Compare controller policies on the office scene with common random numbers.

    python examples/compare_policies.py

Same as `pass-twin compare office --policies follow,uniform,uniform:beamformer=mmse
--seeds 4 --frames 100 --out runs/compare-example`.
"""

from twin.experiments.compare import compare, paired_summary

df = compare("office", ["follow", "uniform", "uniform:beamformer=mmse"], seeds=4,
             out="runs/compare-example", frames=100)
print(paired_summary(df, "mean_rate_bps_hz", reference="uniform"))
print("tables and plot in runs/compare-example/")
