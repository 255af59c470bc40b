"""Size of the paper-findings tests (issue 13): every test here is marked ``slow`` and
runs its figure at the figures' CI size (``quick="ci"``: the quick sweep values with
fewer drops and coarser grids, each module's docstring gives the numbers) unless
``PASS_TWIN_FULL=1``, which runs the figures at full size (the papers' averaging; hours
for paper 000). A figure asserted by several tests is a module-scoped fixture, computed
once: the README's command distributes whole files (``-n 2 --dist loadfile``; pytest-xdist's
``loadgroup`` silently stops grouping on pytest 9.2, pytest-xdist issue #1386), and paper
000's sweeps are split over two files so both workers share them."""

import os

import pytest

FULL = os.environ.get("PASS_TWIN_FULL") == "1"


@pytest.fixture(scope="session")
def size():
    """The figure functions' ``quick`` argument: "ci", or False (full) with PASS_TWIN_FULL=1."""
    return False if FULL else "ci"
