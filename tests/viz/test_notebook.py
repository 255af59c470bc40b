"""The example notebook runs top to bottom in a fresh Jupyter kernel and shows its
figures inline (issue 15 item 6: importing viz used to force Agg, and the dashboard cell
printed `<Figure size …>` instead of the picture)."""

import base64
import os
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


def _outputs(cell):
    return [o for o in cell.get("outputs", []) if o.get("output_type") in ("display_data", "execute_result")]


def _png(output):
    from io import BytesIO

    from PIL import Image
    return np.asarray(Image.open(BytesIO(base64.b64decode(output["data"]["image/png"]))).convert("RGB"))


def test_example_notebook_runs_and_shows_its_figures_inline(tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    env_keep = {k: os.environ.get(k) for k in ("PASS_TWIN_RUNS", "PASS_TWIN_NB_FRAMES", "PYTHONPATH", "MPLBACKEND")}
    os.environ.update(PASS_TWIN_RUNS=str(tmp_path / "runs"), PASS_TWIN_NB_FRAMES="3",
                      PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    os.environ.pop("MPLBACKEND", None)            # the kernel chooses its inline backend
    try:
        NotebookClient(nb, timeout=240, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for k, v in env_keep.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in code:
        assert not [o for o in c.outputs if o.output_type == "error"], c.source
    by_src = {next(k for k in ("dashboard_figure", "radio_map_figure", "show(", "compare(", "Simulation(")
                   if k in c.source): c for c in code}
    for key in ("dashboard_figure", "radio_map_figure", "show("):
        outs = _outputs(by_src[key])
        images = [o for o in outs if "image/png" in o.get("data", {})]
        assert len(images) == 1, (key, [o.get("data", {}).keys() for o in outs])   # once, as a picture
        assert not any("<Figure size" in o.get("data", {}).get("text/plain", "") and "image/png" not in o["data"]
                       for o in outs)
        img = _png(images[0])
        assert img.shape[0] > 300 and img.std() > 20
    table = _outputs(by_src["compare("])[0]["data"]
    assert "follow" in table.get("text/html", table.get("text/plain", ""))
    assert (tmp_path / "runs" / "nb-office" / "scene.json").exists()
