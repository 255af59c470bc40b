"""MODEL §4 optimisers: pure functions, arrays and parameters in, result objects out."""

from twin.optim.linear import linear_combiner, linear_precoder

__all__ = ["linear_combiner", "linear_precoder"]
