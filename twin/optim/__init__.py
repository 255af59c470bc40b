"""MODEL §4 optimisers: pure functions, arrays and small problem objects in, one result
type (:class:`OptResult` with a :class:`Status` from a fixed vocabulary) out. Nothing here
reads a World or a scene: :mod:`twin.problems` builds the problem objects."""

from twin.optim.legal import LegalSet
from twin.optim.linear import linear_combiner, linear_precoder
from twin.optim.result import OptResult, Status
from twin.optim.search1d import coordinate_search

__all__ = ["LegalSet", "OptResult", "Status", "coordinate_search", "linear_combiner",
           "linear_precoder"]
