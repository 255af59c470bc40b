"""Suite-wide settings. The README's command runs the suite on 2 pytest-xdist workers
(``-n 2``); each worker keeps its linear algebra to one thread so two workers do not
oversubscribe a 2-core machine (Clarabel is single-threaded; OpenBLAS is not). Set
before any test module imports numpy; an explicit setting in the environment wins.

Before collecting, every distribution the project and its ``test`` extra require
(pyproject.toml) must be installed: otherwise the run stops with one error naming the
missing ones and the install command, instead of a collection error per test module."""

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def _missing_requirements() -> list[str]:
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    missing = []
    for req in project["dependencies"] + project["optional-dependencies"]["test"]:
        name = re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0]
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def pytest_configure(config):
    missing = _missing_requirements()
    if missing:
        raise pytest.UsageError(
            f"pass-twin's test requirements are not installed: {', '.join(missing)} "
            "(fix: in a virtual environment, pip install -e '.[test]'; README)")
