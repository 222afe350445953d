"""examples/quickstart.ipynb runs from top to bottom (with nbclient) and
shows the answers it promises, so it never rots. The `python3` kernel is
ipykernel's native one: the interpreter running the tests, which imports
the matcalc under test."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def outputs_text(cell):
    """Every text a code cell showed: streams, plain text and LaTeX."""
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append(out["text"])
        for key in ("text/plain", "text/latex"):
            if key in out.get("data", {}):
                parts.append(out["data"][key])
    return "\n".join(parts)


def test_quickstart_notebook_executes():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    shown = "\n".join(outputs_text(c) for c in nb.cells if c.cell_type == "code")
    assert "A E_ij X^T A^T + A X E_ij^T A^T" in shown
    assert "\\frac{\\partial f}{\\partial X}" in shown
    assert "((3, 4), True)" in shown  # the NumPy function agrees with the formula
    assert "MISMATCH" in shown
    assert "error: expected" in shown
