"""The issue's must-show, exactly, and the seed answers of SPEC §3."""

import numpy as np
import pytest

import matcalc


def test_must_show():
    d = matcalc.diff("A X X^T A^T", wrt="X_ij")
    assert d.text == "A E_ij X^T A^T + A X E_ij^T A^T"
    g = matcalc.grad("tr(X^T A X)", wrt="X")
    assert g.text == "A X + A^T X"
    f = g.numpy()
    np.testing.assert_allclose(f(A=np.eye(3), X=np.ones((3, 2))), 2 * np.ones((3, 2)))
    with pytest.raises(matcalc.Error) as info:
        matcalc.grad("(A x", wrt="x")
    assert isinstance(info.value, ValueError)
    assert "^" in str(info.value)
    assert info.value.span is not None


@pytest.mark.parametrize(
    "call, text",
    [
        (lambda: matcalc.diff("X X^T", wrt="X"), "dX X^T + X dX^T"),
        (lambda: matcalc.diff("X X^T", wrt="X", direction="H"), "H X^T + X H^T"),
        (lambda: matcalc.diff("A X X^T A^T", wrt="X_ij"), "A E_ij X^T A^T + A X E_ij^T A^T"),
        (lambda: matcalc.grad("tr(X^T A X)", wrt="X"), "A X + A^T X"),
        (lambda: matcalc.grad("tr(X^T A X)", wrt="X", form="factor"), "(A + A^T) X"),
        (lambda: matcalc.hessian("x^T A x", wrt="x"), "A + A^T"),
        (lambda: matcalc.jacobian("A X B", wrt="X"), "B^T ⊗ A"),
        (lambda: matcalc.simplify("(A B)^T + B^T A^T"), "2 B^T A^T"),
    ],
)
def test_seed_answers(call, text):
    assert call().text == text


def test_forms():
    expanded = matcalc.grad("tr(X^T A X)", wrt="X", form="expand")
    default = matcalc.grad("tr(X^T A X)", wrt="X", form="default")
    assert expanded.text == default.text == "A X + A^T X"
    raw = matcalc.diff("X X^T", wrt="X", form="raw")
    assert "dX" in raw.text
    with pytest.raises(ValueError, match="form must be"):
        matcalc.grad("tr(X)", wrt="X", form="pretty")


def test_symmetric_declaration_and_where():
    g = matcalc.grad("x^T S x", wrt="S", where="S: symmetric")
    assert g.text == matcalc.grad("x^T S x where S: symmetric", wrt="S").text


def test_steps():
    g = matcalc.grad("tr(X^T A X)", wrt="X", steps=True)
    assert g.text == "A X + A^T X"
    assert "product rule" in g.steps
    assert g.steps_latex.startswith("\\begin{align*}")
    assert matcalc.grad("tr(X^T A X)", wrt="X").steps is None


def test_check_verdicts():
    c = matcalc.check("tr(X^T A X)", wrt="X")
    assert c.passed and bool(c) and c.exact
    kinds = [v.kind for v in c.verdicts]
    assert "gradient" in kinds and "hessian" in kinds
    g = c.get("gradient")
    assert g.passed and g.exact and g.points and g.text == "A X + A^T X"
    assert c.get("nonsense") is None
    assert '"passed": true' in c.json
    assert "gradient" in c.text


def test_check_a_wrong_claim():
    c = matcalc.check("tr(X^T A X)", wrt="X", grad="2 A X")
    assert not c.passed and not bool(c)
    (v,) = c.verdicts
    assert not v.passed and v.reference == "A X + A^T X"
    assert "MISMATCH" in v.summary
    assert matcalc.check("tr(X^T A X)", wrt="X", grad="A X + A^T X").passed
    with pytest.raises(TypeError):
        matcalc.check("tr(X)", wrt="X", grad="I", hessian="0")


def test_check_inexact_is_reported():
    c = matcalc.check("sum(exp(x))", wrt="x")
    assert c.passed
    assert not c.exact
    assert all(v.max_rel_error is not None for v in c.verdicts if v.points)


def test_repr_and_str():
    g = matcalc.grad("tr(X^T A X)", wrt="X")
    assert str(g) == "A X + A^T X"
    assert "gradient" in repr(g) and "A X + A^T X" in repr(g)
    assert "passed" in repr(matcalc.check("tr(X)", wrt="X"))
    assert matcalc.__version__
