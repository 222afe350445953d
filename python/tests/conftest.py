"""Shared helpers for the Python package's tests: where the repository is,
KaTeX rendering through the repository's node harness (tests/katex), and
central differences computed with matcalc's own evaluator."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

import matcalc

ROOT = Path(__file__).resolve().parents[2]
KATEX = ROOT / "tests" / "katex"


def katex_render(texts):
    """Renders each LaTeX text with KaTeX (display mode, strict); returns
    the harness's output and asserts it succeeded."""
    if not (KATEX / "node_modules" / "katex").is_dir():
        pytest.fail("KaTeX is not installed: run `npm ci --prefix tests/katex`")
    proc = subprocess.run(
        ["node", str(KATEX / "render.js")],
        input="\0".join(texts).encode(),
        capture_output=True,
        timeout=120,
    )
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    return out


def value(expr, **values):
    """The value of `expr` as a float array (matcalc's evaluator), given
    values for any superset of its variables (a derivative may have lost
    some of the function's)."""
    names = set(matcalc.simplify(expr, form="raw").variables)
    used = {k: v for k, v in values.items() if k in names or (len(k) == 1 and k in "ijkl")}
    return np.asarray(matcalc.eval(expr, **used), dtype=float)


def central_difference(expr, var, values, direction, h=1e-6):
    """(f(X + h D) - f(X - h D)) / 2h, with f evaluated by matcalc."""
    plus = dict(values, **{var: values[var] + h * direction})
    minus = dict(values, **{var: values[var] - h * direction})
    return (value(expr, **plus) - value(expr, **minus)) / (2 * h)


@pytest.fixture
def rng():
    """A seeded generator, so every run draws the same matrices."""
    return np.random.default_rng(20261202)
