"""Suite-wide settings. The README's command runs the suite on 2 pytest-xdist workers
(``-n 2``); each worker keeps its linear algebra to one thread so two workers do not
oversubscribe a 2-core machine (Clarabel is single-threaded; OpenBLAS is not). Set
before any test module imports numpy; an explicit setting in the environment wins."""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
