"""Every format of every kind of result, and what each must contain."""

import json

import pytest

import matcalc

RESULTS = {
    "diff": lambda: matcalc.diff("X X^T", wrt="X"),
    "entrywise": lambda: matcalc.diff("A X X^T A^T", wrt="X_ij"),
    "grad": lambda: matcalc.grad("tr(X^T A X)", wrt="X"),
    "hessian": lambda: matcalc.hessian("x^T A x", wrt="x"),
    "jacobian": lambda: matcalc.jacobian("A X B", wrt="X"),
    "simplify": lambda: matcalc.simplify("(A B)^T + B^T A^T"),
}


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_every_format(name):
    r = RESULTS[name]()
    assert r.format("text") == r.text and r.text
    assert r.format("latex") == r.latex
    assert r.format("latex_rhs") == r.latex_rhs and r.latex_rhs in r.latex
    assert r.format("numpy") == r.numpy_source
    assert r.numpy_source.startswith("import numpy as np")
    assert r.format("index") == r.index and r.index
    data = json.loads(r.format("json"))
    assert data["text"] == r.text
    assert data["shape"] == [str(d) for d in r.shape]
    assert r.format("jax") == r.jax_source
    with pytest.raises(ValueError, match="unknown format"):
        r.format("pdf")


def test_kinds_and_shapes():
    assert RESULTS["diff"]().kind == "differential"
    assert RESULTS["entrywise"]().kind == "entrywise"
    assert RESULTS["grad"]().kind == "gradient"
    assert RESULTS["hessian"]().kind == "hessian"
    assert RESULTS["jacobian"]().kind == "jacobian"
    assert RESULTS["simplify"]().kind == "simplify"
    assert matcalc.grad("tr(X^T A X)", wrt="X", where="X: 3 x 4").shape == (3, 4)
    rows, cols = RESULTS["grad"]().shape
    assert isinstance(rows, str) and isinstance(cols, str)
    assert matcalc.simplify("x^T x").shape == (1, 1)


def test_latex_equation():
    g = matcalc.grad("tr(X^T A X)", wrt="X")
    assert g.latex == "\\frac{\\partial f}{\\partial X} = A X + A^\\top X"
    assert g._repr_latex_() == "$$ " + g.latex + " $$"


def test_jax_agrees_with_numpy_on_rectangular_shapes():
    np = pytest.importorskip("numpy")
    pytest.importorskip("jax")
    import jax

    jax.config.update("jax_enable_x64", True)
    g = matcalc.grad("tr(A X B X^T)", wrt="X")
    assert "jax.numpy" in g.jax_source or "jnp" in g.jax_source
    rng = np.random.default_rng(7)
    A, X, B = rng.normal(size=(3, 3)), rng.normal(size=(3, 4)), rng.normal(size=(4, 4))
    want = g.numpy()(A=A, X=X, B=B)
    got = jax.jit(g.jax())(A=A, X=X, B=B)
    assert np.allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)


def test_index_form():
    d = matcalc.diff("A X X^T A^T", wrt="X_ij")
    assert d.index.startswith("∂M_kl/∂X_ij = ")


def test_notes_are_a_list():
    assert matcalc.grad("tr(X^T A X)", wrt="X").notes == []
