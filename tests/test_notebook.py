"""notebooks/sampling.ipynb runs headless from top to bottom on a tiny checkpoint."""

import os

import nbformat
from nbclient import NotebookClient

NOTEBOOK = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks", "sampling.ipynb"
)


def test_sampling_notebook_runs(tiny_workdir, monkeypatch):
    monkeypatch.setenv("INBETWEENING_CHECKPOINT", tiny_workdir)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}},
    ).execute()
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    shown = [output for output in outputs if "text/html" in output.get("data", {})]
    assert len(shown) == 3 and all("image/gif;base64" in o.data["text/html"] for o in shown)
